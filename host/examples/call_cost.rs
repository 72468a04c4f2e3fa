//! Prints the cost of one `decide` call on a 100-task snapshot, as the
//! minimum over many batches (robust to a busy machine). Usage:
//! `cargo run --release -p autoscaler --example call_cost [-- PATH.wasm]`.

use std::path::Path;
use std::time::Instant;

use autoscaler::model::Snapshot;
use autoscaler::runtime::{Limits, Policy, PolicyEngine};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| autoscaler::artifacts::SESSION_AWARE.to_string());
    let engine = PolicyEngine::new(Limits::default(), None).expect("engine");
    let component = engine.load_file(Path::new(&path)).expect("policy loads");
    let n = std::env::var("TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let s = Snapshot::example_sized(n, 50.0);
    let mut policy = Policy::new(engine, component);
    assert!(policy.decide(&s).result.is_ok());
    let mut best = f64::MAX;
    for _ in 0..50 {
        let started = Instant::now();
        for _ in 0..200 {
            std::hint::black_box(policy.decide(&s));
        }
        best = best.min(started.elapsed().as_secs_f64() / 200.0);
    }
    println!(
        "{path}: {:.2} us per decide call (min over 50 batches of 200)",
        best * 1e6
    );

    // How long an endless loop runs before the host stops it, at the default limits.
    let engine = PolicyEngine::new(Limits::default(), None).expect("engine");
    let looping = engine
        .load_file(Path::new(test_policy_artifacts::ADVERSARIAL_ENDLESS_LOOP))
        .expect("loads");
    let mut policy = Policy::new(engine, looping);
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let report = policy.decide(&s);
            assert_eq!(
                report.result.unwrap_err().kind(),
                autoscaler::runtime::FaultKind::Timeout
            );
            report.elapsed.as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "endless loop stopped after {:.1} ms (median), {:.1} ms (max) of 20 calls",
        times[10], times[19]
    );
}
