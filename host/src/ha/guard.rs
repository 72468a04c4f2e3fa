//! The narrowest place to stop a host without a lease from acting: the
//! provider. [`Guarded`] passes every read through and, before each write
//! (UpdateService, UpdateTaskProtection, DeregisterTargets, RegisterTargets,
//! the session store's cordon), checks that this host holds the service's
//! lease with at least the safety margin left. Otherwise the write is skipped
//! and the call fails with a transient error naming the lease, so a drain
//! step is retried (journaled, under the fencing token) rather than taken.
//! A write that starts is cut off once only half the margin is left, so no
//! retry of it is sent near the lease's end.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use super::Leases;
use crate::model::TaskStatus;
use crate::providers::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderError, ProviderResult,
    ServiceCounts, ServiceRef, SessionCounts, Sessions, Target, TargetGroupInfo, TargetState,
    Utilization,
};

/// A provider whose writes need the service's lease (none: every write passes, no HA).
#[derive(Debug, Clone)]
pub struct Guarded<P> {
    inner: P,
    leases: Option<Leases>,
    /// Target group → the services load-balanced by it.
    groups: HashMap<String, Vec<String>>,
}

impl<P> Guarded<P> {
    /// `inner`, with writes checked against `leases` when given. `services`
    /// maps target groups to services for the load balancer's writes.
    pub fn new(inner: P, leases: Option<Leases>, services: &[ServiceRef]) -> Guarded<P> {
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        for s in services {
            groups
                .entry(s.target_group.clone())
                .or_default()
                .push(s.key());
        }
        Guarded {
            inner,
            leases,
            groups,
        }
    }

    /// The wrapped provider.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// How long a write for `service` may take (none: no limit, no HA), or
    /// the error that skips it.
    fn check(&self, service: &str, call: &str) -> ProviderResult<Option<Duration>> {
        let Some(l) = &self.leases else {
            return Ok(None);
        };
        match l.check(service) {
            Ok(limit) => Ok(Some(limit)),
            Err(e) => {
                tracing::warn!(service, call, "Skipped an AWS write: {e}");
                Err(ProviderError::Transient {
                    service: "lease",
                    message: format!("{call} skipped: {e}"),
                })
            }
        }
    }

    fn check_group(&self, target_group: &str, call: &str) -> ProviderResult<Option<Duration>> {
        if self.leases.is_none() {
            return Ok(None);
        }
        let services = self
            .groups
            .get(target_group)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(limit) = services
            .iter()
            .find_map(|s| self.leases.as_ref()?.check(s).ok())
        {
            return Ok(Some(limit));
        }
        match services.first() {
            Some(s) => self.check(s, call),
            None => Err(ProviderError::Permanent {
                service: "lease",
                message: format!(
                    "{call} skipped: target group {target_group} belongs to no configured service"
                ),
            }),
        }
    }
}

/// Runs a write, cut off after `limit` (when given): no retry of it is sent
/// once the lease is within half its safety margin of ending.
async fn bounded<F: Future<Output = ProviderResult<()>>>(
    limit: Option<Duration>,
    call: &str,
    write: F,
) -> ProviderResult<()> {
    let Some(limit) = limit else {
        return write.await;
    };
    match tokio::time::timeout(limit, write).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Transient {
            service: "lease",
            message: format!(
                "{call} cut off after {} ms: the lease is about to end, so no further attempt is sent",
                limit.as_millis()
            ),
        }),
    }
}

impl<P: Clock> Clock for Guarded<P> {
    fn now(&self) -> u64 {
        self.inner.now()
    }
}

impl<P: Cluster> Cluster for Guarded<P> {
    async fn service(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        self.inner.service(svc).await
    }
    async fn tasks(&self, svc: &ServiceRef) -> ProviderResult<Vec<ClusterTask>> {
        self.inner.tasks(svc).await
    }
    async fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        self.inner.task_status(svc, ids).await
    }
    async fn set_desired(&self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        let limit = self.check(&svc.key(), "UpdateService")?;
        bounded(limit, "UpdateService", self.inner.set_desired(svc, desired)).await
    }
    async fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> ProviderResult<()> {
        let limit = self.check(&svc.key(), "UpdateTaskProtection")?;
        let write = self
            .inner
            .set_protection(svc, ids, protected, expires_minutes);
        bounded(limit, "UpdateTaskProtection", write).await
    }
}

impl<P: LoadBalancer> LoadBalancer for Guarded<P> {
    async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        self.inner.targets(target_group).await
    }
    async fn deregister(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        let limit = self.check_group(target_group, "DeregisterTargets")?;
        let write = self.inner.deregister(target_group, targets);
        bounded(limit, "DeregisterTargets", write).await
    }
    async fn register(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        let limit = self.check_group(target_group, "RegisterTargets")?;
        let write = self.inner.register(target_group, targets);
        bounded(limit, "RegisterTargets", write).await
    }
    async fn target_group_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        self.inner.target_group_info(target_group).await
    }
}

impl<P: Metrics> Metrics for Guarded<P> {
    async fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> ProviderResult<HashMap<String, Utilization>> {
        self.inner.utilization(services, now).await
    }
}

impl<P: Sessions> Sessions for Guarded<P> {
    async fn sessions_by_task(&self, svc: &ServiceRef, now: u64) -> ProviderResult<SessionCounts> {
        self.inner.sessions_by_task(svc, now).await
    }
    async fn set_cordon(
        &self,
        svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        let limit = self.check(&svc.key(), "cordon")?;
        let write = self.inner.set_cordon(svc, task_id, cordoned_since);
        bounded(limit, "cordon", write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sim::SimProvider;

    #[tokio::test]
    async fn writes_without_the_lease_are_skipped_and_reads_pass() {
        let sim = SimProvider::new(Default::default()).unwrap();
        let svc = ServiceRef {
            cluster: "c".into(),
            service: "s".into(),
            target_group: "tg".into(),
        };
        let cfg: super::super::HaConfig = toml::from_str("").unwrap();
        let leases = Leases::new("h".into(), &cfg, vec![svc.key()]);
        let p = Guarded::new(sim, Some(leases.clone()), std::slice::from_ref(&svc));
        let err = p.set_desired(&svc, 3).await.unwrap_err();
        assert!(
            err.is_retryable() && err.to_string().contains("UpdateService skipped"),
            "{err}"
        );
        let err = p.deregister("tg", &[]).await.unwrap_err();
        assert!(
            err.to_string().contains("DeregisterTargets skipped"),
            "{err}"
        );
        // A read reaches the provider (the sim knows no such service).
        assert!(
            !p.service(&svc)
                .await
                .unwrap_err()
                .to_string()
                .contains("lease")
        );
        leases.took(
            &svc.key(),
            1,
            std::time::Instant::now() + std::time::Duration::from_secs(10),
        );
        let err = p.set_desired(&svc, 3).await.unwrap_err();
        assert!(
            !err.to_string().contains("lease"),
            "passed the lease check: {err}"
        );
    }
}
