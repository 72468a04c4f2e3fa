//! Task lifecycle and the service scheduler: launching, start-up, the stop
//! sequence, scale-in protection, and desired-count reconciliation.

use std::net::Ipv4Addr;

use super::events::Event;
use super::random;
use super::state::ServiceSim;
use super::task::{StopCause, Task, TaskKey};
use crate::model::{TargetHealth, TaskStatus};
use crate::providers::Target;

/// ECS's default protection period when none is given.
const DEFAULT_PROTECTION_MINUTES: u64 = 120;

/// The first host number of a service's /16 that AWS hands out.
pub(crate) const FIRST_HOST: u32 = 4;
/// The last one.
const LAST_HOST: u32 = 0xFFFE;

impl ServiceSim {
    /// Creates a task at `now`: PROVISIONING, or RUNNING with a healthy target
    /// when `warm` (the tasks a service starts with). None when the subnet has
    /// no free address, as ECS fails to place a task then.
    pub(crate) fn launch(&mut self, now: u64, warm: bool) -> Option<TaskKey> {
        let Some(ip) = self.allocate_ip() else {
            self.counters.launch_failures += 1;
            return None;
        };
        let key = self.slab.len() as TaskKey;
        let id = random::task_id(self.seed, u64::from(key));
        let target = Target {
            ip: Ipv4Addr::from(ip).into(),
            port: self.p.port,
        };
        let mut task = Task::new(id.clone(), ip, target, now);
        self.by_id.insert(id, key);
        self.by_ip.insert(ip, key);
        self.live.push(key);
        self.billable += 1;
        self.counters.tasks_launched += 1;
        self.counters.peak_tasks = self.counters.peak_tasks.max(self.billable);
        if warm {
            task.status = TaskStatus::Running;
            task.started_at = Some(now);
            task.slot.health = TargetHealth::Healthy;
            self.running += 1;
            self.routing.dirty = true;
        } else {
            self.queue
                .push(now + self.p.provisioning, Event::Pending(key));
        }
        self.slab.push(Some(task));
        Some(key)
    }

    /// The next free address in the service's /16 (10.subnet.0.0), skipping
    /// the first four and the last (AWS reserves them) and addresses held by
    /// listed tasks; none when every address is held.
    fn allocate_ip(&mut self) -> Option<u32> {
        for _ in FIRST_HOST..=LAST_HOST {
            let h = self.next_host;
            self.next_host = if h >= LAST_HOST { FIRST_HOST } else { h + 1 };
            let ip = u32::from_be_bytes([10, self.subnet, (h >> 8) as u8, h as u8]);
            if !self.by_ip.contains_key(&ip) {
                return Some(ip);
            }
        }
        None
    }

    /// Moves a task to `status`, keeping the usage accumulators and counts right.
    pub(crate) fn set_status(&mut self, k: TaskKey, status: TaskStatus, now: u64) {
        let Some(t) = self.task_mut(k) else { return };
        t.flush(now);
        let was_running = t.status == TaskStatus::Running;
        t.status = status;
        if !t.is_up() {
            t.cpu = None;
            t.memory = None;
        }
        match (was_running, status == TaskStatus::Running) {
            (true, false) => self.running -= 1,
            (false, true) => self.running += 1,
            _ => {}
        }
    }

    fn status_of(&self, k: TaskKey) -> Option<TaskStatus> {
        self.task(k).map(|t| t.status)
    }

    pub(crate) fn on_pending(&mut self, k: TaskKey, now: u64) {
        if self.status_of(k) == Some(TaskStatus::Provisioning) {
            self.set_status(k, TaskStatus::Pending, now);
            self.queue.push(now + self.p.startup, Event::Running(k));
        }
    }

    pub(crate) fn on_running(&mut self, k: TaskKey, now: u64) {
        if self.status_of(k) == Some(TaskStatus::Pending) {
            self.set_status(k, TaskStatus::Running, now);
            if let Some(t) = self.task_mut(k) {
                t.started_at = Some(now);
            }
            self.register_target(k, now);
        }
    }

    /// Sets the task's desired status to STOPPED: its target is deregistered,
    /// it stays DEACTIVATING until the target has drained, then stops.
    pub(crate) fn request_stop(&mut self, k: TaskKey, now: u64, cause: StopCause) {
        let Some(t) = self.task_mut(k) else { return };
        if t.stop_cause.is_some() || t.is_stopping() {
            return;
        }
        t.stop_cause = Some(cause);
        if t.slot.is_registered() {
            self.deregister_target(k, now);
        }
        let Some(t) = self.task(k) else { return };
        let until = if t.slot.health == TargetHealth::Draining {
            t.slot.drain_until
        } else {
            now
        };
        if until > now {
            self.set_status(k, TaskStatus::Deactivating, now);
            self.queue.push(until, Event::Deactivated(k));
        } else {
            self.begin_stopping(k, now);
        }
    }

    /// The container exits now: STOPPING at once, its target deregistered.
    pub(crate) fn fail(&mut self, k: TaskKey, now: u64) {
        let Some(t) = self.task_mut(k) else { return };
        if t.is_stopping() {
            return;
        }
        t.stop_cause = Some(StopCause::Failure);
        if t.slot.is_registered() {
            self.deregister_target(k, now);
        }
        self.begin_stopping(k, now);
    }

    pub(crate) fn on_deactivated(&mut self, k: TaskKey, now: u64) {
        if self.status_of(k) == Some(TaskStatus::Deactivating) {
            self.begin_stopping(k, now);
        }
    }

    /// STOPPING: the containers get their stop signal, and every session
    /// still on the task is killed.
    fn begin_stopping(&mut self, k: TaskKey, now: u64) {
        self.set_status(k, TaskStatus::Stopping, now);
        let Some(t) = self.task_mut(k) else { return };
        let killed = t.sessions;
        t.sessions = 0;
        t.sessions_killed += killed;
        if killed > 0 {
            let id = t.id.clone();
            *self.counters.killed_by_task.entry(id).or_default() += killed;
            self.counters.sessions_killed += u64::from(killed);
            self.counters.tasks_stopped_with_sessions += 1;
            self.active_sessions -= u64::from(killed);
            if let Some(items) = self.items.as_mut() {
                items.clear(k);
            }
        }
        self.queue
            .push(now + self.p.stopping, Event::Deprovisioning(k));
    }

    pub(crate) fn on_deprovisioning(&mut self, k: TaskKey, now: u64) {
        if self.status_of(k) == Some(TaskStatus::Stopping) {
            self.set_status(k, TaskStatus::Deprovisioning, now);
            self.queue
                .push(now + self.p.deprovisioning, Event::Stopped(k));
        }
    }

    pub(crate) fn on_stopped(&mut self, k: TaskKey, now: u64) {
        if self.status_of(k) == Some(TaskStatus::Deprovisioning) {
            self.set_status(k, TaskStatus::Stopped, now);
            if let Some(t) = self.task_mut(k) {
                t.stopped_at = Some(now);
            }
            self.billable -= 1;
            self.counters.tasks_stopped += 1;
            self.queue.push(now + self.p.retention, Event::Purge(k));
        }
    }

    /// Forgets a stopped task once it has been listed long enough and its
    /// target has left the group.
    pub(crate) fn purge(&mut self, k: TaskKey, now: u64) {
        let Some(t) = self.task(k) else { return };
        if t.slot.health == TargetHealth::Draining {
            self.queue
                .push(t.slot.drain_until.max(now), Event::Purge(k));
            return;
        }
        if t.slot.is_registered() {
            // Registered again by hand after it stopped; ELB keeps it until
            // deregistered, and so does the sim.
            return;
        }
        let (id, ip) = (t.id.clone(), t.ip);
        self.by_id.remove(&id);
        self.by_ip.remove(&ip);
        self.live.retain(|&x| x != k);
        self.slab[k as usize] = None;
        if self.counters.launch_failures > 0 {
            // An address came free: a launch that failed for want of one can go ahead.
            self.reconcile(now);
        }
    }

    /// Turns protection on (for `minutes`, 0 meaning ECS's default of 120)
    /// or off, then reconciles.
    pub(crate) fn protect(&mut self, keys: &[TaskKey], on: bool, minutes: u32, now: u64) {
        let minutes = if minutes == 0 {
            DEFAULT_PROTECTION_MINUTES
        } else {
            u64::from(minutes)
        };
        for &k in keys {
            let Some(t) = self.task_mut(k) else { continue };
            t.protected = on;
            t.protection_generation += 1;
            if on {
                let generation = t.protection_generation;
                self.queue.push(
                    now + minutes * 60,
                    Event::ProtectionExpired {
                        task: k,
                        generation,
                    },
                );
            }
        }
        self.reconcile(now);
    }

    pub(crate) fn on_protection_expired(&mut self, k: TaskKey, generation: u32, now: u64) {
        let Some(t) = self.task_mut(k) else { return };
        if t.protected && t.protection_generation == generation {
            t.protected = false;
            self.reconcile(now);
        }
    }

    /// The service scheduler: starts tasks while fewer than the desired count
    /// are active (not being stopped), stops unprotected ones while more are.
    ///
    /// Victims, session-unaware like ECS: first the tasks not yet running,
    /// newest first; then running tasks in a seeded random order. Protected
    /// tasks are never chosen; if too few unprotected tasks remain, the
    /// scheduler waits until protection ends or the desired count rises.
    pub(crate) fn reconcile(&mut self, now: u64) {
        let active: Vec<TaskKey> = self
            .live
            .iter()
            .copied()
            .filter(|&k| {
                self.task(k)
                    .is_some_and(|t| t.stop_cause.is_none() && !t.is_stopping())
            })
            .collect();
        let n = active.len() as u32;
        if n < self.desired {
            for _ in n..self.desired {
                if self.launch(now, false).is_none() {
                    break;
                }
            }
            return;
        }
        let excess = (n - self.desired) as usize;
        if excess == 0 {
            return;
        }
        let mut starting = Vec::new();
        let mut running = Vec::new();
        for &k in active.iter().rev() {
            let Some(t) = self.task(k) else { continue };
            if t.protected {
                continue;
            }
            if t.status.is_starting() {
                starting.push(k)
            } else {
                running.push(k)
            }
        }
        for i in (1..running.len()).rev() {
            let j = random::index(&mut self.rng.scheduler, i + 1);
            running.swap(i, j);
        }
        for k in starting.into_iter().chain(running).take(excess) {
            self.request_stop(k, now, StopCause::ScaleIn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ServiceRef;
    use crate::sim::{SimConfig, SimServiceConfig, Workload};

    #[test]
    fn a_full_subnet_fails_the_launch_instead_of_looping_and_recovers_when_an_address_frees() {
        let svc = ServiceRef {
            cluster: "c".into(),
            service: "s".into(),
            target_group: "tg".into(),
        };
        let config = SimServiceConfig {
            initial_tasks: 1,
            workload: Workload::Steady { per_min: 0.0 },
            ..Default::default()
        };
        let mut s = ServiceSim::new(svc, &SimConfig::default(), &config, 0, 0).expect("service");
        let first = s.live[0];
        for h in FIRST_HOST..=LAST_HOST {
            let ip = u32::from_be_bytes([10, 0, (h >> 8) as u8, h as u8]);
            s.by_ip.entry(ip).or_insert(u32::MAX);
        }
        s.set_desired(2, 0).expect("desired");
        assert_eq!(
            (s.counters.launch_failures, s.live.len(), s.counts().pending),
            (1, 1, 0)
        );

        // The first task stops and is forgotten: its address frees, and the
        // scheduler launches at last.
        s.desired = 1;
        s.stop_task(&s.task(first).expect("task").id.clone(), 0)
            .expect("stop");
        assert_eq!(
            s.counters.launch_failures, 2,
            "its replacement cannot launch either"
        );
        s.advance_to(4 * 3600);
        assert_eq!(
            s.counts().pending + s.counts().running,
            1,
            "one task once an address freed"
        );
        assert_eq!(s.counters.tasks_launched, 2);
    }
}
