use std::time::Duration;

use super::*;
use crate::tick::guard::Action;
use crate::tick::outcome::DrainEnd;
use crate::workflow::StepKind;

/// Every family the events expose, as named before `prometheus-client`
/// (dashboards and docs rely on them), with its type.
const FAMILIES: &[(&str, &str)] = &[
    ("autoscaler_ticks_total", "counter"),
    ("autoscaler_decisions_total", "counter"),
    ("autoscaler_gather_failures_total", "counter"),
    ("autoscaler_policy_faults_total", "counter"),
    ("autoscaler_guard_adjustments_total", "counter"),
    ("autoscaler_desired_changes_total", "counter"),
    ("autoscaler_action_failures_total", "counter"),
    ("autoscaler_drain_steps_total", "counter"),
    ("autoscaler_drain_retries_total", "counter"),
    ("autoscaler_drains_total", "counter"),
    ("autoscaler_cordons_total", "counter"),
    ("autoscaler_uncordons_total", "counter"),
    ("autoscaler_re_deregistrations_total", "counter"),
    ("autoscaler_fallback_decisions_total", "counter"),
    ("autoscaler_policy_reloads_total", "counter"),
    ("autoscaler_cordoned_tasks", "gauge"),
    ("autoscaler_policy_call_seconds", "histogram"),
];

#[test]
fn label_values_are_escaped_for_the_exposition_format() {
    assert_eq!(
        labels(&[("service", "c/s"), ("kind", "a\"b\\c\nd")]),
        "service=\"c/s\",kind=\"a\\\"b\\\\c\\nd\""
    );
    assert_eq!(labels(&[]), "");
}

#[test]
fn every_family_keeps_its_name_and_type_and_has_help() {
    let text = Events::quiet().prometheus();
    for (family, kind) in FAMILIES {
        let help = format!("# HELP {family} ");
        let help = text
            .lines()
            .find(|l| l.starts_with(&help))
            .unwrap_or_else(|| {
                panic!("{family} has no HELP:\n{text}");
            });
        assert!(help.ends_with('.') && !help.ends_with(".."), "{help}");
        assert!(
            text.contains(&format!("\n# TYPE {family} {kind}\n")),
            "{text}"
        );
    }
    assert_eq!(text.matches("# HELP ").count(), FAMILIES.len(), "{text}");
}

#[test]
fn events_update_counters_and_the_exposition() {
    let ev = Events::quiet();
    for _ in 0..2 {
        ev.emit(Event::TickFinished {
            service: "c/s",
            action: &Action::Hold,
            summary: "",
        });
    }
    ev.emit(Event::PolicyCalled {
        service: "c/s",
        elapsed: Duration::from_micros(30),
    });
    ev.emit(Event::DrainFinished {
        service: "c/s",
        task: "t",
        outcome: DrainEnd::Aborted,
        detail: "",
    });
    ev.emit(Event::DrainRetried {
        service: "c/s",
        task: "t",
        step: StepKind::Deregister,
        error: "throttled",
    });
    ev.emit(Event::PolicyFaulted {
        service: "c/s",
        policy: "p\"1",
        kind: crate::runtime::FaultKind::Trap,
        message: "",
        shadow: true,
    });
    ev.emit(Event::CordonedTasks {
        service: "c/s",
        count: 3,
    });
    assert_eq!(
        ev.counter("autoscaler_ticks_total", &[("service", "c/s")]),
        2
    );
    assert_eq!(
        ev.counter("autoscaler_ticks_total", &[("service", "other")]),
        0
    );
    assert_eq!(
        ev.counter(
            "autoscaler_drain_retries_total",
            &[("service", "c/s"), ("step", "deregister")]
        ),
        1
    );
    assert_eq!(
        ev.gauge_value("autoscaler_cordoned_tasks", &[("service", "c/s")]),
        Some(3)
    );
    assert_eq!(
        ev.gauge_value("autoscaler_cordoned_tasks", &[("service", "x")]),
        None
    );
    let text = ev.prometheus();
    for line in [
        "# HELP autoscaler_drain_retries_total Drain steps that failed with a transient error and will be retried, by step.",
        "# TYPE autoscaler_drain_retries_total counter",
        "autoscaler_decisions_total{service=\"c/s\",action=\"hold\"} 2",
        "autoscaler_drains_total{service=\"c/s\",outcome=\"aborted\"} 1",
        "autoscaler_policy_faults_total{service=\"c/s\",policy=\"p\\\"1\",kind=\"trap\",role=\"shadow\"} 1",
        "autoscaler_cordoned_tasks{service=\"c/s\"} 3",
        // `le` as Go's `%g` writes it, as other Prometheus clients do.
        "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"2.5e-05\"} 0",
        "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"5e-05\"} 1",
        "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"1\"} 1",
        "autoscaler_policy_call_seconds_bucket{service=\"c/s\",le=\"+Inf\"} 1",
        "autoscaler_policy_call_seconds_count{service=\"c/s\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
    }
}

#[test]
fn other_sources_follow_the_events_own_families() {
    struct Leases;
    impl Collect for Leases {
        fn collect(&self, out: &mut String) {
            out.push_str("# HELP x_held Held.\n# TYPE x_held gauge\nx_held 1\n");
        }
    }
    let ev = Events::quiet();
    ev.collect_from(Arc::new(Leases));
    let text = ev.prometheus();
    assert!(text.ends_with("x_held 1\n"), "{text}");
    assert!(text.starts_with("# HELP autoscaler_"), "{text}");
}
