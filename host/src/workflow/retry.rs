//! Backoff with jitter for transient errors, deterministic per workflow and
//! attempt so that simulated runs reproduce exactly.

use std::hash::Hasher;

use fnv::FnvHasher;

/// Seconds to wait before attempt `attempt` (1-based) of a step: exponential
/// from 2 s, capped at 60 s, with "full jitter" drawn from a hash of `key`
/// and the attempt (never less than 1 s).
pub fn backoff(key: &str, attempt: u32) -> u64 {
    let cap = 2u64.saturating_pow(attempt.min(6)).min(60);
    // FNV over explicit bytes: the same jitter on every build and platform,
    // which std's hasher does not promise.
    let mut h = FnvHasher::default();
    h.write(key.as_bytes());
    h.write(&attempt.to_le_bytes());
    1 + h.finish() % cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_bounded_and_repeats() {
        for attempt in 1..20 {
            let b = backoff("svc/task/1", attempt);
            assert!((1..=60).contains(&b), "attempt {attempt}: {b}");
            assert_eq!(b, backoff("svc/task/1", attempt));
        }
        let early: u64 = (0..50).map(|i| backoff(&format!("k{i}"), 1)).max().unwrap();
        let late: u64 = (0..50).map(|i| backoff(&format!("k{i}"), 6)).max().unwrap();
        assert!(early <= 2 && late > 10, "early {early}, late {late}");
    }
}
