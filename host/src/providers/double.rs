//! A test double for the cordon path (unit tests only): the sim provider,
//! with a target group whose answer a test sets outright and an app-level
//! cordon kept in a map, with a count of `set_cordon` calls to fail. The sim
//! models both itself (the property test runs on it); the workflow's step
//! tests keep this double to state the answer and the failures directly.
//! Every other call goes to the sim unchanged, faults included.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::sim::SimProvider;
use super::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderError, ProviderResult,
    ServiceCounts, ServiceRef, SessionCounts, Sessions, Target, TargetGroupInfo, TargetState,
    Utilization,
};
use crate::model::TaskStatus;

/// The sim with a load balancer of a known kind and a cordon store.
#[derive(Clone)]
pub struct Double {
    /// The simulated cluster.
    pub sim: SimProvider,
    /// What `target_group_info` answers.
    pub info: TargetGroupInfo,
    /// App-level cordons: task ID to since when.
    pub cordons: Arc<Mutex<BTreeMap<String, u64>>>,
    /// `set_cordon` calls that fail with a transient error before one succeeds.
    pub cordon_faults: Arc<Mutex<u32>>,
    /// Calls of `target_group_info` and `set_cordon`, in order.
    pub calls: Arc<Mutex<Vec<String>>>,
}

impl Double {
    /// The sim `sim` behind a target group described by `info`.
    pub fn new(sim: SimProvider, info: TargetGroupInfo) -> Double {
        Double {
            sim,
            info,
            cordons: Arc::default(),
            cordon_faults: Arc::default(),
            calls: Arc::default(),
        }
    }
}

impl Cluster for Double {
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

impl LoadBalancer for Double {
    async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        self.sim.targets(target_group).await
    }
    async fn deregister(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.sim.deregister(target_group, targets).await
    }
    async fn register(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.sim.register(target_group, targets).await
    }
    async fn target_group_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        self.calls
            .lock()
            .push(format!("target_group_info {target_group}"));
        Ok(self.info)
    }
}

impl Metrics for Double {
    async fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> ProviderResult<std::collections::HashMap<String, Utilization>> {
        self.sim.utilization(services, now).await
    }
}

impl Sessions for Double {
    async fn sessions_by_task(&self, svc: &ServiceRef, now: u64) -> ProviderResult<SessionCounts> {
        self.sim.sessions_by_task(svc, now).await
    }
    async fn set_cordon(
        &self,
        _svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        self.calls
            .lock()
            .push(format!("set_cordon {task_id} {cordoned_since:?}"));
        {
            let mut faults = self.cordon_faults.lock();
            if *faults > 0 {
                *faults -= 1;
                return Err(ProviderError::Transient {
                    service: "double",
                    message: "throttled (injected)".into(),
                });
            }
        }
        let mut c = self.cordons.lock();
        match cordoned_since {
            Some(t) => {
                c.insert(task_id.to_string(), t);
            }
            None => {
                c.remove(task_id);
            }
        }
        Ok(())
    }
}

impl Clock for Double {
    fn now(&self) -> u64 {
        self.sim.now()
    }
}
