//! Decision records and figures are byte-identical for a fixed seed: the real
//! binary replays fixed runs and their output is compared with digests taken
//! when the output was last changed on purpose. A refactoring must not move
//! one byte of what a run decides, records or reports.
//!
//! Two things are left out before hashing, because they are not decisions:
//! the wall-clock `call_micros` of each policy call, and the policy's
//! `sha256` (a rebuilt component with the same logic has other bytes).
//!
//! After an intended change, run with `UPDATE_RECORD_DIGESTS=1` and commit
//! `tests/golden/records/digests.txt` with a message that says why the
//! records changed. On a mismatch the normalized output is kept under
//! `target/tmp/records-golden/` to diff against the same run of the last
//! commit.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use sha2::{Digest, Sha256};
use test_policy_artifacts::ADVERSARIAL_CORDON_PROBE;

use crate::support::root;

/// Each fixed run: a name, the policy, the scenario and how long.
const RUNS: [(&str, &str, &str, &str); 3] = [
    // Drains of idle tasks, scale-outs, a flash crowd's refusals.
    (
        "session-aware-flash-crowd",
        SESSION_AWARE,
        "flash-crowd",
        "1d",
    ),
    // Many drains and kills of a CPU-only policy.
    (
        "target-tracking-flash-crowd",
        TARGET_TRACKING,
        "flash-crowd",
        "1d",
    ),
    // A cordon and an uncordon at every tick, guard adjustments.
    (
        "cordon-probe-steady",
        ADVERSARIAL_CORDON_PROBE,
        "steady",
        "4h",
    ),
];

/// `"call_micros":N` becomes `"call_micros":0`, and every hex `"sha256"`
/// becomes zeros, in compact and in pretty-printed JSON.
fn normalize(records: &str) -> String {
    let mut out = String::with_capacity(records.len());
    let mut rest = records;
    loop {
        // The spaced keys first: at the same place, the first one wins.
        let next = [
            ("\"call_micros\": ", false),
            ("\"call_micros\":", false),
            ("\"sha256\": \"", true),
            ("\"sha256\":\"", true),
        ]
        .into_iter()
        .filter_map(|(key, hex)| rest.find(key).map(|at| (at, key, hex)))
        .min_by_key(|(at, ..)| *at);
        let Some((at, key, hex)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at + key.len()]);
        rest = &rest[at + key.len()..];
        let value = rest
            .find(|c: char| {
                !(if hex {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                })
            })
            .unwrap_or(rest.len());
        if hex {
            out.extend(std::iter::repeat_n('0', value));
        } else {
            out.push('0');
        }
        rest = &rest[value..];
    }
}

fn digest(bytes: &str) -> String {
    format!("{:x}", Sha256::digest(bytes.as_bytes()))
}

/// The digests of one run: its records and its JSON figures.
fn run(name: &str, policy: &str, scenario: &str, duration: &str) -> [(String, String); 2] {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
        .args([
            "-q",
            "simulate",
            "--no-timing",
            "--json",
            "--no-cache",
            "--seed",
            "1",
        ])
        .args([
            "--scenario",
            scenario,
            "--duration",
            duration,
            "--policy",
            policy,
        ])
        .arg("--records")
        .arg(&records)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = normalize(&std::fs::read_to_string(&records).unwrap());
    let figures = normalize(&String::from_utf8(out.stdout).unwrap());
    let kept = root().join("target/tmp/records-golden");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join(format!("{name}.records.jsonl")), &records).unwrap();
    std::fs::write(kept.join(format!("{name}.figures.json")), &figures).unwrap();
    [
        (format!("{name}.records"), digest(&records)),
        (format!("{name}.figures"), digest(&figures)),
    ]
}

#[test]
fn fixed_seed_runs_record_byte_identical_decisions_and_figures() {
    let file = root().join("tests/golden/records/digests.txt");
    let got: BTreeMap<String, String> = RUNS
        .iter()
        .flat_map(|&(name, policy, scenario, duration)| run(name, policy, scenario, duration))
        .collect();
    let text: String = got.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    if std::env::var_os("UPDATE_RECORD_DIGESTS").is_some() {
        std::fs::write(&file, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_RECORD_DIGESTS=1)", file.display()));
    let changed: Vec<&String> = got
        .iter()
        .filter(|(k, v)| !want.lines().any(|l| l == format!("{k} {v}")))
        .map(|(k, _)| k)
        .collect();
    assert!(
        changed.is_empty() && want == text,
        "these runs no longer match {}: {changed:?}. Their output is in {}; diff it \
         against the same run of the last commit. If the change is intended, run with \
         UPDATE_RECORD_DIGESTS=1 and say why in the commit.",
        file.display(),
        PathBuf::from("target/tmp/records-golden").display()
    );
}

#[test]
fn normalize_blanks_only_timing_and_digests() {
    let line = r#"{"sha256":"ab12","call_micros":1296,"x":"call_micros","n":12}"#;
    assert_eq!(
        normalize(line),
        r#"{"sha256":"0000","call_micros":0,"x":"call_micros","n":12}"#
    );
    let pretty = "{\n  \"sha256\": \"ab12\",\n  \"call_micros\": 7\n}";
    assert_eq!(
        normalize(pretty),
        "{\n  \"sha256\": \"0000\",\n  \"call_micros\": 0\n}"
    );
}
