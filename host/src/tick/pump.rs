//! The drains between ticks: a service advances those that come due, and
//! their outcomes go into the next tick's record.

use crate::events::Events;
use crate::providers::Provider;
use crate::workflow::{Journal, JournalError};

use super::Service;
use super::execute;
use super::guard;
use super::outcome::{ActionOutcome, OutcomeKind};

impl Service {
    /// Advances the drains due at `now`; what they did goes into the next tick's record.
    /// A dry run writes nothing: its drains stay paused where they are, and
    /// the journal untouched for a live run to resume them.
    pub async fn pump<P: Provider>(
        &mut self,
        p: &P,
        journal: &dyn Journal,
        events: &Events,
        now: u64,
    ) -> Result<(), JournalError> {
        if self.spec.dry_run {
            return Ok(());
        }
        let svc = &self.spec.svc;
        let done = execute::advance_drains(
            p,
            svc,
            &mut self.drains,
            &self.spec.drain,
            journal,
            events,
            now,
        )
        .await?;
        self.pause_drains_after_roll_backs(&done, now);
        if done.iter().any(|o| o.what == OutcomeKind::DrainScaledIn) {
            // The cooldown counts from the desired count's actual change, so the
            // next scale-in decision reads a count that has caught up with it.
            self.guard_state.last_scale_in = Some(now);
        }
        self.carried.extend(done);
        Ok(())
    }

    /// After a drain rolled back (its roll-back done or failed), no new
    /// drain starts for `pause_after_roll_back`: the guard refuses scale-ins
    /// meanwhile (`drain-backoff`).
    pub(super) fn pause_drains_after_roll_backs(&mut self, outcomes: &[ActionOutcome], now: u64) {
        if let Some(o) = outcomes.iter().rev().find(|o| o.is_roll_back()) {
            self.guard_state.drains_paused = Some(guard::DrainPause {
                until: now + self.spec.drain.pause_after_roll_back.as_secs(),
                because: format!("task {}: {}", o.task.as_deref().unwrap_or("?"), o.detail),
            });
        }
    }
}
