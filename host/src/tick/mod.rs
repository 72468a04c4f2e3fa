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
mod pump;
pub mod record;
mod service_record;

pub use record::status::{failed_drain_start, status_line};

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use crate::escape::Escaped;
use crate::events::{Event, Events};
use crate::model::{ParamValue, Snapshot, TickSummary};
use crate::providers::{Provider, ServiceRef};
use crate::runtime::Policy;
use crate::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError};

use decide::FaultWindow;
use guard::{GuardConfig, GuardState};
use outcome::{ActionOutcome, DrainEnd, OutcomeKind};
use record::{TickRecord, TickState};

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
                    kind: f.kind,
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
                rule: a.rule,
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
}
