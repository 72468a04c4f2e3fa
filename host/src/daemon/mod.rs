//! The daemon: every configured service in one process, each on its own
//! interval, in time order. Between ticks it advances drains that come due,
//! applies policy reloads, and serves the HTTP endpoint.

pub mod ha;
pub mod health;
pub mod http;
pub mod pace;
mod publish;
pub mod reload;
pub mod setup;
pub mod state;
pub mod status;
pub mod totals;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use tokio::sync::watch;

use crate::events::Events;
use crate::providers::Provider;
use crate::runtime::PolicyEngine;
use crate::runtime::reload::PolicyWatcher;
use crate::tick::Service;
use crate::tick::guard::Action;
use crate::tick::record::{RecordSink, TickRecord};
use crate::workflow::{DrainWorkflow, Journal, JournalError};

pub use pace::Pacer;
use reload::Reloads;
pub use status::{Board, ServiceStatus};
pub use totals::ServiceTotals;

/// A callback run with every tick record.
pub type TickHook = Box<dyn FnMut(&TickRecord) + Send>;

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
    /// Where reloads are recorded (`reloads.jsonl`, rotated), if anywhere.
    pub reload_log: Option<Mutex<crate::rotate::RotatingFile>>,
    /// Stop once this time has come.
    pub stop_at: Option<u64>,
    /// Called with every tick record (the CLI prints status lines with it).
    pub on_tick: Option<TickHook>,
    /// Totals per service.
    pub totals: BTreeMap<String, ServiceTotals>,
    /// Current tasks per service, shared with the session ingest API; none when it is off.
    pub current_tasks: Option<crate::sessions::tasks::CurrentTasks>,
    /// With `[ha]`: the leases; a service runs only while its lease is held here.
    pub ha: Option<ha::DaemonHa>,
}

impl<P: Provider> Daemon<P> {
    /// A daemon of `services` over `provider`, with an empty board, no
    /// saved state, no reload log, no stop time, no tick callback, no
    /// session ingest and no `[ha]`: set those fields after, as needed.
    pub fn new(
        provider: P,
        pacer: Pacer,
        engine: PolicyEngine,
        services: Vec<Service>,
        journal: Arc<dyn Journal>,
        sink: Box<dyn RecordSink>,
        events: Events,
    ) -> Self {
        Daemon {
            provider,
            pacer,
            engine,
            services,
            journal,
            sink,
            events,
            board: Board::default(),
            state_file: None,
            reload_log: None,
            stop_at: None,
            on_tick: None,
            totals: BTreeMap::new(),
            current_tasks: None,
            ha: None,
        }
    }

    /// Hands unfinished drains from the journal to their services, so they resume
    /// from their last completed step. Returns the ones no configured service owns.
    pub fn resume(&mut self) -> Result<Vec<DrainWorkflow>, JournalError> {
        let mut orphans = Vec::new();
        for wf in self.journal.unfinished()? {
            match self.services.iter_mut().find(|s| s.key() == wf.service) {
                Some(s) if s.spec.dry_run => {
                    tracing::info!(service = %wf.service, task = %wf.task_id, step = wf.step.name(), workflow = %wf.id, "Dry run: a drain from the journal is paused at its step; it is not advanced and stays in the journal for a live run to resume.");
                    s.drains.push(wf);
                }
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
        if self.events.heartbeat().is_none() {
            self.beat(now, false);
        }
        for i in 0..self.services.len() {
            let svc = &mut self.services[i];
            if let Some(ha) = self.ha.as_mut()
                && !ha.gate(svc, self.journal.as_ref(), now)
            {
                if self.current_tasks.is_some() && ha.view_due(&svc.key(), now, svc.spec.interval) {
                    self.publish_tasks_run_elsewhere(i, now).await;
                }
                self.publish(i);
                continue;
            }
            if svc.next_tick <= now {
                let record = match svc
                    .tick(&self.provider, self.journal.as_ref(), &self.events, now)
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        self.refused(i, e, now)?;
                        continue;
                    }
                };
                self.sink.write(&record).map_err(DaemonError::Records)?;
                self.count(&record);
                if let Some(f) = self.on_tick.as_mut() {
                    f(&record);
                }
                if record.action != Action::Hold {
                    self.save_state();
                }
                // Each service done is progress: liveness measures a loop that
                // moves, not one that finishes a long round of services.
                self.beat(now, true);
            } else if svc.wake_at() <= now {
                if let Err(e) = svc
                    .pump(&self.provider, self.journal.as_ref(), &self.events, now)
                    .await
                {
                    self.refused(i, e, now)?;
                    continue;
                }
                if !svc.carried.is_empty() {
                    // A drain finished or scaled in between ticks: its pause or
                    // cooldown must survive a crash before the next action.
                    self.save_state();
                }
                self.beat(now, true);
            }
            self.publish(i);
        }
        self.beat(self.pacer.now(), true);
        Ok(())
    }

    /// A journal error of service `i`: with `[ha]`, a write refused by the
    /// fencing token stands the service down and the loop goes on;
    /// otherwise the daemon stops.
    fn refused(&mut self, i: usize, e: JournalError, now: u64) -> Result<(), DaemonError> {
        match self.ha.as_mut() {
            Some(ha) => ha.refused(&mut self.services[i], e, now)?,
            None => return Err(e.into()),
        }
        self.publish(i);
        Ok(())
    }

    /// Publishes the loop's heartbeat for `/healthz` (see [`health`]).
    fn beat(&self, clock: u64, stepped: bool) {
        let interval = self.services.iter().map(|s| s.spec.interval).min();
        self.events.beat(health::Heartbeat::new(
            &self.pacer,
            std::time::SystemTime::now(),
            clock,
            self.next_wake(),
            interval.unwrap_or(u64::MAX),
            stepped,
        ));
    }

    /// Adds a record to its service's totals.
    fn count(&mut self, record: &TickRecord) {
        match self.totals.get_mut(&record.service) {
            Some(t) => t,
            None => self.totals.entry(record.service.clone()).or_default(),
        }
        .count(record);
    }

    /// When the next thing is due (at least every second with `[ha]`).
    pub fn next_wake(&self) -> u64 {
        let next = self
            .services
            .iter()
            .map(Service::wake_at)
            .min()
            .unwrap_or(u64::MAX);
        // With [ha], leases come and go between ticks: step every second so
        // a service taken over starts at once and `/v1/services` stays current.
        let next = match &self.ha {
            Some(_) => next.min(self.pacer.now() + 1),
            None => next,
        };
        self.stop_at.map_or(next, |s| next.min(s))
    }

    /// Runs until `shutdown` turns true or `stop_at` comes. The current step
    /// always finishes; guard state and history are saved on the way out.
    ///
    /// With a `watcher`, changed policy files are read and compiled on
    /// blocking threads while ticks go on with the old policies; each
    /// compiled component is probed and swapped in between ticks as soon as
    /// it is ready. At the start every watched file is compared with the
    /// loaded policy once, so a write made before the watch began is not
    /// missed. A wake-up for a reload does not restart the wait for the next
    /// tick.
    pub async fn run(
        &mut self,
        shutdown: watch::Receiver<bool>,
        watcher: Option<PolicyWatcher>,
    ) -> Result<(), DaemonError> {
        self.run_with_sources(shutdown, watcher, None).await
    }

    /// [`Daemon::run`], also loading the policy objects that `sources`
    /// finds changed in S3, by the same rules as a changed file.
    pub async fn run_with_sources(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        mut watcher: Option<PolicyWatcher>,
        mut sources: Option<crate::remote::poll::PolicySources>,
    ) -> Result<(), DaemonError> {
        let mut reloads = Reloads::default();
        if let Some(w) = &watcher {
            self.start_reloads(&mut reloads, w.files());
        }
        // A dropped sender can never ask for a stop; its `changed()` would
        // then answer at once, every time, and spin the loop.
        let mut can_stop = true;
        let result = 'run: loop {
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
            let wait = pacer.wait_until(next);
            tokio::pin!(wait);
            // Every branch but the wait is cancel-safe, and the wait itself is
            // kept across reload wake-ups, so none of them delays a tick.
            loop {
                tokio::select! {
                    _ = &mut wait => continue 'run,
                    changed = shutdown.changed(), if can_stop => {
                        can_stop = changed.is_ok();
                        continue 'run;
                    }
                    paths = async {
                        match watcher.as_mut() {
                            Some(w) => w.changed().await,
                            None => std::future::pending().await,
                        }
                    } => self.start_reloads(&mut reloads, &paths),
                    change = async {
                        match sources.as_mut() {
                            Some(s) => s.changed().await,
                            None => std::future::pending().await,
                        }
                    } => self.start_remote_reload(&mut reloads, change),
                    done = reloads.next() => self.finish_reload(&mut reloads, done),
                }
            }
        };
        if reloads.in_flight() > 0 {
            tracing::info!(
                compiles = reloads.in_flight(),
                "Stopped with policy files still compiling; they were not swapped in."
            );
        }
        let flushed = self.write_shutdown_records();
        self.save_state();
        let _ = self.sink.flush();
        result.and(flushed)
    }

    /// Writes what the drains did since each service's last tick (a drain
    /// that finished after it) as a final record, so the log misses none.
    pub fn write_shutdown_records(&mut self) -> Result<(), DaemonError> {
        let now = self.pacer.now();
        for i in 0..self.services.len() {
            if let Some(record) = self.services[i].shutdown_record(now) {
                self.sink.write(&record).map_err(DaemonError::Records)?;
                self.count(&record);
                if let Some(f) = self.on_tick.as_mut() {
                    f(&record);
                }
            }
        }
        Ok(())
    }
}
