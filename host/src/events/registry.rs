//! The metrics the events update, in a `prometheus-client` registry: one
//! family per metric, each with its `# HELP` text and typed labels.
//!
//! The names are the exposed ones: `prometheus-client` appends `_total` to a
//! counter's name and `.` to its help, so [`counter`] takes the full name and
//! the help without its period, and the exposition shows both as written here.

use std::fmt::Debug;
use std::hash::Hash;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::event::Event;

/// The upper bounds of `autoscaler_policy_call_seconds`' buckets: a policy
/// call takes tens of microseconds, a slow one milliseconds.
const BUCKETS: [f64; 14] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 1.0,
];

/// The labels of a family counted per service.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: String,
}

fn per_service(service: &str) -> ServiceLabels {
    ServiceLabels {
        service: service.to_string(),
    }
}

/// `service` and the action the guard allowed.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    service: String,
    action: String,
}

/// A policy fault's labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    service: String,
    policy: String,
    kind: String,
    role: String,
}

/// `service` and the guard rule.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    service: String,
    rule: String,
}

/// `service` and the drain step.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    service: String,
    step: String,
}

/// `service` and how a drain finished.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    service: String,
    outcome: String,
}

/// `service` and the cordon mechanism.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MechanismLabels {
    service: String,
    mechanism: String,
}

/// `service` and the result of an attempt (`ok`/`failed`, `swapped`/`refused`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    service: String,
    result: &'static str,
}

/// `service` and the fallback policy.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    service: String,
    policy: String,
}

type Counters<L> = Family<L, Counter>;

/// A family that is listed in the exposition (`# HELP`, `# TYPE`) even
/// before it has a sample, so a scrape shows every metric this host has;
/// `prometheus-client` leaves empty families out.
#[derive(Debug)]
struct Listed<M>(M);

impl<M: EncodeMetric> EncodeMetric for Listed<M> {
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        self.0.metric_type()
    }
}

/// Registers a counter family named `name` (ending in `_total`, as exposed).
fn counter<L>(registry: &mut Registry, name: &str, help: &str) -> Counters<L>
where
    L: EncodeLabelSet + Clone + Hash + Eq + Debug + Send + Sync + 'static,
{
    let family = Counters::<L>::default();
    let stem = name
        .strip_suffix("_total")
        .expect("a counter's exposed name ends in _total");
    registry.register(stem, help, Listed(family.clone()));
    family
}

fn call_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// Every metric family the events update, and the registry that exposes them.
pub(super) struct Metrics {
    pub(super) registry: Registry,
    ticks: Counters<ServiceLabels>,
    decisions: Counters<ActionLabels>,
    gather_failures: Counters<ServiceLabels>,
    policy_faults: Counters<FaultLabels>,
    guard_adjustments: Counters<RuleLabels>,
    desired_changes: Counters<ServiceLabels>,
    action_failures: Counters<ServiceLabels>,
    drain_steps: Counters<StepLabels>,
    drain_retries: Counters<StepLabels>,
    drains: Counters<OutcomeLabels>,
    cordons: Counters<MechanismLabels>,
    uncordons: Counters<ServiceLabels>,
    re_deregistrations: Counters<ResultLabels>,
    fallback_decisions: Counters<PolicyLabels>,
    policy_reloads: Counters<ResultLabels>,
    cordoned_tasks: Family<ServiceLabels, Gauge>,
    call_seconds: Family<ServiceLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let mut metrics = Metrics {
            registry: Registry::default(),
            ticks: counter(r, "autoscaler_ticks_total", "Ticks run, per service"),
            decisions: counter(
                r,
                "autoscaler_decisions_total",
                "Ticks by the action the guard allowed (hold, scale-out, scale-in)",
            ),
            gather_failures: counter(
                r,
                "autoscaler_gather_failures_total",
                "Ticks whose snapshot could not be gathered (the tick held)",
            ),
            policy_faults: counter(
                r,
                "autoscaler_policy_faults_total",
                "Policy faults, by policy, fault kind and role (live or shadow)",
            ),
            guard_adjustments: counter(
                r,
                "autoscaler_guard_adjustments_total",
                "Decisions the guard changed, by rule",
            ),
            desired_changes: counter(
                r,
                "autoscaler_desired_changes_total",
                "Times the desired count was set",
            ),
            action_failures: counter(
                r,
                "autoscaler_action_failures_total",
                "Actions that failed to execute",
            ),
            drain_steps: counter(
                r,
                "autoscaler_drain_steps_total",
                "Drain steps completed, by step",
            ),
            drain_retries: counter(
                r,
                "autoscaler_drain_retries_total",
                "Drain steps that failed with a transient error and will be retried, by step",
            ),
            drains: counter(
                r,
                "autoscaler_drains_total",
                "Drains finished, by outcome (stopped, aborted, uncordoned, rolled-back, roll-back-failed)",
            ),
            cordons: counter(
                r,
                "autoscaler_cordons_total",
                "Busy tasks cordoned (cordon workflows started), by mechanism (deregister or app)",
            ),
            uncordons: counter(
                r,
                "autoscaler_uncordons_total",
                "Cordoned tasks that serve new sessions again (a cordon stepped back)",
            ),
            re_deregistrations: counter(
                r,
                "autoscaler_re_deregistrations_total",
                "Deregister-cordoned targets found registered again and deregistered again, by result (ok or failed)",
            ),
            fallback_decisions: counter(
                r,
                "autoscaler_fallback_decisions_total",
                "Ticks decided by the fallback policy because the live policy kept faulting",
            ),
            policy_reloads: counter(
                r,
                "autoscaler_policy_reloads_total",
                "Policy file reloads, by result (swapped or refused)",
            ),
            cordoned_tasks: Family::default(),
            call_seconds: Family::new_with_constructor(call_histogram),
        };
        r.register(
            "autoscaler_cordoned_tasks",
            "Tasks cordoned at the service's last tick: they take no new sessions and wait for theirs to end",
            Listed(metrics.cordoned_tasks.clone()),
        );
        r.register(
            "autoscaler_policy_call_seconds",
            "Time of one policy decide call",
            Listed(metrics.call_seconds.clone()),
        );
        metrics.registry = registry;
        metrics
    }
}

impl Metrics {
    /// Updates the metric of `event`.
    pub(super) fn record(&self, event: &Event<'_>) {
        match *event {
            Event::TickFinished {
                service, action, ..
            } => {
                self.ticks.get_or_create(&per_service(service)).inc();
                let labels = ActionLabels {
                    service: service.to_string(),
                    action: action.name().to_string(),
                };
                self.decisions.get_or_create(&labels).inc();
            }
            Event::GatherFailed { service, .. } => {
                self.gather_failures
                    .get_or_create(&per_service(service))
                    .inc();
            }
            Event::PolicyCalled { service, elapsed } => {
                self.call_seconds
                    .get_or_create(&per_service(service))
                    .observe(elapsed.as_secs_f64());
            }
            Event::PolicyFaulted {
                service,
                policy,
                kind,
                shadow,
                ..
            } => {
                let labels = FaultLabels {
                    service: service.to_string(),
                    policy: policy.to_string(),
                    kind: kind.to_string(),
                    role: if shadow { "shadow" } else { "live" }.to_string(),
                };
                self.policy_faults.get_or_create(&labels).inc();
            }
            Event::GuardAdjusted { service, rule, .. } => {
                let labels = RuleLabels {
                    service: service.to_string(),
                    rule: rule.name().to_string(),
                };
                self.guard_adjustments.get_or_create(&labels).inc();
            }
            Event::DesiredSet { service, .. } => {
                self.desired_changes
                    .get_or_create(&per_service(service))
                    .inc();
            }
            Event::ActionFailed { service, .. } => {
                self.action_failures
                    .get_or_create(&per_service(service))
                    .inc();
            }
            Event::DrainStep { service, step, .. } => {
                let labels = StepLabels {
                    service: service.to_string(),
                    step: step.to_string(),
                };
                self.drain_steps.get_or_create(&labels).inc();
            }
            Event::DrainRetried { service, step, .. } => {
                let labels = StepLabels {
                    service: service.to_string(),
                    step: step.to_string(),
                };
                self.drain_retries.get_or_create(&labels).inc();
            }
            Event::DrainFinished {
                service, outcome, ..
            } => {
                let labels = OutcomeLabels {
                    service: service.to_string(),
                    outcome: outcome.to_string(),
                };
                self.drains.get_or_create(&labels).inc();
            }
            Event::Cordoned {
                service, mechanism, ..
            } => {
                let labels = MechanismLabels {
                    service: service.to_string(),
                    mechanism: mechanism.to_string(),
                };
                self.cordons.get_or_create(&labels).inc();
            }
            Event::Uncordoned { service, .. } => {
                self.uncordons.get_or_create(&per_service(service)).inc();
            }
            Event::ReDeregistered { service, error, .. } => {
                let labels = ResultLabels {
                    service: service.to_string(),
                    result: if error.is_some() { "failed" } else { "ok" },
                };
                self.re_deregistrations.get_or_create(&labels).inc();
            }
            Event::CordonedTasks { service, count } => {
                self.cordoned_tasks
                    .get_or_create(&per_service(service))
                    .set(i64::from(count));
            }
            Event::FallbackDecided {
                service, policy, ..
            } => {
                let labels = PolicyLabels {
                    service: service.to_string(),
                    policy: policy.to_string(),
                };
                self.fallback_decisions.get_or_create(&labels).inc();
            }
            Event::PolicyReloaded { service, error, .. } => {
                let labels = ResultLabels {
                    service: service.to_string(),
                    result: if error.is_some() {
                        "refused"
                    } else {
                        "swapped"
                    },
                };
                self.policy_reloads.get_or_create(&labels).inc();
            }
        }
    }
}
