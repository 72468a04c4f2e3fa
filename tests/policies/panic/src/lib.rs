//! Panics: the host must report a trap and keep going.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(s: &Snapshot) -> Result<Decision, String> {
    if s.now > 0 {
        panic!("policy bug: index out of range");
    }
    Ok(Decision::hold("never"))
}
export_policy!(decide);
