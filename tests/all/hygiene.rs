//! A policy's text never reaches a terminal raw: its reason, error and log
//! lines, with escape sequences, a carriage return, a NUL and a bidi
//! override in them, are escaped in status lines, log lines and the CLI's
//! output (the JSON records keep the exact text).

use std::process::{Command, Output};

use test_policy_artifacts::ADVERSARIAL_FLAPPING;

use crate::sim_run::config;

/// The characters `tests/policies/flapping` writes, and none of our output may hold.
const RAW: [char; 4] = ['\x1b', '\r', '\0', '\u{202e}'];

fn assert_escaped(what: &str, text: &str) {
    for c in RAW {
        assert!(
            !text.contains(c),
            "{what} holds a raw {c:?}:\n{}",
            text.escape_debug()
        );
    }
    assert!(
        text.contains("\\u{1b}[2J\\u{1b}[H\\rINFO all is well\\u{0} \\u{202e}txt.exe"),
        "{what} shows the policy's text escaped:\n{text}"
    );
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args(args)
        .env("AUTOSCALER_CACHE_DIR", crate::support::test_cache())
        .env_remove("RUST_LOG")
        .output()
        .expect("runs the autoscaler binary")
}

#[test]
fn policy_text_is_escaped_in_status_lines_and_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("hostile.toml");
    let toml =
        config(ADVERSARIAL_FLAPPING, "").replace("speed = 0", "speed = 0\nduration = \"10m\"");
    std::fs::write(&cfg, format!("state_dir = \"state\"\n{toml}")).unwrap();
    // -v: debug, so the policy's own log lines are printed too.
    let out = run(&["-v", "run", "--config", cfg.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stdout.contains("hold: even minute"),
        "a status line per tick:\n{stdout}"
    );
    assert_escaped("the status lines", &stdout);
    assert!(stderr.contains("Policy says: policy log"), "{stderr}");
    assert!(
        stderr.contains("faulted and its decision is void: policy error: odd minute"),
        "{stderr}"
    );
    assert_escaped("the log", &stderr);
    // The record keeps the exact text.
    let records = std::fs::read_to_string(dir.path().join("state/decisions.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(records.lines().next().unwrap()).unwrap();
    assert_eq!(
        first["decision"]["reason"],
        "even minute \x1b[2J\x1b[H\rINFO all is well\0 \u{202e}txt.exe"
    );
}

#[test]
fn policy_eval_escapes_the_policys_log_and_fault() {
    let dir = tempfile::tempdir().unwrap();
    let example = run(&["policy", "example-snapshot"]);
    assert!(example.status.success());
    let mut snap: serde_json::Value = serde_json::from_slice(&example.stdout).unwrap();
    snap["now"] = serde_json::json!(60); // an odd minute: the policy faults
    let path = dir.path().join("snap.json");
    std::fs::write(&path, snap.to_string()).unwrap();
    let out = run(&[
        "policy",
        "eval",
        ADVERSARIAL_FLAPPING,
        "--snapshot",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("[policy warn] policy log"), "{stderr}");
    assert!(stderr.contains("policy fault (policy-error): "), "{stderr}");
    assert!(stderr.contains("odd minute"), "{stderr}");
    assert_escaped("policy eval", &stderr);
}
