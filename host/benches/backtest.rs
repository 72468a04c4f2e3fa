//! Backtest throughput: 30 simulated days at one-minute ticks (43,200 ticks)
//! of a service of about 100 tasks (steady load: 2,000 sessions at 20 per
//! task), through the whole pipeline (the daemon, gather, the policy
//! component, guard, execute, the drain workflows, the sim, the sampler and
//! the oracle), with the Rust session-aware policy. Throughput is reported
//! in ticks per second (criterion's "elements"); the target is 20,000.
//!
//! The Python and JavaScript builds of the same policy
//! (`target/polyglot/session-aware-{py,js}.wasm`, built by
//! `scripts/build-polyglot`) are measured too when present, over 2 days:
//! their calls cost a tenth of a millisecond or more, so they are slower.

#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use autoscaler::artifacts;
use autoscaler::backtest::Scenario;
use autoscaler::backtest::run::{self, RunSpec};
use autoscaler::backtest::scenario::builtin;
use autoscaler::runtime::{Limits, PolicyEngine};
use autoscaler::sim::Workload;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The allocator the `autoscaler` binary uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DAY: u64 = 86_400;

/// Steady load for ~100 tasks: 2,000 sessions of 30 minutes at 20 per task.
fn hundred_tasks(days: u64) -> Scenario {
    let mut s = builtin::steady();
    s.name = "steady-100".into();
    s.duration = Duration::from_secs(days * DAY);
    s.sim.initial_tasks = 100;
    s.sim.workload = Workload::Steady {
        per_min: 2000.0 / 30.0,
    };
    s.guard.max = 200;
    s.validate().expect("a valid scenario");
    s
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

fn bench_policy(c: &mut Criterion, name: &str, path: &Path, days: u64) {
    let engine = PolicyEngine::new(
        Limits {
            timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        Some(root().join("target").join("test-cache")),
    )
    .expect("engine");
    let component = engine.load_file(path).expect("the policy loads");
    let scenario = hundred_tasks(days);
    let spec = RunSpec {
        label: name.into(),
        component,
        reference: false,
        records: None,
    };
    let ticks = days * DAY / 60;
    let mut group = c.benchmark_group("backtest");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if days >= 30 { 30 } else { 20 }));
    group.throughput(Throughput::Elements(ticks));
    group.bench_function(format!("{name}/{days}d-100-tasks"), |b| {
        b.iter(|| {
            let out = run::run(&scenario, &spec, &engine, 75.0, &|_| {}).expect("the run");
            assert_eq!(out.figures.ticks, ticks);
            assert!(out.figures.peak_tasks >= 90, "sized for ~100 tasks");
            out
        })
    });
    group.finish();
}

fn backtest(c: &mut Criterion) {
    bench_policy(c, "rust", Path::new(artifacts::SESSION_AWARE), 30);
    for (name, file) in [("python", "session-aware-py"), ("js", "session-aware-js")] {
        let path = root().join("target/polyglot").join(format!("{file}.wasm"));
        if path.is_file() {
            bench_policy(c, name, &path, 2);
        } else {
            eprintln!(
                "skipping the {name} policy: {} is not built (scripts/build-polyglot)",
                path.display()
            );
        }
    }
}

criterion_group!(benches, backtest);
criterion_main!(benches);
