//! One simulated service: its state, and the event loop that carries it
//! through virtual time from one event to the next.

use std::collections::{BTreeMap, HashMap};

use super::config::{
    SessionLength, SimConfig, SimLoadBalancer, SimRouting, SimServiceConfig, Usage,
};
use super::ends::SessionEnds;
use super::error::SimError;
use super::events::{Event, EventQueue};
use super::lifecycle::FIRST_HOST;
use super::random::{self, Rngs};
use super::sessions::{Arrivals, SessionArrival, SessionItems};
use super::stats::Counters;
use super::targets::Routing;
use super::task::{Task, TaskKey};
use super::usage::MetricSeries;
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
    fn new(world: &SimConfig, c: &SimServiceConfig) -> Params {
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

/// What comes next in the event loop, in this order among equal times: a
/// minute closes before anything in the next one; sessions ending at a second
/// end before a task changes state at it (so a session that ends as its task
/// stops is not counted killed); arrivals come last, and see the second's
/// health changes and freed capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    Minute,
    SessionEnd,
    Event,
    Arrival,
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
    next_minute: u64,
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
    /// A service added at `now` with its initial tasks running and healthy.
    pub fn new(
        svc: ServiceRef,
        world: &SimConfig,
        config: &SimServiceConfig,
        subnet: u8,
        now: u64,
    ) -> Result<ServiceSim, SimError> {
        config.validate()?;
        let workload = config.workload.load()?;
        let seed = random::service_seed(world.seed, &svc.cluster, &svc.service);
        let p = Params::new(world, config);
        let metrics = MetricSeries::new(p.metrics_delay, p.metrics_lookback);
        let mut s = ServiceSim {
            svc,
            p,
            workload,
            seed,
            subnet,
            rng: Rngs::new(seed),
            now,
            next_minute: now - now % 60 + 60,
            queue: EventQueue::default(),
            ends: SessionEnds::new(now),
            slab: Vec::new(),
            live: Vec::new(),
            by_id: BTreeMap::new(),
            by_ip: HashMap::new(),
            next_host: FIRST_HOST,
            desired: config.initial_tasks,
            routing: Routing::default(),
            arrivals: Arrivals::default(),
            metrics,
            counters: Counters::default(),
            billable: 0,
            running: 0,
            active_sessions: 0,
            arrival_log: None,
            items: None,
        };
        for _ in 0..config.initial_tasks {
            s.launch(now, true);
        }
        s.start_segment(now);
        Ok(s)
    }

    pub fn task(&self, k: TaskKey) -> Option<&Task> {
        self.slab.get(k as usize).and_then(Option::as_ref)
    }

    pub fn task_mut(&mut self, k: TaskKey) -> Option<&mut Task> {
        self.slab.get_mut(k as usize).and_then(Option::as_mut)
    }

    /// Processes every event up to and including `t`, then sets the clock to `t`.
    pub fn advance_to(&mut self, t: u64) {
        loop {
            let mut at = self.next_minute;
            let mut next = Next::Minute;
            if let Some(e) = self.ends.next_time()
                && e < at
            {
                (at, next) = (e, Next::SessionEnd);
            }
            if let Some(e) = self.queue.next_time()
                && e < at
            {
                (at, next) = (e, Next::Event);
            }
            if let Some(a) = self.arrivals.next
                && a < at
            {
                (at, next) = (a, Next::Arrival);
            }
            if at > t {
                break;
            }
            self.integrate(at);
            match next {
                Next::Minute => {
                    self.close_minute(at);
                    self.ends.start_minute(at);
                    self.start_segment(at);
                    self.next_minute = at + 60;
                }
                Next::SessionEnd => {
                    if let Some((_, k, epoch)) = self.ends.pop() {
                        self.on_session_end(k, epoch, at);
                    }
                }
                Next::Event => {
                    if let Some((_, event)) = self.queue.pop() {
                        self.dispatch(event, at);
                    }
                }
                Next::Arrival => self.on_arrival(at),
            }
        }
        self.integrate(t);
    }

    /// Moves the clock to `t`, adding task-seconds for the time passed.
    fn integrate(&mut self, t: u64) {
        if t > self.now {
            let dt = t - self.now;
            self.counters.task_seconds += u64::from(self.billable) * dt;
            self.counters.running_task_seconds += u64::from(self.running) * dt;
            self.now = t;
        }
    }

    fn dispatch(&mut self, event: Event, now: u64) {
        match event {
            Event::Pending(k) => self.on_pending(k, now),
            Event::Running(k) => self.on_running(k, now),
            Event::Deactivated(k) => self.on_deactivated(k, now),
            Event::Deprovisioning(k) => self.on_deprovisioning(k, now),
            Event::Stopped(k) => self.on_stopped(k, now),
            Event::Purge(k) => self.purge(k, now),
            Event::TargetHealthy { task, generation } => self.on_target_healthy(task, generation),
            Event::TargetDrained { task, generation } => {
                self.on_target_drained(task, generation, now)
            }
            Event::ProtectionExpired { task, generation } => {
                self.on_protection_expired(task, generation, now)
            }
        }
    }
}
