//! The daemon loop's heartbeat: what it last said about itself, and whether
//! it is overdue (what `/healthz` answers). It lives with the events because
//! the event sink carries it from the loop to the HTTP endpoint; how the loop
//! builds one from its pacer is in [`crate::daemon::health`].

use std::time::{Duration, SystemTime};

/// The least wall-time interval liveness assumes: a fast simulation (or one
/// at speed 0, which does not sleep) would otherwise count any step that
/// takes a moment as a stall.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// How many intervals the loop may be late before it is not live.
pub const LATE_INTERVALS: u32 = 2;

/// What the daemon loop last said about itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    /// When (wall time) the loop last finished a step; none before the first.
    pub stepped_at: Option<SystemTime>,
    /// When (wall time) its next wake is due.
    pub due_at: SystemTime,
    /// The shortest service interval, in wall time (at least [`MIN_INTERVAL`]).
    pub interval: Duration,
    /// The pacer's time at the last step, in seconds.
    pub clock: u64,
}

impl Heartbeat {
    /// Why the loop is not live at wall time `now`, or none when it is.
    pub fn overdue(&self, now: SystemTime) -> Option<String> {
        let late = now.duration_since(self.due_at).ok()?;
        let limit = self.interval * LATE_INTERVALS;
        if late <= limit {
            return None;
        }
        let last = match self.stepped_at.and_then(|t| now.duration_since(t).ok()) {
            Some(ago) => format!("its last step finished {:.1} s ago", ago.as_secs_f64()),
            None => "it has not finished its first step".to_string(),
        };
        Some(format!(
            "the tick loop is overdue: its next step was due {:.1} s ago, more than {LATE_INTERVALS} intervals of {:.1} s; {last}. It is stalled (a slow policy compile, a hung provider call or a deadlock)",
            late.as_secs_f64(),
            self.interval.as_secs_f64(),
        ))
    }
}
