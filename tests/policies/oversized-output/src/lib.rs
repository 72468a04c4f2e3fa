//! Returns a 1 MiB reason: the host must refuse it as too large.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(_: &Snapshot) -> Result<Decision, String> {
    Ok(Decision::hold("x".repeat(1 << 20)))
}
export_policy!(decide);
