//! The snapshot as policy authors see it: one record per task and per
//! earlier tick, rebuilt from the columns that cross the sandbox boundary.

use crate::bindings::autoscaler::policy::types as wire;
pub use wire::{Decision, Drain, DrainStep, Param, ParamValue, TargetHealth, TaskStatus};

/// One task of the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Task {
    /// An opaque handle for this task, valid for this call only: drain
    /// candidates are named by handle, and [`crate::task_id`] turns one into
    /// the task's ID for logs.
    pub handle: u32,
    /// The task's last known status.
    pub status: TaskStatus,
    /// The health of the task's load balancer target.
    pub health: TargetHealth,
    /// Seconds since the task started, or since it was created if it has not started yet.
    pub age_seconds: u32,
    /// Whether ECS scale-in protection is on for the task.
    pub protected: bool,
    /// Sessions active on the task. Meaningful only when [`Snapshot::sessions_known`] is true.
    pub sessions: u32,
    /// The task's CPU utilization in percent, when known.
    pub cpu: Option<f64>,
    /// The task's memory utilization in percent, when known.
    pub memory: Option<f64>,
    /// Whether the task is already being drained by the host (a cordoned task is too).
    pub draining: bool,
    /// When the task was cordoned, in seconds, if it is: it takes no new
    /// sessions, keeps its own, and is stopped when the last one ends.
    pub cordoned_since: Option<u64>,
}

/// A summary of one earlier tick, for trends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickSummary {
    /// When the tick ran, in seconds.
    pub at: u64,
    /// The desired count at that tick.
    pub desired: u32,
    /// The running count at that tick.
    pub running: u32,
    /// Service CPU utilization in percent, when known.
    pub cpu: Option<f64>,
    /// Service memory utilization in percent, when known.
    pub memory: Option<f64>,
    /// Total active sessions, when known.
    pub sessions: Option<u32>,
}

/// Everything the host knows about one service at one tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The ECS cluster's name.
    pub cluster: String,
    /// The ECS service's name.
    pub service: String,
    /// The time of this tick, in seconds.
    pub now: u64,
    /// The service's desired task count.
    pub desired: u32,
    /// Tasks running.
    pub running: u32,
    /// Tasks starting.
    pub pending: u32,
    /// The lowest task count the host will allow.
    pub min: u32,
    /// The highest task count the host will allow.
    pub max: u32,
    /// Service CPU utilization in percent; none when missing (never 0 for missing).
    pub cpu: Option<f64>,
    /// Service memory utilization in percent; none when missing.
    pub memory: Option<f64>,
    /// Whether per-task session counts are fresh. When false, the host refuses any scale-in.
    pub sessions_known: bool,
    /// Every task of the service that has not stopped; `tasks[i].handle == i`.
    pub tasks: Vec<Task>,
    /// The drain workflows in flight. Their tasks are still in `tasks`.
    pub drains: Vec<Drain>,
    /// Summaries of earlier ticks, oldest first.
    pub history: Vec<TickSummary>,
    /// The policy's parameters from the host's config.
    pub params: Vec<Param>,
}

const STATUS: [TaskStatus; 8] = [
    TaskStatus::Provisioning,
    TaskStatus::Pending,
    TaskStatus::Activating,
    TaskStatus::Running,
    TaskStatus::Deactivating,
    TaskStatus::Stopping,
    TaskStatus::Deprovisioning,
    TaskStatus::Stopped,
];
const HEALTH: [TargetHealth; 6] = [
    TargetHealth::Unregistered,
    TargetHealth::Initial,
    TargetHealth::Healthy,
    TargetHealth::Unhealthy,
    TargetHealth::Draining,
    TargetHealth::Unknown,
];

fn known(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

impl Snapshot {
    /// Rebuilds the author's view from what crossed the boundary.
    #[doc(hidden)]
    pub fn from_wire(s: wire::Snapshot) -> Snapshot {
        let t = &s.tasks;
        let tasks = (0..t.status.len())
            .map(|i| {
                let marks = t.marks.get(i).copied().unwrap_or(0);
                Task {
                    handle: i as u32,
                    status: STATUS
                        .get(t.status[i] as usize)
                        .copied()
                        .unwrap_or(TaskStatus::Provisioning),
                    health: t
                        .health
                        .get(i)
                        .and_then(|&h| HEALTH.get(h as usize))
                        .copied()
                        .unwrap_or(TargetHealth::Unknown),
                    age_seconds: t.age_seconds.get(i).copied().unwrap_or(0),
                    protected: marks & 1 != 0,
                    sessions: t.sessions.get(i).copied().unwrap_or(0),
                    cpu: t.cpu.get(i).copied().and_then(known),
                    memory: t.memory.get(i).copied().and_then(known),
                    draining: marks & 2 != 0,
                    cordoned_since: (marks & 4 != 0)
                        .then(|| t.cordoned_since.get(i).copied().unwrap_or(0)),
                }
            })
            .collect();
        let h = &s.history;
        let history = (0..h.at.len())
            .map(|i| TickSummary {
                at: h.at[i],
                desired: h.desired.get(i).copied().unwrap_or(0),
                running: h.running.get(i).copied().unwrap_or(0),
                cpu: h.cpu.get(i).copied().and_then(known),
                memory: h.memory.get(i).copied().and_then(known),
                sessions: h.sessions.get(i).and_then(|&n| u32::try_from(n).ok()),
            })
            .collect();
        Snapshot {
            cluster: s.cluster,
            service: s.service,
            now: s.now,
            desired: s.desired,
            running: s.running,
            pending: s.pending,
            min: s.min,
            max: s.max,
            cpu: s.cpu,
            memory: s.memory,
            sessions_known: s.sessions_known,
            tasks,
            drains: s.drains,
            history,
            params: s.params,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_wire_reads_the_cordon_mark_and_its_column() {
        let columns = wire::TaskColumns {
            status: vec![3, 3, 3],
            health: vec![2, 0, 2],
            age_seconds: vec![10, 20, 30],
            sessions: vec![1, 4, 0],
            marks: vec![0, 2 | 4, 1],
            cordoned_since: vec![0, 1_234, 99],
            cpu: vec![f64::NAN; 3],
            memory: vec![f64::NAN; 3],
        };
        let s = Snapshot::from_wire(wire::Snapshot {
            cluster: "c".into(),
            service: "s".into(),
            now: 2_000,
            desired: 3,
            running: 3,
            pending: 0,
            min: 1,
            max: 5,
            cpu: None,
            memory: None,
            sessions_known: true,
            tasks: columns,
            drains: vec![Drain {
                handle: 1,
                step: DrainStep::Cordoned,
                elapsed_seconds: 766,
            }],
            history: wire::HistoryColumns {
                at: vec![],
                desired: vec![],
                running: vec![],
                cpu: vec![],
                memory: vec![],
                sessions: vec![],
            },
            params: vec![],
        });
        assert_eq!(s.tasks[0].cordoned_since, None);
        assert_eq!(s.tasks[1].cordoned_since, Some(1_234));
        assert!(s.tasks[1].draining && s.tasks[1].is_cordoned());
        // The column is read only under the mark.
        assert_eq!(s.tasks[2].cordoned_since, None);
        assert!(s.tasks[2].protected);
    }
}
