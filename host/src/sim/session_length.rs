//! How session lengths are distributed: exponential, lognormal, or a
//! mixture of typical and long sessions.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How session lengths are distributed around [`super::SimServiceConfig::session_mean`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SessionLength {
    /// Exponential: memoryless, many short sessions and a long tail.
    #[default]
    Exponential,
    /// Lognormal: most sessions near a typical length, with a heavy tail.
    Lognormal {
        /// The standard deviation of the length's logarithm (1.0 is a wide spread).
        sigma: f64,
    },
    /// A mixture of two uniform ranges: most sessions are typical, a share
    /// is long (a desktop left open all day). Ignores `session_mean` and a
    /// trace's `mean_session_s`. The defaults are remote desktops': 20-90
    /// minutes, and 5 % of 6-10 hours.
    Mixture {
        /// The shortest typical session.
        #[serde(default = "mix::typical_min", with = "humantime_serde")]
        typical_min: Duration,
        /// The longest typical session.
        #[serde(default = "mix::typical_max", with = "humantime_serde")]
        typical_max: Duration,
        /// The shortest long session.
        #[serde(default = "mix::long_min", with = "humantime_serde")]
        long_min: Duration,
        /// The longest long session.
        #[serde(default = "mix::long_max", with = "humantime_serde")]
        long_max: Duration,
        /// The share of sessions that are long, within 0..=1.
        #[serde(default = "mix::long_share")]
        long_share: f64,
    },
}

/// The mixture's defaults.
mod mix {
    use std::time::Duration;

    pub fn typical_min() -> Duration {
        Duration::from_secs(20 * 60)
    }
    pub fn typical_max() -> Duration {
        Duration::from_secs(90 * 60)
    }
    pub fn long_min() -> Duration {
        Duration::from_secs(6 * 3600)
    }
    pub fn long_max() -> Duration {
        Duration::from_secs(10 * 3600)
    }
    pub fn long_share() -> f64 {
        0.05
    }
}

impl SessionLength {
    /// The remote-desktop mixture: sessions of 20-90 minutes, and 5 % of 6-10 hours.
    pub fn rdp_mixture() -> SessionLength {
        SessionLength::Mixture {
            typical_min: mix::typical_min(),
            typical_max: mix::typical_max(),
            long_min: mix::long_min(),
            long_max: mix::long_max(),
            long_share: mix::long_share(),
        }
    }

    /// The mean length in seconds, when the distribution fixes it (a
    /// mixture); otherwise `session_mean` (or the trace's) sets it.
    pub fn fixed_mean_secs(&self) -> Option<f64> {
        match *self {
            SessionLength::Mixture {
                typical_min,
                typical_max,
                long_min,
                long_max,
                long_share,
            } => {
                let mid = |a: Duration, b: Duration| (a.as_secs_f64() + b.as_secs_f64()) / 2.0;
                Some(
                    (1.0 - long_share) * mid(typical_min, typical_max)
                        + long_share * mid(long_min, long_max),
                )
            }
            _ => None,
        }
    }
}
