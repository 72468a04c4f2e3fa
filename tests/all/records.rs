//! The daemon's decision records rotate by `[records]`, between whole
//! records: the real binary, read back across every file.

use std::process::Command;

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::rotate;

use crate::sim_run::config;

#[test]
fn the_daemons_records_rotate_without_losing_or_splitting_a_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("autoscaler.toml");
    let toml = config(SESSION_AWARE, "[service.sim]\ninitial_tasks = 2\n")
        .replace("speed = 0", "speed = 0\nduration = \"2h\"");
    std::fs::write(
        &cfg,
        format!("state_dir = \"state\"\n[records]\nmax_size = \"4KiB\"\nkeep = 1000\n{toml}"),
    )
    .unwrap();
    let path = dir.path().join("state/decisions.jsonl");
    // Twice: a simulated run starts afresh, rotated files included.
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_autoscaler"))
            .args([
                "-q",
                "run",
                "--no-status",
                "--config",
                cfg.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let files = rotate::files(&path).unwrap();
        assert!(files.len() > 2, "{files:?}");
        let mut at = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(
                text.len() <= 4096,
                "{} holds {} bytes",
                f.display(),
                text.len()
            );
            assert!(text.ends_with('\n'), "{} ends mid-record", f.display());
            for line in text.lines() {
                let record: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("{}: a torn record: {e}", f.display()));
                at.push(record["at"].as_u64().unwrap());
            }
        }
        assert_eq!(at.len(), 120, "one record per tick, none lost");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "in order: {at:?}");
    }
}
