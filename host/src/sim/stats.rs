//! The figures a backtest reads: sessions started, ended, killed, cut and
//! refused, task-seconds for cost, current counts and the scale actions seen.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::ServiceSim;
use crate::model::{TargetHealth, TaskStatus};

/// One service's figures at one moment. Totals count from when the service
/// was added; counts are as of now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    /// The virtual time, in seconds.
    pub now: u64,
    /// Sessions that landed on a task.
    pub sessions_started: u64,
    /// Sessions that ended normally.
    pub sessions_ended: u64,
    /// Sessions still active when their task reached STOPPING: the safety figure.
    pub sessions_killed: u64,
    /// Sessions the load balancer cut when a deregistered target's delay
    /// ended while its task was still RUNNING (ALB, or NLB with connection
    /// termination): the other safety figure.
    pub sessions_cut: u64,
    /// Sessions a cordoned task's application refused that landed on
    /// another task.
    pub sessions_redirected: u64,
    /// Arrivals that found no healthy, accepting task with room.
    pub sessions_refused: u64,
    /// Sessions active now.
    pub sessions_active: u64,
    /// The most sessions active at once.
    pub peak_sessions_active: u64,
    /// Seconds summed over tasks from creation to STOPPED (what Fargate bills).
    pub task_seconds: u64,
    /// Seconds summed over tasks while RUNNING.
    pub running_task_seconds: u64,
    /// Tasks ever created.
    pub tasks_launched: u64,
    /// Tasks that reached STOPPED.
    pub tasks_stopped: u64,
    /// Tasks that reached STOPPING with at least one active session.
    pub tasks_stopped_with_sessions: u64,
    /// The most tasks alive (not stopped) at once.
    pub peak_tasks: u32,
    /// The desired count now.
    pub desired: u32,
    /// Tasks RUNNING now.
    pub running: u32,
    /// Tasks starting now (PROVISIONING or PENDING).
    pub pending: u32,
    /// Tasks on their way out now (DEACTIVATING, STOPPING, DEPROVISIONING).
    pub stopping: u32,
    /// Tasks with scale-in protection now (stopped ones excluded).
    pub protected: u32,
    /// Healthy targets now.
    pub healthy_targets: u32,
    /// Draining targets now.
    pub draining_targets: u32,
    /// Tasks whose application is cordoned now (not accepting new sessions),
    /// stopped ones excluded.
    pub app_cordoned: u32,
    /// Desired-count changes upward.
    pub scale_outs: u64,
    /// Desired-count changes downward.
    pub scale_ins: u64,
    /// UpdateService calls, changing the count or not.
    pub set_desired_calls: u64,
    /// UpdateTaskProtection calls (at most 10 tasks per call).
    pub protection_calls: u64,
    /// RegisterTargets calls.
    pub register_calls: u64,
    /// DeregisterTargets calls.
    pub deregister_calls: u64,
    /// StopTask calls (fault injection).
    pub stop_task_calls: u64,
    /// Task failures injected.
    pub task_failures: u64,
    /// Launches that failed because the service's subnet had no free address.
    pub launch_failures: u64,
    /// set_cordon calls (the session store's cordon items).
    pub cordon_calls: u64,
    /// Sessions killed per task ID, for the tasks that had any.
    pub killed_by_task: BTreeMap<String, u32>,
    /// Sessions cut by the load balancer per task ID, for the tasks that had any.
    pub cut_by_task: BTreeMap<String, u32>,
}

impl ServiceSim {
    /// The service's figures now.
    pub(crate) fn stats(&self) -> SimStats {
        let c = &self.counters;
        let (mut pending, mut stopping, mut protected, mut healthy, mut draining) = (0, 0, 0, 0, 0);
        let mut app_cordoned = 0;
        for t in self.live.iter().filter_map(|&k| self.task(k)) {
            match t.status {
                s if s.is_starting() => pending += 1,
                TaskStatus::Deactivating | TaskStatus::Stopping | TaskStatus::Deprovisioning => {
                    stopping += 1
                }
                _ => {}
            }
            protected += u32::from(t.protected && t.status != TaskStatus::Stopped);
            healthy += u32::from(t.slot.health == TargetHealth::Healthy);
            draining += u32::from(t.slot.health == TargetHealth::Draining);
            app_cordoned +=
                u32::from(t.cordoned_since.is_some() && t.status != TaskStatus::Stopped);
        }
        SimStats {
            now: self.now,
            sessions_started: c.sessions_started,
            sessions_ended: c.sessions_ended,
            sessions_killed: c.sessions_killed,
            sessions_cut: c.sessions_cut,
            sessions_redirected: c.sessions_redirected,
            sessions_refused: c.sessions_refused,
            sessions_active: self.active_sessions,
            peak_sessions_active: c.peak_sessions_active,
            task_seconds: c.task_seconds,
            running_task_seconds: c.running_task_seconds,
            tasks_launched: c.tasks_launched,
            tasks_stopped: c.tasks_stopped,
            tasks_stopped_with_sessions: c.tasks_stopped_with_sessions,
            peak_tasks: c.peak_tasks,
            desired: self.desired,
            running: self.running,
            pending,
            stopping,
            protected,
            healthy_targets: healthy,
            draining_targets: draining,
            app_cordoned,
            scale_outs: c.scale_outs,
            scale_ins: c.scale_ins,
            set_desired_calls: c.set_desired_calls,
            protection_calls: c.protection_calls,
            register_calls: c.register_calls,
            deregister_calls: c.deregister_calls,
            stop_task_calls: c.stop_task_calls,
            task_failures: c.task_failures,
            launch_failures: c.launch_failures,
            cordon_calls: c.cordon_calls,
            killed_by_task: c.killed_by_task.clone(),
            cut_by_task: c.cut_by_task.clone(),
        }
    }
}
