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

mod journal;
mod retry;
mod steps;
mod wire;

use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use journal::{FileJournal, Journal, JournalError, LatestJournal, MemoryJournal};
pub use retry::backoff;
pub use steps::{MIN_UNCORDON_MARGIN, StepReport, UNCORDON_RETRY, advance};

use crate::model::DrainStep;
use crate::providers::{Target, TargetGroupInfo};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// Timing and limits of drain workflows for a service.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrainConfig {
    /// The target group's deregistration delay: how long a deregistered target drains.
    #[serde(with = "humantime_serde")]
    pub deregistration_delay: Duration,
    /// The first deregistration check comes after this fraction of the delay (each check is an API call).
    pub first_check_fraction: f64,
    /// Then a check every interval.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// How long a workflow may take from start to a stopped task before it rolls back.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// How long scale-in protection lasts once set (ECS allows up to 48 hours).
    #[serde(with = "humantime_serde")]
    pub protection_expiry: Duration,
    /// The most retries of one step on transient errors before the workflow
    /// rolls back.
    pub max_attempts: u32,
    /// The most retries of a roll-back on transient errors (backoff from 2 s,
    /// capped at 60 s: the default 20 is at most about 16 minutes) before the
    /// workflow ends `roll-back-failed` and frees its slot.
    pub roll_back_attempts: u32,
    /// After a drain of the service rolls back (or its roll-back fails), no
    /// new drain of the service starts for this long: a call that fails for
    /// good then costs one failed drain per pause, not one per tick.
    #[serde(with = "humantime_serde")]
    pub pause_after_roll_back: Duration,
    /// A cordoned task's sessions are first checked this long after the
    /// cordon (each check is a session-store read): sessions last long.
    #[serde(with = "humantime_serde")]
    pub cordon_first_check: Duration,
    /// Then a check every interval, until the sessions reach 0.
    #[serde(with = "humantime_serde")]
    pub cordon_check_interval: Duration,
    /// With a load balancer that closes a deregistered target's connections
    /// when its deregistration delay ends (an ALB, or an NLB with connection
    /// termination on), a deregister-cordoned task that still has sessions
    /// is uncordoned (registered again) this long before the delay ends.
    #[serde(with = "humantime_serde")]
    pub cordon_uncordon_margin: Duration,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            deregistration_delay: Duration::from_secs(300),
            first_check_fraction: 0.8,
            check_interval: Duration::from_secs(30),
            deadline: Duration::from_secs(30 * 60),
            protection_expiry: Duration::from_secs(120 * 60),
            max_attempts: 8,
            roll_back_attempts: 20,
            pause_after_roll_back: Duration::from_secs(15 * 60),
            cordon_first_check: Duration::from_secs(10 * 60),
            cordon_check_interval: Duration::from_secs(5 * 60),
            cordon_uncordon_margin: Duration::from_secs(120),
        }
    }
}

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
        /// The victim's target (the workflow's [`DrainWorkflow::target`]).
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
    /// Undo what [`DrainWorkflow::changes`] records: protect the victim
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
