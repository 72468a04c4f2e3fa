//! Hot reload during a run: a new policy file changes decisions without a
//! restart; a broken file is refused and the old policy keeps running; every
//! write is loaded, through the real daemon loop at the demo's speed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::runtime::reload::{PolicyWatcher, canonical};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

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
    let quiet = tokio::time::timeout(Duration::from_millis(300), watcher.changed()).await;
    assert!(quiet.is_err(), "a read is not a change: {quiet:?}");
    // Replace it the way deploy tools do: write a temporary file, rename it into place.
    let tmp = dir.path().join("policy.wasm.tmp");
    std::fs::copy(TARGET_TRACKING, &tmp).unwrap();
    std::fs::rename(&tmp, &policy).unwrap();
    let changed = tokio::time::timeout(Duration::from_secs(10), watcher.changed())
        .await
        .expect("the change is seen");
    assert_eq!(
        changed,
        vec![autoscaler::runtime::reload::canonical(&policy)]
    );
}

#[tokio::test]
async fn a_batch_survives_when_the_wait_for_it_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(SESSION_AWARE, &policy).unwrap();
    // A debounce far longer than each wait below: every wait is cancelled mid-debounce.
    let mut watcher =
        PolicyWatcher::watch_with(std::slice::from_ref(&policy), Duration::from_millis(200))
            .unwrap();
    replace(&policy, TARGET_TRACKING);
    let started = Instant::now();
    let changed = loop {
        if let Ok(files) = tokio::time::timeout(Duration::from_millis(5), watcher.changed()).await {
            break files;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the change was lost to cancelled waits"
        );
    };
    assert_eq!(changed, vec![canonical(&policy)]);
}

/// The demo's pace: speed 1200 with a 60 s interval, a tick every 50 ms of wall time.
const DEMO_SPEED: u64 = 1200;

/// A service at the demo's speed whose live policy is `policy` (session-aware to start).
fn live_run(policy: &Path) -> SimRun {
    std::fs::copy(SESSION_AWARE, policy).unwrap();
    let toml = config(
        policy.to_str().unwrap(),
        r#"
[service.sim]
initial_tasks = 2
workload = { kind = "steady", per_min = 4.0 }
"#,
    )
    .replace("speed = 0", &format!("speed = {DEMO_SPEED}"));
    let run = SimRun::new(&toml);
    // Both components compiled once (the cache keeps them), so a swap costs what it costs in use.
    run.daemon
        .engine
        .load_file(Path::new(TARGET_TRACKING))
        .unwrap();
    run
}

fn sha_of(path: &str) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Replaces `policy` the way deploy tools do: a temporary file in the same
/// folder, renamed over it.
fn replace(policy: &Path, from: &str) {
    let tmp = policy.with_extension("wasm.tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, policy).unwrap();
}

fn replace_with_bytes(policy: &Path, bytes: &[u8]) {
    let tmp = policy.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, policy).unwrap();
}

/// Runs the real daemon loop, watching `policy`, while `writes` runs; stops
/// half a second (ten ticks) after it.
async fn run_while(run: &mut SimRun, policy: &Path, writes: impl Future<Output = ()>) {
    let watcher = PolicyWatcher::watch(&[policy.to_path_buf()]).unwrap();
    let (stop, stopped) = watch::channel(false);
    let driver = async {
        writes.await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.send(true).unwrap();
    };
    let (result, ()) = tokio::join!(run.daemon.run(stopped, Some(watcher)), driver);
    result.expect("the daemon runs");
}

fn reload_lines(run: &SimRun) -> Vec<Value> {
    let path: PathBuf = run.dir.path().join("state/reloads.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The sha256 of the live policy on each tick after virtual time `from`, up to `until`.
fn shas_between(run: &SimRun, from: u64, until: u64) -> Vec<String> {
    run.records()
        .into_iter()
        .filter(|r| r.at > from && r.at <= until)
        .map(|r| r.policy.sha256)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_atomic_swaps_at_demo_speed_are_all_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    let mut run = live_run(&policy);
    let sources = [TARGET_TRACKING, SESSION_AWARE];
    let writes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for k in 0..20u64 {
            replace(&policy, sources[(k % 2) as usize]);
            // 150 to 290 ms apart, 3 to 6 ticks.
            tokio::time::sleep(Duration::from_millis(150 + (k * 37) % 150)).await;
        }
    };
    run_while(&mut run, &policy, writes).await;

    let lines = reload_lines(&run);
    assert_eq!(lines.len(), 20, "every swap is loaded: {lines:#?}");
    for (k, line) in lines.iter().enumerate() {
        let want = sha_of(sources[k % 2]);
        assert!(line["error"].is_null(), "swap {k}: {line}");
        assert_eq!(line["new_sha256"], want.as_str(), "swap {k}");
        assert_eq!(line["role"], "live");
        // The ticks from this swap to the next decide with the new policy.
        let from = line["at"].as_u64().unwrap();
        let until = lines
            .get(k + 1)
            .map_or(u64::MAX, |l| l["at"].as_u64().unwrap());
        let ticks = shas_between(&run, from, until);
        assert!(!ticks.is_empty(), "swap {k}: no tick with the new policy");
        assert!(ticks.iter().all(|s| *s == want), "swap {k}: {ticks:?}");
    }
    assert_eq!(run.daemon.totals["e2e/web"].reloads, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_write_right_after_start_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    let mut run = live_run(&policy);
    let writes = async { replace(&policy, TARGET_TRACKING) };
    run_while(&mut run, &policy, writes).await;

    let lines = reload_lines(&run);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["new_sha256"], sha_of(TARGET_TRACKING).as_str());
    let last = run.records().last().unwrap().policy.sha256.clone();
    assert_eq!(last, sha_of(TARGET_TRACKING));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_between_loading_and_watching_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    // The policy is loaded here ...
    let mut run = live_run(&policy);
    // ... and replaced before the watch begins (inside `run_while`).
    replace(&policy, TARGET_TRACKING);
    run_while(&mut run, &policy, async {}).await;

    let lines = reload_lines(&run);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["new_sha256"], sha_of(TARGET_TRACKING).as_str());
    assert_eq!(
        run.records().last().unwrap().policy.sha256,
        sha_of(TARGET_TRACKING)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_write_between_swaps_is_refused_and_the_previous_policy_keeps_deciding() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    let mut run = live_run(&policy);
    let writes = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        replace(&policy, TARGET_TRACKING);
        tokio::time::sleep(Duration::from_millis(250)).await;
        replace_with_bytes(&policy, b"not a policy");
        tokio::time::sleep(Duration::from_millis(400)).await;
        replace(&policy, SESSION_AWARE);
    };
    run_while(&mut run, &policy, writes).await;

    let lines = reload_lines(&run);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    let tt = sha_of(TARGET_TRACKING);
    assert_eq!(lines[0]["new_sha256"], tt.as_str());
    assert!(lines[1]["new_sha256"].is_null());
    assert_eq!(lines[1]["old_sha256"], tt.as_str());
    let error = lines[1]["error"].as_str().unwrap();
    assert!(error.contains("not wasm at all"), "{error}");
    assert_eq!(lines[2]["new_sha256"], sha_of(SESSION_AWARE).as_str());
    // From the refusal to the next good write, target-tracking kept deciding.
    let (refused, next) = (
        lines[1]["at"].as_u64().unwrap(),
        lines[2]["at"].as_u64().unwrap(),
    );
    let between = shas_between(&run, refused, next);
    assert!(between.len() >= 3, "{between:?}");
    assert!(between.iter().all(|s| *s == tt), "{between:?}");
    assert!(run.records().iter().all(|r| r.fault.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_go_on_with_the_old_policy_while_a_new_one_compiles() {
    use autoscaler::config::Config;
    use autoscaler::daemon::setup;
    use autoscaler::events::Events;
    use autoscaler::providers::Clock;
    use autoscaler::runtime::PolicyEngine;
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(SESSION_AWARE, &policy).unwrap();
    let text = format!(
        "state_dir = {:?}\n{}",
        dir.path().join("state"),
        config(
            policy.to_str().unwrap(),
            "[service.sim]\ninitial_tasks = 2\nworkload = { kind = \"steady\", per_min = 4.0 }\n",
        )
        .replace("speed = 0", &format!("speed = {DEMO_SPEED}"))
    );
    let cfg = Config::parse(&text, &dir.path().join("e2e.toml")).unwrap();
    // No artifact cache: the new component really compiles (hundreds of milliseconds).
    let engine = PolicyEngine::new(cfg.limits.clone(), None).unwrap();
    let (sim, pacer, _) = setup::sim_world(&cfg).unwrap().unwrap();
    let services = setup::load_services(&cfg, &engine, sim.now(), false).unwrap();
    let mut daemon =
        setup::open(&cfg, sim, pacer, engine, services, Events::quiet(), true).unwrap();
    let ticks: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let seen = ticks.clone();
    daemon.on_tick = Some(Box::new(move |r| {
        seen.lock()
            .unwrap()
            .push((Instant::now(), r.policy.sha256.clone()));
    }));

    let watcher = PolicyWatcher::watch(std::slice::from_ref(&policy)).unwrap();
    let (stop, stopped) = watch::channel(false);
    let new = sha_of(TARGET_TRACKING);
    let mut renamed = None;
    let driver = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        renamed = Some(Instant::now());
        replace(&policy, TARGET_TRACKING);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ticks.lock().unwrap().iter().any(|(_, s)| *s == new) {
            assert!(Instant::now() < deadline, "the new policy never decided");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
    };
    let (result, ()) = tokio::join!(daemon.run(stopped, Some(watcher)), driver);
    result.unwrap();

    let renamed = renamed.unwrap();
    let ticks = ticks.lock().unwrap();
    let (swapped, _) = ticks.iter().find(|(_, s)| *s == new).unwrap();
    let window = *swapped - renamed;
    let old_ticks = ticks
        .iter()
        .filter(|(t, _)| *t > renamed && t < swapped)
        .count();
    // A tick is due every 50 ms: at least half of those due while it compiled ran.
    let due = window.as_millis() / 50;
    assert!(
        old_ticks as u128 * 2 >= due,
        "{old_ticks} ticks ran in the {window:?} from the rename to the new policy deciding ({due} were due)"
    );
    eprintln!(
        "{old_ticks} ticks with the old policy in the {window:?} it took to compile and swap"
    );
}
