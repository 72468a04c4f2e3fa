//! Where a workflow is ([`Step`]) and how it ended ([`Outcome`]).

use serde::{Deserialize, Serialize};

use crate::model::DrainStep;
use crate::providers::Target;

/// Where a workflow is. The journal stores it flat beside the workflow's
/// other fields, as `"step": "<name>"` and the variant's fields (see `wire.rs`).
#[derive(Debug, Clone, PartialEq, Eq, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(StepKind),
    doc = "A step without its data, named in logs, metrics and the DynamoDB journal's `step` attribute.",
    derive(strum::IntoStaticStr, strum::Display, Hash),
    strum(serialize_all = "kebab-case")
)]
pub enum Step {
    /// Protect every task of the service.
    Protect,
    /// Cordon the victim (a cordon workflow only): deregister its target, or
    /// publish the app-level cordon.
    Cordon,
    /// Wait for the cordoned victim's sessions to reach 0; check again at `next_check_at`.
    Hold {
        /// When to look next, in seconds.
        next_check_at: u64,
    },
    /// Step back: the cordoned victim serves new sessions again (its target
    /// registered again, or the app-level cordon lifted), then the workflow
    /// ends `uncordoned`.
    Uncordon {
        /// Why.
        reason: String,
    },
    /// Deregister the victim's target.
    Deregister {
        /// The victim's target (the workflow's [`DrainWorkflow::target`](super::DrainWorkflow::target)).
        target: Target,
    },
    /// Wait for the deregistration to finish; check again at `next_check_at`.
    Wait {
        /// When to look next, in seconds.
        next_check_at: u64,
        /// The target being deregistered.
        target: Target,
    },
    /// Re-check the victim's sessions.
    Recheck,
    /// Lower the desired count to `to` (decided when this step was journaled).
    ScaleIn {
        /// The absolute desired count to set.
        to: Option<u32>,
    },
    /// Wait for the victim to reach STOPPED.
    Confirm,
    /// Undo what [`DrainWorkflow::changes`](super::DrainWorkflow::changes) records: protect the victim
    /// again if the drain unprotected it, then register its target again if
    /// the drain deregistered it.
    RollBack {
        /// Why the workflow is rolling back.
        reason: String,
        /// Whether a session on the victim caused it (the outcome is then "aborted").
        session_appeared: bool,
    },
    /// Finished, one way or another.
    Done {
        /// How it ended.
        outcome: Outcome,
    },
}

impl Step {
    /// The step as shown to policies; none once finished.
    pub fn public(&self) -> Option<DrainStep> {
        Some(match self {
            Step::Protect => DrainStep::Protecting,
            Step::Cordon | Step::Hold { .. } | Step::Uncordon { .. } => DrainStep::Cordoned,
            Step::Deregister { .. } => DrainStep::Deregistering,
            Step::Wait { .. } => DrainStep::Waiting,
            Step::Recheck | Step::RollBack { .. } => DrainStep::Rechecking,
            Step::ScaleIn { .. } => DrainStep::ScalingIn,
            Step::Confirm => DrainStep::Confirming,
            Step::Done { .. } => return None,
        })
    }

    /// The step's kind, without its data.
    pub fn kind(&self) -> StepKind {
        self.into()
    }

    /// A short name for logs and metrics (`scale-in`, `roll-back`, ...).
    pub fn name(&self) -> &'static str {
        self.kind().into()
    }
}

/// How a workflow ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Outcome {
    /// The victim stopped: the service is one task smaller.
    Stopped,
    /// A session appeared on the victim; it rejoined the pool.
    Aborted {
        /// Why.
        reason: String,
    },
    /// The cordoned victim serves new sessions again (a step back): demand
    /// returned, or its load balancer would have cut its sessions.
    Uncordoned {
        /// Why.
        reason: String,
    },
    /// The workflow could not finish and was undone.
    RolledBack {
        /// Why.
        reason: String,
    },
    /// The workflow could not finish, and undoing it failed too (a call
    /// failed for good, or `roll_back_attempts` times in a row).
    RollBackFailed {
        /// Why the workflow rolled back, and the call that failed the roll-back.
        reason: String,
        /// What was left as is, and what that means for the task.
        left_as_is: String,
    },
}

impl Outcome {
    /// `stopped`, `aborted`, `uncordoned`, `rolled-back` or `roll-back-failed`, for metrics.
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    /// Whether the drain had to be undone because it failed (not because a
    /// session appeared): a roll-back, done or failed.
    pub fn is_roll_back(&self) -> bool {
        matches!(
            self,
            Outcome::RolledBack { .. } | Outcome::RollBackFailed { .. }
        )
    }

    /// The reason, and what was left as is, in one line (empty when stopped).
    pub fn detail(&self) -> String {
        match self {
            Outcome::Stopped => String::new(),
            Outcome::Aborted { reason }
            | Outcome::Uncordoned { reason }
            | Outcome::RolledBack { reason } => reason.clone(),
            Outcome::RollBackFailed { reason, left_as_is } => {
                format!("{reason}; left as is: {left_as_is}")
            }
        }
    }
}
