//! Seeded randomness: one independent stream per purpose, stable hashing for
//! IDs and per-service seeds, and the samplers the sim draws from.
//!
//! Streams are separate so that what a policy does cannot change the workload:
//! arrivals and session lengths come from their own streams, drawn whether a
//! session is accepted or refused, so two policies run on the same seed face
//! exactly the same users.

use std::hash::Hasher;

use fnv::FnvHasher;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Exp1, StandardNormal};

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash of a 64-bit value.
pub(crate) const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: stable across runs and platforms, unlike std's hasher.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = FnvHasher::default();
    h.write(bytes);
    h.finish()
}

/// A service's seed: the world seed mixed with the service's cluster and name,
/// so a service's run does not depend on which other services exist.
pub(crate) fn service_seed(world_seed: u64, cluster: &str, service: &str) -> u64 {
    let key = splitmix64(fnv1a(cluster.as_bytes())) ^ fnv1a(service.as_bytes());
    splitmix64(world_seed ^ splitmix64(key))
}

/// The ECS-like ID of a service's `serial`-th task: 32 lowercase hex characters.
pub(crate) fn task_id(seed: u64, serial: u64) -> String {
    let a = splitmix64(seed ^ splitmix64(serial.wrapping_mul(2).wrapping_add(1)));
    let b = splitmix64(a ^ seed.rotate_left(32));
    format!("{a:016x}{b:016x}")
}

/// The random streams of one service.
#[derive(Debug, Clone)]
pub(crate) struct Rngs {
    /// Arrival times.
    pub arrivals: SmallRng,
    /// Session lengths, one draw per arrival.
    pub durations: SmallRng,
    /// CPU and memory noise.
    pub usage: SmallRng,
    /// The scheduler's scale-in victim choice.
    pub scheduler: SmallRng,
}

impl Rngs {
    /// The streams for a service seed.
    pub fn new(seed: u64) -> Rngs {
        let stream = |n: u64| SmallRng::seed_from_u64(splitmix64(seed ^ splitmix64(n)));
        Rngs {
            arrivals: stream(1),
            durations: stream(2),
            usage: stream(3),
            scheduler: stream(4),
        }
    }
}

/// An exponential draw with this mean (which must be positive and finite).
pub(crate) fn exponential(rng: &mut SmallRng, mean: f64) -> f64 {
    mean * rng.sample::<f64, _>(Exp1)
}

/// A standard normal draw.
pub(crate) fn standard_normal(rng: &mut SmallRng) -> f64 {
    rng.sample(StandardNormal)
}

/// A lognormal draw with this mean and shape `sigma` (the standard deviation of its log).
pub(crate) fn lognormal(rng: &mut SmallRng, mean: f64, sigma: f64) -> f64 {
    let mu = mean.ln() - sigma * sigma / 2.0;
    (mu + sigma * standard_normal(rng)).exp()
}

/// A uniform index below `n` (which must be positive).
pub(crate) fn index(rng: &mut SmallRng, n: usize) -> usize {
    rng.random_range(0..n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(n: usize, mut f: impl FnMut() -> f64) -> f64 {
        (0..n).map(|_| f()).sum::<f64>() / n as f64
    }

    #[test]
    fn task_ids_are_32_hex_chars_distinct_and_stable() {
        let a = task_id(7, 0);
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(a, task_id(7, 0));
        assert_ne!(a, task_id(7, 1));
        assert_ne!(a, task_id(8, 0));
    }

    #[test]
    fn service_seeds_depend_on_seed_cluster_and_name() {
        let s = service_seed(1, "c", "s");
        assert_eq!(s, service_seed(1, "c", "s"));
        assert_ne!(s, service_seed(2, "c", "s"));
        assert_ne!(s, service_seed(1, "c2", "s"));
        assert_ne!(service_seed(1, "ab", "c"), service_seed(1, "a", "bc"));
    }

    #[test]
    fn samplers_have_the_requested_means() {
        let mut rng = Rngs::new(3).durations;
        let e = mean_of(200_000, || exponential(&mut rng, 1800.0));
        assert!((e - 1800.0).abs() < 20.0, "exponential mean {e}");
        let l = mean_of(200_000, || lognormal(&mut rng, 1800.0, 0.8));
        assert!((l - 1800.0).abs() < 30.0, "lognormal mean {l}");
        let z = mean_of(200_000, || standard_normal(&mut rng).powi(2));
        assert!((z - 1.0).abs() < 0.02, "normal variance {z}");
        let m = mean_of(200_000, || standard_normal(&mut rng));
        assert!(m.abs() < 0.01, "normal mean {m}");
        let tail = mean_of(200_000, || {
            f64::from(u8::from(standard_normal(&mut rng) > 1.96))
        });
        assert!((tail - 0.025).abs() < 0.002, "normal upper tail {tail}");
    }
}
