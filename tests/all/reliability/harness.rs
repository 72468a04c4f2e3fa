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
use autoscaler::providers::{Clock, ServiceRef, TargetGroupInfo};
use autoscaler::runtime::{Policy, PolicyComponent, PolicyEngine};
use autoscaler::tick::guard::Action;
use autoscaler::tick::record::{MemorySink, TickRecord};
use autoscaler::tick::{Service, ServiceSpec};
use autoscaler::workflow::{CordonMechanism, DrainWorkflow, Journal, MemoryJournal, Step};

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
    /// The target group the sim's service sits behind: the sim answers
    /// `target_group_info` with it, and cuts what its load balancer would cut.
    pub info: TargetGroupInfo,
    pub svc: ServiceRef,
    pub journal: Arc<MemoryJournal>,
    pub records: Arc<Mutex<Vec<TickRecord>>>,
}

impl MemRun {
    /// One service run by `spec` with `policy`, first tick now, behind a
    /// target group described by `info`.
    pub fn behind(
        sim: SimProvider,
        info: TargetGroupInfo,
        spec: ServiceSpec,
        policy: Arc<PolicyComponent>,
    ) -> MemRun {
        let engine = components().engine.clone();
        let svc = spec.svc.clone();
        let service = Service::new(spec, Policy::new(engine.clone(), policy), vec![], sim.now());
        let journal = Arc::new(MemoryJournal::default());
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let mut daemon = Daemon::new(
            sim.clone(),
            Pacer::Sim {
                sim: sim.clone(),
                speed: 0.0,
            },
            engine,
            vec![service],
            journal.clone(),
            Box::new(MemorySink::default()),
            Events::quiet(),
        );
        daemon.on_tick = Some(Box::new(move |r: &TickRecord| {
            sink.lock().unwrap().push(r.clone())
        }));
        MemRun {
            daemon,
            sim,
            info,
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
    cut_seen: bool,
    /// Whether the journal and records were added to the violations.
    context_added: bool,
    /// Since when each running task's target has been out of the load
    /// balancer (reset when it is registered again, or deregistered again by
    /// a new cordon: a new deregistration restarts the delay), with the
    /// cordon workflow that deregistered it.
    deregistered_since: BTreeMap<String, (Option<String>, u64)>,
    /// Since when each deregister-cordoned task still holding has been
    /// registered again (by someone else).
    registered_again_since: BTreeMap<String, u64>,
    /// Cordoned tasks seen, for the report.
    pub cordons_seen: BTreeSet<String>,
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
            cut_seen: false,
            context_added: false,
            deregistered_since: BTreeMap::new(),
            registered_again_since: BTreeMap::new(),
            cordons_seen: BTreeSet::new(),
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
        // The sim counts what its load balancer cut (an ALB, or an NLB
        // closing connections, at the end of a target's delay).
        if stats.sessions_cut > 0 && !self.cut_seen {
            self.cut_seen = true;
            self.fail(
                now,
                format!("the load balancer cut {} session(s)", stats.sessions_cut),
            );
        }
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
        let info = run.info;
        for t in run.sim.sim_tasks(&run.svc).expect("service") {
            let deregistered = matches!(
                t.health,
                TargetHealth::Draining | TargetHealth::Unregistered
            );
            let cordon = drains
                .iter()
                .find(|d| d.task_id == t.id && d.cordon.is_some());
            if let Some(d) = cordon {
                self.cordons_seen.insert(d.id.clone());
            }
            // The load balancer must never cut a session: with an ALB (or an
            // NLB closing connections), a cordoned task deregistered for its
            // whole delay must have no session left.
            // (The sim's own `sessions_cut` is checked above too.)
            if t.status == TaskStatus::Running && deregistered {
                let wf = cordon.map(|d| d.id.clone());
                let entry = self
                    .deregistered_since
                    .entry(t.id.clone())
                    .or_insert((wf.clone(), now));
                if entry.0 != wf && wf.is_some() {
                    // Uncordoned and cordoned again within one step: the
                    // target was registered, then deregistered anew.
                    *entry = (wf, cordon.map_or(now, |d| d.started_at));
                }
                let since = entry.1;
                if cordon.is_some()
                    && !info.keeps_connections()
                    && t.sessions > 0
                    && now >= since + info.deregistration_delay_s
                {
                    self.fail(
                        now,
                        format!(
                            "{} session(s) of cordoned task {} would be cut: its target was deregistered at {since}s and the load balancer closes connections after {}s",
                            t.sessions, t.id, info.deregistration_delay_s
                        ),
                    );
                }
            } else {
                self.deregistered_since.remove(&t.id);
            }
            // A deregister-cordoned target registered again by someone else
            // is deregistered again within a few ticks (retries included).
            let holding_deregistered = cordon.is_some_and(|d| {
                matches!(d.step, Step::Hold { .. })
                    && d.changes.deregistered
                    && d.cordon
                        .is_some_and(|c| c.mechanism == CordonMechanism::Deregister)
            });
            if holding_deregistered && !deregistered && t.status == TaskStatus::Running {
                let since = *self
                    .registered_again_since
                    .entry(t.id.clone())
                    .or_insert(now);
                if now > since + 20 * 60 {
                    self.fail(
                        now,
                        format!(
                            "cordoned task {} has been registered again since {since}s and was not deregistered again",
                            t.id
                        ),
                    );
                    self.registered_again_since
                        .insert(t.id.clone(), u64::MAX / 2);
                }
            } else {
                self.registered_again_since.remove(&t.id);
            }
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
                // A cordon's hold has no deadline (its drain's counts from the hold's end).
                Some(d) if d.is_holding() || matches!(d.step, Step::Uncordon { .. }) => {}
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
