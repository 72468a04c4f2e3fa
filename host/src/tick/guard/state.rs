//! What the guard remembers between ticks.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::verdict::Action;

/// What the guard remembers between ticks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// When the last scale-out was executed.
    pub last_scale_out: Option<u64>,
    /// When the last scale-in was started, or a drain last lowered the desired count.
    pub last_scale_in: Option<u64>,
    /// The policy's targets within the stabilization window: (time, target).
    pub recent_targets: VecDeque<(u64, u32)>,
    /// No new drain starts before this, after a drain rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drains_paused: Option<DrainPause>,
}

/// A pause of new drains after a drain of the service rolled back (say, a
/// protection call that fails for good), so the host does not start the same
/// failing drain again every tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainPause {
    /// No new drain before this time, in seconds.
    pub until: u64,
    /// The rolled-back drain's task and outcome.
    pub because: String,
}

impl GuardState {
    /// Notes that an action was carried out at `now`.
    pub fn executed(&mut self, action: &Action, now: u64) {
        match action {
            Action::ScaleOut { .. } => self.last_scale_out = Some(now),
            Action::ScaleIn { .. } => self.last_scale_in = Some(now),
            Action::Hold => {}
        }
    }
}
