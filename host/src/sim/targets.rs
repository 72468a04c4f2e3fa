//! The target group: registration, health checks, draining after
//! deregistration (and, behind an ALB, the connections cut when it ends),
//! and the routing of new sessions to healthy targets: round robin or least
//! outstanding, with the application refusing sessions on a cordoned task.

use super::config::SimRouting;
use super::events::Event;
use super::state::ServiceSim;
use super::task::TaskKey;
use crate::model::{TargetHealth, TaskStatus};

impl ServiceSim {
    /// RegisterTargets for one task's target. A running task's target goes
    /// initial, then healthy after the health-check delay; a task that is not
    /// running fails its health checks, so its target is unhealthy. A target
    /// already registered is left as it is.
    pub(crate) fn register_target(&mut self, k: TaskKey, now: u64) {
        let delay = self.p.health_check;
        let Some(t) = self.task_mut(k) else { return };
        let running = t.status == TaskStatus::Running;
        let keep = match t.slot.health {
            TargetHealth::Initial | TargetHealth::Healthy => running,
            TargetHealth::Unhealthy => !running,
            _ => false,
        };
        if keep {
            return;
        }
        let was_healthy = t.slot.health == TargetHealth::Healthy;
        t.slot.generation += 1;
        let generation = t.slot.generation;
        if running {
            t.slot.health = TargetHealth::Initial;
            self.queue.push(
                now + delay,
                Event::TargetHealthy {
                    task: k,
                    generation,
                },
            );
        } else {
            t.slot.health = TargetHealth::Unhealthy;
        }
        self.routing.dirty |= was_healthy;
    }

    /// DeregisterTargets for one task's target: a registered target drains for
    /// the deregistration delay, then leaves the group. Draining or
    /// unregistered targets are left as they are.
    pub(crate) fn deregister_target(&mut self, k: TaskKey, now: u64) {
        let delay = self.p.deregistration;
        let Some(t) = self.task_mut(k) else { return };
        if !t.slot.is_registered() {
            return;
        }
        let was_healthy = t.slot.health == TargetHealth::Healthy;
        t.slot.generation += 1;
        t.slot.health = TargetHealth::Draining;
        t.slot.drain_until = now + delay;
        let generation = t.slot.generation;
        self.queue.push(
            now + delay,
            Event::TargetDrained {
                task: k,
                generation,
            },
        );
        self.routing.dirty |= was_healthy;
    }

    pub(crate) fn on_target_healthy(&mut self, k: TaskKey, generation: u32) {
        let Some(t) = self.task_mut(k) else { return };
        if t.slot.generation == generation && t.slot.health == TargetHealth::Initial {
            t.slot.health = TargetHealth::Healthy;
            self.routing.dirty = true;
        }
    }

    /// A target's deregistration delay ends: it leaves the group. Behind a
    /// load balancer that closes connections (an ALB, or an NLB with
    /// connection termination), the sessions still open on a RUNNING task
    /// are cut then: counted per service and per task. A task being stopped
    /// keeps them until it reaches STOPPING, where they count as killed.
    pub(crate) fn on_target_drained(&mut self, k: TaskKey, generation: u32, now: u64) {
        let cuts = self.p.cuts_connections;
        let Some(t) = self.task_mut(k) else { return };
        if t.slot.generation != generation || t.slot.health != TargetHealth::Draining {
            return;
        }
        t.slot.health = TargetHealth::Unregistered;
        if !(cuts && t.status == TaskStatus::Running && t.sessions > 0) {
            return;
        }
        t.flush(now);
        let cut = t.sessions;
        t.sessions = 0;
        t.sessions_cut += cut;
        t.epoch = t.epoch.wrapping_add(1);
        let id = t.id.clone();
        *self.counters.cut_by_task.entry(id).or_default() += cut;
        self.counters.sessions_cut += u64::from(cut);
        self.active_sessions -= u64::from(cut);
        if let Some(items) = self.items.as_mut() {
            items.clear(k);
        }
    }

    /// The task a new session lands on, or none when no healthy task with
    /// room accepts it (the session is refused).
    ///
    /// The load balancer picks among the healthy targets whose task has
    /// room: the next in round-robin order, or the one with the fewest
    /// active sessions (ties: the oldest task). When the application on the
    /// picked task is cordoned, it refuses the session and the client lands
    /// on the next accepting task with room in the same order (counted as
    /// redirected).
    pub(crate) fn pick_target(&mut self) -> Option<TaskKey> {
        if self.routing.dirty {
            self.rebuild_ring();
        }
        match self.p.routing {
            SimRouting::RoundRobin => self.pick_round_robin(),
            SimRouting::LeastOutstanding => self.pick_least_outstanding(),
        }
    }

    fn pick_round_robin(&mut self) -> Option<TaskKey> {
        let n = self.routing.ring.len();
        let capacity = self.p.capacity;
        let mut redirected = false;
        for i in 0..n {
            let pos = (self.routing.cursor + i) % n;
            let k = self.routing.ring[pos];
            let Some(t) = self.task(k) else { continue };
            if t.sessions >= capacity {
                continue;
            }
            if t.cordoned_since.is_some() {
                redirected = true;
                continue;
            }
            self.routing.cursor = (pos + 1) % n;
            self.counters.sessions_redirected += u64::from(redirected);
            return Some(k);
        }
        None
    }

    fn pick_least_outstanding(&mut self) -> Option<TaskKey> {
        let capacity = self.p.capacity;
        // (sessions, ring position) of the load balancer's pick, and of the best accepting task.
        let mut any: Option<(u32, usize)> = None;
        let mut accepting: Option<(u32, usize)> = None;
        for (pos, &k) in self.routing.ring.iter().enumerate() {
            let Some(t) = self.task(k) else { continue };
            if t.sessions >= capacity {
                continue;
            }
            let key = (t.sessions, pos);
            if any.is_none_or(|a| key < a) {
                any = Some(key);
            }
            if t.cordoned_since.is_none() && accepting.is_none_or(|a| key < a) {
                accepting = Some(key);
            }
        }
        let (_, pos) = accepting?;
        self.counters.sessions_redirected += u64::from(any != accepting);
        Some(self.routing.ring[pos])
    }

    fn rebuild_ring(&mut self) {
        let ring: Vec<TaskKey> = self
            .live
            .iter()
            .copied()
            .filter(|&k| {
                self.task(k).is_some_and(|t| {
                    t.status == TaskStatus::Running && t.slot.health == TargetHealth::Healthy
                })
            })
            .collect();
        self.routing.cursor = if ring.is_empty() {
            0
        } else {
            self.routing.cursor % ring.len()
        };
        self.routing.ring = ring;
        self.routing.dirty = false;
    }
}
