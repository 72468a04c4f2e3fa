//! The guard's settings: a service's `[guard]` table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A service's guardrails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// The fewest tasks the service may have.
    pub min: u32,
    /// The most tasks the service may have.
    pub max: u32,
    /// The most tasks one tick may add.
    pub max_step_up: u32,
    /// The most tasks one tick may start draining.
    pub max_step_down: u32,
    /// After a scale-out, no other scale-out for this long.
    #[serde(with = "humantime_serde")]
    pub scale_out_cooldown: Duration,
    /// After any scaling (a scale-out, a scale-in decided, or a drain
    /// lowering the desired count), no scale-in for this long. Keep it above
    /// how long the provider's reads may lag its writes.
    #[serde(with = "humantime_serde")]
    pub scale_in_cooldown: Duration,
    /// Scale in only to the highest target the policy asked for within this window.
    #[serde(with = "humantime_serde")]
    pub scale_in_stabilization: Duration,
    /// Metrics older than this count as missing, and missing metrics forbid scale-in.
    #[serde(with = "humantime_serde")]
    pub max_metric_age: Duration,
    /// The most drain workflows in flight at once (cordoned tasks still
    /// holding are not counted: `max_cordoned` bounds them).
    pub max_concurrent_drains: u32,
    /// The most tasks cordoned at once.
    pub max_cordoned: u32,
    /// Sessions one task serves at most, for the `serving-capacity` rule:
    /// when set, cordons leave at least as many free session slots on the
    /// serving tasks as the sessions expected to arrive before a new task
    /// could start (`task_start_time`); unset, they leave at least one
    /// serving task.
    pub session_capacity: Option<u32>,
    /// How long a new task takes to start serving, for the `serving-capacity` rule.
    #[serde(with = "humantime_serde")]
    pub task_start_time: Duration,
    /// How the service cordons busy tasks: the service's `cordon` key (not
    /// part of the `[guard]` table), copied here when the service is loaded.
    #[serde(skip)]
    pub cordon: crate::workflow::CordonMode,
    /// Only for the simulated reference that behaves like AWS's own service
    /// autoscaling: scale-in lowers the desired count and ECS picks the tasks,
    /// sessions or not. Never set from a config file.
    #[serde(skip)]
    pub session_unaware_reference: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            min: 1,
            max: 10,
            max_step_up: 10,
            max_step_down: 2,
            scale_out_cooldown: Duration::from_secs(60),
            scale_in_cooldown: Duration::from_secs(300),
            scale_in_stabilization: Duration::from_secs(300),
            max_metric_age: Duration::from_secs(300),
            max_concurrent_drains: 4,
            max_cordoned: 4,
            session_capacity: None,
            task_start_time: Duration::from_secs(120),
            cordon: crate::workflow::CordonMode::Off,
            session_unaware_reference: false,
        }
    }
}
