//! Hot-reload latency: the wall time from `rename()` of a new policy file over
//! the live one to the first tick whose record shows the new policy's sha256.
//!
//! The daemon runs its real loop (`Daemon::run`, with the file watcher) on the
//! simulated cluster at the demo's speed (speed 1200, a 60 s interval: a tick
//! every 50 ms of wall time). It does `SWAPS` atomic swaps (write a temporary
//! file in the same folder, rename it over the live path), alternating between
//! the Rust session-aware and target-tracking policies, 150 to 290 ms apart,
//! and prints p50, p95 and max. The latency includes the watcher's debounce,
//! reading, hashing and compiling (both components are in the artifact cache,
//! as after their first load), the probe, and the wait for the next tick
//! (0 to 50 ms).
//!
//! `cargo bench -p autoscaler --bench reload`

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::config::Config;
use autoscaler::daemon::setup;
use autoscaler::events::Events;
use autoscaler::providers::Clock;
use autoscaler::runtime::PolicyEngine;
use autoscaler::runtime::reload::PolicyWatcher;
use autoscaler::tick::record::TickRecord;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// The allocator the `autoscaler` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SWAPS: usize = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn sha_of(path: &str) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("a built policy")))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo test --benches` runs this too: one swap is enough there.
    let swaps = if std::env::args().any(|a| a == "--bench") {
        SWAPS
    } else {
        2
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let latencies = runtime.block_on(measure(swaps));
    let mut sorted = latencies.clone();
    sorted.sort();
    println!(
        "reload: rename -> new policy deciding, {} swaps at speed 1200 (a tick every 50 ms): p50 {}, p95 {}, max {}",
        sorted.len(),
        ms(percentile(&sorted, 0.50)),
        ms(percentile(&sorted, 0.95)),
        ms(*sorted.last().expect("at least one swap")),
    );
}

async fn measure(swaps: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let policy = dir.path().join("policy.wasm");
    std::fs::copy(SESSION_AWARE, &policy).expect("the session-aware policy is built");
    let text = format!(
        r#"
state_dir = {state:?}
[provider]
kind = "sim"
speed = 1200
[provider.world]
seed = 7

[[service]]
name = "web"
cluster = "bench"
target_group = "web-tg"
interval = "60s"
policy = {policy:?}
[service.sim]
initial_tasks = 2
workload = {{ kind = "steady", per_min = 4.0 }}
"#,
        state = dir.path().join("state"),
        policy = policy,
    );
    let cfg = Config::parse(&text, &dir.path().join("bench.toml")).expect("the config parses");
    let engine = PolicyEngine::new(
        cfg.limits.clone(),
        Some(root().join("target").join("test-cache")),
    )
    .expect("an engine");
    // Both components compiled once, so each swap is a cache hit, as in use.
    engine
        .load_file(Path::new(TARGET_TRACKING))
        .expect("target-tracking loads");
    let (sim, pacer, stop_at) = setup::sim_world(&cfg)
        .expect("a sim world")
        .expect("a sim config");
    let services = setup::load_services(&cfg, &engine, sim.now(), false).expect("the policy loads");
    let mut daemon = setup::open(&cfg, sim, pacer, engine, services, Events::quiet(), true)
        .expect("the daemon opens");
    daemon.stop_at = stop_at;
    let ticks: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let seen = ticks.clone();
    daemon.on_tick = Some(Box::new(move |r: &TickRecord| {
        seen.lock()
            .expect("the tick list")
            .push((Instant::now(), r.policy.sha256.clone()));
    }));

    let sources = [TARGET_TRACKING, SESSION_AWARE];
    let shas = [sha_of(TARGET_TRACKING), sha_of(SESSION_AWARE)];
    let watcher = PolicyWatcher::watch(std::slice::from_ref(&policy)).expect("the watch starts");
    let (stop, stopped) = watch::channel(false);
    let mut renamed = Vec::with_capacity(swaps);
    let driver = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let tmp = policy.with_extension("wasm.tmp");
        for k in 0..swaps {
            std::fs::copy(sources[k % 2], &tmp).expect("the temporary file is written");
            renamed.push(Instant::now());
            std::fs::rename(&tmp, &policy).expect("the rename");
            tokio::time::sleep(Duration::from_millis(150 + (k as u64 * 37) % 150)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.send(true).expect("the daemon listens");
    };
    let (result, ()) = tokio::join!(daemon.run(stopped, Some(watcher)), driver);
    result.expect("the daemon runs");

    let ticks = ticks.lock().expect("the tick list");
    renamed
        .iter()
        .enumerate()
        .map(|(k, at)| {
            let (decided, _) = ticks
                .iter()
                .find(|(t, sha)| t > at && *sha == shas[k % 2])
                .unwrap_or_else(|| panic!("swap {k} was never loaded"));
            *decided - *at
        })
        .collect()
}
