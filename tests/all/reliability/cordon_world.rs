//! The sim behind a load balancer of a chosen kind, with app-level cordons
//! kept beside it, for the cordoned drains of the property test.
//!
//! This wrapper answers `target_group_info` from the scenario and keeps
//! `set_cordon` in a map (so the harness can inspect it), and passes every
//! other call to the sim, faults included. The sim service is configured
//! with the same load balancer, so the sim counts what an ALB cuts, and the
//! harness ([`super::harness::Invariants`]) checks both that count and its
//! own reading of target health and sessions. App-level refusal is not
//! applied here (the sim's own `set_cordon` is not called), so app holds
//! end only when the load lets the task empty: the harder case for safety.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use autoscaler::model::TaskStatus;
use autoscaler::providers::sim::SimProvider;
use autoscaler::providers::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderResult, ServiceCounts, ServiceRef,
    SessionCounts, Sessions, Target, TargetGroupInfo, TargetState, Utilization,
};

/// The sim, a target group of a known kind, and a cordon store.
#[derive(Clone)]
pub struct CordonWorld {
    /// The simulated cluster.
    pub sim: SimProvider,
    /// What `target_group_info` answers.
    pub info: TargetGroupInfo,
    /// App-level cordons: task ID to since when.
    pub cordons: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CordonWorld {
    pub fn new(sim: SimProvider, info: TargetGroupInfo) -> CordonWorld {
        CordonWorld {
            sim,
            info,
            cordons: Arc::default(),
        }
    }
}

impl Cluster for CordonWorld {
    async fn service(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        self.sim.service(svc).await
    }
    async fn tasks(&self, svc: &ServiceRef) -> ProviderResult<Vec<ClusterTask>> {
        self.sim.tasks(svc).await
    }
    async fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        self.sim.task_status(svc, ids).await
    }
    async fn set_desired(&self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        self.sim.set_desired(svc, desired).await
    }
    async fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> ProviderResult<()> {
        self.sim
            .set_protection(svc, ids, protected, expires_minutes)
            .await
    }
}

impl LoadBalancer for CordonWorld {
    async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        self.sim.targets(target_group).await
    }
    async fn deregister(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.sim.deregister(target_group, targets).await
    }
    async fn register(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.sim.register(target_group, targets).await
    }
    async fn target_group_info(&self, _target_group: &str) -> ProviderResult<TargetGroupInfo> {
        Ok(self.info)
    }
}

impl Metrics for CordonWorld {
    async fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> ProviderResult<HashMap<String, Utilization>> {
        self.sim.utilization(services, now).await
    }
}

impl Sessions for CordonWorld {
    async fn sessions_by_task(&self, svc: &ServiceRef, now: u64) -> ProviderResult<SessionCounts> {
        self.sim.sessions_by_task(svc, now).await
    }
    async fn set_cordon(
        &self,
        _svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        let mut c = self.cordons.lock().unwrap();
        match cordoned_since {
            Some(t) => c.insert(task_id.to_string(), t),
            None => c.remove(task_id),
        };
        Ok(())
    }
}

impl Clock for CordonWorld {
    fn now(&self) -> u64 {
        self.sim.now()
    }
}
