//! How a busy task is cordoned: the service's mode, the mechanism of one
//! cordon, and what a cordon workflow journals about it.

use serde::{Deserialize, Serialize};

use crate::providers::TargetGroupInfo;

/// How a service cordons busy tasks (the service's `cordon` key).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CordonMode {
    /// Cordon requests are refused (guard rule `cordon-off`).
    #[default]
    Off,
    /// Deregister the task's target: the load balancer sends it no new
    /// sessions. With an NLB (connection termination off) the wait is
    /// unlimited; otherwise the task is uncordoned before the target group's
    /// deregistration delay ends.
    Deregister,
    /// The application stops taking new sessions itself: the host publishes
    /// the cordon in the session store (the ingest API answers
    /// `"accepting": false`).
    App,
}

impl CordonMode {
    /// The mechanism a cordon uses; none when cordons are off.
    pub fn mechanism(self) -> Option<CordonMechanism> {
        match self {
            CordonMode::Off => None,
            CordonMode::Deregister => Some(CordonMechanism::Deregister),
            CordonMode::App => Some(CordonMechanism::App),
        }
    }
}

/// How one cordon keeps new sessions off its task.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum CordonMechanism {
    /// The target is deregistered from its target group.
    Deregister,
    /// The application refuses new sessions (the session store says so).
    App,
}

/// What a cordon workflow knows about its cordon, journaled with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cordon {
    /// How the cordon is made.
    pub mechanism: CordonMechanism,
    /// The target group's load balancer kind and deregistration delay, read
    /// at the cordon step (none before it, or when the task has no target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<TargetGroupInfo>,
    /// When the cordon call was first sent, in seconds (kept on a retry or a
    /// resume, so an ALB's delay is never counted from a later call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cordoned_at: Option<u64>,
    /// When the hold must end by uncordoning, in seconds (see
    /// [`Cordon::uncordon_by`]), fixed at the cordon step; none when the
    /// wait is unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncordon_at: Option<u64>,
    /// When the victim's scale-in protection was last set, in seconds (the
    /// hold renews it: holds outlast the protection's expiry).
    #[serde(default)]
    pub protected_at: u64,
    /// When the hold ended with no session left, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ended_at: Option<u64>,
}

impl Cordon {
    /// When the hold must end by uncordoning, in seconds: `margin` before the
    /// load balancer would close the target's connections (its deregistration
    /// delay after the cordon); none when connections outlive the delay (an
    /// NLB with connection termination off), with the app mechanism, or
    /// before the cordon call.
    pub fn uncordon_by(&self, margin: u64) -> Option<u64> {
        if self.mechanism != CordonMechanism::Deregister {
            return None;
        }
        let info = self.info?;
        if info.keeps_connections() {
            return None;
        }
        let at = self.cordoned_at?;
        Some((at + info.deregistration_delay_s).saturating_sub(margin))
    }
}
