//! The simulated world: a virtual clock and the services on it, with a
//! synchronous API that mirrors the provider traits.

use std::collections::HashMap;

use super::config::{SimConfig, SimServiceConfig};
use super::error::SimError;
use super::session_trace::SessionArrival;
use super::state::ServiceSim;
use super::stats::SimStats;
use super::task::SimTask;
use crate::model::TaskStatus;
use crate::providers::{
    ClusterTask, ProviderError, ProviderResult, ServiceCounts, ServiceRef, SessionCounts, Target,
    TargetGroupInfo, TargetState, Utilization,
};
use crate::sessions::SessionRecord;

/// Simulated Fargate services behind their target groups, on one virtual
/// clock. Time moves only through [`SimWorld::advance_to`] and
/// [`SimWorld::advance`]; every other call acts at the current time.
#[derive(Debug, Clone)]
pub struct SimWorld {
    config: SimConfig,
    now: u64,
    services: Vec<ServiceSim>,
}

impl SimWorld {
    /// An empty world at virtual time 0.
    pub fn new(config: SimConfig) -> Result<SimWorld, SimError> {
        config.validate()?;
        Ok(SimWorld {
            config,
            now: 0,
            services: Vec::new(),
        })
    }

    /// The world's config.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Adds a service at the current time, with `initial_tasks` tasks running,
    /// healthy and idle. Its tasks' IPs are in 10.N.0.0/16, N its order of
    /// addition (modulo 256).
    pub fn add_service(
        &mut self,
        svc: ServiceRef,
        config: &SimServiceConfig,
    ) -> Result<(), SimError> {
        if let Some(s) = self.services.iter().find(|s| same_service(&s.svc, &svc)) {
            return Err(SimError::DuplicateService { key: s.svc.key() });
        }
        if let Some(s) = self
            .services
            .iter()
            .find(|s| s.svc.target_group == svc.target_group)
        {
            return Err(SimError::DuplicateTargetGroup {
                target_group: svc.target_group,
                key: s.svc.key(),
            });
        }
        let subnet = (self.services.len() % 256) as u8;
        let sim = ServiceSim::new(svc, &self.config, config, subnet, self.now)?;
        self.services.push(sim);
        Ok(())
    }

    /// The services, in the order they were added.
    pub fn services(&self) -> Vec<ServiceRef> {
        self.services.iter().map(|s| s.svc.clone()).collect()
    }

    /// The virtual time, in seconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Processes every event up to and including `t`, then sets the clock to
    /// `t`. A time in the past does nothing: the clock never goes back.
    pub fn advance_to(&mut self, t: u64) {
        if t <= self.now {
            return;
        }
        for s in &mut self.services {
            s.advance_to(t);
        }
        self.now = t;
    }

    /// Advances the clock by `secs`.
    pub fn advance(&mut self, secs: u64) {
        self.advance_to(self.now.saturating_add(secs));
    }

    fn find(&self, svc: &ServiceRef) -> ProviderResult<&ServiceSim> {
        self.services
            .iter()
            .find(|s| same_service(&s.svc, svc))
            .ok_or_else(|| not_found(svc))
    }

    fn find_mut(&mut self, svc: &ServiceRef) -> ProviderResult<&mut ServiceSim> {
        self.services
            .iter_mut()
            .find(|s| same_service(&s.svc, svc))
            .ok_or_else(|| not_found(svc))
    }

    fn group_index(&self, target_group: &str) -> ProviderResult<usize> {
        self.services
            .iter()
            .position(|s| s.svc.target_group == target_group)
            .ok_or_else(|| ProviderError::NotFound {
                service: super::api::ELB,
                message: format!("target group {target_group} is not in the simulation"),
            })
    }

    /// The service's desired, running and pending counts.
    pub fn service_counts(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        Ok(self.find(svc)?.counts())
    }

    /// The service's tasks not yet forgotten (stopped ones stay listed for
    /// `stopped_retention`), in task ID order, with per-task CPU and memory of the
    /// last complete minute.
    pub fn tasks(&self, svc: &ServiceRef) -> ProviderResult<Vec<ClusterTask>> {
        Ok(self.find(svc)?.cluster_tasks())
    }

    /// The statuses of the listed tasks among `ids`.
    pub fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        Ok(self.find(svc)?.task_status(ids))
    }

    /// Sets the desired count; the scheduler starts or stops tasks at once.
    pub fn set_desired(&mut self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?.set_desired(desired, now)
    }

    /// Turns scale-in protection on (for `expires_minutes`, 0 meaning 120) or off.
    pub fn set_protection(
        &mut self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?
            .set_protection(ids, protected, expires_minutes, now)
    }

    /// The target group's registered and draining targets with their health.
    pub fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        Ok(self.services[self.group_index(target_group)?].target_states())
    }

    /// Deregisters targets: they drain for the deregistration delay.
    pub fn deregister(&mut self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        let now = self.now;
        let i = self.group_index(target_group)?;
        self.services[i].deregister(targets, now)
    }

    /// Registers targets: initial, then healthy if their task runs.
    pub fn register(&mut self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        let now = self.now;
        let i = self.group_index(target_group)?;
        self.services[i].register(targets, now)
    }

    /// Each service's latest complete published minute, keyed by
    /// [`ServiceRef::key`]; a service the sim does not know has no figures.
    pub fn utilization(&self, services: &[ServiceRef]) -> HashMap<String, Utilization> {
        services
            .iter()
            .map(|svc| {
                (
                    svc.key(),
                    self.find(svc)
                        .map_or_else(|_| Utilization::default(), |s| s.utilization(self.now)),
                )
            })
            .collect()
    }

    /// Active sessions per task ID, for tasks that have any.
    pub fn sessions_by_task(&self, svc: &ServiceRef) -> ProviderResult<SessionCounts> {
        Ok(self.find(svc)?.sessions_by_task())
    }

    /// ECS StopTask: the task drains and stops as a scale-in victim would, but
    /// the desired count is unchanged, so a replacement starts at once.
    pub fn stop_task(&mut self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?.stop_task(id, now)
    }

    /// A crash: the task reaches STOPPING now, killing its sessions, its
    /// target is deregistered, and a replacement starts.
    pub fn fail_task(&mut self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?.fail_task(id, now)
    }

    /// A session on task `id` from now for `duration` (at least a second),
    /// whatever routing would do: a connection that reached the task just
    /// before its target was deregistered, reported late by the session store.
    /// Fails when the task is unknown or not RUNNING.
    pub fn open_session(
        &mut self,
        svc: &ServiceRef,
        id: &str,
        duration: std::time::Duration,
    ) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?
            .open_session(id, now, duration.as_secs().max(1))
    }

    /// Publishes a task's app-level cordon state, as the session store
    /// does: from `Some(since)` the task's application refuses new sessions
    /// (they move to another task), with `None` it accepts them again. The
    /// state lives in the world, so it outlasts the daemon. Idempotent; an
    /// unknown task is left alone.
    pub fn set_cordon(
        &mut self,
        svc: &ServiceRef,
        id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        let now = self.now;
        self.find_mut(svc)?.set_cordon(id, cordoned_since, now);
        Ok(())
    }

    /// The target group's load balancer kind, deregistration delay and
    /// connection termination, as the scenario set them.
    pub fn target_group_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        Ok(self.services[self.group_index(target_group)?].target_group_info())
    }

    /// The service's figures now.
    pub fn stats(&self, svc: &ServiceRef) -> Option<SimStats> {
        self.find(svc).ok().map(ServiceSim::stats)
    }

    /// Every listed task of the service with its session figures.
    pub fn sim_tasks(&self, svc: &ServiceRef) -> Option<Vec<SimTask>> {
        self.find(svc).ok().map(ServiceSim::sim_tasks)
    }

    /// Starts logging the service's session arrivals (time and drawn length,
    /// refused ones included), for [`SimWorld::drain_arrivals`].
    pub fn log_arrivals(&mut self, svc: &ServiceRef) -> ProviderResult<()> {
        let s = self.find_mut(svc)?;
        s.arrival_log.get_or_insert_with(Vec::new);
        Ok(())
    }

    /// Moves the arrivals logged since the last call to the end of `out`, oldest first.
    pub fn drain_arrivals(
        &mut self,
        svc: &ServiceRef,
        out: &mut Vec<SessionArrival>,
    ) -> ProviderResult<()> {
        if let Some(log) = self.find_mut(svc)?.arrival_log.as_mut() {
            out.append(log);
        }
        Ok(())
    }

    /// Starts keeping the service's active sessions as session store items
    /// (an ID and a start time each), for [`SimWorld::session_items`].
    /// Sessions already active are not known as items.
    pub fn track_session_items(&mut self, svc: &ServiceRef) -> ProviderResult<()> {
        let s = self.find_mut(svc)?;
        s.items.get_or_insert_with(Default::default);
        Ok(())
    }

    /// The service's active sessions as the session store would list them:
    /// task, session ID (`s` and a serial), start time, no heartbeat
    /// deadline. Empty unless [`SimWorld::track_session_items`] was called.
    pub fn session_items(&self, svc: &ServiceRef) -> ProviderResult<Vec<SessionRecord>> {
        let s = self.find(svc)?;
        let Some(items) = &s.items else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (&k, list) in &items.by_task {
            let Some(t) = s.task(k) else { continue };
            out.extend(list.iter().map(|&(serial, start, _)| SessionRecord {
                task_id: t.id.clone(),
                session_id: format!("s{serial}"),
                started_at: start,
                expires_at: None,
            }));
        }
        Ok(out)
    }

    /// The workload's arrival rate per minute now, for plots and checks.
    pub fn arrival_rate(&self, svc: &ServiceRef) -> Option<f64> {
        self.find(svc)
            .ok()
            .map(|s| s.workload.rate_per_min(self.now - self.now % 60))
    }
}

fn same_service(a: &ServiceRef, b: &ServiceRef) -> bool {
    a.cluster == b.cluster && a.service == b.service
}

fn not_found(svc: &ServiceRef) -> ProviderError {
    ProviderError::NotFound {
        service: super::api::ECS,
        message: format!("service {} is not in the simulation", svc.key()),
    }
}
