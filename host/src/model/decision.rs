//! A policy's decision, as the host sees it: drain candidates named by task ID.

use serde::{Deserialize, Serialize};

/// What a policy wants done with a service.
///
/// JSON form: `{"desired": 4, "drain": ["task-id", ...], "cordon": [...],
/// "uncordon": [...], "reason": "..."}`; `desired` is `null` (or absent) for
/// no change, and the lists may be left out when empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The absolute task count wanted, counting tasks already draining as gone; none for no change.
    #[serde(default)]
    pub desired: Option<u32>,
    /// Task IDs to drain on scale-in, in the policy's order of preference.
    #[serde(default)]
    pub drain: Vec<String>,
    /// Busy task IDs to cordon: they take no new sessions, keep their own, and
    /// are stopped once those have ended (contract 0.2.0 and later).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cordon: Vec<String>,
    /// Cordoned task IDs to serve new sessions again (contract 0.2.0 and later).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncordon: Vec<String>,
    /// Why, in a sentence.
    #[serde(default)]
    pub reason: String,
}

impl Decision {
    /// A decision that changes nothing.
    pub fn hold(reason: impl Into<String>) -> Self {
        Decision {
            desired: None,
            drain: Vec::new(),
            cordon: Vec::new(),
            uncordon: Vec::new(),
            reason: reason.into(),
        }
    }
}
