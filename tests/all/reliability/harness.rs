//! Shared machinery of the reliability tests: the example policies compiled
//! once, a daemon over an in-memory journal for fast property runs, and the
//! invariant checks every run is held to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use autoscaler::daemon::{Daemon, Pacer};
use autoscaler::events::Events;
use autoscaler::model::{TargetHealth, TaskStatus};
use autoscaler::providers::sim::SimProvider;
use autoscaler::providers::{Clock, ServiceRef};
use autoscaler::runtime::{Policy, PolicyComponent, PolicyEngine};
use autoscaler::tick::guard::Action;
use autoscaler::tick::record::{MemorySink, TickRecord};
use autoscaler::tick::{Service, ServiceSpec};
use autoscaler::workflow::{DrainWorkflow, Journal, MemoryJournal, Step};

/// The example policies, compiled once for the whole test binary.
pub struct Components {
    /// The engine they were compiled with.
    pub engine: PolicyEngine,
    /// `policies/session-aware`.
    pub session_aware: Arc<PolicyComponent>,
    /// `policies/target-tracking`.
    pub target_tracking: Arc<PolicyComponent>,
}

/// The shared components (compiling per case would dominate the run time).
pub fn components() -> &'static Components {
    static C: OnceLock<Components> = OnceLock::new();
    C.get_or_init(|| {
        let engine = crate::support::engine();
        let load = |p: &str| engine.load_file(Path::new(p)).expect("policy loads");
        Components {
            session_aware: load(autoscaler::artifacts::SESSION_AWARE),
            target_tracking: load(autoscaler::artifacts::TARGET_TRACKING),
            engine: engine.clone(),
        }
    })
}

/// A daemon over the sim with an in-memory journal and record list: no disk,
/// so a property case costs only its ticks.
pub struct MemRun {
    pub daemon: Daemon<SimProvider>,
    pub sim: SimProvider,
    pub svc: ServiceRef,
    pub journal: Arc<MemoryJournal>,
    pub records: Arc<Mutex<Vec<TickRecord>>>,
}

impl MemRun {
    /// One service run by `spec` with `policy`, first tick now.
    pub fn new(sim: SimProvider, spec: ServiceSpec, policy: Arc<PolicyComponent>) -> MemRun {
        let engine = components().engine.clone();
        let svc = spec.svc.clone();
        let service = Service::new(spec, Policy::new(engine.clone(), policy), vec![], sim.now());
        let journal = Arc::new(MemoryJournal::default());
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let daemon = Daemon {
            provider: sim.clone(),
            pacer: Pacer::Sim {
                sim: sim.clone(),
                speed: 0.0,
            },
            engine,
            services: vec![service],
            journal: journal.clone(),
            sink: Box::new(MemorySink::default()),
            events: Events::quiet(),
            board: Arc::default(),
            state_file: None,
            reload_log: None,
            stop_at: None,
            on_tick: Some(Box::new(move |r: &TickRecord| {
                sink.lock().unwrap().push(r.clone())
            })),
            totals: BTreeMap::new(),
            current_tasks: None,
            ha: None,
        };
        MemRun {
            daemon,
            sim,
            svc,
            journal,
            records,
        }
    }

    /// Steps the daemon until virtual time `t`, calling `each` after every step.
    pub async fn run_until(&mut self, t: u64, mut each: impl FnMut(&mut MemRun)) {
        while self.sim.now() < t {
            self.daemon.step().await.expect("the daemon steps");
            each(self);
            let next = self.daemon.next_wake().min(t);
            let now = self.sim.now();
            self.daemon.pacer.wait_until(next.max(now + 1).min(t)).await;
        }
    }

    /// The drains the daemon has in flight.
    pub fn drains(&self) -> &[DrainWorkflow] {
        &self.daemon.services[0].drains
    }
}

/// The limits every run must respect, checked after every step of the daemon.
#[derive(Debug, Clone)]
pub struct Invariants {
    /// The guard's min.
    pub min: u32,
    /// The guard's max.
    pub max: u32,
    /// How long past its deadline a drain may take to undo itself (roll-back retries).
    pub grace: u64,
    /// Whether the desired count has reached `min` (it may start below, and is then raised).
    reached_min: bool,
    /// Records already checked.
    seen_records: usize,
    /// Whether a killed session was reported already.
    kill_seen: bool,
    /// Whether the journal and records were added to the violations.
    context_added: bool,
    /// Tasks found deregistered while running, with the drain that covers them.
    pub violations: Vec<String>,
}

impl Invariants {
    /// Invariants for a service with these guardrails.
    pub fn new(min: u32, max: u32, grace: u64) -> Invariants {
        Invariants {
            min,
            max,
            grace,
            reached_min: false,
            seen_records: 0,
            kill_seen: false,
            context_added: false,
            violations: Vec::new(),
        }
    }

    fn fail(&mut self, now: u64, what: String) {
        if self.violations.len() < 20 {
            self.violations.push(format!("t={now}: {what}"));
        }
    }

    /// Adds what the journal and the records say, once, after the first violation.
    fn add_context(&mut self, run: &MemRun) {
        if !self.violations.is_empty() && !self.context_added {
            self.context_added = true;
            self.violations.push(context(run));
        }
    }

    /// Checks the world and the daemon now.
    pub fn check(&mut self, run: &MemRun) {
        let now = run.sim.now();
        let stats = run.sim.stats(&run.svc).expect("service");
        if (stats.sessions_killed > 0 || stats.tasks_stopped_with_sessions > 0) && !self.kill_seen {
            self.kill_seen = true;
            let tasks = run.sim.sim_tasks(&run.svc).expect("service");
            let detail: Vec<String> = stats
                .killed_by_task
                .keys()
                .map(|id| {
                    let task = tasks.iter().find(|t| &t.id == id);
                    let journal: Vec<String> = run
                        .journal
                        .entries()
                        .into_iter()
                        .filter(|wf| &wf.task_id == id)
                        .map(|wf| {
                            format!(
                                "{:?} attempts {} not_before {} error {:?}",
                                wf.step, wf.attempts, wf.not_before, wf.last_error
                            )
                        })
                        .collect();
                    format!("task {id}: {task:?}\njournal: {journal:#?}")
                })
                .collect();
            self.fail(
                now,
                format!(
                    "sessions killed: {} on {} task(s)\n{}",
                    stats.sessions_killed,
                    stats.tasks_stopped_with_sessions,
                    detail.join("\n")
                ),
            );
        }
        let drains = run.drains();
        if stats.desired > self.max {
            self.fail(
                now,
                format!("desired {} is over max {}", stats.desired, self.max),
            );
        }
        if stats.desired >= self.min {
            self.reached_min = true;
        } else if self.reached_min {
            self.fail(
                now,
                format!("desired {} fell below min {}", stats.desired, self.min),
            );
            self.reached_min = false; // reported once
        }
        let records = run.records.lock().unwrap();
        for r in &records[self.seen_records..] {
            match &r.action {
                Action::ScaleOut { to, .. } if *to > self.max => {
                    self.fail(r.at, format!("scale-out to {to} over max {}", self.max))
                }
                Action::ScaleIn { to, .. } if *to < self.min => {
                    self.fail(r.at, format!("scale-in to {to} under min {}", self.min))
                }
                Action::ScaleIn { .. }
                    if r.state.as_ref().is_some_and(|s| s.desired < self.min) =>
                {
                    self.fail(r.at, "a scale-in while below min".into())
                }
                _ => {}
            }
        }
        self.seen_records = records.len();
        drop(records);
        for t in run.sim.sim_tasks(&run.svc).expect("service") {
            let deregistered = matches!(
                t.health,
                TargetHealth::Draining | TargetHealth::Unregistered
            );
            if t.status != TaskStatus::Running || !deregistered {
                continue;
            }
            match drains.iter().find(|d| d.task_id == t.id) {
                None => {
                    let history: Vec<String> = run
                        .journal
                        .entries()
                        .into_iter()
                        .filter(|wf| wf.task_id == t.id)
                        .map(|wf| format!("{:?} (attempts {}, error {:?})", wf.step, wf.attempts, wf.last_error))
                        .collect();
                    self.fail(
                        now,
                        format!(
                            "task {} is running but deregistered ({:?}), with no drain in flight; its journal: {history:#?}",
                            t.id, t.health
                        ),
                    )
                }
                Some(d) if now > d.deadline_at + self.grace => self.fail(
                    now,
                    format!(
                        "task {} is running but deregistered {}s past its drain's deadline (step {})",
                        t.id,
                        now - d.deadline_at,
                        d.step.name()
                    ),
                ),
                Some(_) => {}
            }
        }
        self.add_context(run);
    }

    /// At a quiet end: every workflow ever journaled reached Done, none is in flight.
    pub fn check_quiet_end(&mut self, run: &MemRun) {
        let now = run.sim.now();
        if !run.drains().is_empty() {
            let steps: Vec<&str> = run.drains().iter().map(|d| d.step.name()).collect();
            self.fail(now, format!("drains still in flight at the end: {steps:?}"));
        }
        let unfinished = run.journal.unfinished().expect("memory journal");
        if !unfinished.is_empty() {
            self.fail(
                now,
                format!("{} unfinished workflow(s) in the journal", unfinished.len()),
            );
        }
        let mut last: BTreeMap<String, Step> = BTreeMap::new();
        for wf in run.journal.entries() {
            last.insert(wf.id, wf.step);
        }
        let open: BTreeSet<&String> = last
            .iter()
            .filter(|(_, s)| !matches!(s, Step::Done { .. }))
            .map(|(id, _)| id)
            .collect();
        if !open.is_empty() {
            self.fail(now, format!("workflows that never reached Done: {open:?}"));
        }
    }
}

/// The last journal entries and records, for a failure message.
fn context(run: &MemRun) -> String {
    let entries = run.journal.entries();
    let journal: Vec<String> = entries
        .iter()
        .rev()
        .take(30)
        .rev()
        .map(|wf| {
            format!(
                "{} {:?} attempts {} not_before {} error {:?}",
                &wf.task_id[..8],
                wf.step,
                wf.attempts,
                wf.not_before,
                wf.last_error
            )
        })
        .collect();
    let records = run.records.lock().unwrap();
    let recent: Vec<String> = records
        .iter()
        .rev()
        .take(6)
        .rev()
        .map(|r| {
            format!(
                "t={} desired {:?} action {:?} outcomes {:?} problems {:?}",
                r.at,
                r.state.as_ref().map(|s| s.desired),
                r.action,
                r.outcomes,
                r.problems
            )
        })
        .collect();
    format!(
        "journal:\n  {}\nrecords:\n  {}",
        journal.join("\n  "),
        recent.join("\n  ")
    )
}
