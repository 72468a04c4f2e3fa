//! The exact-sessions recorder: the session store's items, listed every
//! sampling interval, turned into one CSV line per session (see [`super`]).

use std::io::Write;

use tokio::sync::watch;

use super::drive_sampling;
use crate::backtest::BacktestError;
use crate::daemon::Daemon;
use crate::providers::{ProviderResult, ServiceRef};
use crate::sessions::SessionRecord;
use crate::sim::session_trace::{MAX_HINT_CHARS, MAX_SESSIONS};

/// What a sessions recording knows of one active session.
#[derive(Debug, Clone)]
struct Open {
    started_at: u64,
    expires_at: Option<u64>,
    hint: String,
}

/// Turns session store item lists into exact sessions (see the module docs).
#[derive(Debug)]
pub struct SessionsRecorder<W: Write> {
    out: W,
    /// The first read's time: `start_s` counts from it.
    origin: Option<u64>,
    /// Active sessions by (task, session ID).
    open: std::collections::HashMap<(String, String), Open>,
    /// Sessions written.
    pub written: u64,
    /// Sessions not followed because [`MAX_SESSIONS`] were active at once.
    pub dropped: u64,
    /// Reads that failed.
    pub failed_reads: u64,
}

impl<W: Write> SessionsRecorder<W> {
    /// A recorder writing to `out`; the header goes out at once.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        writeln!(out, "start_s,duration_s,task_hint")?;
        Ok(SessionsRecorder {
            out,
            origin: None,
            open: std::collections::HashMap::new(),
            written: 0,
            dropped: 0,
            failed_reads: 0,
        })
    }

    /// Takes one read of the store's items at `now`; `Err` is a failed read.
    pub fn observe(
        &mut self,
        now: u64,
        items: ProviderResult<Vec<SessionRecord>>,
    ) -> std::io::Result<()> {
        let items = match items {
            Ok(items) => items,
            Err(e) => {
                self.failed_reads += 1;
                tracing::warn!(error = %e, "Could not list the session store's items; sessions that ended meanwhile are written at the next good read.");
                return Ok(());
            }
        };
        let origin = *self.origin.get_or_insert(now);
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for r in items {
            if !r.is_active(now) {
                // Expired but not yet deleted: ended at its deadline, if we followed it.
                continue;
            }
            let key = (r.task_id, r.session_id);
            let full = self.open.len() >= MAX_SESSIONS;
            match self.open.get_mut(&key) {
                Some(o) => o.expires_at = r.expires_at,
                None if full => {
                    self.dropped += 1;
                    continue;
                }
                None => {
                    let hint = if key.0.len() <= MAX_HINT_CHARS
                        && key
                            .0
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
                    {
                        key.0.clone()
                    } else {
                        String::new()
                    };
                    self.open.insert(
                        key.clone(),
                        Open {
                            started_at: r.started_at.max(origin),
                            expires_at: r.expires_at,
                            hint,
                        },
                    );
                }
            }
            seen.insert(key);
        }
        let mut ended: Vec<(String, String)> = self
            .open
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        // Written in a stable order.
        ended.sort();
        for key in ended {
            if let Some(o) = self.open.remove(&key) {
                let end = o.expires_at.filter(|&d| d < now).unwrap_or(now);
                self.write(origin, &o, end)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, origin: u64, o: &Open, end: u64) -> std::io::Result<()> {
        let start = o.started_at.max(origin);
        let duration = end.saturating_sub(start).max(1);
        writeln!(self.out, "{},{},{}", start - origin, duration, o.hint)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the sessions still active as ending at `now`, flushes the
    /// output and returns it.
    pub fn finish(mut self, now: u64) -> std::io::Result<W> {
        if let Some(origin) = self.origin {
            let mut open: Vec<_> = std::mem::take(&mut self.open).into_iter().collect();
            open.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, o) in open {
                let end = o.expires_at.filter(|&d| d < now).unwrap_or(now);
                self.write(origin, &o, end)?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Runs `daemon` on the simulated cluster and records its service's exact
/// sessions every `sample` seconds, until `until` or `stop`. Returns the
/// time recording stopped.
pub async fn record_sessions<W: Write>(
    daemon: &mut Daemon<crate::providers::sim::SimProvider>,
    svc: &ServiceRef,
    recorder: &mut SessionsRecorder<W>,
    sample: u64,
    until: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, BacktestError> {
    let write_err = |source| BacktestError::Io {
        what: "cannot write the sessions",
        path: std::path::PathBuf::from("(the --out file)"),
        source,
    };
    daemon
        .provider
        .track_session_items(svc)
        .map_err(|e| BacktestError::Io {
            what: "cannot follow the service's sessions",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let sample = sample.max(1);
    drive_sampling(
        daemon,
        sample,
        until,
        &mut stop,
        async |d: &Daemon<_>, now| {
            recorder
                .observe(now, d.provider.session_items(svc))
                .map_err(write_err)
        },
    )
    .await
}
