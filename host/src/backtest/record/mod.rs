//! Recording live traffic as a trace the sim can replay (the format of
//! [`crate::sim`]'s `trace` workload): one line per minute with the
//! arrivals seen in that minute and an estimate of the mean session length.
//!
//! The recorder reads only the [`Sessions`] trait (active sessions per task,
//! the daemon's own view), so it works the same against the simulated
//! cluster and against AWS's session store. Sessions carry no ID through
//! that trait, so arrivals and lengths are derived from counts:
//!
//! - **arrivals**: every `sample` seconds (default 10 s) the per-task counts
//!   are read, and each task's increase since the last read counts as
//!   arrivals (a task seen for the first time contributes all its sessions;
//!   sessions active when recording starts are not arrivals). A session that
//!   starts while another ends on the same task between two reads cancels
//!   out. With arrivals spread over the tasks (as a load balancer does),
//!   each of an interval's `n` observed increases hid about `c / W` more,
//!   where `c = s̄ × dt` (`s̄` the mean sessions per busy task, `dt` the
//!   interval) and `W` the mean session length: 11 % for 20 sessions of 30
//!   minutes read every 10 s. So a minute's arrivals are `n + C / W`, with
//!   `C = Σ n × c` over its intervals. Reading more often shrinks `C`.
//! - **mean session length**: Little's law, `L = λ W`, over a trailing window
//!   (default 1 hour): the window's session-seconds `S` (active sessions
//!   integrated over time, trapezoid rule between reads) equal `W` times its
//!   arrivals `N + C / W`, so `W = (S − C) / N`. The first estimate needs a
//!   full window and at least 10 observed arrivals; the lines before it are
//!   written once it exists, with it (a recording shorter than the window
//!   uses its best partial estimate, or none: then the lines carry no
//!   `mean_session_s`, no correction is made, and the replay's
//!   `session_mean` applies). After a quiet window the previous estimate
//!   stands. It is exact for steady traffic and lags where the rate changes
//!   quickly.
//! - **refused sessions are invisible**: they never reach the session store,
//!   so a trace recorded from an under-provisioned service understates its
//!   demand.
//!
//! A read that fails leaves a gap: the next good read counts the increases
//! since the last good one.
//!
//! # Exact sessions
//!
//! [`SessionsRecorder`] writes the exact-sessions format instead (CSV, one
//! session per line: `start_s,duration_s,task_hint`, see [`crate::sim`]),
//! from the session store's **items**: every `sample` seconds it lists the
//! service's items. A session's start is its item's stored start time; its
//! end is its heartbeat deadline once that has passed, or else the first
//! read that no longer lists the item (so an end is late by at most one
//! sampling interval). `start_s` counts from the first read; a session
//! already active then is written as starting at 0 with what remained of
//! it, and a session still active when recording stops is written as
//! ending then, so a replay carries exactly the load seen while recording.
//! `task_hint` is the item's task ID (left empty when it is not a plain
//! ID). A read that fails ends nothing; the next good one catches up.

mod sessions;
#[cfg(test)]
mod tests;
mod trace;

use tokio::sync::watch;

use super::BacktestError;
use crate::daemon::Daemon;
use crate::providers::Provider;
pub use sessions::{SessionsRecorder, record_sessions};
pub use trace::{TraceRecorder, record};

/// The fewest arrivals in the window for a mean-length estimate.
pub const MIN_ARRIVALS_FOR_MEAN: f64 = 10.0;

/// Sampling intervals that divide a minute evenly, in seconds.
pub const VALID_SAMPLES: [u64; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/// Runs `daemon` and calls `observe` every `sample` seconds (once at the
/// start, and once more as it stops, so the last interval closes), until
/// `until` (virtual or Unix time) or `stop` turns true. Saves the daemon's
/// state at the end and returns the time it stopped.
async fn drive_sampling<P: Provider>(
    daemon: &mut Daemon<P>,
    sample: u64,
    until: Option<u64>,
    stop: &mut watch::Receiver<bool>,
    mut observe: impl AsyncFnMut(&Daemon<P>, u64) -> Result<(), BacktestError>,
) -> Result<u64, BacktestError> {
    let mut next_sample = daemon.pacer.now();
    loop {
        let now = daemon.pacer.now();
        if now >= next_sample {
            observe(daemon, now).await?;
            next_sample = (now / sample + 1) * sample;
        }
        if *stop.borrow() || until.is_some_and(|u| now >= u) {
            break;
        }
        daemon.step().await?;
        let next = daemon
            .next_wake()
            .min(next_sample)
            .min(until.unwrap_or(u64::MAX))
            .max(now + 1);
        let pacer = daemon.pacer.clone();
        tokio::select! {
            _ = pacer.wait_until(next) => {}
            _ = stop.changed() => {}
        }
    }
    daemon.save_state();
    let _ = daemon.sink.flush();
    Ok(daemon.pacer.now())
}
