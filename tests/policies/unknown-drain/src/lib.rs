//! Names a drain handle no task has: the host must refuse the decision as invalid.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(s: &Snapshot) -> Result<Decision, String> {
    Ok(Decision::scale_to(s.desired.saturating_sub(1), "drain a ghost").with_drain([9_999]))
}
export_policy!(decide);
