use std::path::Path;
use std::time::Duration;

use super::*;

#[test]
fn a_toml_scenario_fills_capacity_resolves_its_trace_and_syncs_the_delay() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("day.jsonl"),
        "{\"t\": 0, \"arrivals_per_min\": 3}\n",
    )
    .unwrap();
    let path = dir.path().join("shop.toml");
    let text = r#"
duration = "2h"
[sim]
session_capacity = 12
workload = { kind = "trace", path = "day.jsonl" }
[drain]
deregistration_delay = "90s"
[guard]
max = 30
[cost]
task_vcpu = 0.5
"#;
    let s = Scenario::parse_toml(text, &path).expect("parses");
    assert_eq!(s.name, "shop");
    assert_eq!(s.duration, Duration::from_secs(7200));
    assert_eq!(
        s.params.get("session-capacity"),
        Some(&ParamValue::Number(12.0))
    );
    assert_eq!(s.trace_file(), Some(&dir.path().join("day.jsonl")));
    assert_eq!(s.sim.deregistration_delay, Duration::from_secs(90));
    assert_eq!(s.cost.task_vcpu, 0.5);
    assert_eq!(s.cost.gb_hour, Pricing::default().gb_hour);
}

#[test]
fn toml_errors_name_the_file_and_the_field() {
    let path = Path::new("scenarios/bad.toml");
    let e = Scenario::parse_toml("duration = \"1h\"\n[sim]\ncapacity = 3\n", path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("scenarios/bad.toml") && e.contains("capacity"),
        "{e}"
    );
    let e = Scenario::parse_toml(
        "duration = \"1h\"\n[sim]\n[guard]\nmin = 5\nmax = 2\n",
        path,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("`guard.min`") && e.contains("lower min"), "{e}");
    let e = Scenario::parse_toml("duration = \"90s\"\n[sim]\n", path)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`duration`") && e.contains("whole minutes"),
        "{e}"
    );
    let e = Scenario::parse_toml("duration = \"1h\"\n[sim]\nsession_capacity = 0\n", path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`sim`") && e.contains("session_capacity"), "{e}");
    let e = Scenario::parse_toml("duration = \"1h\"\n[sim]\n[cost]\ngb_hour = -1\n", path)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`cost.gb_hour`"), "{e}");
}

#[test]
fn an_unknown_name_lists_the_built_ins() {
    let e = Scenario::resolve("no-such-scenario")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`no-such-scenario`"), "{e}");
    for name in builtin::NAMES {
        assert!(e.contains(name), "{e}");
    }
    assert!(e.contains("autoscaler scenarios"), "{e}");
}

#[test]
fn a_trace_file_lasts_as_long_as_the_trace_and_sizes_max_for_its_peak() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peak.jsonl");
    std::fs::write(
        &path,
        "{\"t\": 0, \"arrivals_per_min\": 10}\n{\"t\": 60, \"arrivals_per_min\": 100, \"mean_session_s\": 1800}\n{\"t\": 150, \"arrivals_per_min\": 5}\n",
    )
    .unwrap();
    let s = Scenario::resolve(path.to_str().unwrap()).expect("a trace scenario");
    assert_eq!(s.name, "peak");
    assert_eq!(
        s.duration,
        Duration::from_secs(240),
        "150 + 60, in whole minutes"
    );
    // 100/min for 30 min: 3000 sessions, 120 tasks at 25; twice that.
    assert_eq!(s.guard.max, 240);
    assert!(matches!(
        s.sim.workload,
        Workload::Trace { repeat: false, .. }
    ));
}

#[test]
fn a_bad_trace_line_names_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.jsonl");
    std::fs::write(
        &path,
        "{\"t\": 0, \"arrivals_per_min\": 1}\n{\"t\": 60, \"arrivals_per_min\": \"lots\"}\n",
    )
    .unwrap();
    let e = Scenario::resolve(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("broken.jsonl") && e.contains("line 2") && e.contains("`arrivals_per_min`"),
        "{e}"
    );
}

#[test]
fn overrides_replace_the_seed_duration_and_prices_and_are_checked() {
    let s = builtin::steady()
        .with_overrides(
            Some(99),
            Some(Duration::from_secs(7200)),
            &crate::backtest::scenario::PricingOverrides {
                vcpu_hour: Some(0.05),
                ..Default::default()
            },
        )
        .expect("valid");
    assert_eq!((s.world.seed, s.duration.as_secs()), (99, 7200));
    assert_eq!(s.cost.vcpu_hour, 0.05);
    let e = builtin::steady()
        .with_overrides(None, Some(Duration::from_secs(10)), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("`duration`"), "{e}");
}

#[test]
fn the_example_scenario_file_loads_with_its_trace() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios/lunch-rush.toml");
    let s = Scenario::resolve(path.to_str().unwrap()).expect("the shipped example is valid");
    assert_eq!(s.name, "lunch-rush");
    assert_eq!(s.duration, Duration::from_secs(12 * 3600));
    let trace = s.trace_file().expect("it replays a trace").clone();
    assert!(trace.ends_with("lunch-rush.jsonl"), "{}", trace.display());
    crate::sim::Trace::load(&trace, false).expect("the shipped trace parses");
}

#[test]
fn a_scenario_sets_the_load_balancer_and_replays_exact_sessions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("week.csv"),
        "start_s,duration_s,task_hint\n0,600,a\n30,7200,b\n3600,60,\n",
    )
    .unwrap();
    let path = dir.path().join("rdp.toml");
    let text = r#"
duration = "3h"
[sim]
load_balancer = "application"
routing = "least-outstanding"
session_length = { kind = "mixture", long_share = 0.1 }
workload = { kind = "sessions", path = "week.csv" }
"#;
    let s = Scenario::parse_toml(text, &path).expect("parses");
    assert_eq!(
        s.sim.load_balancer,
        crate::sim::SimLoadBalancer::Application
    );
    assert_eq!(s.sim.routing, crate::sim::SimRouting::LeastOutstanding);
    assert!(!s.sim.connection_termination);
    assert_eq!(s.trace_file(), Some(&dir.path().join("week.csv")));
    assert!(matches!(
        s.sim.session_length,
        crate::sim::SessionLength::Mixture { long_share, .. } if long_share == 0.1
    ));

    // A bare sessions file: it runs until a minute after the last start.
    let bare = Scenario::resolve(dir.path().join("week.csv").to_str().unwrap()).expect("resolves");
    assert_eq!(bare.duration, Duration::from_secs(3660));
    assert_eq!(bare.guard.max, 10, "two sessions at most at once");
    assert!(bare.description.contains("3 recorded sessions"));
    std::fs::write(dir.path().join("bad.csv"), "start_s,duration_s\n0,x\n").unwrap();
    let e = Scenario::resolve(dir.path().join("bad.csv").to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.csv") && e.contains("line 2") && e.contains("`duration_s`"),
        "{e}"
    );
}
