//! Typed events: one per thing that happens. Emitting an event writes its log
//! line and updates its metric in one place, so logs and `/metrics` never
//! disagree.
//!
//! The registry is hand-written rather than `prometheus-client`'s: every
//! family here is a counter keyed by a few string labels plus one histogram,
//! the metric names and label sets are already relied on by dashboards and
//! tests, and a backtest emits tens of thousands of events a second through
//! one lock. Every family is listed in [`FAMILIES`] with its `# HELP` text,
//! and the exposition writes `# HELP` and `# TYPE` for each one, with samples
//! or not. Other sources (the AWS call counter) add families with [`Collect`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::escape::Escaped;

pub mod heartbeat;
pub use heartbeat::Heartbeat;

/// Something that happened in the host.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A tick of a service finished.
    TickFinished {
        /// The service key.
        service: &'a str,
        /// `hold`, `scale-out` or `scale-in`.
        action: &'a str,
        /// The status line: counts, load and the reason.
        summary: &'a str,
    },
    /// Gathering a snapshot failed; the tick held.
    GatherFailed {
        /// The service key.
        service: &'a str,
        /// What failed.
        error: &'a str,
    },
    /// A policy was called.
    PolicyCalled {
        /// The service key.
        service: &'a str,
        /// How long the call took.
        elapsed: Duration,
    },
    /// A policy faulted; the tick held.
    PolicyFaulted {
        /// The service key.
        service: &'a str,
        /// The policy's name.
        policy: &'a str,
        /// The fault kind.
        kind: &'a str,
        /// The fault.
        message: &'a str,
        /// Whether it was a shadow policy.
        shadow: bool,
    },
    /// The guard changed a decision.
    GuardAdjusted {
        /// The service key.
        service: &'a str,
        /// The rule.
        rule: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// The desired count was set.
    DesiredSet {
        /// The service key.
        service: &'a str,
        /// The new desired count.
        desired: u32,
    },
    /// An action failed to execute.
    ActionFailed {
        /// The service key.
        service: &'a str,
        /// What failed.
        error: &'a str,
    },
    /// A drain step completed.
    DrainStep {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// The step.
        step: &'a str,
    },
    /// A drain step failed with a transient error; it is retried after a backoff.
    DrainRetried {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// The step that failed.
        step: &'a str,
        /// The error.
        error: &'a str,
    },
    /// A drain finished.
    DrainFinished {
        /// The service key.
        service: &'a str,
        /// The victim.
        task: &'a str,
        /// `stopped`, `aborted`, `uncordoned`, `rolled-back` or `roll-back-failed`.
        outcome: &'a str,
        /// Why, for aborts and roll-backs.
        detail: &'a str,
    },
    /// A busy task was cordoned: its cordon workflow started.
    Cordoned {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// `deregister` or `app`.
        mechanism: &'a str,
    },
    /// A cordoned task serves new sessions again (its cordon stepped back).
    Uncordoned {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A deregister-cordoned target was found registered again (by ECS or a
    /// person) and was deregistered again.
    ReDeregistered {
        /// The service key.
        service: &'a str,
        /// The task.
        task: &'a str,
        /// None when deregistered again; the error when that failed.
        error: Option<&'a str>,
    },
    /// How many tasks of the service are cordoned, at a tick (a gauge).
    CordonedTasks {
        /// The service key.
        service: &'a str,
        /// Tasks cordoned.
        count: u32,
    },
    /// The live policy kept faulting, so the fallback policy decided this tick.
    FallbackDecided {
        /// The service key.
        service: &'a str,
        /// The fallback policy's name.
        policy: &'a str,
        /// The live policy's faults among the last `window` ticks.
        faults: u32,
        /// The window, in ticks.
        window: u32,
    },
    /// A policy file was reloaded, or the reload was refused.
    PolicyReloaded {
        /// The service key.
        service: &'a str,
        /// The policy file.
        path: &'a str,
        /// None when swapped in; the error when refused.
        error: Option<&'a str>,
    },
}

const BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 1.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Every counter family the events update, with its `# HELP` text.
pub const FAMILIES: &[(&str, &str)] = &[
    ("autoscaler_ticks_total", "Ticks run, per service."),
    (
        "autoscaler_decisions_total",
        "Ticks by the action the guard allowed (hold, scale-out, scale-in).",
    ),
    (
        "autoscaler_gather_failures_total",
        "Ticks whose snapshot could not be gathered (the tick held).",
    ),
    (
        "autoscaler_policy_faults_total",
        "Policy faults, by policy, fault kind and role (live or shadow).",
    ),
    (
        "autoscaler_guard_adjustments_total",
        "Decisions the guard changed, by rule.",
    ),
    (
        "autoscaler_desired_changes_total",
        "Times the desired count was set.",
    ),
    (
        "autoscaler_action_failures_total",
        "Actions that failed to execute.",
    ),
    (
        "autoscaler_drain_steps_total",
        "Drain steps completed, by step.",
    ),
    (
        "autoscaler_drain_retries_total",
        "Drain steps that failed with a transient error and will be retried, by step.",
    ),
    (
        "autoscaler_drains_total",
        "Drains finished, by outcome (stopped, aborted, uncordoned, rolled-back, roll-back-failed).",
    ),
    (
        "autoscaler_cordons_total",
        "Busy tasks cordoned (cordon workflows started), by mechanism (deregister or app).",
    ),
    (
        "autoscaler_uncordons_total",
        "Cordoned tasks that serve new sessions again (a cordon stepped back).",
    ),
    (
        "autoscaler_re_deregistrations_total",
        "Deregister-cordoned targets found registered again and deregistered again, by result (ok or failed).",
    ),
    (
        "autoscaler_fallback_decisions_total",
        "Ticks decided by the fallback policy because the live policy kept faulting.",
    ),
    (
        "autoscaler_policy_reloads_total",
        "Policy file reloads, by result (swapped or refused).",
    ),
];

/// A source of metric families of its own (the AWS call counter), written
/// into `/metrics` after the events' own.
pub trait Collect: Send + Sync {
    /// Writes its families, each with `# HELP` and `# TYPE`, in the text format.
    fn collect(&self, out: &mut String);
}

/// Every gauge family, with its `# HELP` text.
pub const GAUGES: &[(&str, &str)] = &[(
    "autoscaler_cordoned_tasks",
    "Tasks cordoned at the service's last tick: they take no new sessions and wait for theirs to end.",
)];

#[derive(Default)]
struct Registry {
    counters: BTreeMap<(&'static str, String), u64>,
    gauges: BTreeMap<(&'static str, String), i64>,
    call_time: BTreeMap<String, Histogram>,
    heartbeat: Option<Heartbeat>,
    collectors: Vec<Arc<dyn Collect>>,
}

/// The event sink: logs and Prometheus metrics, and the daemon loop's
/// heartbeat (what `/healthz` reads). Cheap to clone.
#[derive(Clone, Default)]
pub struct Events {
    registry: Arc<Mutex<Registry>>,
    quiet: bool,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("quiet", &self.quiet)
            .finish_non_exhaustive()
    }
}

/// Labels in the exposition format: `k="v",...`, values escaped.
pub(crate) fn labels(pairs: &[(&str, &str)]) -> String {
    // One string, escaped in place: this runs several times a tick, and
    // backtests run tens of thousands of ticks a second.
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
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
        self.lock().collectors.push(source);
    }

    /// Publishes the daemon loop's heartbeat (see [`crate::daemon::health`]).
    pub fn beat(&self, heartbeat: Heartbeat) {
        self.lock().heartbeat = Some(heartbeat);
    }

    /// The daemon loop's last heartbeat; none before its first step.
    pub fn heartbeat(&self) -> Option<Heartbeat> {
        self.lock().heartbeat
    }

    /// Why the daemon loop is not live at wall time `now`, or none when it is
    /// (or has not started).
    pub fn overdue(&self, now: SystemTime) -> Option<String> {
        self.heartbeat().and_then(|h| h.overdue(now))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, name: &'static str, pairs: &[(&str, &str)]) {
        debug_assert!(
            FAMILIES.iter().any(|(f, _)| *f == name),
            "{name} is missing from FAMILIES, so /metrics would not show it"
        );
        let mut r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        *r.counters.entry((name, labels(pairs))).or_default() += 1;
    }

    /// Records one event.
    pub fn emit(&self, event: Event<'_>) {
        let loud = !self.quiet;
        match event {
            Event::TickFinished {
                service,
                action,
                summary,
            } => {
                self.count("autoscaler_ticks_total", &[("service", service)]);
                self.count(
                    "autoscaler_decisions_total",
                    &[("service", service), ("action", action)],
                );
                // Holds are the common case; actions are worth a line at info.
                let summary = Escaped(summary);
                if loud && action == "hold" {
                    tracing::debug!(service, action, "{summary}");
                } else if loud {
                    tracing::info!(service, action, "{summary}");
                }
            }
            Event::GatherFailed { service, error } => {
                self.count("autoscaler_gather_failures_total", &[("service", service)]);
                if loud {
                    tracing::warn!(
                        service,
                        "Could not gather a snapshot, so this tick holds: {}",
                        Escaped(error)
                    );
                }
            }
            Event::PolicyCalled { service, elapsed } => {
                let mut r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
                let h = r
                    .call_time
                    .entry(labels(&[("service", service)]))
                    .or_default();
                let secs = elapsed.as_secs_f64();
                for (i, b) in BUCKETS.iter().enumerate() {
                    if secs <= *b {
                        h.counts[i] += 1;
                    }
                }
                h.sum += secs;
                h.count += 1;
            }
            Event::PolicyFaulted {
                service,
                policy,
                kind,
                message,
                shadow,
            } => {
                let role = if shadow { "shadow" } else { "live" };
                self.count(
                    "autoscaler_policy_faults_total",
                    &[
                        ("service", service),
                        ("policy", policy),
                        ("kind", kind),
                        ("role", role),
                    ],
                );
                if loud {
                    tracing::warn!(
                        service,
                        policy = %Escaped(policy),
                        kind,
                        role,
                        "The {role} policy faulted and its decision is void: {}",
                        Escaped(message)
                    );
                }
            }
            Event::GuardAdjusted {
                service,
                rule,
                reason,
            } => {
                self.count(
                    "autoscaler_guard_adjustments_total",
                    &[("service", service), ("rule", rule)],
                );
                if loud {
                    tracing::debug!(
                        service,
                        rule,
                        "The guard adjusted the decision: {}",
                        Escaped(reason)
                    );
                }
            }
            Event::DesiredSet { service, desired } => {
                self.count("autoscaler_desired_changes_total", &[("service", service)]);
                if loud {
                    tracing::info!(service, desired, "Set the desired count to {desired}.");
                }
            }
            Event::ActionFailed { service, error } => {
                self.count("autoscaler_action_failures_total", &[("service", service)]);
                if loud {
                    tracing::warn!(
                        service,
                        "An action failed; the next tick decides again: {}",
                        Escaped(error)
                    );
                }
            }
            Event::DrainStep {
                service,
                task,
                step,
            } => {
                self.count(
                    "autoscaler_drain_steps_total",
                    &[("service", service), ("step", step)],
                );
                if loud {
                    let task = Escaped(task);
                    tracing::debug!(service, %task, step, "Drain step {step} done for task {task}.");
                }
            }
            Event::DrainRetried {
                service,
                task,
                step,
                error,
            } => {
                self.count(
                    "autoscaler_drain_retries_total",
                    &[("service", service), ("step", step)],
                );
                if loud {
                    let task = Escaped(task);
                    tracing::warn!(
                        service,
                        %task,
                        step,
                        "Drain step {step} failed for task {task}; retrying after a backoff: {}",
                        Escaped(error)
                    );
                }
            }
            Event::DrainFinished {
                service,
                task,
                outcome,
                detail,
            } => {
                self.count(
                    "autoscaler_drains_total",
                    &[("service", service), ("outcome", outcome)],
                );
                if loud {
                    let task = Escaped(task);
                    tracing::info!(
                        service,
                        %task,
                        outcome,
                        "Drain of task {task} finished: {outcome}. {}",
                        Escaped(detail)
                    );
                }
            }
            Event::Cordoned {
                service,
                task,
                mechanism,
            } => {
                self.count(
                    "autoscaler_cordons_total",
                    &[("service", service), ("mechanism", mechanism)],
                );
                if loud {
                    let task = Escaped(task);
                    tracing::info!(service, %task, mechanism, "Cordoned task {task} ({mechanism}): it takes no new sessions and stops once its sessions end.");
                }
            }
            Event::Uncordoned {
                service,
                task,
                reason,
            } => {
                self.count("autoscaler_uncordons_total", &[("service", service)]);
                if loud {
                    let task = Escaped(task);
                    tracing::info!(service, %task, "Uncordoned task {task}: it serves new sessions again. {}", Escaped(reason));
                }
            }
            Event::ReDeregistered {
                service,
                task,
                error,
            } => {
                let result = if error.is_some() { "failed" } else { "ok" };
                self.count(
                    "autoscaler_re_deregistrations_total",
                    &[("service", service), ("result", result)],
                );
                let task = Escaped(task);
                match error {
                    None if loud => {
                        tracing::warn!(service, %task, "The cordoned task {task}'s target was registered again (by ECS or a person); deregistered it again.")
                    }
                    Some(e) if loud => {
                        tracing::warn!(service, %task, "The cordoned task {task}'s target was registered again, and deregistering it again failed (retried next tick): {}", Escaped(e))
                    }
                    _ => {}
                }
            }
            Event::CordonedTasks { service, count } => {
                self.gauge(
                    "autoscaler_cordoned_tasks",
                    &[("service", service)],
                    i64::from(count),
                );
            }
            Event::FallbackDecided {
                service,
                policy,
                faults,
                window,
            } => {
                self.count(
                    "autoscaler_fallback_decisions_total",
                    &[("service", service), ("policy", policy)],
                );
                if loud {
                    let policy = Escaped(policy);
                    tracing::warn!(
                        service,
                        %policy,
                        faults,
                        "The live policy faulted on {faults} of the last {window} ticks, so the fallback policy {policy} decided this tick."
                    );
                }
            }
            Event::PolicyReloaded {
                service,
                path,
                error,
            } => {
                let result = if error.is_some() {
                    "refused"
                } else {
                    "swapped"
                };
                self.count(
                    "autoscaler_policy_reloads_total",
                    &[("service", service), ("result", result)],
                );
                let path = Escaped(path);
                match error {
                    None if loud => tracing::info!(
                        service,
                        %path,
                        "Reloaded the policy from {path}; it decides from the next tick on."
                    ),
                    Some(e) if loud => tracing::error!(
                        service,
                        %path,
                        "Refused the changed policy file {path}; the previous policy keeps running: {}",
                        Escaped(e)
                    ),
                    _ => {}
                }
            }
        }
    }

    fn gauge(&self, name: &'static str, pairs: &[(&str, &str)], value: i64) {
        debug_assert!(
            GAUGES.iter().any(|(f, _)| *f == name),
            "{name} is missing from GAUGES, so /metrics would not show it"
        );
        self.lock().gauges.insert((name, labels(pairs)), value);
    }

    /// A gauge's value, for tests; none before it was set.
    pub fn gauge_value(&self, name: &str, pairs: &[(&str, &str)]) -> Option<i64> {
        let r = self.lock();
        let want = labels(pairs);
        r.gauges
            .iter()
            .find(|((n, l), _)| *n == name && *l == want)
            .map(|(_, v)| *v)
    }

    /// A counter's value, for tests and summaries.
    pub fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let r = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let want = labels(pairs);
        r.counters
            .iter()
            .filter(|((n, l), _)| *n == name && *l == want)
            .map(|(_, v)| *v)
            .sum()
    }

    /// All metrics in the Prometheus text exposition format: every family
    /// with `# HELP` and `# TYPE`, even before it has a sample.
    pub fn prometheus(&self) -> String {
        let r = self.lock();
        let mut out = String::new();
        for (family, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} counter");
            for ((name, l), v) in r.counters.range((*family, String::new())..) {
                if name != family {
                    break;
                }
                let _ = writeln!(out, "{name}{{{l}}} {v}");
            }
        }
        for (family, help) in GAUGES {
            let _ = writeln!(out, "# HELP {family} {help}");
            let _ = writeln!(out, "# TYPE {family} gauge");
            for ((name, l), v) in r.gauges.range((*family, String::new())..) {
                if name != family {
                    break;
                }
                let _ = writeln!(out, "{name}{{{l}}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP autoscaler_policy_call_seconds Time of one policy decide call."
        );
        let _ = writeln!(out, "# TYPE autoscaler_policy_call_seconds histogram");
        for (l, h) in &r.call_time {
            for (b, c) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "autoscaler_policy_call_seconds_bucket{{{l},le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "autoscaler_policy_call_seconds_bucket{{{l},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "autoscaler_policy_call_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(
                out,
                "autoscaler_policy_call_seconds_count{{{l}}} {}",
                h.count
            );
        }
        for c in &r.collectors {
            c.collect(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_for_the_exposition_format() {
        assert_eq!(
            labels(&[("service", "c/s"), ("kind", "a\"b\\c\nd")]),
            "service=\"c/s\",kind=\"a\\\"b\\\\c\\nd\""
        );
        assert_eq!(labels(&[]), "");
    }

    #[test]
    fn events_update_counters_and_the_exposition() {
        let ev = Events::quiet();
        ev.emit(Event::TickFinished {
            service: "c/s",
            action: "hold",
            summary: "",
        });
        ev.emit(Event::TickFinished {
            service: "c/s",
            action: "hold",
            summary: "",
        });
        ev.emit(Event::PolicyCalled {
            service: "c/s",
            elapsed: Duration::from_micros(30),
        });
        ev.emit(Event::DrainFinished {
            service: "c/s",
            task: "t",
            outcome: "aborted",
            detail: "",
        });
        ev.emit(Event::DrainRetried {
            service: "c/s",
            task: "t",
            step: "deregister",
            error: "throttled",
        });
        assert_eq!(
            ev.counter("autoscaler_ticks_total", &[("service", "c/s")]),
            2
        );
        assert_eq!(
            ev.counter(
                "autoscaler_drain_retries_total",
                &[("service", "c/s"), ("step", "deregister")]
            ),
            1
        );
        let text = ev.prometheus();
        for (family, _) in FAMILIES {
            assert!(text.contains(&format!("# HELP {family} ")), "{text}");
            assert!(text.contains(&format!("# TYPE {family} counter")), "{text}");
        }
        assert!(
            text.contains("# HELP autoscaler_drain_retries_total Drain steps that failed"),
            "{text}"
        );
        assert!(
            text.contains("autoscaler_decisions_total{service=\"c/s\",action=\"hold\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("autoscaler_drains_total{service=\"c/s\",outcome=\"aborted\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"0.00005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"0.000025\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains("autoscaler_policy_call_seconds_count{service=\"c/s\"} 1"),
            "{text}"
        );
    }
}
