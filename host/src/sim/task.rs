//! One simulated task: its lifecycle state, its target in the group, its
//! sessions, and the accumulators its per-minute usage is computed from.

use serde::Serialize;

use crate::model::{TargetHealth, TaskStatus};
use crate::providers::Target;

/// A task's index in its service's task table; never reused.
pub(crate) type TaskKey = u32;

/// Why a task was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopCause {
    /// The service scheduler stopped it because the desired count fell below
    /// the tasks it had.
    ScaleIn,
    /// ECS StopTask ([`crate::sim::SimWorld::stop_task`]): the desired count
    /// is unchanged, so the scheduler starts a replacement.
    StopTask,
    /// The task's container exited ([`crate::sim::SimWorld::fail_task`]): it
    /// stops at once, without draining, and is replaced.
    Failure,
}

/// A task's target in the group. The target is the task's IP and the
/// container port; unregistered means not in the group at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TargetSlot {
    pub health: TargetHealth,
    /// Bumped on every registration and deregistration, so that a pending
    /// health or drain event from before is recognised as stale.
    pub generation: u32,
    /// When draining ends, while draining.
    pub drain_until: u64,
}

impl TargetSlot {
    /// Whether the target is in the group and not draining.
    pub fn is_registered(&self) -> bool {
        matches!(
            self.health,
            TargetHealth::Initial | TargetHealth::Healthy | TargetHealth::Unhealthy
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub ip: u32,
    pub target: Target,
    pub status: TaskStatus,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub stopped_at: Option<u64>,
    /// Set once the task's desired status is STOPPED.
    pub stop_cause: Option<StopCause>,
    pub protected: bool,
    pub protection_generation: u32,
    pub slot: TargetSlot,
    /// Active sessions.
    pub sessions: u32,
    pub sessions_served: u64,
    pub sessions_ended: u64,
    pub sessions_killed: u32,
    /// Sessions cut by the load balancer when its deregistered target's delay ended.
    pub sessions_cut: u32,
    /// Bumped when the load balancer cuts the task's sessions, so the ends
    /// scheduled for them are recognised as stale.
    pub epoch: u32,
    /// App-level cordon: since when the application refuses new sessions
    /// (`set_cordon`); none while it accepts them.
    pub cordoned_since: Option<u64>,
    /// Usage accumulators for the current minute: seconds up, and session-seconds.
    pub since: u64,
    pub up_secs: u64,
    pub session_secs: u64,
    /// The last complete minute's CPU and memory, while up.
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

impl Task {
    pub fn new(id: String, ip: u32, target: Target, now: u64) -> Task {
        Task {
            id,
            ip,
            target,
            status: TaskStatus::Provisioning,
            created_at: now,
            started_at: None,
            stopped_at: None,
            stop_cause: None,
            protected: false,
            protection_generation: 0,
            slot: TargetSlot {
                health: TargetHealth::Unregistered,
                generation: 0,
                drain_until: 0,
            },
            sessions: 0,
            sessions_served: 0,
            sessions_ended: 0,
            sessions_killed: 0,
            sessions_cut: 0,
            epoch: 0,
            cordoned_since: None,
            since: now,
            up_secs: 0,
            session_secs: 0,
            cpu: None,
            memory: None,
        }
    }

    /// Whether its containers run and use CPU: RUNNING, or DEACTIVATING
    /// while its target drains.
    pub fn is_up(&self) -> bool {
        matches!(self.status, TaskStatus::Running | TaskStatus::Deactivating)
    }

    /// Whether it has reached STOPPING or later.
    pub fn is_stopping(&self) -> bool {
        matches!(
            self.status,
            TaskStatus::Stopping | TaskStatus::Deprovisioning | TaskStatus::Stopped
        )
    }

    /// Adds the time since the last flush to the usage accumulators.
    pub fn flush(&mut self, t: u64) {
        if t > self.since {
            if self.is_up() {
                let dt = t - self.since;
                self.up_secs += dt;
                self.session_secs += u64::from(self.sessions) * dt;
            }
            self.since = t;
        }
    }
}

/// A task as the sim sees it, with the session figures the cluster API does not show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimTask {
    /// The ECS task ID.
    pub id: String,
    /// Its last status.
    pub status: TaskStatus,
    /// Its target's health.
    pub health: TargetHealth,
    /// Its target.
    pub target: Target,
    /// Whether scale-in protection is on.
    pub protected: bool,
    /// Active sessions.
    pub sessions: u32,
    /// Sessions it ever accepted.
    pub sessions_served: u64,
    /// Sessions that ended normally on it.
    pub sessions_ended: u64,
    /// Sessions killed when it reached STOPPING.
    pub sessions_killed: u32,
    /// Sessions the load balancer cut when its deregistered target's delay
    /// ended while it was still running.
    pub sessions_cut: u32,
    /// App-level cordon: since when the application refuses new sessions.
    pub cordoned_since: Option<u64>,
    /// When it was created.
    pub created_at: u64,
    /// When it started running.
    pub started_at: Option<u64>,
    /// When it reached STOPPED.
    pub stopped_at: Option<u64>,
    /// Why it was stopped, once it was.
    pub stop_cause: Option<StopCause>,
}

impl From<&Task> for SimTask {
    fn from(t: &Task) -> SimTask {
        SimTask {
            id: t.id.clone(),
            status: t.status,
            health: t.slot.health,
            target: t.target.clone(),
            protected: t.protected,
            sessions: t.sessions,
            sessions_served: t.sessions_served,
            sessions_ended: t.sessions_ended,
            sessions_killed: t.sessions_killed,
            sessions_cut: t.sessions_cut,
            cordoned_since: t.cordoned_since,
            created_at: t.created_at,
            started_at: t.started_at,
            stopped_at: t.stopped_at,
            stop_cause: t.stop_cause,
        }
    }
}
