//! The target group: registration, health checks, draining after
//! deregistration, and round-robin routing of new sessions to healthy targets.

use super::events::Event;
use super::service::ServiceSim;
use super::task::TaskKey;
use crate::model::{TargetHealth, TaskStatus};

/// The healthy targets in routing order (task creation order), and where
/// the round robin stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routing {
    ring: Vec<TaskKey>,
    cursor: usize,
    /// Set when a target enters or leaves the healthy state.
    pub dirty: bool,
}

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

    pub(crate) fn on_target_drained(&mut self, k: TaskKey, generation: u32) {
        let Some(t) = self.task_mut(k) else { return };
        if t.slot.generation == generation && t.slot.health == TargetHealth::Draining {
            t.slot.health = TargetHealth::Unregistered;
        }
    }

    /// The task a new session lands on: the next healthy target in round-robin
    /// order whose task has room, or none when every healthy task is full.
    pub(crate) fn pick_target(&mut self) -> Option<TaskKey> {
        if self.routing.dirty {
            self.rebuild_ring();
        }
        let n = self.routing.ring.len();
        let capacity = self.p.capacity;
        for i in 0..n {
            let pos = (self.routing.cursor + i) % n;
            let k = self.routing.ring[pos];
            if self.task(k).is_some_and(|t| t.sessions < capacity) {
                self.routing.cursor = (pos + 1) % n;
                return Some(k);
            }
        }
        None
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
