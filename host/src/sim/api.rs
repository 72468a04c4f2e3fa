//! What one simulated service answers to the provider calls: the ECS,
//! ELBv2 and DynamoDB views of it, and the commands that change it.

use std::net::IpAddr;

use super::config::SimLoadBalancer;
use super::limits::MAX_TASKS_PER_SERVICE;
use super::state::ServiceSim;
use super::task::{SimTask, StopCause, TaskKey};
use crate::model::{TargetHealth, TaskStatus};
use crate::providers::{
    ClusterTask, LoadBalancerKind, ProviderError, ProviderResult, ServiceCounts, SessionCounts,
    Target, TargetGroupInfo, TargetState,
};

/// The sim's name for the ECS side in errors.
pub(crate) const ECS: &str = "sim-ecs";
/// The sim's name for the ELBv2 side in errors.
pub(crate) const ELB: &str = "sim-elbv2";

/// UpdateTaskProtection takes at most this many tasks per call.
const PROTECTION_BATCH: usize = 10;

impl ServiceSim {
    fn key_of(&self, id: &str) -> ProviderResult<TaskKey> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| ProviderError::NotFound {
                service: ECS,
                message: format!("task {id} is not a task of service {}", self.svc.key()),
            })
    }

    fn key_of_target(&self, target: &Target) -> ProviderResult<TaskKey> {
        let invalid = |why: &str| ProviderError::NotFound {
            service: ELB,
            message: format!(
                "target {}:{} {why} in target group {}",
                target.ip, target.port, self.svc.target_group
            ),
        };
        let IpAddr::V4(ip) = target.ip else {
            return Err(invalid("is not an IPv4 address"));
        };
        if target.port != self.p.port {
            return Err(invalid(&format!(
                "does not use the container port {}",
                self.p.port
            )));
        }
        self.by_ip
            .get(&u32::from(ip))
            .copied()
            .ok_or_else(|| invalid("is no task's address"))
    }

    /// DescribeServices.
    pub(crate) fn counts(&self) -> ServiceCounts {
        let pending = self
            .live
            .iter()
            .filter(|&&k| self.task(k).is_some_and(|t| t.status.is_starting()))
            .count();
        ServiceCounts {
            desired: self.desired,
            running: self.running,
            pending: pending as u32,
        }
    }

    /// ListTasks plus DescribeTasks: every listed task, in ID order (ECS
    /// promises no order; this one makes sorting the listing cheap).
    pub(crate) fn cluster_tasks(&self) -> Vec<ClusterTask> {
        let mut tasks = Vec::with_capacity(self.by_id.len());
        tasks.extend(
            self.by_id
                .values()
                .filter_map(|&k| self.task(k))
                .map(|t| ClusterTask {
                    id: t.id.clone(),
                    status: t.status,
                    created_at: t.created_at,
                    started_at: t.started_at,
                    protected: t.protected && t.status != TaskStatus::Stopped,
                    target: (t.status != TaskStatus::Provisioning).then(|| t.target.clone()),
                    cpu: t.cpu,
                    memory: t.memory,
                }),
        );
        tasks
    }

    /// DescribeTasks: the statuses of the listed tasks among `ids`, in their order.
    pub(crate) fn task_status(&self, ids: &[String]) -> Vec<(String, TaskStatus)> {
        ids.iter()
            .filter_map(|id| {
                self.by_id
                    .get(id)
                    .and_then(|&k| self.task(k))
                    .map(|t| (id.clone(), t.status))
            })
            .collect()
    }

    /// UpdateService with a new desired count; the scheduler acts at once.
    pub(crate) fn set_desired(&mut self, desired: u32, now: u64) -> ProviderResult<()> {
        if desired > MAX_TASKS_PER_SERVICE {
            return Err(ProviderError::Permanent {
                service: ECS,
                message: format!(
                    "desired count {desired} exceeds the quota of {MAX_TASKS_PER_SERVICE} tasks per service"
                ),
            });
        }
        self.counters.set_desired_calls += 1;
        if desired > self.desired {
            self.counters.scale_outs += 1;
        } else if desired < self.desired {
            self.counters.scale_ins += 1;
        }
        self.desired = desired;
        self.reconcile(now);
        Ok(())
    }

    /// UpdateTaskProtection, batched by ten. Unknown IDs fail the call before
    /// anything changes.
    pub(crate) fn set_protection(
        &mut self,
        ids: &[String],
        on: bool,
        minutes: u32,
        now: u64,
    ) -> ProviderResult<()> {
        let keys = ids
            .iter()
            .map(|id| self.key_of(id))
            .collect::<ProviderResult<Vec<_>>>()?;
        self.counters.protection_calls += ids.len().div_ceil(PROTECTION_BATCH).max(1) as u64;
        self.protect(&keys, on, minutes, now);
        Ok(())
    }

    /// DescribeTargetHealth: targets in the group (registered or draining), oldest task first.
    pub(crate) fn target_states(&self) -> Vec<TargetState> {
        let mut targets = Vec::with_capacity(self.live.len());
        targets.extend(
            self.live
                .iter()
                .filter_map(|&k| self.task(k))
                .filter(|t| t.slot.health != TargetHealth::Unregistered)
                .map(|t| TargetState {
                    target: t.target.clone(),
                    health: t.slot.health,
                }),
        );
        targets
    }

    /// RegisterTargets. A target that is no task's address fails the call
    /// before anything changes.
    pub(crate) fn register(&mut self, targets: &[Target], now: u64) -> ProviderResult<()> {
        let keys = targets
            .iter()
            .map(|t| self.key_of_target(t))
            .collect::<ProviderResult<Vec<_>>>()?;
        self.counters.register_calls += 1;
        for k in keys {
            self.register_target(k, now);
        }
        Ok(())
    }

    /// DeregisterTargets. A target that is no task's address fails the call
    /// before anything changes.
    pub(crate) fn deregister(&mut self, targets: &[Target], now: u64) -> ProviderResult<()> {
        let keys = targets
            .iter()
            .map(|t| self.key_of_target(t))
            .collect::<ProviderResult<Vec<_>>>()?;
        self.counters.deregister_calls += 1;
        for k in keys {
            self.deregister_target(k, now);
        }
        Ok(())
    }

    /// The session store: active sessions per task, for tasks that have any.
    pub(crate) fn sessions_by_task(&self) -> SessionCounts {
        // Sized up front: growing it one rehash at a time cost a tenth of a
        // backtest tick on a 100-task service.
        let mut by_task =
            SessionCounts::with_capacity_and_hasher(self.live.len(), Default::default());
        by_task.extend(
            self.live
                .iter()
                .filter_map(|&k| self.task(k))
                .filter(|t| t.sessions > 0)
                .map(|t| (t.id.clone(), t.sessions)),
        );
        by_task
    }

    /// StopTask: the task drains and stops like a scale-in victim, the
    /// desired count is unchanged, and the scheduler starts a replacement.
    pub(crate) fn stop_task(&mut self, id: &str, now: u64) -> ProviderResult<()> {
        let k = self.key_of(id)?;
        self.counters.stop_task_calls += 1;
        self.request_stop(k, now, StopCause::StopTask);
        self.reconcile(now);
        Ok(())
    }

    /// The task's container exits: it reaches STOPPING at once, killing its
    /// sessions, and the scheduler starts a replacement.
    pub(crate) fn fail_task(&mut self, id: &str, now: u64) -> ProviderResult<()> {
        let k = self.key_of(id)?;
        self.counters.task_failures += 1;
        self.fail(k, now);
        self.reconcile(now);
        Ok(())
    }

    /// A session placed on a RUNNING task, whatever routing would do.
    pub(crate) fn open_session(&mut self, id: &str, now: u64, duration: u64) -> ProviderResult<()> {
        let k = self.key_of(id)?;
        let status = self.task(k).map(|t| t.status);
        if status != Some(TaskStatus::Running) {
            return Err(ProviderError::Permanent {
                service: ECS,
                message: format!("task {id} is {status:?}, not running: no session can reach it"),
            });
        }
        self.start_session(k, now, duration);
        Ok(())
    }

    /// The session store's app-level cordon item of a task: `Some(since)`
    /// and the application refuses new sessions (routing moves them to
    /// another task), `None` and it accepts them again. Idempotent; a task
    /// the service does not list (stopped and forgotten) is left alone, as
    /// an item written for it would serve nobody.
    pub(crate) fn set_cordon(&mut self, id: &str, since: Option<u64>, now: u64) {
        self.counters.cordon_calls += 1;
        if let Some(&k) = self.by_id.get(id)
            && let Some(t) = self.task_mut(k)
        {
            t.flush(now);
            t.cordoned_since = since;
        }
    }

    /// The target group's load balancer and deregistration behaviour, from
    /// the service's settings.
    pub(crate) fn target_group_info(&self) -> TargetGroupInfo {
        TargetGroupInfo {
            kind: match self.p.load_balancer {
                SimLoadBalancer::Network => LoadBalancerKind::Network,
                SimLoadBalancer::Application => LoadBalancerKind::Application,
            },
            deregistration_delay_s: self.p.deregistration,
            connection_termination: self.p.connection_termination,
        }
    }

    /// Every listed task with its session figures.
    pub(crate) fn sim_tasks(&self) -> Vec<SimTask> {
        self.live
            .iter()
            .filter_map(|&k| self.task(k))
            .map(SimTask::from)
            .collect()
    }
}
