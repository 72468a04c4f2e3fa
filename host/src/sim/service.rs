//! The event loop that carries one simulated service through virtual time
//! from one event to the next (its state is [`ServiceSim`], in `state`).

use std::collections::{BTreeMap, HashMap};

use super::config::{SimConfig, SimServiceConfig};
use super::ends::SessionEnds;
use super::error::SimError;
use super::events::{Event, EventQueue};
use super::lifecycle::FIRST_HOST;
use super::random::{self, Rngs};
use super::series::MetricSeries;
use super::state::{Arrivals, Counters, Params, Routing, ServiceSim};
use crate::providers::ServiceRef;

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
