//! Allocates 1 GiB: the host's memory cap must refuse it with an out-of-memory fault.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(s: &Snapshot) -> Result<Decision, String> {
    let big = vec![s.now as u8; 1 << 30];
    Ok(Decision::hold(format!(
        "allocated {} bytes",
        std::hint::black_box(big).len()
    )))
}
export_policy!(decide);
