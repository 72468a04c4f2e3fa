//! Typed events: one per thing that happens. Emitting an event writes its log
//! line and updates its metric in one place, so logs and `/metrics` never
//! disagree.
//!
//! - [`event`]: the [`Event`] type and its fields;
//! - `log`: each event's log line;
//! - `registry`: the metric families (`prometheus-client`), each with its
//!   `# HELP` text;
//! - `exposition`: `/metrics` in the Prometheus text format, with the
//!   families of other sources ([`Collect`]: the AWS call counter, the leases);
//! - [`heartbeat`]: the daemon loop's heartbeat, which `/healthz` reads.

use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;

pub mod event;
mod exposition;
pub mod heartbeat;
mod log;
mod registry;

pub use event::Event;
pub(crate) use exposition::labels;
pub use exposition::{CONTENT_TYPE, Collect};
pub use heartbeat::Heartbeat;

/// What the event sink holds besides its metrics.
#[derive(Default)]
struct Shared {
    heartbeat: Option<Heartbeat>,
    collectors: Vec<Arc<dyn Collect>>,
}

/// The event sink: logs and Prometheus metrics, and the daemon loop's
/// heartbeat (what `/healthz` reads). Cheap to clone.
#[derive(Clone, Default)]
pub struct Events {
    metrics: Arc<registry::Metrics>,
    shared: Arc<Mutex<Shared>>,
    quiet: bool,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

impl Events {
    /// Events that log and count.
    pub fn new() -> Self {
        Events::default()
    }

    /// Events that only count (backtests run millions of ticks).
    pub fn quiet() -> Self {
        Events {
            quiet: true,
            ..Events::default()
        }
    }

    /// Whether events only count (no log lines), as in backtests.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Adds a source of metric families to `/metrics`.
    pub fn collect_from(&self, source: Arc<dyn Collect>) {
        self.shared.lock().collectors.push(source);
    }

    /// Publishes the daemon loop's heartbeat (see [`crate::daemon::health`]).
    pub fn beat(&self, heartbeat: Heartbeat) {
        self.shared.lock().heartbeat = Some(heartbeat);
    }

    /// The daemon loop's last heartbeat; none before its first step.
    pub fn heartbeat(&self) -> Option<Heartbeat> {
        self.shared.lock().heartbeat
    }

    /// Why the daemon loop is not live at wall time `now`, or none when it is
    /// (or has not started).
    pub fn overdue(&self, now: SystemTime) -> Option<String> {
        self.heartbeat().and_then(|h| h.overdue(now))
    }

    /// Records one event: its metric, and its log line unless quiet.
    pub fn emit(&self, event: Event<'_>) {
        self.metrics.record(&event);
        if !self.quiet {
            log::log(&event);
        }
    }

    /// A gauge's value, for tests; none before it was set.
    pub fn gauge_value(&self, name: &str, pairs: &[(&str, &str)]) -> Option<i64> {
        exposition::sample(&self.prometheus(), name, pairs).map(|v| v as i64)
    }

    /// A counter's value (0 before it was counted), for tests and summaries.
    pub fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        exposition::sample(&self.prometheus(), name, pairs).map_or(0, |v| v as u64)
    }

    /// All metrics in the Prometheus text exposition format ([`CONTENT_TYPE`]):
    /// every family with `# HELP` and `# TYPE`, even before it has a sample.
    pub fn prometheus(&self) -> String {
        let collectors = self.shared.lock().collectors.clone();
        exposition::text(&self.metrics, &collectors)
    }
}

#[cfg(test)]
mod tests;
