//! One tick of one service: gather, decide, guard, execute, record.
//!
//! [`Service`] holds what a service carries between ticks (its policies,
//! history, guard state and drains in flight); [`Service::tick`] runs the
//! five stages in order, and [`Service::pump`] advances the drains that come
//! due between ticks.

pub mod decide;
pub mod execute;
pub mod gather;
pub mod guard;
pub mod record;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use crate::events::{Event, Events};
use crate::model::{ParamValue, Snapshot, TickSummary};
use crate::providers::{Provider, ServiceRef};
use crate::runtime::Policy;
use crate::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError};

use decide::FaultRecord;
use execute::ActionOutcome;
use guard::{Action, GuardConfig, GuardState};
use record::{FallbackRecord, PolicyRef, TickRecord, TickState};

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
    /// Decides instead of the live policy once it has faulted `fallback_after`
    /// times in a row; none to hold on every fault.
    pub fallback: Option<Policy>,
    /// Consecutive live-policy faults before the fallback decides.
    pub fallback_after: u32,
    /// The live policy's consecutive faults so far.
    pub consecutive_faults: u32,
}

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
            fallback_after: 3,
            consecutive_faults: 0,
        }
    }

    /// The same service with a fallback policy that decides once the live one
    /// has faulted `after` times in a row (at least once).
    pub fn with_fallback(mut self, fallback: Policy, after: u32) -> Self {
        self.fallback = Some(fallback);
        self.fallback_after = after.max(1);
        self
    }

    /// The service's key.
    pub fn key(&self) -> String {
        self.spec.svc.key()
    }

    /// When this service next has something to do: a tick or a drain step.
    pub fn wake_at(&self) -> u64 {
        self.drains
            .iter()
            .filter_map(DrainWorkflow::wake_at)
            .fold(self.next_tick, u64::min)
    }

    /// Advances the drains due at `now`; what they did goes into the next tick's record.
    pub async fn pump<P: Provider>(
        &mut self,
        p: &P,
        journal: &dyn Journal,
        events: &Events,
        now: u64,
    ) -> Result<(), JournalError> {
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
        if done.iter().any(|o| o.what == "drain-scaled-in") {
            // The cooldown counts from the desired count's actual change, so the
            // next scale-in decision reads a count that has caught up with it.
            self.guard_state.last_scale_in = Some(now);
        }
        self.carried.extend(done);
        Ok(())
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
        let mut record = TickRecord {
            at: now,
            service: key.clone(),
            dry_run: self.spec.dry_run,
            snapshot_digest: None,
            state: None,
            problems: Vec::new(),
            policy: PolicyRef {
                name: component.name.clone(),
                version: component.version.clone(),
                sha256: component.sha256.clone(),
            },
            decision: None,
            fault: None,
            fallback: None,
            call_micros: 0,
            adjustments: Vec::new(),
            action: Action::Hold,
            outcomes: Vec::new(),
            shadows: Vec::new(),
        };

        // gather
        let spec = gather::GatherSpec {
            svc: &self.spec.svc,
            min: self.spec.guard.min,
            max: self.spec.guard.max,
            params: &self.spec.params,
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
            tracing::debug!(service = %key, policy = %component.name, level = log.level, "Policy says: {}", log.message);
        }
        let mut decision = None;
        match &decided.live.result {
            Ok(d) => {
                self.consecutive_faults = 0;
                record.decision = Some(d.clone());
                decision = Some(d.clone());
            }
            Err(f) => {
                self.consecutive_faults += 1;
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
        if decision.is_none() && self.consecutive_faults >= self.fallback_after {
            decision = self.decide_by_fallback(snapshot, &mut record, events);
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
                rule: &a.rule,
                reason: &a.reason,
            });
        }

        // execute
        if !self.spec.dry_run {
            let done = execute::execute(
                p,
                &self.spec.svc,
                &guarded.action,
                &gathered,
                &mut self.drains,
                &self.spec.drain,
                journal,
                events,
                now,
            )
            .await?;
            if done.iter().all(|o| o.ok || o.what != "set-desired") {
                self.guard_state.executed(&guarded.action, now);
            }
            outcomes.extend(done);
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
            policy: PolicyRef {
                name: c.name.clone(),
                version: c.version.clone(),
                sha256: c.sha256.clone(),
            },
            after_faults: self.consecutive_faults,
            fault: None,
        };
        let decision = match report.result {
            Ok(d) => {
                events.emit(Event::FallbackDecided {
                    service: &key,
                    policy: &c.name,
                    faults: self.consecutive_faults,
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

/// A one-line summary of a tick: counts, load, action and reason.
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
    let action = match &r.action {
        Action::Hold => "hold".to_string(),
        Action::ScaleOut { from, to } => format!("scale-out {from}->{to}"),
        Action::ScaleIn { from, to, .. } => format!("scale-in {from}->{to}"),
    };
    let dry = if r.dry_run && r.action != Action::Hold {
        " (dry run)"
    } else {
        ""
    };
    format!("{counts}  {action}{dry}: {}", r.reason())
}
