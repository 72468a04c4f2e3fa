//! The property test: random scenarios, random fault mixes and both example
//! policies (as components) through the real daemon on the sim, each held to
//! the invariants of [`super::harness::Invariants`] after every step.
//!
//! `AUTOSCALER_PROPTEST_CASES` sets the number of cases (default 1,000, the
//! count CI runs); `AUTOSCALER_PROPTEST_SEED` the seed of the case generator
//! (default fixed, so a run reproduces; a failure prints its case).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use autoscaler::model::{Decision, ParamValue, Snapshot};
use autoscaler::providers::sim::{SimOp, SimProvider};
use autoscaler::providers::{Clock, LoadBalancerKind, ServiceRef, TargetGroupInfo};
use autoscaler::sim::{
    FaultKind, FaultPlan, OpFaults, SessionLength, SimConfig, SimLoadBalancer, SimServiceConfig,
    Workload,
};
use autoscaler::tick::ServiceSpec;
use autoscaler::tick::guard::GuardConfig;
use autoscaler::tick::outcome::OutcomeKind;
use autoscaler::workflow::{CordonMechanism, CordonMode, DrainConfig, Step};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::harness::{Invariants, MemRun, components};

/// Which example policy decides.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    SessionAware,
    TargetTracking,
}

/// One random scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub seed: u64,
    pub policy: Which,
    pub initial: u32,
    pub min: u32,
    pub max: u32,
    pub max_step_down: u32,
    pub max_concurrent_drains: u32,
    pub workload: Workload,
    pub session_mean_min: u64,
    pub lognormal: bool,
    pub capacity: u32,
    pub deregistration_delay: u64,
    pub deadline_min: u64,
    pub target_cpu: f64,
    pub hours: u64,
    pub faults: FaultPlan,
    /// The chance, per daemon step, that a session reported late lands on a
    /// victim whose drain has not re-checked its sessions yet.
    pub late_sessions: f64,
    /// Retries of a drain step before it rolls back.
    pub max_attempts: u32,
    /// Cordons driven on top of the policy's decisions; none for the policy alone.
    pub cordon: Option<CordonCase>,
}

/// How a scenario cordons busy tasks (a test policy laid over the real one:
/// the decisions go through the real guard, executor and workflows).
#[derive(Debug, Clone)]
pub struct CordonCase {
    /// The service's `cordon` setting (deregister or app).
    pub mode: CordonMode,
    /// The load balancer: an NLB, an NLB closing connections, or an ALB.
    pub kind: LoadBalancerKind,
    pub connection_termination: bool,
    /// The chance, per tick, of cordoning the least-loaded busy tasks.
    pub aggressiveness: f64,
    /// How many at once, at most.
    pub per_tick: usize,
    /// Whether the overlay also lowers `desired` by its cordons (else the
    /// policy's `desired` stands, and a scale-out uncordons first).
    pub lower_desired: bool,
    /// The chance, per tick, of uncordoning one cordoned task explicitly.
    pub uncordon: f64,
    /// The chance, per daemon step, that someone registers a cordoned target again.
    pub reregister: f64,
    pub max_cordoned: u32,
    pub first_check_s: u64,
    pub check_interval_s: u64,
    pub margin_s: u64,
}

const TICK: u64 = 60;

fn workload() -> impl Strategy<Value = Workload> {
    let rate = || 0.0..8.0f64;
    prop_oneof![
        rate().prop_map(|per_min| Workload::Steady { per_min }),
        // Busy, then nearly idle: the scale-in path.
        (2.0..10.0f64, 0.0..0.5f64, 5u64..60).prop_map(|(b, a, at)| Workload::Step {
            before_per_min: b,
            after_per_min: a,
            at: Duration::from_secs(at * 60),
        }),
        (rate(), rate(), 5u64..120).prop_map(|(b, a, at)| Workload::Step {
            before_per_min: b,
            after_per_min: a,
            at: Duration::from_secs(at * 60),
        }),
        (0.0..3.0f64, 5.0..15.0f64, 5u64..90, 5u64..20, 0u64..20).prop_map(
            |(base, peak, at, hold, decay)| Workload::Spike {
                base_per_min: base,
                peak_per_min: peak,
                at: Duration::from_secs(at * 60),
                hold: Duration::from_secs(hold * 60),
                decay: Duration::from_secs(decay * 60),
            }
        ),
        (rate(), rate(), 20u64..90).prop_map(|(low, high, period)| Workload::Sawtooth {
            low_per_min: low,
            high_per_min: high,
            period: Duration::from_secs(period * 60),
        }),
    ]
}

/// Faults for one kind of call at an intensity: each error up to a third of it.
fn op_faults(op: SimOp, intensity: f64) -> impl Strategy<Value = OpFaults> {
    let p = move || 0.0..=intensity / 3.0;
    let partial = if op.is_batch() { intensity } else { 0.0 };
    let lags = op.can_lag();
    (
        p(),
        p(),
        p(),
        0.0..=partial,
        0.0..=1.0f64,
        prop_oneof![Just(0u64), Just(5), Just(20), Just(45)],
    )
        .prop_map(
            move |(throttle, server_error, timeout, partial, stale, lag)| {
                let lag = if lags { lag } else { 0 };
                OpFaults {
                    throttle,
                    server_error,
                    timeout,
                    partial,
                    stale: if lag > 0 { stale } else { 0.0 },
                    lag: Duration::from_secs(lag),
                }
            },
        )
}

fn fault_plan() -> impl Strategy<Value = FaultPlan> {
    (
        any::<u64>(),
        prop_oneof![Just(0.0), Just(0.03), Just(0.15), Just(0.45)],
    )
        .prop_flat_map(|(seed, intensity)| {
            let per_op: Vec<_> = SimOp::ALL
                .iter()
                .map(|&op| op_faults(op, intensity))
                .collect();
            per_op.prop_map(move |f| FaultPlan {
                seed,
                all: OpFaults::default(),
                service: Some(f[0]),
                tasks: Some(f[1]),
                task_status: Some(f[2]),
                set_desired: Some(f[3]),
                set_protection: Some(f[4]),
                targets: Some(f[5]),
                deregister: Some(f[6]),
                register: Some(f[7]),
                utilization: Some(f[8]),
                sessions: Some(f[9]),
                set_cordon: Some(f[10]),
                target_group_info: Some(f[11]),
            })
        })
}

fn cordon_case() -> impl Strategy<Value = Option<CordonCase>> {
    let some = (
        prop_oneof![Just(CordonMode::Deregister), Just(CordonMode::App)],
        prop_oneof![
            Just((LoadBalancerKind::Network, false)),
            Just((LoadBalancerKind::Network, true)),
            Just((LoadBalancerKind::Application, false)),
        ],
        (0.1..0.9f64, 1usize..=3, any::<bool>(), 0.0..0.2f64),
        (prop_oneof![Just(0.0), Just(0.05)], 1u32..=4),
        (
            60u64..=900,
            30u64..=300,
            prop_oneof![Just(30u64), Just(120)],
        ),
    )
        .prop_map(
            |(
                mode,
                (kind, termination),
                (aggr, per_tick, lower, unc),
                (rereg, maxc),
                (first, every, margin),
            )| {
                Some(CordonCase {
                    mode,
                    kind,
                    connection_termination: termination,
                    aggressiveness: aggr,
                    per_tick,
                    lower_desired: lower,
                    uncordon: unc,
                    reregister: rereg,
                    max_cordoned: maxc,
                    first_check_s: first,
                    check_interval_s: every,
                    margin_s: margin,
                })
            },
        );
    prop_oneof![Just(None), some]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let shape = (
        any::<u64>(),
        prop_oneof![Just(Which::SessionAware), Just(Which::TargetTracking)],
        1u32..=3,
        1u32..=7,
        0u32..=8,
        1u32..=3,
        1u32..=4,
        1u32..=8,
    );
    let load = (workload(), 3u64..=30, any::<bool>(), 5u32..=25);
    let timing = (
        prop_oneof![Just(30u64), Just(60), Just(120), Just(300)],
        4u64..=30,
        40.0..70.0f64,
        1u64..=3,
        prop_oneof![Just(0.0), Just(0.02), Just(0.1)],
    );
    (shape, load, timing, fault_plan(), cordon_case()).prop_map(
        |(
            (seed, policy, min, extra_max, extra, step_down, concurrent, attempts),
            (workload, mean, lognormal, capacity),
            (dereg, deadline, target_cpu, hours, late),
            faults,
            cordon,
        )| {
            let max = min + extra_max;
            Scenario {
                seed,
                policy,
                // Now and then below min (the guard must raise it), mostly above.
                initial: (min + extra).saturating_sub(1).clamp(1, max),
                min,
                max,
                max_step_down: step_down,
                max_concurrent_drains: concurrent,
                workload,
                session_mean_min: mean,
                lognormal,
                capacity,
                deregistration_delay: dereg,
                deadline_min: deadline,
                target_cpu,
                hours,
                faults,
                late_sessions: late,
                max_attempts: attempts,
                cordon,
            }
        },
    )
}

/// What one case did, for the run's report.
#[derive(Debug, Default)]
pub struct CaseReport {
    pub ticks: u64,
    pub drains: BTreeMap<&'static str, u64>,
    pub faults: BTreeMap<FaultKind, u64>,
    pub late_sessions: u64,
    pub sessions: u64,
    /// Cordon workflows started, and their outcomes are in `drains`.
    pub cordons: u64,
    /// Cordoned targets deregistered again after someone registered them.
    pub re_deregistered: u64,
    /// Cordoned targets registered again by "someone".
    pub reregistered: u64,
}

/// Runs one scenario to its end and then to a quiet end, checking as it goes.
pub async fn run_case(s: &Scenario, reference: bool) -> (CaseReport, Vec<String>) {
    let c = components();
    let svc = ServiceRef {
        cluster: "prop".into(),
        service: "svc".into(),
        target_group: "svc-tg".into(),
    };
    let sim = SimProvider::new(SimConfig {
        seed: s.seed,
        ..SimConfig::default()
    })
    .expect("world");
    sim.add_service(
        svc.clone(),
        &SimServiceConfig {
            initial_tasks: s.initial,
            deregistration_delay: Duration::from_secs(s.deregistration_delay),
            session_capacity: s.capacity,
            session_mean: Duration::from_secs(s.session_mean_min * 60),
            session_length: if s.lognormal {
                SessionLength::Lognormal { sigma: 1.0 }
            } else {
                SessionLength::Exponential
            },
            workload: s.workload.clone(),
            // The sim's load balancer is the one the cordons are told about,
            // so it cuts what an ALB would cut.
            load_balancer: match s.cordon.as_ref().map(|c| c.kind) {
                Some(LoadBalancerKind::Application) | Some(LoadBalancerKind::Other) => {
                    SimLoadBalancer::Application
                }
                _ => SimLoadBalancer::Network,
            },
            connection_termination: s.cordon.as_ref().is_some_and(|c| c.connection_termination),
            ..SimServiceConfig::default()
        },
    )
    .expect("service");
    sim.set_fault_plan(Some(s.faults.clone())).expect("plan");
    let mut drain = DrainConfig {
        deregistration_delay: Duration::from_secs(s.deregistration_delay),
        deadline: Duration::from_secs(s.deadline_min * 60),
        max_attempts: s.max_attempts,
        ..DrainConfig::default()
    };
    if let Some(c) = &s.cordon {
        drain.cordon_first_check = Duration::from_secs(c.first_check_s);
        drain.cordon_check_interval = Duration::from_secs(c.check_interval_s);
        drain.cordon_uncordon_margin = Duration::from_secs(c.margin_s);
    }
    let guard = GuardConfig {
        min: s.min,
        max: s.max,
        max_step_down: s.max_step_down,
        max_concurrent_drains: s.max_concurrent_drains,
        scale_in_cooldown: Duration::from_secs(120),
        scale_in_stabilization: Duration::from_secs(120),
        session_unaware_reference: reference,
        cordon: s.cordon.as_ref().map_or(CordonMode::Off, |c| c.mode),
        max_cordoned: s.cordon.as_ref().map_or(4, |c| c.max_cordoned),
        ..GuardConfig::default()
    };
    let num = |v: f64| ParamValue::Number(v);
    let (policy, params) = match s.policy {
        Which::SessionAware => (
            c.session_aware.clone(),
            BTreeMap::from([
                ("cpu-high".into(), num(70.0)),
                ("cpu-low".into(), num(30.0)),
                ("session-capacity".into(), num(f64::from(s.capacity))),
                ("scale-in-window".into(), num(300.0)),
            ]),
        ),
        Which::TargetTracking => (
            c.target_tracking.clone(),
            BTreeMap::from([
                ("target-cpu".into(), num(s.target_cpu)),
                ("scale-in-window".into(), num(300.0)),
            ]),
        ),
    };
    // Roll-back retries: a wake-up, then up to `max_attempts` backoffs of at most 60 s.
    let grace = drain.check_interval.as_secs() + TICK + u64::from(drain.max_attempts + 1) * 60;
    let spec = ServiceSpec {
        digest: true,
        svc,
        interval: TICK,
        guard,
        drain,
        params,
        history_window: 1800,
        dry_run: false,
        policy_path: None,
        shadow_paths: vec![],
    };
    let info = TargetGroupInfo {
        kind: s
            .cordon
            .as_ref()
            .map_or(LoadBalancerKind::Network, |c| c.kind),
        deregistration_delay_s: s.deregistration_delay,
        connection_termination: s.cordon.as_ref().is_some_and(|c| c.connection_termination),
    };
    let mut run = MemRun::behind(sim, info, spec, policy);
    if let Some(c) = &s.cordon {
        run.daemon.services[0].decision_overlay = Some(cordoning(s.seed, c.clone()));
    }
    let mut inv = Invariants::new(s.min, s.max, grace);
    let mut late = LateSessions::new(s.seed, s.late_sessions);
    let mut someone = Reregister::new(s.seed, s.cordon.as_ref().map_or(0.0, |c| c.reregister));
    let end = s.hours * 3600;
    run.run_until(end, |run| {
        late.maybe_place(run);
        someone.maybe_register(run);
        inv.check(run);
    })
    .await;
    // A quiet end: no new actions; the drains in flight finish or roll back,
    // and the test policy uncordons what it cordoned (a hold has no deadline).
    crate::support::no_new_actions(&mut run.daemon.services[0], run.sim.now());
    if s.cordon.is_some() {
        run.daemon.services[0].decision_overlay =
            Some(Box::new(|snap: &Snapshot, d: &mut Decision| {
                d.cordon.clear();
                d.uncordon = snap
                    .tasks
                    .iter()
                    .filter(|t| t.cordoned_since.is_some())
                    .map(|t| t.id.clone())
                    .collect();
            }));
    }
    let quiet_end = end + s.deadline_min * 60 + grace + 600;
    while !run.drains().is_empty() && run.sim.now() < quiet_end {
        let t = (run.sim.now() + TICK).min(quiet_end);
        run.run_until(t, |run| inv.check(run)).await;
    }
    inv.check_quiet_end(&run);

    let records = run.records.lock().unwrap().clone();
    let mut report = CaseReport {
        ticks: records.len() as u64,
        late_sessions: late.placed,
        sessions: run.sim.stats(&run.svc).unwrap().sessions_started,
        cordons: records.iter().map(|r| r.cordoned.len() as u64).sum(),
        re_deregistered: records
            .iter()
            .flat_map(|r| &r.outcomes)
            .filter(|o| o.what == OutcomeKind::ReDeregister && o.ok)
            .count() as u64,
        reregistered: someone.placed,
        ..CaseReport::default()
    };
    // Every cordon started is in the records, and every cordon workflow of the journal was recorded.
    let journaled_cordons = {
        let mut ids = std::collections::BTreeSet::new();
        for wf in run.journal.entries() {
            if wf.cordon.is_some() {
                ids.insert(wf.id);
            }
        }
        ids.len() as u64
    };
    if journaled_cordons != report.cordons {
        inv.violations.push(format!(
            "{} cordon workflows journaled, {} cordons recorded",
            journaled_cordons, report.cordons
        ));
    }
    let mut last: BTreeMap<String, Step> = BTreeMap::new();
    for wf in run.journal.entries() {
        last.insert(wf.id, wf.step);
    }
    for step in last.values() {
        if let Step::Done { outcome } = step {
            *report.drains.entry(outcome.kind()).or_default() += 1;
        }
    }
    for ((_, kind), n) in run.sim.fault_counts() {
        *report.faults.entry(kind).or_default() += n;
    }
    (report, inv.violations)
}

/// Places sessions reported late on victims whose drains have not re-checked yet.
struct LateSessions {
    rng: TestRng,
    p: f64,
    placed: u64,
    recent: VecDeque<String>,
}

impl LateSessions {
    fn new(seed: u64, p: f64) -> LateSessions {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        LateSessions {
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            p,
            placed: 0,
            recent: VecDeque::new(),
        }
    }

    fn maybe_place(&mut self, run: &mut MemRun) {
        if self.p == 0.0 {
            return;
        }
        let candidates: Vec<String> = run
            .drains()
            .iter()
            .filter(|d| {
                matches!(
                    d.step,
                    Step::Protect | Step::Deregister { .. } | Step::Wait { .. }
                )
            })
            .map(|d| d.task_id.clone())
            .collect();
        for id in candidates {
            if self.recent.contains(&id) || self.rng.random::<f64>() >= self.p {
                continue;
            }
            let minutes = self.rng.random_range(1..=60u64);
            if run
                .sim
                .open_session(&run.svc, &id, Duration::from_secs(minutes * 60))
                .is_ok()
            {
                self.placed += 1;
                self.recent.push_back(id);
                if self.recent.len() > 16 {
                    self.recent.pop_front();
                }
            }
        }
    }
}

/// The test policy laid over the real one: now and then it cordons the
/// least-loaded busy tasks (aggressively, up to `per_tick`), sometimes lowers
/// `desired` to match, and sometimes uncordons one cordoned task.
fn cordoning(seed: u64, c: CordonCase) -> autoscaler::tick::DecisionOverlay {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0xC0;
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    Box::new(move |snap: &Snapshot, d: &mut Decision| {
        if rng.random::<f64>() < c.aggressiveness {
            let mut busy: Vec<_> = snap
                .tasks
                .iter()
                .filter(|t| t.sessions > 0 && !t.draining)
                .collect();
            busy.sort_by_key(|t| (t.sessions, t.id.clone()));
            d.cordon = busy.iter().take(c.per_tick).map(|t| t.id.clone()).collect();
            if c.lower_desired {
                let base = d.desired.unwrap_or(snap.effective_desired());
                d.desired = Some(base.saturating_sub(d.cordon.len() as u32));
            }
        }
        if rng.random::<f64>() < c.uncordon {
            d.uncordon = snap
                .tasks
                .iter()
                .filter(|t| t.cordoned_since.is_some())
                .take(1)
                .map(|t| t.id.clone())
                .collect();
        }
    })
}

/// Someone (ECS, a person) registers a deregister-cordoned target again.
struct Reregister {
    rng: TestRng,
    p: f64,
    placed: u64,
}

impl Reregister {
    fn new(seed: u64, p: f64) -> Reregister {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8] = 0x8E;
        Reregister {
            rng: TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            p,
            placed: 0,
        }
    }

    fn maybe_register(&mut self, run: &mut MemRun) {
        if self.p == 0.0 {
            return;
        }
        let holding: Vec<_> = run
            .drains()
            .iter()
            .filter(|d| {
                matches!(d.step, Step::Hold { .. })
                    && d.changes.deregistered
                    && d.cordon
                        .is_some_and(|c| c.mechanism == CordonMechanism::Deregister)
            })
            .filter_map(|d| d.target.clone())
            .collect();
        let tg = run.svc.target_group.clone();
        for target in holding {
            if self.rng.random::<f64>() >= self.p {
                continue;
            }
            let registered = run
                .sim
                .with_world(|w| w.register(&tg, std::slice::from_ref(&target)));
            if registered.is_ok() {
                self.placed += 1;
            }
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_session_is_killed_and_limits_hold_under_random_scenarios_and_faults() {
    let cases = env_u64("AUTOSCALER_PROPTEST_CASES", 1000) as u32;
    let seed = env_u64("AUTOSCALER_PROPTEST_SEED", 0x5EED_2025);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    components(); // compile outside the timed cases
    let totals = std::sync::Mutex::new(CaseReport::default());
    let started = Instant::now();
    let result = runner.run(&scenario(), |s| {
        let (report, violations) = rt.block_on(run_case(&s, false));
        if !violations.is_empty() {
            return Err(TestCaseError::fail(violations.join("\n")));
        }
        let mut t = totals.lock().unwrap();
        t.ticks += report.ticks;
        t.late_sessions += report.late_sessions;
        t.sessions += report.sessions;
        t.cordons += report.cordons;
        t.re_deregistered += report.re_deregistered;
        t.reregistered += report.reregistered;
        for (k, n) in report.drains {
            *t.drains.entry(k).or_default() += n;
        }
        for (k, n) in report.faults {
            *t.faults.entry(k).or_default() += n;
        }
        Ok(())
    });
    let elapsed = started.elapsed();
    let t = totals.into_inner().unwrap();
    eprintln!(
        "property: {cases} cases (seed {seed:#x}) in {:.1}s: {} ticks, {} sessions, drains {:?}, late sessions {}, cordons {}, targets registered again {} and deregistered again {}, faults injected {:?}",
        elapsed.as_secs_f64(),
        t.ticks,
        t.sessions,
        t.drains,
        t.late_sessions,
        t.cordons,
        t.reregistered,
        t.re_deregistered,
        t.faults
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The run exercised what it claims to: drains of every outcome, and every kind of fault.
    if cases >= 1000 {
        assert!(
            t.cordons > 0 && t.re_deregistered > 0,
            "cordons {}, deregistered again {}",
            t.cordons,
            t.re_deregistered
        );
        for kind in ["stopped", "aborted", "rolled-back", "uncordoned"] {
            assert!(
                t.drains.get(kind).copied().unwrap_or(0) > 0,
                "no {kind} drain: {:?}",
                t.drains
            );
        }
        for kind in [
            FaultKind::Throttle,
            FaultKind::ServerError,
            FaultKind::Timeout,
            FaultKind::Partial,
            FaultKind::Stale,
        ] {
            assert!(
                t.faults.get(&kind).copied().unwrap_or(0) > 0,
                "no {kind:?}: {:?}",
                t.faults
            );
        }
    }
}

#[test]
fn the_invariant_checks_catch_a_session_unaware_scale_in() {
    // The same harness fails a run that kills sessions: the checks can fail.
    let s = Scenario {
        seed: 3,
        policy: Which::TargetTracking,
        initial: 6,
        min: 1,
        max: 8,
        max_step_down: 3,
        max_concurrent_drains: 4,
        workload: Workload::Step {
            before_per_min: 6.0,
            after_per_min: 0.3,
            at: Duration::from_secs(40 * 60),
        },
        session_mean_min: 40,
        lognormal: true,
        capacity: 20,
        deregistration_delay: 60,
        deadline_min: 20,
        target_cpu: 50.0,
        hours: 3,
        faults: FaultPlan::default(),
        late_sessions: 0.0,
        max_attempts: 8,
        cordon: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (_, violations) = rt.block_on(run_case(&s, true));
    assert!(
        violations.iter().any(|v| v.contains("sessions killed")),
        "{violations:?}"
    );
    let (_, violations) = rt.block_on(run_case(&s, false));
    assert!(violations.is_empty(), "{violations:?}");
}
