//! Scenario tests of the simulated world, one file per area, with shared helpers.

mod cordon;
mod determinism;
mod faults;
mod lifecycle;
mod metrics;
mod sessions;
mod speed;
mod targets;
mod workloads;

use std::time::Duration;

use super::{SimConfig, SimServiceConfig, SimTask, SimWorld, Usage, Workload};
use crate::model::{TargetHealth, TaskStatus};
use crate::providers::ServiceRef;

pub(super) fn svc() -> ServiceRef {
    ServiceRef {
        cluster: "prod".into(),
        service: "rdp".into(),
        target_group: "rdp-tg".into(),
    }
}

/// A service with no arrivals and round figures: provisioning 20 s, startup
/// 40 s, health check 30 s, deregistration 300 s, stopping 15 s,
/// deprovisioning 20 s.
pub(super) fn quiet(tasks: u32) -> SimServiceConfig {
    SimServiceConfig {
        initial_tasks: tasks,
        provisioning: Duration::from_secs(20),
        startup: Duration::from_secs(40),
        health_check_delay: Duration::from_secs(30),
        deregistration_delay: Duration::from_secs(300),
        stopping: Duration::from_secs(15),
        deprovisioning: Duration::from_secs(20),
        workload: Workload::Steady { per_min: 0.0 },
        usage: Usage {
            cpu_noise: 0.0,
            memory_noise: 0.0,
            ..Usage::default()
        },
        ..SimServiceConfig::default()
    }
}

/// A service with steady arrivals.
pub(super) fn busy(tasks: u32, per_min: f64, mean: Duration, capacity: u32) -> SimServiceConfig {
    SimServiceConfig {
        workload: Workload::Steady { per_min },
        session_mean: mean,
        session_capacity: capacity,
        ..quiet(tasks)
    }
}

pub(super) fn world_with(seed: u64, config: &SimServiceConfig) -> SimWorld {
    let mut w = SimWorld::new(SimConfig {
        seed,
        ..SimConfig::default()
    })
    .expect("world config");
    w.add_service(svc(), config).expect("service config");
    w
}

pub(super) fn world(config: &SimServiceConfig) -> SimWorld {
    world_with(1, config)
}

pub(super) fn tasks(w: &SimWorld) -> Vec<SimTask> {
    w.sim_tasks(&svc()).expect("service exists")
}

pub(super) fn task<'a>(all: &'a [SimTask], id: &str) -> &'a SimTask {
    all.iter()
        .find(|t| t.id == id)
        .unwrap_or_else(|| panic!("task {id} is listed"))
}

pub(super) fn status_of(w: &SimWorld, id: &str) -> TaskStatus {
    task(&tasks(w), id).status
}

pub(super) fn health_of(w: &SimWorld, id: &str) -> TargetHealth {
    task(&tasks(w), id).health
}

pub(super) fn ids_where(w: &SimWorld, f: impl Fn(&SimTask) -> bool) -> Vec<String> {
    tasks(w)
        .into_iter()
        .filter(|t| f(t))
        .map(|t| t.id)
        .collect()
}

pub(super) fn running_ids(w: &SimWorld) -> Vec<String> {
    ids_where(w, |t| t.status == TaskStatus::Running)
}
