//! The simulated provider: [`SimProvider`], a cheap clonable handle on a
//! [`SimWorld`] that implements every provider trait, plus the controls a
//! backtest or a fault test needs (the clock, task stops and failures,
//! sessions reported late, injected API errors, statistics).
//!
//! Faults come two ways: scripted ([`SimProvider::inject_fault`]: the next N
//! calls of one kind fail) and random, from a [`FaultPlan`]
//! ([`SimProvider::set_fault_plan`]: throttling, 5xx, timeouts after the
//! effect, partial batches and reads that lag writes, with seeded draws).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderError, ProviderResult,
    ServiceCounts, ServiceRef, SessionCounts, Sessions, Target, TargetGroupInfo, TargetState,
    Utilization,
};
use crate::model::TaskStatus;
use crate::sessions::SessionRecord;
use crate::sim::faults::{Draw, FaultInjector};
use crate::sim::{
    FaultKind, FaultPlan, SimConfig, SimError, SimServiceConfig, SimStats, SimTask, SimWorld,
};

/// A provider call, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SimOp {
    /// [`Cluster::service`].
    Service,
    /// [`Cluster::tasks`].
    Tasks,
    /// [`Cluster::task_status`].
    TaskStatus,
    /// [`Cluster::set_desired`].
    SetDesired,
    /// [`Cluster::set_protection`].
    SetProtection,
    /// [`LoadBalancer::targets`].
    Targets,
    /// [`LoadBalancer::deregister`].
    Deregister,
    /// [`LoadBalancer::register`].
    Register,
    /// [`Metrics::utilization`].
    Utilization,
    /// [`Sessions::sessions_by_task`].
    Sessions,
    /// [`Sessions::set_cordon`].
    SetCordon,
    /// [`LoadBalancer::target_group_info`].
    TargetGroupInfo,
}

impl SimOp {
    /// Every kind of call.
    pub const ALL: [SimOp; 12] = [
        SimOp::Service,
        SimOp::Tasks,
        SimOp::TaskStatus,
        SimOp::SetDesired,
        SimOp::SetProtection,
        SimOp::Targets,
        SimOp::Deregister,
        SimOp::Register,
        SimOp::Utilization,
        SimOp::Sessions,
        SimOp::SetCordon,
        SimOp::TargetGroupInfo,
    ];

    /// Its name in a [`FaultPlan`] (`set_desired`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SimOp::Service => "service",
            SimOp::Tasks => "tasks",
            SimOp::TaskStatus => "task_status",
            SimOp::SetDesired => "set_desired",
            SimOp::SetProtection => "set_protection",
            SimOp::Targets => "targets",
            SimOp::Deregister => "deregister",
            SimOp::Register => "register",
            SimOp::Utilization => "utilization",
            SimOp::Sessions => "sessions",
            SimOp::SetCordon => "set_cordon",
            SimOp::TargetGroupInfo => "target_group_info",
        }
    }

    /// The simulated AWS service that answers it, as errors name it.
    pub fn service(self) -> &'static str {
        match self {
            SimOp::Service
            | SimOp::Tasks
            | SimOp::TaskStatus
            | SimOp::SetDesired
            | SimOp::SetProtection => "sim-ecs",
            SimOp::Targets | SimOp::Deregister | SimOp::Register | SimOp::TargetGroupInfo => {
                "sim-elbv2"
            }
            SimOp::Utilization => "sim-cloudwatch",
            SimOp::Sessions | SimOp::SetCordon => "sim-dynamodb",
        }
    }

    /// Whether it changes the world.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            SimOp::SetDesired
                | SimOp::SetProtection
                | SimOp::Deregister
                | SimOp::Register
                | SimOp::SetCordon
        )
    }

    /// Whether it takes a batch of items that can fail part-way.
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            SimOp::SetProtection | SimOp::Deregister | SimOp::Register
        )
    }

    /// Whether its answer can lag the host's writes (eventual consistency).
    pub fn can_lag(self) -> bool {
        matches!(
            self,
            SimOp::Service | SimOp::Tasks | SimOp::TaskStatus | SimOp::Targets
        )
    }
}

/// Errors waiting to be returned by one kind of call.
#[derive(Debug)]
struct Fault {
    remaining: u32,
    error: ProviderError,
    /// Whether the call takes effect before failing (a timeout after the
    /// request landed).
    applied: bool,
}

#[derive(Debug)]
struct State {
    world: SimWorld,
    faults: BTreeMap<SimOp, Fault>,
    faults_served: u64,
    injector: Option<FaultInjector>,
}

/// The simulated world behind the provider traits. Clones share one world;
/// every call acts at the world's virtual time, which moves only through
/// [`SimProvider::advance_to`] and [`SimProvider::advance`].
#[derive(Debug, Clone)]
pub struct SimProvider {
    state: Arc<Mutex<State>>,
}

impl SimProvider {
    /// An empty world at virtual time 0.
    pub fn new(config: SimConfig) -> Result<SimProvider, SimError> {
        Ok(SimProvider::from_world(SimWorld::new(config)?))
    }

    /// A provider over an existing world (a fork of another run, say).
    pub fn from_world(world: SimWorld) -> SimProvider {
        let state = State {
            world,
            faults: BTreeMap::new(),
            faults_served: 0,
            injector: None,
        };
        SimProvider {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect(
            "the simulated world's lock is poisoned: an earlier call panicked while holding it",
        )
    }

    /// An independent copy of the world as it is now, without injected faults:
    /// two policies can be compared from the same starting point, each on its fork.
    pub fn fork(&self) -> SimProvider {
        SimProvider::from_world(self.lock().world.clone())
    }

    /// Runs `f` on the world directly.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut SimWorld) -> R) -> R {
        f(&mut self.lock().world)
    }

    /// Adds a service at the current time (see [`SimWorld::add_service`]).
    pub fn add_service(&self, svc: ServiceRef, config: &SimServiceConfig) -> Result<(), SimError> {
        self.lock().world.add_service(svc, config)
    }

    /// Processes every event up to and including `t`, then sets the clock to `t`.
    pub fn advance_to(&self, t: u64) {
        self.lock().world.advance_to(t);
    }

    /// Advances the clock by `secs`.
    pub fn advance(&self, secs: u64) {
        self.lock().world.advance(secs);
    }

    /// The service's figures now.
    pub fn stats(&self, svc: &ServiceRef) -> Option<SimStats> {
        self.lock().world.stats(svc)
    }

    /// Every listed task of the service with its session figures.
    pub fn sim_tasks(&self, svc: &ServiceRef) -> Option<Vec<SimTask>> {
        self.lock().world.sim_tasks(svc)
    }

    /// ECS StopTask with the desired count unchanged: the task drains and
    /// stops, and a replacement starts.
    pub fn stop_task(&self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        self.lock().world.stop_task(svc, id)
    }

    /// The task's container exits now, killing its sessions; a replacement starts.
    pub fn fail_task(&self, svc: &ServiceRef, id: &str) -> ProviderResult<()> {
        self.lock().world.fail_task(svc, id)
    }

    /// A session on a chosen task, reported from now on (see [`SimWorld::open_session`]).
    pub fn open_session(
        &self,
        svc: &ServiceRef,
        id: &str,
        duration: std::time::Duration,
    ) -> ProviderResult<()> {
        self.lock().world.open_session(svc, id, duration)
    }

    /// Starts keeping the service's active sessions as session store items
    /// (see [`SimWorld::track_session_items`]).
    pub fn track_session_items(&self, svc: &ServiceRef) -> ProviderResult<()> {
        self.lock().world.track_session_items(svc)
    }

    /// The service's active sessions as session store items, read like the
    /// session store (faults of the `sessions` kind apply).
    pub fn session_items(&self, svc: &ServiceRef) -> ProviderResult<Vec<SessionRecord>> {
        self.call(SimOp::Sessions, |w| w.session_items(svc))
    }

    /// Injects random faults from now on as `plan` says; `None` stops them.
    /// Scripted faults ([`SimProvider::inject_fault`]) still come first.
    pub fn set_fault_plan(&self, plan: Option<FaultPlan>) -> Result<(), SimError> {
        let injector = plan.map(FaultInjector::new).transpose()?;
        self.lock().injector = injector;
        Ok(())
    }

    /// How many faults of each kind the fault plan injected into each kind of call.
    pub fn fault_counts(&self) -> BTreeMap<(SimOp, FaultKind), u64> {
        self.lock()
            .injector
            .as_ref()
            .map(|i| i.counts().clone())
            .unwrap_or_default()
    }

    /// Makes the next `times` calls of `op` fail with `error`, without effect.
    /// A later injection for the same call replaces this one.
    pub fn inject_fault(&self, op: SimOp, times: u32, error: ProviderError) {
        self.set_fault(
            op,
            Fault {
                remaining: times,
                error,
                applied: false,
            },
        );
    }

    /// Makes the next `times` calls of `op` take effect and then fail with
    /// `error`, as when a request lands but its response is lost.
    pub fn inject_fault_after_effect(&self, op: SimOp, times: u32, error: ProviderError) {
        self.set_fault(
            op,
            Fault {
                remaining: times,
                error,
                applied: true,
            },
        );
    }

    fn set_fault(&self, op: SimOp, fault: Fault) {
        let mut state = self.lock();
        if fault.remaining == 0 {
            state.faults.remove(&op);
        } else {
            state.faults.insert(op, fault);
        }
    }

    /// How many injected errors calls have returned (scripted or from the plan).
    pub fn faults_served(&self) -> u64 {
        self.lock().faults_served
    }

    /// Runs a provider call, unless an injected fault answers it.
    fn call<R>(
        &self,
        op: SimOp,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.faults.contains_key(&op) {
            return state.scripted(op, f);
        }
        let draw = state.draw(op, 1);
        state.run(op, draw, f)
    }

    /// Runs a batch write of `items`, which an injected fault may apply only in part.
    fn call_batch<T>(
        &self,
        op: SimOp,
        items: &[T],
        f: impl Fn(&mut SimWorld, &[T]) -> ProviderResult<()>,
    ) -> ProviderResult<()> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.faults.contains_key(&op) {
            return state.scripted(op, |w| f(w, items));
        }
        match state.draw(op, items.len()) {
            Draw::Partial(n) => state.run(op, Draw::AfterEffect(FaultKind::Partial), |w| {
                f(w, &items[..n])
            }),
            draw => state.run(op, draw, |w| f(w, items)),
        }
    }
}

impl State {
    /// Answers a call with its scripted fault (one is waiting).
    fn scripted<R>(
        &mut self,
        op: SimOp,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        let Some(fault) = self.faults.get_mut(&op) else {
            return f(&mut self.world);
        };
        fault.remaining -= 1;
        let (error, applied) = (fault.error.clone(), fault.applied);
        if fault.remaining == 0 {
            self.faults.remove(&op);
        }
        self.faults_served += 1;
        if applied {
            // The effect lands; the caller still sees the error.
            self.note_write();
            let _ = f(&mut self.world);
        }
        Err(error)
    }

    /// The fault plan's draw for a call of `items` items.
    fn draw(&mut self, op: SimOp, items: usize) -> Draw {
        let now = self.world.now();
        self.injector
            .as_mut()
            .map_or(Draw::Pass, |i| i.draw(op, items, now))
    }

    /// Keeps the state before a write for reads that lag it.
    fn note_write(&mut self) {
        if let Some(i) = self.injector.as_mut() {
            i.before_write(&self.world);
        }
    }

    /// Runs a call as `draw` decided (a partial batch comes as the call on its part, after effect).
    fn run<R>(
        &mut self,
        op: SimOp,
        draw: Draw,
        f: impl FnOnce(&mut SimWorld) -> ProviderResult<R>,
    ) -> ProviderResult<R> {
        match draw {
            Draw::Fail(kind) => {
                self.faults_served += 1;
                Err(FaultInjector::error(op, kind))
            }
            Draw::AfterEffect(kind) => {
                self.faults_served += 1;
                self.note_write();
                let _ = f(&mut self.world);
                Err(FaultInjector::error(op, kind))
            }
            Draw::Stale => {
                let now = self.world.now();
                match self.injector.as_mut().and_then(|i| i.stale_view(op, now)) {
                    Some(view) => f(view),
                    None => f(&mut self.world),
                }
            }
            Draw::Pass | Draw::Partial(_) => {
                if op.is_write() {
                    self.note_write();
                }
                f(&mut self.world)
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::providers::Provider;
    use crate::sim::Workload;

    /// Runs a future that never waits (every sim call is ready at once).
    fn ready<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a sim call waited"),
        }
    }

    fn svc() -> ServiceRef {
        ServiceRef {
            cluster: "c".into(),
            service: "s".into(),
            target_group: "tg".into(),
        }
    }

    fn provider() -> SimProvider {
        let p = SimProvider::new(SimConfig::default()).expect("config");
        let cfg = SimServiceConfig {
            initial_tasks: 3,
            workload: Workload::Steady { per_min: 6.0 },
            ..Default::default()
        };
        p.add_service(svc(), &cfg).expect("service");
        p
    }

    /// What a tick pipeline sees, through nothing but the traits.
    fn observe<P: Provider>(p: &P) -> (u64, ServiceCounts, usize, usize, u32, Option<f64>) {
        let s = svc();
        let counts = ready(p.service(&s)).expect("service");
        let tasks = ready(p.tasks(&s)).expect("tasks");
        let targets = ready(p.targets(&s.target_group)).expect("targets");
        let sessions: u32 = ready(p.sessions_by_task(&s, p.now()))
            .expect("sessions")
            .values()
            .sum();
        let util = ready(p.utilization(std::slice::from_ref(&s), p.now())).expect("metrics");
        (
            p.now(),
            counts,
            tasks.len(),
            targets.len(),
            sessions,
            util[&s.key()].cpu,
        )
    }

    #[test]
    fn clones_share_one_world_behind_the_traits() {
        let p = provider();
        let q = p.clone();
        q.advance(600);
        let (now, counts, tasks, targets, sessions, cpu) = observe(&p);
        assert_eq!(now, 600);
        assert_eq!(
            counts,
            ServiceCounts {
                desired: 3,
                running: 3,
                pending: 0
            }
        );
        assert_eq!((tasks, targets), (3, 3));
        assert!(sessions > 0, "sessions arrived at 6 a minute");
        assert!(cpu.is_some(), "minutes published by now");
        assert_eq!(
            p.stats(&svc()).expect("stats").sessions_active,
            u64::from(sessions)
        );

        ready(q.set_desired(&svc(), 5)).expect("scale out");
        assert_eq!(ready(p.service(&svc())).expect("counts").pending, 2);
        assert_eq!(p.stats(&svc()).expect("stats").scale_outs, 1);
    }

    #[test]
    fn a_fork_continues_identically_but_independently() {
        let p = provider();
        p.advance(1800);
        let fork = p.fork();
        p.advance(1800);
        fork.advance(1800);
        assert_eq!(
            p.stats(&svc()),
            fork.stats(&svc()),
            "same seed streams, same calls"
        );
        ready(fork.set_desired(&svc(), 1)).expect("scale the fork in");
        assert_eq!(
            ready(p.service(&svc())).expect("counts").desired,
            3,
            "the original is untouched"
        );
    }

    #[test]
    fn an_unknown_service_or_group_is_not_found_and_has_no_metrics() {
        let p = provider();
        let other = ServiceRef {
            cluster: "c".into(),
            service: "nope".into(),
            target_group: "nope".into(),
        };
        assert!(matches!(
            ready(p.service(&other)),
            Err(ProviderError::NotFound { .. })
        ));
        assert!(matches!(
            ready(p.targets("nope")),
            Err(ProviderError::NotFound { .. })
        ));
        let util = ready(p.utilization(std::slice::from_ref(&other), 0)).expect("metrics");
        assert_eq!(util[&other.key()], Utilization::default());
    }

    #[test]
    fn injected_faults_fail_the_next_calls_then_clear() {
        let p = provider();
        let throttled = ProviderError::Transient {
            service: "sim-ecs",
            message: "throttled".into(),
        };
        p.inject_fault(SimOp::SetDesired, 2, throttled.clone());
        assert_eq!(ready(p.set_desired(&svc(), 4)), Err(throttled.clone()));
        assert_eq!(ready(p.set_desired(&svc(), 4)), Err(throttled.clone()));
        assert_eq!(
            ready(p.service(&svc()))
                .expect("other calls unaffected")
                .desired,
            3
        );
        ready(p.set_desired(&svc(), 4)).expect("third call goes through");
        assert_eq!(ready(p.service(&svc())).expect("counts").desired, 4);
        assert_eq!(p.faults_served(), 2);

        p.inject_fault_after_effect(SimOp::SetDesired, 1, throttled.clone());
        assert_eq!(ready(p.set_desired(&svc(), 6)), Err(throttled));
        assert_eq!(
            ready(p.service(&svc())).expect("counts").desired,
            6,
            "the lost response's call landed"
        );
    }
}
