//! [`SimProvider`] behind the provider traits: each call is one [`SimOp`],
//! answered by the world unless a fault answers it.

use std::collections::HashMap;

use super::SimProvider;
use crate::model::TaskStatus;
use crate::providers::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderResult, ServiceCounts, ServiceRef,
    SessionCounts, Sessions, Target, TargetGroupInfo, TargetState, Utilization,
};
use crate::sim::faults::SimOp;

impl Clock for SimProvider {
    fn now(&self) -> u64 {
        self.lock().world.now()
    }
}

impl Cluster for SimProvider {
    async fn service(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        self.call(SimOp::Service, |w| w.service_counts(svc))
    }

    async fn tasks(&self, svc: &ServiceRef) -> ProviderResult<Vec<ClusterTask>> {
        self.call(SimOp::Tasks, |w| w.tasks(svc))
    }

    async fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        self.call(SimOp::TaskStatus, |w| w.task_status(svc, ids))
    }

    async fn set_desired(&self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        self.call(SimOp::SetDesired, |w| w.set_desired(svc, desired))
    }

    async fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> ProviderResult<()> {
        self.call_batch(SimOp::SetProtection, ids, |w, ids| {
            w.set_protection(svc, ids, protected, expires_minutes)
        })
    }
}

impl LoadBalancer for SimProvider {
    async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        self.call(SimOp::Targets, |w| w.targets(target_group))
    }

    async fn deregister(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.call_batch(SimOp::Deregister, targets, |w, targets| {
            w.deregister(target_group, targets)
        })
    }

    async fn register(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.call_batch(SimOp::Register, targets, |w, targets| {
            w.register(target_group, targets)
        })
    }

    /// The service's `load_balancer`, `deregistration_delay` and
    /// `connection_termination` settings.
    async fn target_group_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        self.call(SimOp::TargetGroupInfo, |w| {
            w.target_group_info(target_group)
        })
    }
}

impl Metrics for SimProvider {
    /// Figures as of the world's clock; `now` is ignored (the sim cannot read
    /// ahead of its clock, and keeps only the recent minutes).
    async fn utilization(
        &self,
        services: &[ServiceRef],
        _now: u64,
    ) -> ProviderResult<HashMap<String, Utilization>> {
        self.call(SimOp::Utilization, |w| Ok(w.utilization(services)))
    }
}

impl Sessions for SimProvider {
    /// Exact, fresh counts; the sim's sessions have no heartbeat to expire.
    async fn sessions_by_task(&self, svc: &ServiceRef, _now: u64) -> ProviderResult<SessionCounts> {
        self.call(SimOp::Sessions, |w| w.sessions_by_task(svc))
    }

    /// Marks the task not accepting (or accepting again) in the world: its
    /// application refuses new sessions, which land on another task.
    async fn set_cordon(
        &self,
        svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        self.call(SimOp::SetCordon, |w| {
            w.set_cordon(svc, task_id, cordoned_since)
        })
    }
}
