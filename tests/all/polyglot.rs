//! The session-aware policy in Python and JavaScript, built by the standard
//! tools (`scripts/build-polyglot`: componentize-py and componentize-qjs),
//! loaded by the host, passing the Rust policy's golden cases and making the
//! same decisions as the Rust policy over a whole simulated run.
//!
//! `scripts/test` builds the components and sets AUTOSCALER_REQUIRE_POLYGLOT,
//! so these tests fail if the components are missing there. A bare
//! `cargo test` without them skips them with a message.

use std::path::{Path, PathBuf};

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::golden;
use autoscaler::runtime::{Limits, Policy, PolicyEngine};

use crate::sim_run::{SimRun, config};
use crate::support::{root, test_cache};

fn component(name: &str) -> Option<PathBuf> {
    let path = root().join("target/polyglot").join(format!("{name}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var_os("AUTOSCALER_REQUIRE_POLYGLOT").is_some() {
        panic!("{} is missing: run scripts/build-polyglot", path.display());
    }
    eprintln!(
        "skipping: {} is not built (run scripts/build-polyglot, or scripts/test)",
        path.display()
    );
    None
}

fn variants() -> Vec<PathBuf> {
    ["session-aware-py", "session-aware-js"]
        .iter()
        .filter_map(|n| component(n))
        .collect()
}

#[test]
fn python_and_js_policies_pass_the_rust_policys_golden_cases() {
    // A generous wall-clock deadline: a loaded test machine must not fault a call.
    let limits = Limits {
        timeout: std::time::Duration::from_secs(5),
        ..Limits::default()
    };
    let engine = PolicyEngine::new(limits, Some(test_cache())).unwrap();
    let cases = golden::load_cases(&root().join("tests/golden/session-aware")).unwrap();
    for path in variants() {
        let c = engine.load_file(&path).unwrap();
        assert_eq!(
            c.trapped_imports,
            Vec::<String>::new(),
            "{} imports only the host interface",
            path.display()
        );
        let mut policy = Policy::new(engine.clone(), c);
        for case in &cases {
            let got = policy.decide(&case.snapshot).result;
            let problems = case.expect.mismatches(&got);
            assert!(
                problems.is_empty(),
                "{} on {}: {problems:?}",
                path.display(),
                case.name
            );
        }
    }
}

/// Busy then quiet, with long-tailed sessions: every branch of the policy is taken.
fn scenario(policy: &Path) -> String {
    config(
        policy.to_str().unwrap(),
        r#"
[service.params]
cpu-high = 70
cpu-low = 30
session-capacity = 20
scale-in-window = 300
[service.guard]
min = 1
max = 20
scale_in_cooldown = "2m"
[service.drain]
deregistration_delay = "60s"
[service.sim]
initial_tasks = 2
session_mean = "20m"
session_length = { kind = "lognormal", sigma = 1.2 }
deregistration_delay = "60s"
workload = { kind = "sawtooth", low_per_min = 0.2, high_per_min = 9.0, period = "3h" }
[limits]
# The wall-clock deadline is a backstop; on a loaded test machine it must not
# turn an interpreter's slow first call into a fault. Fuel still bounds it.
timeout = "5s"
"#,
    )
}

#[tokio::test]
async fn python_and_js_policies_decide_like_rust_over_a_whole_run() {
    let hours = 9;
    let mut reference = SimRun::new(&scenario(Path::new(SESSION_AWARE)));
    reference.run_until(hours * 3600).await;
    let want = reference.records();
    assert!(
        want.iter().any(|r| r.action_name() == "scale-in")
            && want.iter().any(|r| r.action_name() == "scale-out")
    );
    for path in variants() {
        let mut run = SimRun::new(&scenario(&path));
        run.run_until(hours * 3600).await;
        let got = run.records();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.fault, None, "{} faulted at {}", path.display(), g.at);
            assert_eq!(
                g.decision,
                w.decision,
                "{} differs from Rust at t={}",
                path.display(),
                g.at
            );
            assert_eq!(
                g.action,
                w.action,
                "{} acted differently at t={}",
                path.display(),
                g.at
            );
        }
        assert_eq!(run.stats(), reference.stats());
    }
}

/// `autoscaler simulate` on a built-in backtest scenario: the figures as JSON,
/// and every decision record.
fn backtest(policy: &Path, records: &Path) -> (serde_json::Value, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(["simulate", "--scenario", "flash-crowd", "--duration", "1d"])
        .args(["--json", "--no-timing", "--cache-dir"])
        .arg(test_cache())
        .arg("--policy")
        .arg(policy)
        .arg("--records")
        .arg(records)
        .output()
        .expect("the autoscaler binary runs");
    assert!(
        out.status.success(),
        "{} failed: {}",
        policy.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figures = json["runs"][0]["figures"].take();
    let records = std::fs::read_to_string(records)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (figures, records)
}

#[test]
fn python_and_js_policies_decide_like_rust_over_a_backtest_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let (want_figures, want) = backtest(Path::new(SESSION_AWARE), &dir.path().join("rust.jsonl"));
    assert_eq!(want.len(), 1440, "a tick a minute for a day");
    let acted = |name: &str| want.iter().any(|r| r["action"]["action"] == name);
    assert!(
        acted("scale-out") && acted("scale-in"),
        "the day takes both branches"
    );
    for path in variants() {
        let (figures, got) = backtest(&path, &dir.path().join("variant.jsonl"));
        assert_eq!(got.len(), want.len(), "{}", path.display());
        for (g, w) in got.iter().zip(&want) {
            for field in [
                "snapshot_digest",
                "state",
                "fault",
                "decision",
                "adjustments",
                "action",
                "outcomes",
            ] {
                assert_eq!(
                    g[field],
                    w[field],
                    "{}: `{field}` differs from Rust's at t={}",
                    path.display(),
                    w["at"]
                );
            }
        }
        assert_eq!(figures, want_figures, "{}", path.display());
    }
}
