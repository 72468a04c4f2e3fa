//! One tick of one service: gather, decide, guard, execute, record.
//!
//! [`Service`] holds what a service carries between ticks (its policies,
//! history, guard state and drains in flight); [`Service::tick`] runs the
//! five stages in order, and [`Service::pump`] advances the drains that come
//! due between ticks. Under `--dry-run` nothing is executed and no drain is
//! advanced: drains resumed from the journal stay paused where they are.

pub mod decide;
pub mod execute;
pub mod gather;
pub mod guard;
pub mod outcome;
pub mod record;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use crate::escape::Escaped;
use crate::events::{Event, Events};
use crate::model::{ParamValue, Snapshot, TickSummary};
use crate::providers::{Provider, ServiceRef};
use crate::runtime::Policy;
use crate::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError};

use decide::{FaultRecord, FaultWindow};
use guard::{Action, GuardConfig, GuardState};
use outcome::{ActionOutcome, DrainEnd, OutcomeKind};
use record::{FallbackRecord, PausedDrain, PolicyRef, TickRecord, TickState};

/// How a service is run: fixed for its lifetime (a config reload makes a new one).
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The service.
    pub svc: ServiceRef,
    /// Seconds between ticks.
    pub interval: u64,
    /// Its guardrails.
    pub guard: GuardConfig,
    /// Its drain timing.
    pub drain: DrainConfig,
    /// The policy's parameters.
    pub params: BTreeMap<String, ParamValue>,
    /// How far back the snapshot's history reaches, in seconds.
    pub history_window: u64,
    /// Decide and record, but execute nothing.
    pub dry_run: bool,
    /// The live policy's file, watched for hot reload (none when loaded from memory).
    pub policy_path: Option<PathBuf>,
    /// The shadow policies' files, in the order of `Service::shadows`.
    pub shadow_paths: Vec<PathBuf>,
    /// Whether records carry the snapshot digest. The daemon's always do; a
    /// backtest that keeps no records skips it (a fifth of a tick's time).
    pub digest: bool,
}

/// A service and everything it carries between ticks.
pub struct Service {
    /// How it is run.
    pub spec: ServiceSpec,
    /// The live policy.
    pub policy: Policy,
    /// Shadow policies: decide on every tick, never executed.
    pub shadows: Vec<Policy>,
    /// Summaries of earlier ticks, oldest first.
    pub history: VecDeque<TickSummary>,
    /// The guard's memory.
    pub guard_state: GuardState,
    /// Drains in flight.
    pub drains: Vec<DrainWorkflow>,
    /// When the next tick is due, in seconds.
    pub next_tick: u64,
    /// The last snapshot gathered (hot reload probes new policies with it).
    pub last_snapshot: Option<Snapshot>,
    /// The load balancer target of each task of `last_snapshot` (entry `i` for task `i`).
    pub last_targets: Vec<Option<crate::providers::Target>>,
    /// The last record written (shared with the status board, not copied).
    pub last_record: Option<Arc<TickRecord>>,
    /// Drain outcomes from between ticks, carried into the next record.
    pub carried: Vec<ActionOutcome>,
    /// Decides instead of the live policy once it has faulted too often of
    /// late (see [`FaultWindow`]); none to hold on every fault.
    pub fallback: Option<Policy>,
    /// The live policy's recent faults, and when the fallback decides.
    pub faults: FaultWindow,
    /// Amends the decision (live or fallback) before the guard sees it; none
    /// in the daemon. The reliability tests drive cordons and uncordons
    /// through it, so they run the real guard, executor and record.
    pub decision_overlay: Option<DecisionOverlay>,
}

/// A function that amends a decision, given the snapshot it was made on.
pub type DecisionOverlay = Box<dyn FnMut(&Snapshot, &mut crate::model::Decision) + Send>;

impl Service {
    /// A service whose first tick is due at `first_tick`.
    pub fn new(spec: ServiceSpec, policy: Policy, shadows: Vec<Policy>, first_tick: u64) -> Self {
        Service {
            spec,
            policy,
            shadows,
            history: VecDeque::new(),
            guard_state: GuardState::default(),
            drains: Vec::new(),
            next_tick: first_tick,
            last_snapshot: None,
            last_targets: Vec::new(),
            last_record: None,
            carried: Vec::new(),
            fallback: None,
            faults: FaultWindow::default(),
            decision_overlay: None,
        }
    }

    /// The same service with a fallback policy that decides once the live one
    /// has faulted on `after` of the last `window` ticks (see [`FaultWindow`]).
    pub fn with_fallback(mut self, fallback: Policy, after: u32, window: u32) -> Self {
        self.fallback = Some(fallback);
        self.faults = FaultWindow::new(after, window);
        self
    }

    /// The service's key.
    pub fn key(&self) -> String {
        self.spec.svc.key()
    }

    /// When this service next has something to do: a tick or a drain step
    /// (a dry run advances no drain, so only its ticks).
    pub fn wake_at(&self) -> u64 {
        if self.spec.dry_run {
            return self.next_tick;
        }
        self.drains
            .iter()
            .filter_map(DrainWorkflow::wake_at)
            .fold(self.next_tick, u64::min)
    }

    /// Advances the drains due at `now`; what they did goes into the next tick's record.
    /// A dry run writes nothing: its drains stay paused where they are, and
    /// the journal untouched for a live run to resume them.
    pub async fn pump<P: Provider>(
        &mut self,
        p: &P,
        journal: &dyn Journal,
        events: &Events,
        now: u64,
    ) -> Result<(), JournalError> {
        if self.spec.dry_run {
            return Ok(());
        }
        let svc = &self.spec.svc;
        let done = execute::advance_drains(
            p,
            svc,
            &mut self.drains,
            &self.spec.drain,
            journal,
            events,
            now,
        )
        .await?;
        self.pause_drains_after_roll_backs(&done, now);
        if done.iter().any(|o| o.what == OutcomeKind::DrainScaledIn) {
            // The cooldown counts from the desired count's actual change, so the
            // next scale-in decision reads a count that has caught up with it.
            self.guard_state.last_scale_in = Some(now);
        }
        self.carried.extend(done);
        Ok(())
    }

    /// After a drain rolled back (its roll-back done or failed), no new
    /// drain starts for `pause_after_roll_back`: the guard refuses scale-ins
    /// meanwhile (`drain-backoff`).
    fn pause_drains_after_roll_backs(&mut self, outcomes: &[ActionOutcome], now: u64) {
        if let Some(o) = outcomes.iter().rev().find(|o| o.is_roll_back()) {
            self.guard_state.drains_paused = Some(guard::DrainPause {
                until: now + self.spec.drain.pause_after_roll_back.as_secs(),
                because: format!("task {}: {}", o.task.as_deref().unwrap_or("?"), o.detail),
            });
        }
    }

    /// Runs one tick at `now` and schedules the next.
    pub async fn tick<P: Provider>(
        &mut self,
        p: &P,
        journal: &dyn Journal,
        events: &Events,
        now: u64,
    ) -> Result<Arc<TickRecord>, JournalError> {
        self.next_tick = now + self.spec.interval.max(1);
        let key = self.key();
        self.pump(p, journal, events, now).await?;
        let mut outcomes = std::mem::take(&mut self.carried);
        let component = self.policy.component().clone();
        let mut record = self.blank_record(now);

        // gather
        // The live policy's declared defaults fill the parameters the config
        // leaves out, so the snapshot (and its record) shows them.
        let params = crate::runtime::params::with_defaults(&self.spec.params, &component.params);
        let spec = gather::GatherSpec {
            svc: &self.spec.svc,
            min: self.spec.guard.min,
            max: self.spec.guard.max,
            params: &params,
            max_metric_age: self.spec.guard.max_metric_age.as_secs(),
        };
        let gathered = match gather::gather(p, &spec, &self.history, &self.drains, now).await {
            Ok(g) => g,
            Err(e) => {
                let error = e.to_string();
                events.emit(Event::GatherFailed {
                    service: &key,
                    error: &error,
                });
                record.problems.push(error);
                record.outcomes = outcomes;
                return Ok(self.finish(record, events));
            }
        };
        let snapshot = &gathered.snapshot;
        record.snapshot_digest = self.spec.digest.then(|| snapshot.digest());
        record.problems = gathered.problems.clone();
        record.state = Some(TickState {
            desired: snapshot.desired,
            running: snapshot.running,
            pending: snapshot.pending,
            draining: snapshot.drains.len() as u32,
            cordoned: snapshot
                .tasks
                .iter()
                .filter(|t| t.cordoned_since.is_some())
                .count() as u32,
            cpu: snapshot.cpu,
            memory: snapshot.memory,
            sessions: snapshot.sessions_known.then(|| snapshot.total_sessions()),
        });

        // decide
        let decided = decide::decide(&mut self.policy, &mut self.shadows, snapshot);
        events.emit(Event::PolicyCalled {
            service: &key,
            elapsed: decided.live.elapsed,
        });
        record.call_micros = decided.live.elapsed.as_micros() as u64;
        for log in &decided.live.logs {
            tracing::debug!(service = %key, policy = %Escaped(&component.name), level = log.level, "Policy says: {}", Escaped(&log.message));
        }
        let mut decision = None;
        self.faults
            .note(&component.sha256, decided.live.result.is_err());
        match &decided.live.result {
            Ok(d) => {
                record.decision = Some(d.clone());
                decision = Some(d.clone());
            }
            Err(f) => {
                let message = f.to_string();
                events.emit(Event::PolicyFaulted {
                    service: &key,
                    policy: &component.name,
                    kind: f.kind(),
                    message: &message,
                    shadow: false,
                });
                record.fault = Some(f.into());
            }
        }
        if self.faults.tripped() && self.fallback.is_some() {
            // A policy that faults this often is not trusted on the ticks it
            // answers either: the fallback decides, and the live answer is kept
            // in the record as overruled.
            let overruled = decision.take();
            record.decision = None; // the fallback's, if it decides
            decision = self.decide_by_fallback(snapshot, &mut record, events);
            if let Some(fb) = record.fallback.as_mut() {
                fb.overruled = overruled;
            }
        }
        for shadow in &decided.shadows {
            if let Some(f) = &shadow.fault {
                events.emit(Event::PolicyFaulted {
                    service: &key,
                    policy: &shadow.policy,
                    kind: &f.kind,
                    message: &f.message,
                    shadow: true,
                });
            }
        }
        record.shadows = decided.shadows;
        if let (Some(overlay), Some(d)) = (self.decision_overlay.as_mut(), decision.as_mut()) {
            overlay(snapshot, d);
            record.decision = Some(d.clone());
        }

        // guard
        let guarded = guard::guard(
            decision.as_ref(),
            snapshot,
            gathered.health,
            &self.spec.guard,
            &mut self.guard_state,
            now,
        );
        for a in &guarded.adjustments {
            events.emit(Event::GuardAdjusted {
                service: &key,
                rule: a.rule.name(),
                reason: &a.reason,
            });
        }

        // execute
        if !self.spec.dry_run {
            outcomes.extend(
                execute::re_deregister(p, &self.spec.svc, &gathered, &self.drains, events).await,
            );
            let done = execute::execute(
                p,
                &self.spec.svc,
                &guarded,
                self.spec.guard.cordon,
                &gathered,
                &mut self.drains,
                &self.spec.drain,
                journal,
                events,
                now,
            )
            .await?;
            if done
                .iter()
                .all(|o| o.ok || o.what != OutcomeKind::SetDesired)
            {
                self.guard_state.executed(&guarded.action, now);
            }
            self.pause_drains_after_roll_backs(&done, now);
            outcomes.extend(done);
        } else {
            // The cooldowns run as if the action had been carried out, so the
            // recorded decisions are the ones a live host would make.
            self.guard_state.executed(&guarded.action, now);
        }
        events.emit(Event::CordonedTasks {
            service: &key,
            count: record.state.as_ref().map_or(0, |s| s.cordoned),
        });
        record.cordoned = outcomes
            .iter()
            .filter(|o| o.what == OutcomeKind::CordonStart)
            .filter_map(|o| o.task.clone())
            .collect();
        // Uncordoned: every cordon that stepped back since the last tick,
        // asked for now or forced by a load balancer's delay between ticks.
        record.uncordoned = outcomes
            .iter()
            .filter(|o| o.drain_ended(DrainEnd::Uncordoned))
            .filter_map(|o| o.task.clone())
            .collect();
        if self.spec.dry_run {
            // What a live host would have done.
            record.cordoned = guarded.cordon.clone();
            record.uncordoned = guarded.uncordon.clone();
        }
        record.adjustments = guarded.adjustments;
        record.action = guarded.action;
        record.outcomes = outcomes;

        // record (the caller writes it to its sink)
        self.history.push_back(gather::summarize(snapshot));
        let window = self.spec.history_window;
        while self.history.front().is_some_and(|h| h.at + window < now) {
            self.history.pop_front();
        }
        self.last_snapshot = Some(gathered.snapshot);
        self.last_targets = gathered.targets;
        Ok(self.finish(record, events))
    }

    /// A record of this service at `now` with nothing gathered, decided or done
    /// yet (a dry run's paused drains are listed).
    fn blank_record(&self, now: u64) -> TickRecord {
        let component = self.policy.component();
        let paused_drains = if self.spec.dry_run {
            self.drains
                .iter()
                .map(|d| PausedDrain {
                    workflow: d.id.clone(),
                    task: d.task_id.clone(),
                    step: d.step.name().to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        TickRecord {
            at: now,
            service: self.key(),
            dry_run: self.spec.dry_run,
            snapshot_digest: None,
            state: None,
            problems: Vec::new(),
            policy: PolicyRef::from(component.as_ref()),
            decision: None,
            fault: None,
            fallback: None,
            call_micros: 0,
            adjustments: Vec::new(),
            action: Action::Hold,
            outcomes: Vec::new(),
            cordoned: Vec::new(),
            uncordoned: Vec::new(),
            paused_drains,
            shutdown: false,
            shadows: Vec::new(),
        }
    }

    /// At shutdown: a record of the drain outcomes carried since the last
    /// tick (a drain that finished after it), so none is missing from the
    /// decision log; none when nothing is carried.
    pub fn shutdown_record(&mut self, now: u64) -> Option<Arc<TickRecord>> {
        if self.carried.is_empty() {
            return None;
        }
        let mut record = self.blank_record(now);
        record.shutdown = true;
        record.outcomes = std::mem::take(&mut self.carried);
        Some(Arc::new(record))
    }

    /// Asks the fallback policy, if there is one, and notes it in the record.
    fn decide_by_fallback(
        &mut self,
        snapshot: &Snapshot,
        record: &mut TickRecord,
        events: &Events,
    ) -> Option<crate::model::Decision> {
        let key = self.key();
        let fallback = self.fallback.as_mut()?;
        let c = fallback.component().clone();
        let report = fallback.decide(snapshot);
        let mut entry = FallbackRecord {
            policy: PolicyRef::from(c.as_ref()),
            after_faults: self.faults.consecutive(),
            recent_faults: self.faults.recent_faults(),
            window: self.faults.window(),
            overruled: None,
            fault: None,
        };
        let decision = match report.result {
            Ok(d) => {
                events.emit(Event::FallbackDecided {
                    service: &key,
                    policy: &c.name,
                    faults: self.faults.recent_faults(),
                    window: self.faults.window(),
                });
                record.decision = Some(d.clone());
                Some(d)
            }
            Err(f) => {
                let message = f.to_string();
                events.emit(Event::PolicyFaulted {
                    service: &key,
                    policy: &c.name,
                    kind: f.kind(),
                    message: &message,
                    shadow: false,
                });
                entry.fault = Some(FaultRecord::from(&f));
                None
            }
        };
        record.fallback = Some(entry);
        decision
    }

    fn finish(&mut self, record: TickRecord, events: &Events) -> Arc<TickRecord> {
        // Only logged: a quiet run (a backtest) skips the formatting.
        let summary = if events.is_quiet() {
            String::new()
        } else {
            status_line(&record)
        };
        events.emit(Event::TickFinished {
            service: &record.service,
            action: record.action_name(),
            summary: &summary,
        });
        let record = Arc::new(record);
        self.last_record = Some(record.clone());
        record
    }
}

/// A one-line summary of a tick: counts, load, what was done (not only what
/// was allowed), the reason, and what the drains did or why they wait.
pub fn status_line(r: &TickRecord) -> String {
    let counts = match &r.state {
        Some(s) => format!(
            "desired {:>3}  running {:>3}  sessions {:>5}  cpu {:>5}",
            s.desired,
            s.running,
            s.sessions.map_or("?".into(), |n| n.to_string()),
            s.cpu.map_or("?".into(), |c| format!("{c:.0}%")),
        ),
        None => "no snapshot".to_string(),
    };
    let mut line = match action_text(r) {
        Done::Said(action) => format!("{counts}  {action}: {}", r.reason()),
        Done::Failed(action) => format!("{counts}  {action} [policy: {}]", r.reason()),
    };
    let mut notes = cordon_notes(r);
    notes.extend(drain_notes(r));
    if !notes.is_empty() {
        line.push_str(&format!(" [{}]", notes.join("; ")));
    }
    // The reason, errors and task IDs come from a policy or the world: a
    // control character in them must not reach the terminal as itself.
    match crate::escape::escape(&line) {
        std::borrow::Cow::Borrowed(_) => line,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// How the action part of a status line reads.
enum Done {
    /// What happened (or, in a dry run, what would have).
    Said(String),
    /// The action failed, with the error.
    Failed(String),
}

fn action_text(r: &TickRecord) -> Done {
    let (base, victims) = match &r.action {
        Action::Hold => return Done::Said("hold".into()),
        Action::ScaleOut { from, to } => (format!("scale-out {from}->{to}"), &[][..]),
        Action::ScaleIn { from, to, victims } => {
            (format!("scale-in {from}->{to}"), victims.as_slice())
        }
    };
    if r.dry_run {
        return Done::Said(format!("{base} (dry run)"));
    }
    if victims.is_empty() {
        return match r
            .outcomes
            .iter()
            .find(|o| o.what == OutcomeKind::SetDesired)
        {
            Some(o) if !o.ok => Done::Failed(format!("{base} failed: {}", o.detail)),
            _ => Done::Said(base),
        };
    }
    if let Some(o) = failed_drain_start(r) {
        return Done::Failed(format!(
            "{base} failed: draining {}: {}",
            o.task.as_deref().unwrap_or_default(),
            o.detail
        ));
    }
    let mut said = format!("{base}: draining {}", victims.join(", "));
    // A transient error is retried: the drain is under way, not failed.
    if let Some(o) = this_ticks_drains(r).find(|o| {
        o.what == OutcomeKind::DrainRetry && o.task.as_ref().is_some_and(|t| victims.contains(t))
    }) {
        said.push_str(&format!(" (retrying: {})", o.detail));
    }
    Done::Said(said)
}

/// The outcomes of the drains this tick started: those from its first
/// `drain-start` on (what drains did between ticks comes before it).
fn this_ticks_drains(r: &TickRecord) -> impl Iterator<Item = &ActionOutcome> {
    let from = r
        .outcomes
        .iter()
        .position(|o| o.what == OutcomeKind::DrainStart)
        .unwrap_or(r.outcomes.len());
    r.outcomes[from..].iter()
}

/// The outcome of a drain started this tick that ended at once without
/// stopping its task (rolled back or aborted): the scale-in failed. A retry
/// is not a failure.
pub fn failed_drain_start(r: &TickRecord) -> Option<&ActionOutcome> {
    let Action::ScaleIn { victims, .. } = &r.action else {
        return None;
    };
    this_ticks_drains(r).find(|o| {
        o.what == OutcomeKind::DrainFinished
            && !o.ok
            && o.task.as_ref().is_some_and(|t| victims.contains(t))
    })
}

/// The tick's cordons and uncordons, e.g. `cordon 2 (T1, T2)`, `uncordon T3`,
/// and the cordoned targets deregistered again.
fn cordon_notes(r: &TickRecord) -> Vec<String> {
    let list = |verb: &str, ids: &[String]| match ids {
        [] => None,
        [one] => Some(format!("{verb} {one}")),
        many => Some(format!("{verb} {} ({})", many.len(), many.join(", "))),
    };
    let again: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| o.what == OutcomeKind::ReDeregister)
        .filter_map(|o| o.task.clone())
        .collect();
    [
        list("cordon", &r.cordoned),
        list("uncordon", &r.uncordoned),
        list("deregistered again", &again),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What drains other than this tick's victims did, and the paused ones.
fn drain_notes(r: &TickRecord) -> Vec<String> {
    let victims: &[String] = match &r.action {
        Action::ScaleIn { victims, .. } => victims,
        _ => &[],
    };
    let mut notes: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| o.task.as_ref().is_some_and(|t| !victims.contains(t)))
        .filter_map(|o| {
            let task = o.task.as_deref().unwrap_or_default();
            match o.what {
                OutcomeKind::DrainScaledIn => {
                    Some(format!("drain {task} set desired {}", o.detail))
                }
                OutcomeKind::DrainRetry => {
                    Some(format!("drain {task} failed, retrying: {}", o.detail))
                }
                OutcomeKind::DrainFinished if o.outcome == Some(DrainEnd::Uncordoned) => None,
                OutcomeKind::DrainFinished => Some(format!("drain {task} {}", o.detail)),
                _ => None,
            }
        })
        .collect();
    if !r.paused_drains.is_empty() {
        let paused: Vec<String> = r
            .paused_drains
            .iter()
            .map(|d| format!("{} at {}", d.task, d.step))
            .collect();
        notes.push(format!("drains paused (dry run): {}", paused.join(", ")));
    }
    notes
}
