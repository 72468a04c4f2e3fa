//! A live policy that keeps faulting: after `fallback_after` faults among
//! the last `fallback_window` ticks a fallback policy decides, the records
//! say so, and a new live policy takes over again at once.

use std::path::Path;

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::config::{Config, Fallback};
use autoscaler::runtime::{FaultKind, Policy};
use autoscaler::tick::guard::Action;
use test_policy_artifacts::{ADVERSARIAL_ENDLESS_LOOP, ADVERSARIAL_FLAPPING};

use crate::sim_run::{SimRun, config, step_up};

const HOUR: u64 = 3600;

/// The step-up scenario with an endlessly looping live policy.
fn looping_live_policy(fallback: &str) -> String {
    step_up(ADVERSARIAL_ENDLESS_LOOP, fallback)
}

#[tokio::test]
async fn an_endlessly_looping_policy_falls_back_to_session_aware_after_three_faults() {
    let mut run = SimRun::new(&looping_live_policy(&format!(
        "fallback = {{ policy = \"{SESSION_AWARE}\" }}\nfallback_after = 3"
    )));
    run.run_until(2 * HOUR).await;
    let records = run.records();
    assert_eq!(records.len(), 120);
    for r in &records[..2] {
        assert_eq!(r.fault.as_ref().map(|f| f.kind), Some(FaultKind::Timeout));
        assert!(r.fallback.is_none() && r.decision.is_none(), "{r:?}");
        assert_eq!(r.action, Action::Hold);
    }
    for (i, r) in records.iter().enumerate().skip(2) {
        // The live policy is still asked (and still loops); the fallback decides.
        assert_eq!(r.fault.as_ref().map(|f| f.kind), Some(FaultKind::Timeout));
        let fb = r.fallback.as_ref().expect("the fallback decided");
        assert_eq!(fb.policy.name, "session-aware");
        assert_eq!(fb.after_faults, i as u32 + 1);
        assert!(fb.fault.is_none());
        assert!(r.decision.is_some());
        assert!(
            r.reason().starts_with("fallback session-aware after"),
            "{}",
            r.reason()
        );
    }
    assert!(
        records
            .iter()
            .any(|r| matches!(r.action, Action::ScaleOut { .. }) && r.fallback.is_some()),
        "the fallback scaled out after the step"
    );
    assert!(run.stats().desired > 2);
    let events = &run.daemon.events;
    assert_eq!(
        events.counter(
            "autoscaler_fallback_decisions_total",
            &[("service", "e2e/web"), ("policy", "session-aware")]
        ),
        118
    );
    // The decision log says which policy decided.
    let log = std::fs::read_to_string(run.dir.path().join("state/decisions.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["fallback"]["policy"]["name"], "session-aware");
    assert_eq!(last["policy"]["name"], "adversarial-endless-loop");

    // The live policy recovers (as a hot reload would make it): it decides again at once.
    let engine = run.daemon.engine.clone();
    let good = engine.load_file(Path::new(TARGET_TRACKING)).unwrap();
    run.daemon.services[0].policy = Policy::new(engine, good);
    run.run_until(2 * HOUR + 600).await;
    let after = &run.records()[120..];
    assert!(!after.is_empty());
    for r in after {
        assert!(r.fault.is_none() && r.fallback.is_none(), "{r:?}");
        assert!(r.decision.is_some());
    }
}

#[tokio::test]
async fn a_policy_that_faults_every_other_tick_trips_the_fallback() {
    let mut run = SimRun::new(&step_up(
        ADVERSARIAL_FLAPPING,
        &format!(
            "fallback = {{ policy = \"{SESSION_AWARE}\" }}\nfallback_after = 3\nfallback_window = 6"
        ),
    ));
    run.run_until(HOUR).await;
    let records = run.records();
    assert_eq!(records.len(), 60);
    // Never two faults in a row, so a rule of consecutive faults never trips.
    assert!(
        records
            .windows(2)
            .all(|w| w[0].fault.is_none() || w[1].fault.is_none())
    );
    for r in &records[..4] {
        assert!(r.fallback.is_none(), "{r:?}");
    }
    // From the third fault within six ticks on, the fallback decides every
    // tick, also the ticks the live policy answers (its answer is overruled).
    for r in &records[5..] {
        let fb = r.fallback.as_ref().expect("the fallback decides");
        assert_eq!(fb.policy.name, "session-aware");
        assert_eq!((fb.recent_faults, fb.window), (3, 6), "{r:?}");
        assert_eq!(fb.overruled.is_some(), r.fault.is_none(), "{r:?}");
        assert!(
            r.decision
                .as_ref()
                .is_some_and(|d| !d.reason.contains("minute"))
        );
    }
    let answered = records[5..].iter().find(|r| r.fault.is_none()).unwrap();
    assert!(
        answered.reason().starts_with(
            "fallback session-aware: the live policy faulted on 3 of the last 6 ticks: "
        ),
        "{}",
        answered.reason()
    );
    assert!(
        run.stats().desired > 2,
        "the fallback scaled out after the step"
    );
}

#[tokio::test]
async fn without_a_fallback_every_faulted_tick_holds() {
    let mut run = SimRun::new(&looping_live_policy("fallback = \"hold\""));
    run.run_until(HOUR).await;
    let records = run.records();
    assert!(
        records
            .iter()
            .all(|r| r.action == Action::Hold && r.fallback.is_none() && r.fault.is_some())
    );
    assert_eq!(run.stats().set_desired_calls, 0);
}

#[test]
fn the_fallback_setting_parses_and_bad_values_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let parse =
        |body: &str| Config::parse(&config(SESSION_AWARE, body), &dir.path().join("f.toml"));
    assert_eq!(parse("").unwrap().services[0].fallback, Fallback::Hold);
    assert_eq!(parse("").unwrap().services[0].fallback_after, 3);
    let cfg = parse(&format!(
        "fallback = {{ policy = \"{TARGET_TRACKING}\" }}\nfallback_after = 5"
    ))
    .unwrap();
    assert_eq!(
        cfg.services[0].fallback,
        Fallback::Policy(TARGET_TRACKING.into())
    );
    assert_eq!(cfg.services[0].fallback_after, 5);
    for (body, want) in [
        (
            "fallback = \"panic\"",
            "expected \"hold\" or a table { policy = \"fallback.wasm\" }",
        ),
        ("fallback = { polcy = \"x.wasm\" }", "unknown field `polcy`"),
        (
            "fallback_after = 0",
            "field `service[0].fallback_after`: expected at least 1",
        ),
        (
            "fallback_after = 4\nfallback_window = 3",
            "field `service[0].fallback_window`: expected at least fallback_after (4) ticks, got 3",
        ),
        (
            "fallback = { policy = \"/nonexistent/f.wasm\" }",
            "field `service[0].fallback.policy`: policy file /nonexistent/f.wasm does not exist",
        ),
    ] {
        let err = parse(body).expect_err(body).to_string();
        assert!(err.contains(want), "{body}: {err}");
        assert!(err.contains("f.toml"), "{body} names the file: {err}");
    }
}
