//! The guard's rules by name, and the changes they make to a decision.

use serde::{Deserialize, Serialize};

/// A guard rule, recorded by its kebab-case name (`max-step-up`, ...).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum GuardRule {
    /// The count was raised to `min`.
    Min,
    /// The count was lowered to `max` (tasks draining included).
    Max,
    /// A scale-out was capped at `max_step_up`.
    MaxStepUp,
    /// A scale-in was capped at `max_step_down`.
    MaxStepDown,
    /// A scale-out within `scale_out_cooldown` was held.
    ScaleOutCooldown,
    /// A scale-in within `scale_in_cooldown` was held.
    ScaleInCooldown,
    /// A scale-in went no lower than the policy's highest target within `scale_in_stabilization`.
    ScaleInStabilization,
    /// Session counts are missing or stale: no scale-in and no cordon.
    SessionsUnknown,
    /// Utilization metrics are missing or stale: no scale-in.
    MetricsStale,
    /// A drain rolled back lately: no new drain or cordon.
    DrainBackoff,
    /// A scale-in was capped at `max_concurrent_drains` in flight.
    MaxConcurrentDrains,
    /// A task the policy named to drain cannot be drained.
    DrainCandidate,
    /// The policy named too few drainable idle tasks.
    IdleCandidates,
    /// A scale-out first uncordons cordoned tasks.
    UncordonFirst,
    /// A task the policy named to uncordon is not cordoned.
    UncordonCandidate,
    /// The service does not cordon.
    CordonOff,
    /// A task the policy named to cordon cannot be cordoned.
    CordonCandidate,
    /// Cordons past `max_cordoned` were refused.
    MaxCordoned,
    /// Cordons that would leave too little serving capacity were refused.
    ServingCapacity,
}

impl GuardRule {
    /// The rule's name, as the records and logs write it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One change the guard made to the policy's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Which rule.
    pub rule: GuardRule,
    /// The value before.
    pub original: String,
    /// The value after.
    pub adjusted: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// The changes made so far, in order.
pub(super) struct Ledger(pub(super) Vec<Adjustment>);

impl Ledger {
    /// Notes that `rule` changed `original` to `adjusted`, and why.
    pub(super) fn note(
        &mut self,
        rule: GuardRule,
        original: impl ToString,
        adjusted: impl ToString,
        reason: String,
    ) {
        self.0.push(Adjustment {
            rule,
            original: original.to_string(),
            adjusted: adjusted.to_string(),
            reason,
        });
    }

    /// Notes that `rule` refused the policy's task `id`: it cannot be
    /// `verb` (`cordoned`, `drained` ...) because of `reason`.
    pub(super) fn refuse_task(
        &mut self,
        rule: GuardRule,
        id: &str,
        verb: &str,
        reason: impl std::fmt::Display,
    ) {
        self.note(
            rule,
            id,
            "refused",
            format!("Task {id} cannot be {verb}: {reason}."),
        );
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::GuardRule;

    #[test]
    fn every_rule_keeps_its_name_in_the_records() {
        for rule in GuardRule::iter() {
            let json = serde_json::to_value(rule).unwrap();
            assert_eq!(json, rule.name());
            assert_eq!(serde_json::from_value::<GuardRule>(json).unwrap(), rule);
        }
        assert_eq!(GuardRule::MaxStepUp.name(), "max-step-up");
        assert_eq!(
            GuardRule::ScaleInStabilization.name(),
            "scale-in-stabilization"
        );
    }
}
