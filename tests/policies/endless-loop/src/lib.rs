//! Never returns: the host must end the call with a timeout fault.
use autoscaler_sdk::{Decision, Snapshot, export_policy};

fn decide(s: &Snapshot) -> Result<Decision, String> {
    let mut n = s.now;
    loop {
        n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        if n == 0 && std::hint::black_box(false) {
            return Ok(Decision::hold("unreachable"));
        }
    }
}
export_policy!(decide);
