//! guard: the host's limits on what a policy may do. The policy proposes;
//! the guard enforces min and max (the desired count, tasks still draining
//! included, never exceeds max), step sizes, cooldowns, the scale-in
//! stabilization window, fresh data for scale-in, and session safety of the
//! drain candidates. Every change it makes is recorded with the original
//! value and the reason.
//!
//! Cordons (busy tasks that take no new sessions and stop once theirs end)
//! and uncordons are explicit actions beside the desired count. A cordoned
//! task is a drain in flight, so it is not serving capacity: after this
//! tick's cordons and uncordons the effective count is
//! `effective - cordoned + uncordoned`, and the policy's `desired` is
//! compared with that. Cordon rules: `cordon-off`, `sessions-unknown`,
//! `drain-backoff`, `cordon-candidate`, `max-cordoned`, `serving-capacity`;
//! `uncordon-candidate` for uncordons, and `uncordon-first`: a scale-out first
//! uncordons cordoned tasks (the fullest first: instant and free) and
//! launches only the rest.

mod config;
mod cordon;
mod count;
mod rule;
mod state;
mod verdict;

use crate::model::{Decision, Snapshot};
use crate::tick::gather::DataHealth;

pub use config::GuardConfig;
use rule::Ledger;
pub use rule::{Adjustment, GuardRule};
pub use state::{DrainPause, GuardState};
pub use verdict::{Action, Guarded};

/// Applies the guardrails to a decision (none when the policy faulted: then it holds).
pub fn guard(
    decision: Option<&Decision>,
    s: &Snapshot,
    health: DataHealth,
    cfg: &GuardConfig,
    state: &mut GuardState,
    now: u64,
) -> Guarded {
    let mut log = Ledger(Vec::new());
    let Some(decision) = decision else {
        return Guarded {
            action: Action::Hold,
            adjustments: log.0,
            cordon: Vec::new(),
            uncordon: Vec::new(),
        };
    };
    let uncordon = cordon::uncordons(decision, s, &mut log);
    let cordon = cordon::cordons(decision, s, cfg, state, &uncordon, &mut log, now);
    let mut g = count::guard_count(decision, s, health, cfg, state, &cordon, uncordon, log, now);
    g.cordon = cordon;
    g
}

#[cfg(test)]
mod tests;
