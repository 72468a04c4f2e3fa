//! Hot reload during a run: a new policy file changes decisions without a
//! restart; a broken file is refused and the old policy keeps running.

use std::time::Duration;

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::runtime::reload::PolicyWatcher;

use crate::sim_run::{SimRun, config};

const HOUR: u64 = 3600;

#[tokio::test]
async fn hot_reload_swaps_the_policy_between_ticks_and_refuses_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(SESSION_AWARE, &policy).unwrap();
    let toml = config(
        policy.to_str().unwrap(),
        r#"
# session-aware holds on this load (thresholds out of reach); target-tracking wants more tasks.
[service.params]
cpu-high = 99
cpu-low = 1
memory-high = 99
memory-low = 0.5
session-capacity = 1000
target-cpu = 20
[service.sim]
initial_tasks = 2
workload = { kind = "steady", per_min = 4.0 }
"#,
    );
    let mut run = SimRun::new(&toml);
    run.run_until(HOUR).await;

    std::fs::copy(TARGET_TRACKING, &policy).unwrap();
    run.daemon
        .apply_reloads(std::slice::from_ref(&policy))
        .await;
    run.run_until(2 * HOUR).await;

    std::fs::write(&policy, b"not a policy").unwrap();
    run.daemon
        .apply_reloads(std::slice::from_ref(&policy))
        .await;
    run.run_until(3 * HOUR).await;

    let records = run.records();
    let name_at = |t: u64| {
        records
            .iter()
            .find(|r| r.at >= t)
            .unwrap()
            .policy
            .name
            .clone()
    };
    assert_eq!(name_at(0), "session-aware");
    assert_eq!(
        name_at(HOUR),
        "target-tracking",
        "swapped without a restart"
    );
    assert_eq!(
        name_at(2 * HOUR + 60),
        "target-tracking",
        "the broken file was refused"
    );
    // The two policies really decide differently on this load.
    let scaled_before = records
        .iter()
        .filter(|r| r.at < HOUR)
        .any(|r| r.action_name() != "hold");
    let scaled_after = records
        .iter()
        .filter(|r| r.at >= HOUR)
        .any(|r| r.action_name() == "scale-out");
    assert!(!scaled_before && scaled_after);

    let log = std::fs::read_to_string(run.dir.path().join("state/reloads.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0]["error"].is_null() && lines[0]["new_sha256"].is_string());
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .contains("not wasm at all"),
        "{log}"
    );
    let ev = &run.daemon.events;
    assert_eq!(
        ev.counter(
            "autoscaler_policy_reloads_total",
            &[("service", "e2e/web"), ("result", "refused")]
        ),
        1
    );

    // Rewriting the same bytes is not a reload.
    std::fs::copy(TARGET_TRACKING, &policy).unwrap();
    run.daemon
        .apply_reloads(std::slice::from_ref(&policy))
        .await;
    assert_eq!(
        std::fs::read_to_string(run.dir.path().join("state/reloads.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[tokio::test]
async fn the_watcher_reports_a_rewritten_policy_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(SESSION_AWARE, &policy).unwrap();
    let mut watcher = PolicyWatcher::watch(std::slice::from_ref(&policy)).unwrap();
    // Reading the file must not count as a change.
    let _ = std::fs::read(&policy).unwrap();
    let quiet = tokio::time::timeout(
        Duration::from_millis(300),
        watcher.changed(Duration::from_millis(50)),
    )
    .await;
    assert!(quiet.is_err(), "a read is not a change: {quiet:?}");
    // Replace it the way deploy tools do: write a temporary file, rename it into place.
    let tmp = dir.path().join("policy.wasm.tmp");
    std::fs::copy(TARGET_TRACKING, &tmp).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let changed = tokio::time::timeout(
        Duration::from_secs(10),
        watcher.changed(Duration::from_millis(50)),
    )
    .await
    .expect("the change is seen");
    assert_eq!(
        changed,
        vec![autoscaler::runtime::reload::canonical(&policy)]
    );
}
