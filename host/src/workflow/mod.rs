//! The durable drain workflow: how one idle task leaves a service without
//! any session being cut.
//!
//! Steps, each journaled before it runs so a restarted host resumes it:
//! 1. **protect**: scale-in protection on for every running or starting task
//!    of the service, the victim included (new tasks start unprotected), but
//!    not the victims of other drains that were already released;
//! 2. **deregister** the victim's target, so no new session reaches it;
//! 3. **wait** for the deregistration: the first check after most of the
//!    target group's deregistration delay, then every interval;
//! 4. **recheck** the victim's sessions: if one appeared, step back
//!    (register the target again) and abort;
//! 5. **scale in**: re-protect any task that is not protected, unprotect
//!    the victim, and set the desired count to the value journaled for
//!    this step (an absolute value, so a resumed step is not applied twice);
//! 6. **confirm** that the victim reaches STOPPED.
//!
//! A **cordon** (a busy task; see [`Cordon`]) takes another path:
//! protect -> **cordon** (deregister the target, or publish the app-level
//! cordon in the session store; the target group's load balancer kind and
//! deregistration delay are read here and journaled) -> **hold** until the
//! task's sessions reach 0 (the first check late, then at an interval) ->
//! recheck (deregister mechanism) or deregister -> wait -> recheck (app
//! mechanism) -> scale in -> confirm, as above. The drain's deadline counts
//! from the end of the hold. When the load balancer closes a deregistered
//! target's connections at the end of its delay (an ALB), the hold ends by
//! **uncordoning** before then: the target is registered again and the
//! workflow ends `uncordoned`, so no session is cut. Uncordon is always a step
//! back (register again, or lift the app-level cordon), never a stop.
//!
//! The victim is unprotected only at step 5, after its sessions were
//! re-checked: until then a concurrent desired-count decrease can only stop
//! tasks that have passed their own recheck. Transient errors are retried
//! with backoff and jitter; other errors, `max_attempts` transient errors in
//! a row and the workflow's deadline roll it back.
//!
//! A roll-back undoes exactly what the drain did, as recorded in
//! [`DrainWorkflow::changes`] (each change is journaled before the call that
//! makes it): it protects the victim again only if the drain unprotected it,
//! then registers the target again only if the drain deregistered it. It
//! leaves the protection the drain turned on in place (protection only delays
//! a scale-in, and it expires). It is bounded: transient errors are retried
//! with backoff up to `roll_back_attempts` times, then the workflow ends
//! `roll-back-failed`, naming the failing call and what was left as is, and
//! frees its slot. Safety first: the target is registered again only once the
//! victim is protected, so a task left behind is either protected or out of
//! the load balancer (no session can reach it), never both unprotected and
//! serving.

mod config;
mod cordon;
mod journal;
mod retry;
mod step;
mod steps;
mod wire;

use serde::{Deserialize, Serialize};

pub use config::DrainConfig;
pub use cordon::{Cordon, CordonMechanism, CordonMode};
pub use journal::{FileJournal, Journal, JournalError, LatestJournal, MemoryJournal};
pub use retry::backoff;
pub use step::{Outcome, Step, StepKind};
pub use steps::{MIN_UNCORDON_MARGIN, StepReport, UNCORDON_RETRY, advance};

use crate::providers::Target;

/// What a drain has changed in the world, so that a roll-back undoes exactly
/// that. Each flag is journaled before the call it stands for is sent (so it
/// means "may have"), and cleared, journaled, once the roll-back has undone it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Changes {
    /// A DeregisterTargets call for the victim's target may have been sent.
    pub deregistered: bool,
    /// An UpdateTaskProtection call turning the victim's protection off may have been sent.
    pub unprotected: bool,
    /// The app-level cordon of the victim may have been published in the
    /// session store (the application then refuses new sessions on it).
    pub cordoned_app: bool,
}

impl Changes {
    /// For a journal line written before changes were recorded: the drain may
    /// have done anything, so its roll-back undoes everything (as it used to).
    pub fn unknown() -> Self {
        // No cordon existed before `changes` did.
        Changes {
            deregistered: true,
            unprotected: true,
            cordoned_app: false,
        }
    }

    /// Whether there is nothing to undo.
    pub fn is_empty(&self) -> bool {
        !self.deregistered && !self.unprotected && !self.cordoned_app
    }
}

/// One drain workflow: its identity and where it is. This whole struct is
/// what the journal stores, one line per change (its JSON form is in `wire.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct DrainWorkflow {
    /// Unique ID: service key, task ID and start time.
    pub id: String,
    /// The service's key (`cluster/service`).
    pub service: String,
    /// The victim's task ID.
    pub task_id: String,
    /// The victim's target, if it had one.
    pub target: Option<Target>,
    /// The current step.
    pub step: Step,
    /// When the workflow began, in seconds.
    pub started_at: u64,
    /// When it must be finished by, in seconds.
    pub deadline_at: u64,
    /// Failed attempts at the current step.
    pub attempts: u32,
    /// Not before this time, in seconds (backoff after a transient error).
    pub not_before: u64,
    /// The last error met, for the record.
    pub last_error: Option<String>,
    /// What the drain has changed so far, for its roll-back. Journal lines
    /// written before this field existed read as [`Changes::unknown`].
    pub changes: Changes,
    /// For a cordon (a busy victim that is stopped once its sessions end):
    /// its mechanism and state. None for an idle drain (and in journal lines
    /// written before cordons existed).
    pub cordon: Option<Cordon>,
    /// For an idle drain behind a load balancer that cuts a deregistered
    /// target's connections when its delay ends (an ALB, or an NLB with
    /// connection termination): the time, a margin before that cut, by which
    /// the drain re-checks the task's sessions, so that a session reported
    /// late is found while its target can still be registered again.
    pub recheck_by: Option<u64>,
}

impl DrainWorkflow {
    /// A new workflow for `task_id` of `service`, starting at `now`.
    pub fn new(
        service: &str,
        task_id: &str,
        target: Option<Target>,
        now: u64,
        cfg: &DrainConfig,
    ) -> Self {
        DrainWorkflow {
            id: format!("{service}/{task_id}/{now}"),
            service: service.to_string(),
            task_id: task_id.to_string(),
            target,
            step: Step::Protect,
            started_at: now,
            deadline_at: now + cfg.deadline.as_secs(),
            attempts: 0,
            not_before: now,
            last_error: None,
            changes: Changes::default(),
            cordon: None,
            recheck_by: None,
        }
    }

    /// A new cordon workflow for the busy task `task_id`, starting at `now`:
    /// protect, cordon by `mechanism`, hold until its sessions end, then
    /// drain it like an idle task.
    pub fn new_cordon(
        service: &str,
        task_id: &str,
        target: Option<Target>,
        mechanism: CordonMechanism,
        now: u64,
        cfg: &DrainConfig,
    ) -> Self {
        let mut wf = DrainWorkflow::new(service, task_id, target, now, cfg);
        wf.cordon = Some(Cordon {
            mechanism,
            info: None,
            cordoned_at: None,
            uncordon_at: None,
            protected_at: now,
            hold_ended_at: None,
        });
        wf
    }

    /// When the victim was cordoned, while the workflow is at its cordon or
    /// hold (what the snapshot shows as `cordoned_since`); none otherwise.
    pub fn cordoned_since(&self) -> Option<u64> {
        match self.step {
            Step::Cordon | Step::Hold { .. } | Step::Uncordon { .. } => {
                let c = self.cordon.as_ref()?;
                Some(c.cordoned_at.unwrap_or(self.started_at))
            }
            _ => None,
        }
    }

    /// Whether the victim is cordoned and waiting for its sessions to end:
    /// a step back (uncordon) is still possible.
    pub fn is_holding(&self) -> bool {
        self.cordon.is_some()
            && matches!(self.step, Step::Protect | Step::Cordon | Step::Hold { .. })
    }

    /// Turns a holding cordon into a step back: the next [`advance`] serves
    /// the task again and ends the workflow `uncordoned`. The caller journals
    /// it. False (and nothing changed) when the workflow is not holding.
    pub fn uncordon(&mut self, reason: impl Into<String>) -> bool {
        if !self.is_holding() {
            return false;
        }
        self.step = Step::Uncordon {
            reason: reason.into(),
        };
        self.attempts = 0;
        self.last_error = None;
        true
    }

    /// Whether it has finished.
    pub fn is_done(&self) -> bool {
        matches!(self.step, Step::Done { .. })
    }

    /// Whether the desired count still includes the victim (the scale-in step has not happened).
    pub fn counts_in_desired(&self) -> bool {
        !matches!(self.step, Step::Confirm | Step::Done { .. })
    }

    /// Whether the victim has been unprotected on purpose: it passed its
    /// re-check and the desired count is being (or was) lowered for it.
    pub fn is_released(&self) -> bool {
        matches!(self.step, Step::ScaleIn { to: Some(_) } | Step::Confirm)
    }

    /// The hold's hard end (its journaled `uncordon_at`); `u64::MAX` without one.
    fn hold_limit(&self) -> u64 {
        self.cordon
            .as_ref()
            .and_then(|c| c.uncordon_at)
            .or(self.recheck_by)
            .unwrap_or(u64::MAX)
    }

    /// When this workflow next has something to do, in seconds.
    pub fn wake_at(&self) -> Option<u64> {
        match &self.step {
            Step::Done { .. } => None,
            Step::Wait { next_check_at, .. } => {
                Some((*next_check_at).max(self.not_before).min(self.hold_limit()))
            }
            // The wake-up to uncordon before an ALB cuts sessions cannot wait
            // for the next check.
            Step::Hold { next_check_at } => {
                Some((*next_check_at).max(self.not_before).min(self.hold_limit()))
            }
            _ => Some(self.not_before),
        }
    }
}
