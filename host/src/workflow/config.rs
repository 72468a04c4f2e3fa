//! The `[services.drain]` settings: timing and limits of drain workflows.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Timing and limits of drain workflows for a service.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainConfig {
    /// The target group's deregistration delay: how long a deregistered target drains.
    #[serde(with = "humantime_serde")]
    pub deregistration_delay: Duration,
    /// The first deregistration check comes after this fraction of the delay (each check is an API call).
    pub first_check_fraction: f64,
    /// Then a check every interval.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// How long a workflow may take from start to a stopped task before it rolls back.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// How long scale-in protection lasts once set (ECS allows up to 48 hours).
    #[serde(with = "humantime_serde")]
    pub protection_expiry: Duration,
    /// The most retries of one step on transient errors before the workflow
    /// rolls back.
    pub max_attempts: u32,
    /// The most retries of a roll-back on transient errors (backoff from 2 s,
    /// capped at 60 s: the default 20 is at most about 16 minutes) before the
    /// workflow ends `roll-back-failed` and frees its slot.
    pub roll_back_attempts: u32,
    /// After a drain of the service rolls back (or its roll-back fails), no
    /// new drain of the service starts for this long: a call that fails for
    /// good then costs one failed drain per pause, not one per tick.
    #[serde(with = "humantime_serde")]
    pub pause_after_roll_back: Duration,
    /// A cordoned task's sessions are first checked this long after the
    /// cordon (each check is a session-store read): sessions last long.
    #[serde(with = "humantime_serde")]
    pub cordon_first_check: Duration,
    /// Then a check every interval, until the sessions reach 0.
    #[serde(with = "humantime_serde")]
    pub cordon_check_interval: Duration,
    /// With a load balancer that closes a deregistered target's connections
    /// when its deregistration delay ends (an ALB, or an NLB with connection
    /// termination on), a deregister-cordoned task that still has sessions
    /// is uncordoned (registered again) this long before the delay ends.
    #[serde(with = "humantime_serde")]
    pub cordon_uncordon_margin: Duration,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            deregistration_delay: Duration::from_secs(300),
            first_check_fraction: 0.8,
            check_interval: Duration::from_secs(30),
            deadline: Duration::from_secs(30 * 60),
            protection_expiry: Duration::from_secs(120 * 60),
            max_attempts: 8,
            roll_back_attempts: 20,
            pause_after_roll_back: Duration::from_secs(15 * 60),
            cordon_first_check: Duration::from_secs(10 * 60),
            cordon_check_interval: Duration::from_secs(5 * 60),
            cordon_uncordon_margin: Duration::from_secs(120),
        }
    }
}
