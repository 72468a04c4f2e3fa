//! Tries to read the environment and a file: the sandbox grants neither, so it traps.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(_: &Snapshot) -> Result<Decision, String> {
    let home = std::env::var("HOME").unwrap_or_default();
    let secret = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Ok(Decision::hold(format!(
        "home={home} secret bytes={}",
        secret.len()
    )))
}
export_policy!(decide);
