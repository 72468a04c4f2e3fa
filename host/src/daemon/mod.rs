//! The daemon: every configured service in one process, each on its own
//! interval, in time order. Between ticks it advances drains that come due,
//! applies policy reloads, and serves the HTTP endpoint.

pub mod http;
pub mod pace;
pub mod reload;
pub mod setup;
pub mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::events::Events;
use crate::providers::Provider;
use crate::runtime::PolicyEngine;
use crate::runtime::reload::PolicyWatcher;
use crate::tick::Service;
use crate::tick::record::{PolicyRef, RecordSink, TickRecord};
use crate::workflow::{DrainWorkflow, Journal, JournalError};

pub use pace::Pacer;

/// What `/v1/services` shows for one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// The service key.
    pub service: String,
    /// The live policy.
    pub policy: PolicyRef,
    /// The shadow policies' names.
    pub shadows: Vec<String>,
    /// When the next tick is due.
    pub next_tick: u64,
    /// Drains in flight.
    pub drains: Vec<DrainWorkflow>,
    /// The last tick's record.
    pub last: Option<Arc<TickRecord>>,
}

/// A callback run with every tick record.
pub type TickHook = Box<dyn FnMut(&TickRecord) + Send>;

/// The services' current state, shared with the HTTP endpoint.
pub type Board = Arc<Mutex<BTreeMap<String, ServiceStatus>>>;

/// Counts of what a run did, per service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceTotals {
    /// Ticks run.
    pub ticks: u64,
    /// Ticks whose action was a scale-out.
    pub scale_outs: u64,
    /// Ticks whose action was a scale-in.
    pub scale_ins: u64,
    /// Ticks on which the live policy faulted.
    pub faults: u64,
    /// Drains by outcome.
    pub drains: BTreeMap<String, u64>,
    /// Policy reloads swapped in.
    pub reloads: u64,
}

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The drain journal failed: no step may run that is not durable.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Writing decision records failed.
    #[error("cannot write decision records: {0}")]
    Records(std::io::Error),
}

/// The daemon over provider `P`.
pub struct Daemon<P: Provider> {
    /// The world.
    pub provider: P,
    /// How time moves.
    pub pacer: Pacer,
    /// The policy engine (reloads compile with it).
    pub engine: PolicyEngine,
    /// The services.
    pub services: Vec<Service>,
    /// The drain journal.
    pub journal: Arc<dyn Journal>,
    /// Where tick records go.
    pub sink: Box<dyn RecordSink>,
    /// Logs and metrics.
    pub events: Events,
    /// The state the HTTP endpoint shows.
    pub board: Board,
    /// Where guard state and history are saved, if anywhere.
    pub state_file: Option<PathBuf>,
    /// Where reloads are recorded, if anywhere.
    pub reload_log: Option<PathBuf>,
    /// Stop once this time has come.
    pub stop_at: Option<u64>,
    /// Called with every tick record (the CLI prints status lines with it).
    pub on_tick: Option<TickHook>,
    /// Totals per service.
    pub totals: BTreeMap<String, ServiceTotals>,
    /// Current tasks per service, shared with the session ingest API; none when it is off.
    pub current_tasks: Option<crate::sessions::tasks::CurrentTasks>,
}

impl<P: Provider> Daemon<P> {
    /// Hands unfinished drains from the journal to their services, so they resume
    /// from their last completed step. Returns the ones no configured service owns.
    pub fn resume(&mut self) -> Result<Vec<DrainWorkflow>, JournalError> {
        let mut orphans = Vec::new();
        for wf in self.journal.unfinished()? {
            match self.services.iter_mut().find(|s| s.key() == wf.service) {
                Some(s) => {
                    tracing::info!(service = %wf.service, task = %wf.task_id, step = wf.step.name(), "Resuming a drain from the journal.");
                    s.drains.push(wf);
                }
                None => {
                    tracing::warn!(service = %wf.service, task = %wf.task_id, "A journaled drain belongs to no configured service; it stays in the journal untouched.");
                    orphans.push(wf);
                }
            }
        }
        Ok(orphans)
    }

    /// Runs everything due at the pacer's current time.
    pub async fn step(&mut self) -> Result<(), DaemonError> {
        let now = self.pacer.now();
        for i in 0..self.services.len() {
            let svc = &mut self.services[i];
            if svc.next_tick <= now {
                let record = svc
                    .tick(&self.provider, self.journal.as_ref(), &self.events, now)
                    .await?;
                self.sink.write(&record).map_err(DaemonError::Records)?;
                let totals = match self.totals.get_mut(&record.service) {
                    Some(t) => t,
                    None => self.totals.entry(record.service.clone()).or_default(),
                };
                totals.ticks += 1;
                match record.action_name() {
                    "scale-out" => totals.scale_outs += 1,
                    "scale-in" => totals.scale_ins += 1,
                    _ => {}
                }
                totals.faults += u64::from(record.fault.is_some());
                for o in record
                    .outcomes
                    .iter()
                    .filter(|o| o.what == "drain-finished")
                {
                    let kind = o.detail.split(':').next().unwrap_or_default().to_string();
                    *totals.drains.entry(kind).or_default() += 1;
                }
                if let Some(f) = self.on_tick.as_mut() {
                    f(&record);
                }
                if record.action_name() != "hold" {
                    self.save_state();
                }
            } else if svc.wake_at() <= now {
                svc.pump(&self.provider, self.journal.as_ref(), &self.events, now)
                    .await?;
            }
            self.publish(i);
        }
        Ok(())
    }

    fn publish(&self, i: usize) {
        let s = &self.services[i];
        let c = s.policy.component();
        let status = ServiceStatus {
            service: s.key(),
            policy: PolicyRef {
                name: c.name.clone(),
                version: c.version.clone(),
                sha256: c.sha256.clone(),
            },
            shadows: s
                .shadows
                .iter()
                .map(|p| p.component().name.clone())
                .collect(),
            next_tick: s.next_tick,
            drains: s.drains.clone(),
            last: s.last_record.clone(),
        };
        self.board
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(status.service.clone(), status);
        self.publish_tasks(s);
    }

    /// Shares the service's current tasks, as of its last gather, with the ingest API.
    fn publish_tasks(&self, s: &Service) {
        let (Some(tasks), Some(snap)) = (&self.current_tasks, &s.last_snapshot) else {
            return;
        };
        let key = crate::sessions::partition_key(&s.spec.svc.cluster, &s.spec.svc.service);
        if tasks.published_at(&key) == Some(snap.now) {
            return;
        }
        // `last_targets[i]` is the target of `snap.tasks[i]`.
        let targets = s.last_targets.iter().chain(std::iter::repeat(&None));
        tasks.publish(
            &key,
            snap.now,
            snap.tasks
                .iter()
                .zip(targets)
                .map(|(t, target)| crate::sessions::tasks::TaskView {
                    id: t.id.clone(),
                    ip: target.as_ref().map(|t| t.ip),
                    sessions: t.sessions,
                }),
        );
    }

    /// When the next thing is due.
    pub fn next_wake(&self) -> u64 {
        let next = self
            .services
            .iter()
            .map(Service::wake_at)
            .min()
            .unwrap_or(u64::MAX);
        self.stop_at.map_or(next, |s| next.min(s))
    }

    /// Runs until `shutdown` turns true or `stop_at` comes. The current step
    /// always finishes; guard state and history are saved on the way out.
    pub async fn run(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut watcher: Option<PolicyWatcher>,
    ) -> Result<(), DaemonError> {
        let result = loop {
            if *shutdown.borrow() {
                tracing::info!("Shutting down: the current step finished and state is saved.");
                break Ok(());
            }
            if self.stop_at.is_some_and(|s| self.pacer.now() >= s) {
                break Ok(());
            }
            if let Err(e) = self.step().await {
                break Err(e);
            }
            let next = self.next_wake();
            let pacer = self.pacer.clone();
            tokio::select! {
                _ = pacer.wait_until(next) => {}
                _ = shutdown.changed() => {}
                paths = async {
                    match watcher.as_mut() {
                        Some(w) => w.changed(Duration::from_millis(100)).await,
                        None => std::future::pending().await,
                    }
                } => self.apply_reloads(&paths).await,
            }
        };
        self.save_state();
        let _ = self.sink.flush();
        result
    }
}
