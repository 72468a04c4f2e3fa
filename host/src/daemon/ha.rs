//! The daemon's side of `[ha]`: a service runs only while this host holds
//! its lease. A service whose lease this host just took has its unfinished
//! drains read from the shared journal and resumed; one whose lease is gone
//! (lost, released, or refused by the journal's fencing token) has its drains
//! dropped from memory (they stay in the journal for the holder) and is not
//! ticked. The session ingest still needs the current tasks of every
//! service, so for a service run elsewhere the daemon reads them (ListTasks
//! and DescribeTasks, and the sessions Query) once an interval.

use std::collections::BTreeMap;

use crate::ha::Leases;
use crate::tick::Service;
use crate::workflow::{Journal, JournalError};

/// The leases, and which holding of each service the daemon acts on.
#[derive(Debug, Clone)]
pub struct DaemonHa {
    /// What this host holds.
    pub leases: Leases,
    /// The lease generation each service's drains were loaded under.
    active: BTreeMap<String, u64>,
    /// When the ingest's view of each service run elsewhere is next refreshed.
    views: BTreeMap<String, u64>,
}

impl DaemonHa {
    /// Over `leases`, acting on nothing yet.
    pub fn new(leases: Leases) -> DaemonHa {
        DaemonHa {
            leases,
            active: BTreeMap::new(),
            views: BTreeMap::new(),
        }
    }

    /// Whether the ingest's view of `key`, a service run by another host,
    /// is due for a refresh at `now` (every `interval` seconds); if so, the
    /// next one is scheduled.
    pub fn view_due(&mut self, key: &str, now: u64, interval: u64) -> bool {
        let due = self.views.get(key).is_none_or(|t| *t <= now);
        if due {
            self.views.insert(key.to_string(), now + interval.max(1));
        }
        due
    }

    /// Whether `svc` may run at `now`. A new holding loads the service's
    /// drains from `journal`; a lost one drops them and pushes the next tick on.
    pub fn gate(&mut self, svc: &mut Service, journal: &dyn Journal, now: u64) -> bool {
        let key = svc.key();
        match self.leases.held(&key) {
            Some(held) if self.active.get(&key) == Some(&held.generation) => true,
            Some(held) => match journal.unfinished_of(&key) {
                Ok(drains) => {
                    tracing::info!(service = %key, token = held.token, drains = drains.len(), "This host now holds the service's lease; resuming its drains from the journal.");
                    for wf in &drains {
                        tracing::info!(service = %wf.service, task = %wf.task_id, step = wf.step.name(), "Resuming a drain from the journal.");
                    }
                    svc.drains = drains;
                    svc.next_tick = svc.next_tick.min(now);
                    self.active.insert(key, held.generation);
                    true
                }
                Err(e) => {
                    tracing::warn!(service = %key, "Cannot read the service's drains from the journal; it stays idle until the next try: {e}");
                    self.idle(svc, now);
                    false
                }
            },
            None => {
                if self.active.remove(&key).is_some() {
                    tracing::warn!(service = %key, drains = svc.drains.len(), "This host no longer holds the service's lease; standing down (its drains stay in the journal for the holder).");
                    svc.drains.clear();
                }
                self.idle(svc, now);
                false
            }
        }
    }

    /// Handles a journal error of `svc`: a fenced or conflicting write means
    /// another host took the service over, so this one stands down and
    /// carries on with its other services. Any other error is returned.
    pub fn refused(
        &mut self,
        svc: &mut Service,
        e: JournalError,
        now: u64,
    ) -> Result<(), JournalError> {
        match e {
            JournalError::Fenced { .. } | JournalError::Conflict { .. } => {
                let key = svc.key();
                tracing::warn!(service = %key, "A journal write was refused by the fencing token; standing down without acting: {e}");
                self.leases.stand_down(&key);
                self.active.remove(&key);
                svc.drains.clear();
                self.idle(svc, now);
                Ok(())
            }
            other => Err(other),
        }
    }

    fn idle(&self, svc: &mut Service, now: u64) {
        if svc.next_tick <= now {
            svc.next_tick = now + svc.spec.interval.max(1);
        }
    }

    /// Who holds `service`, as far as this host knows.
    pub fn holder(&self, service: &str) -> Option<String> {
        self.leases.holder(service)
    }
}
