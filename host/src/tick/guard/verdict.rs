//! What the guard lets the executor do.

use serde::{Deserialize, Serialize};

use super::rule::Adjustment;

/// What the guard lets the executor do. Counts are effective counts (tasks draining excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    Hold,
    /// Raise the count.
    ScaleOut {
        /// The effective count before.
        from: u32,
        /// The effective count after.
        to: u32,
    },
    /// Drain these tasks.
    ScaleIn {
        /// The effective count before.
        from: u32,
        /// The effective count after.
        to: u32,
        /// The tasks to drain.
        victims: Vec<String>,
    },
}

impl Action {
    /// `hold`, `scale-out` or `scale-in`.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Hold => "hold",
            Action::ScaleOut { .. } => "scale-out",
            Action::ScaleIn { .. } => "scale-in",
        }
    }
}

/// The guard's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guarded {
    /// What may be done to the desired count and idle tasks. Its counts are
    /// effective counts after this tick's cordons and uncordons.
    pub action: Action,
    /// Every change made to the decision.
    pub adjustments: Vec<Adjustment>,
    /// Busy tasks to cordon, in the policy's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cordon: Vec<String>,
    /// Cordoned tasks to serve again: the policy's, then those a scale-out
    /// uncordons first (the fullest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncordon: Vec<String>,
}
