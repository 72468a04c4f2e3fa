//! Policy call cost with a 100-task snapshot: the same Rust policy called
//! natively, as a component on a reused instance, on a fresh instance, and
//! the cost of loading a component from the cache against compiling it.

#![allow(missing_docs)]

use std::path::Path;

use autoscaler::artifacts;
use autoscaler::model::Snapshot;
use autoscaler::runtime::{Limits, Policy, PolicyEngine};
use autoscaler_sdk::testing::SnapshotBuilder;
use criterion::{Criterion, criterion_group, criterion_main};

/// A 100-task service: every other task idle. `cpu` picks the path: 50 holds, 10 scales in.
fn host_snapshot(cpu: f64) -> Snapshot {
    Snapshot::example_sized(100, cpu)
}

fn sdk_snapshot(cpu: f64) -> autoscaler_sdk::Snapshot {
    let h = host_snapshot(cpu);
    let mut b = SnapshotBuilder::new()
        .now(h.now)
        .min(h.min)
        .max(h.max)
        .cpu(cpu)
        .memory(31.0);
    for t in &h.tasks {
        let (sessions, age) = (t.sessions, t.age_seconds);
        b = b.task(|x| x.sessions(sessions).age_seconds(age).cpu(cpu).memory(30.0));
    }
    for hist in &h.history {
        b = b.history(autoscaler_sdk::TickSummary {
            at: hist.at,
            desired: hist.desired,
            running: hist.running,
            cpu: Some(cpu),
            memory: hist.memory,
            sessions: hist.sessions,
        });
    }
    for (k, v) in &h.params {
        if let autoscaler::model::ParamValue::Number(n) = v {
            b = b.param(k, *n);
        }
    }
    b.build()
}

fn bench(c: &mut Criterion) {
    let engine = PolicyEngine::new(Limits::default(), None).unwrap();
    let component = engine
        .load_file(Path::new(artifacts::SESSION_AWARE))
        .unwrap();
    for (label, cpu) in [("hold", 50.0), ("scale-in", 10.0)] {
        let mut g = c.benchmark_group(format!("decide-100-tasks-{label}"));
        let native = sdk_snapshot(cpu);
        g.bench_function("native", |b| {
            b.iter(|| session_aware::decide(std::hint::black_box(&native)))
        });
        let snap = host_snapshot(cpu);
        let mut reused = Policy::new(engine.clone(), component.clone());
        assert!(reused.decide(&snap).result.is_ok());
        g.bench_function("component-reused-instance", |b| {
            b.iter(|| reused.decide(&snap))
        });
        let mut fresh = Policy::new(engine.clone(), component.clone());
        g.bench_function("component-fresh-instance", |b| {
            b.iter(|| {
                fresh.reset();
                fresh.decide(&snap)
            })
        });
        g.finish();
    }

    let mut g = c.benchmark_group("load-component");
    g.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    let cached = PolicyEngine::new(Limits::default(), Some(dir.path().to_path_buf())).unwrap();
    cached
        .load_file(Path::new(artifacts::SESSION_AWARE))
        .unwrap();
    g.bench_function("from-cache", |b| {
        b.iter(|| {
            cached
                .load_file(Path::new(artifacts::SESSION_AWARE))
                .unwrap()
        })
    });
    g.bench_function("compile", |b| {
        b.iter(|| {
            engine
                .load_file(Path::new(artifacts::SESSION_AWARE))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
