//! One simulated service's state, and the plain types it holds. The
//! behaviour modules (lifecycle, sessions, targets, usage, stats, api) each
//! extend [`ServiceSim`] with an `impl` block and import it from here; this
//! module imports none of them, so they depend on it and not on each other.

use std::collections::{BTreeMap, HashMap};

use super::config::{SimConfig, SimLoadBalancer, SimRouting, SimServiceConfig, Usage};
use super::ends::SessionEnds;
use super::events::EventQueue;
use super::random::Rngs;
use super::series::MetricSeries;
use super::session_length::SessionLength;
use super::session_trace::SessionArrival;
use super::task::{Task, TaskKey};
use super::workload::WorkloadModel;
use crate::providers::ServiceRef;

/// A service's config in whole seconds, as the event loop uses it.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub port: u16,
    pub provisioning: u64,
    pub startup: u64,
    pub health_check: u64,
    pub deregistration: u64,
    pub stopping: u64,
    pub deprovisioning: u64,
    pub retention: u64,
    pub capacity: u32,
    pub session_mean: f64,
    pub session_length: SessionLength,
    pub usage: Usage,
    pub metrics_delay: u64,
    pub metrics_lookback: u64,
    /// Whether the load balancer closes a deregistered target's connections
    /// when its delay ends (an ALB, or an NLB with connection termination).
    pub cuts_connections: bool,
    pub load_balancer: SimLoadBalancer,
    pub connection_termination: bool,
    pub routing: SimRouting,
}

impl Params {
    pub fn new(world: &SimConfig, c: &SimServiceConfig) -> Params {
        Params {
            port: c.container_port,
            provisioning: c.provisioning.as_secs(),
            startup: c.startup.as_secs(),
            health_check: c.health_check_delay.as_secs(),
            deregistration: c.deregistration_delay.as_secs(),
            stopping: c.stopping.as_secs(),
            deprovisioning: c.deprovisioning.as_secs(),
            retention: world.stopped_retention.as_secs(),
            capacity: c.session_capacity,
            session_mean: c.session_mean.as_secs() as f64,
            session_length: c.session_length,
            usage: c.usage,
            metrics_delay: world.metrics_delay.as_secs(),
            metrics_lookback: world.metrics_lookback.as_secs(),
            cuts_connections: c.load_balancer == SimLoadBalancer::Application
                || c.connection_termination,
            load_balancer: c.load_balancer,
            connection_termination: c.connection_termination,
            routing: c.routing,
        }
    }
}

/// One simulated service, its tasks, its target group and its sessions.
#[derive(Debug, Clone)]
pub(crate) struct ServiceSim {
    pub svc: ServiceRef,
    pub p: Params,
    pub workload: WorkloadModel,
    pub seed: u64,
    pub subnet: u8,
    pub rng: Rngs,
    /// The time up to which the service has been carried.
    pub now: u64,
    /// The next minute boundary.
    pub next_minute: u64,
    pub queue: EventQueue,
    pub ends: SessionEnds,
    /// Every task ever created, by key; `None` once purged.
    pub slab: Vec<Option<Task>>,
    /// Keys of the tasks not purged, oldest first.
    pub live: Vec<TaskKey>,
    /// Listed tasks by ID: listings come in ID order, so the tick's sort is one pass.
    pub by_id: BTreeMap<String, TaskKey>,
    pub by_ip: HashMap<u32, TaskKey>,
    pub next_host: u32,
    pub desired: u32,
    pub routing: Routing,
    pub arrivals: Arrivals,
    pub metrics: MetricSeries,
    pub counters: Counters,
    /// Tasks not yet STOPPED (billed by Fargate).
    pub billable: u32,
    /// Tasks RUNNING.
    pub running: u32,
    /// Sessions active across tasks.
    pub active_sessions: u64,
    /// Every arrival since logging was turned on, when it is on (backtests).
    pub arrival_log: Option<Vec<SessionArrival>>,
    /// The active sessions as store items, when tracked (`record --sessions`).
    pub items: Option<SessionItems>,
}

impl ServiceSim {
    pub fn task(&self, k: TaskKey) -> Option<&Task> {
        self.slab.get(k as usize).and_then(Option::as_ref)
    }

    pub fn task_mut(&mut self, k: TaskKey) -> Option<&mut Task> {
        self.slab.get_mut(k as usize).and_then(Option::as_mut)
    }
}

/// Running totals kept by the event loop and the provider calls.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub sessions_started: u64,
    pub sessions_ended: u64,
    pub sessions_killed: u64,
    pub sessions_cut: u64,
    pub sessions_redirected: u64,
    pub sessions_refused: u64,
    pub peak_sessions_active: u64,
    pub task_seconds: u64,
    pub running_task_seconds: u64,
    pub tasks_launched: u64,
    pub tasks_stopped: u64,
    pub tasks_stopped_with_sessions: u64,
    pub peak_tasks: u32,
    pub scale_outs: u64,
    pub scale_ins: u64,
    pub set_desired_calls: u64,
    pub protection_calls: u64,
    pub register_calls: u64,
    pub deregister_calls: u64,
    pub stop_task_calls: u64,
    pub task_failures: u64,
    pub launch_failures: u64,
    pub killed_by_task: BTreeMap<String, u32>,
    pub cut_by_task: BTreeMap<String, u32>,
    pub cordon_calls: u64,
}

/// The healthy targets in routing order (task creation order), and where
/// the round robin stands.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routing {
    pub ring: Vec<TaskKey>,
    pub cursor: usize,
    /// Set when a target enters or leaves the healthy state.
    pub dirty: bool,
}

/// Each active session as a session store item would show it, kept only
/// when asked ([`crate::sim::SimWorld::track_session_items`]): per task,
/// `(serial, start, end)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionItems {
    pub next: u64,
    pub by_task: std::collections::BTreeMap<TaskKey, Vec<(u64, u64, u64)>>,
}

impl SessionItems {
    pub fn start(&mut self, k: TaskKey, start: u64, end: u64) {
        self.next += 1;
        self.by_task
            .entry(k)
            .or_default()
            .push((self.next, start, end));
    }

    pub fn end(&mut self, k: TaskKey, at: u64) {
        if let Some(v) = self.by_task.get_mut(&k)
            && let Some(i) = v.iter().position(|e| e.2 == at)
        {
            v.swap_remove(i);
        }
    }

    /// The task's sessions are gone at once (killed or cut).
    pub fn clear(&mut self, k: TaskKey) {
        self.by_task.remove(&k);
    }
}

/// The arrival process within the current minute.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arrivals {
    /// Arrivals per second in this minute.
    pub rate: f64,
    /// The mean session length of sessions arriving in this minute.
    pub mean: f64,
    /// The end of this minute.
    pub segment_end: u64,
    /// The exact (fractional) time of the next arrival.
    pub x: f64,
    /// The second of the next arrival in this minute, if any.
    pub next: Option<u64>,
    /// With an exact-sessions workload: the next session of the list to arrive.
    pub exact: usize,
}
