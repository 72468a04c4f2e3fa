//! Golden cases through the `autoscaler policy test` command, as a user runs it.

use std::process::Command;

use autoscaler::artifacts;

use crate::support::root;
use test_policy_artifacts::{ADVERSARIAL_ENDLESS_LOOP, ADVERSARIAL_WRONG_WORLD};

fn autoscaler(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(args)
        .env("AUTOSCALER_CACHE_DIR", crate::support::test_cache())
        .output()
        .expect("runs the autoscaler binary")
}

#[test]
fn session_aware_passes_its_golden_cases() {
    passes_its_golden_cases(artifacts::SESSION_AWARE, "session-aware");
}

#[test]
fn consolidate_passes_its_golden_cases() {
    // Cordons, uncordons, drains, holds and scale-outs, checked exactly.
    passes_its_golden_cases(artifacts::CONSOLIDATE, "consolidate");
}

fn passes_its_golden_cases(policy: &str, cases: &str) {
    let dir = root().join("tests/golden").join(cases);
    let out = autoscaler(&["-q", "policy", "test", policy, dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .ends_with(" passed, 0 failed"),
        "{stdout}"
    );
}

#[test]
fn a_failing_case_is_reported_and_fails_the_command() {
    // target-tracking is session-unaware: it disagrees with session-aware's cases.
    let dir = root().join("tests/golden/session-aware");
    let out = autoscaler(&[
        "-q",
        "policy",
        "test",
        artifacts::TARGET_TRACKING,
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL "), "{stdout}");
    assert!(
        !stdout.lines().last().unwrap().ends_with(" 0 failed"),
        "{stdout}"
    );
}

#[test]
fn check_and_eval_work_on_an_example_policy() {
    let out = autoscaler(&["-q", "policy", "check", artifacts::SESSION_AWARE]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("policy:     session-aware 0.1.0"),
        "{stdout}"
    );
    assert!(stdout.contains("(not provided: a call traps)"), "{stdout}");

    let snap = tempfile::NamedTempFile::new().unwrap();
    let example = autoscaler(&["policy", "example-snapshot"]);
    std::fs::write(snap.path(), &example.stdout).unwrap();
    let out = autoscaler(&[
        "-q",
        "policy",
        "eval",
        artifacts::SESSION_AWARE,
        "--snapshot",
        snap.path().to_str().unwrap(),
    ]);
    let decision: autoscaler::model::Decision =
        serde_json::from_slice(&out.stdout).expect("decision JSON");
    assert_eq!(decision.desired, Some(2));

    let out = autoscaler(&[
        "-q",
        "policy",
        "eval",
        ADVERSARIAL_ENDLESS_LOOP,
        "--snapshot",
        snap.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("policy fault (timeout)"));

    let out = autoscaler(&["-q", "policy", "check", ADVERSARIAL_WRONG_WORLD]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not implement this host's contract")
    );
}
