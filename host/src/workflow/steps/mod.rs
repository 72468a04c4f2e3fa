//! Advancing one drain workflow: run every step that is due, journaling each
//! new state before acting on it.

use super::{
    Changes, DrainConfig, DrainWorkflow, Journal, JournalError, Outcome, Step, StepKind, backoff,
};
use crate::model::TaskStatus;
use crate::providers::{ClusterTask, Provider, ProviderError, ServiceRef};

mod deregister;
mod protect;
mod roll_back;
mod scale_in;
mod wait;

#[cfg(test)]
mod tests;

use roll_back::left_as_is;

/// How often a stopping victim is checked, in seconds.
const CONFIRM_POLL: u64 = 15;

/// The longest wait before an uncordon's retry, in seconds: its
/// `max_attempts` retries (at most 8 by default, 24 s) fit in the smallest
/// `drain.cordon_uncordon_margin` allowed, [`MIN_UNCORDON_MARGIN`].
pub const UNCORDON_RETRY: u64 = 3;

/// The smallest `drain.cordon_uncordon_margin` the config accepts, in seconds.
pub const MIN_UNCORDON_MARGIN: u64 = 30;

/// What one call to [`advance`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepReport {
    /// Each step that completed, in order.
    pub completed: Vec<StepKind>,
    /// Transient errors met (the step will be retried).
    pub retried: Vec<String>,
    /// The outcome, if the workflow finished.
    pub finished: Option<Outcome>,
    /// The desired count the scale-in step set, when it completed.
    pub lowered_to: Option<u32>,
}

/// Moves `wf` forward as far as it can go at `now`. Every state change is
/// made durable in `journal` before the step it leads to runs; a journal
/// failure stops the workflow where it is (nothing is done that is not journaled).
///
/// `released` names the victims of other drains that have passed their
/// re-check and were unprotected on purpose: protecting "every task" must
/// not protect them again, or ECS would have no task left to stop.
pub async fn advance<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    released: &[String],
    journal: &dyn Journal,
    now: u64,
) -> Result<StepReport, JournalError> {
    let mut report = StepReport::default();
    // Bounded: a workflow has at most a handful of steps per wake-up.
    for _ in 0..16 {
        match wf.wake_at() {
            Some(t) if t <= now => {}
            _ => break,
        }
        let past_deadline = now >= wf.deadline_at
            && matches!(
                wf.step,
                Step::Protect | Step::Deregister { .. } | Step::Wait { .. } | Step::Recheck
            );
        if past_deadline {
            // The roll-back's retries are its own, not the step's it replaces.
            wf.attempts = 0;
            wf.last_error = None;
            set(
                wf,
                Step::RollBack {
                    reason: "the drain did not finish before its deadline".into(),
                    session_appeared: false,
                },
                journal,
            )?;
            continue;
        }
        let kind = wf.step.kind();
        let name: &str = kind.into();
        match run_step(p, svc, wf, cfg, released, journal, now).await {
            Ok(next) => {
                report.completed.push(kind);
                if let (Step::ScaleIn { to: Some(n) }, Step::Confirm) = (&wf.step, &next) {
                    report.lowered_to = Some(*n);
                }
                wf.attempts = 0;
                wf.last_error = None;
                if let Step::Done { outcome } = &next {
                    report.finished = Some(outcome.clone());
                }
                let waits =
                    matches!(next, Step::Wait { .. } | Step::Hold { .. }) || next == wf.step;
                if next == wf.step {
                    wf.not_before = now + CONFIRM_POLL;
                }
                set(wf, next, journal)?;
                if waits {
                    break;
                }
            }
            Err(StepError::Journal(e)) => return Err(e),
            Err(StepError::Provider(e)) => {
                wf.attempts += 1;
                wf.last_error = Some(e.to_string());
                // A roll-back is bounded too, by attempts of its own: a call
                // that fails for good must not hold the drain's slot forever.
                let limit = match wf.step {
                    Step::RollBack { .. } => cfg.roll_back_attempts,
                    _ => cfg.max_attempts,
                };
                if !e.is_retryable() || wf.attempts > limit {
                    let failure = if e.is_retryable() {
                        format!("step {name} failed {} times: {e}", wf.attempts)
                    } else {
                        format!("step {name} failed: {e}")
                    };
                    let next = match &wf.step {
                        Step::RollBack { reason, .. } => Step::Done {
                            outcome: Outcome::RollBackFailed {
                                reason: format!("{reason}; then the {failure}"),
                                left_as_is: left_as_is(wf),
                            },
                        },
                        _ => Step::RollBack {
                            reason: failure,
                            session_appeared: false,
                        },
                    };
                    if let Step::Done { outcome } = &next {
                        report.finished = Some(outcome.clone());
                    }
                    wf.attempts = 0;
                    set(wf, next, journal)?;
                } else {
                    report.retried.push(e.to_string());
                    // An uncordon races the load balancer's delay: its
                    // retries come fast, within drain.cordon_uncordon_margin.
                    let racing = matches!(wf.step, Step::Uncordon { .. })
                        || (wf.cordon.is_some() && matches!(wf.step, Step::RollBack { .. }));
                    let wait = if racing {
                        backoff(&wf.id, wf.attempts).min(UNCORDON_RETRY)
                    } else {
                        backoff(&wf.id, wf.attempts)
                    };
                    wf.not_before = now + wait;
                    journal.record(wf)?;
                    break;
                }
            }
        }
    }
    Ok(report)
}

fn set(wf: &mut DrainWorkflow, step: Step, journal: &dyn Journal) -> Result<(), JournalError> {
    wf.step = step;
    journal.record(wf)
}

/// Why a step did not complete: a provider call failed (retried or rolled
/// back), or a change could not be journaled before its call (the workflow
/// stops where it is).
pub(super) enum StepError {
    Provider(ProviderError),
    Journal(JournalError),
}

impl From<ProviderError> for StepError {
    fn from(e: ProviderError) -> Self {
        StepError::Provider(e)
    }
}

impl From<JournalError> for StepError {
    fn from(e: JournalError) -> Self {
        StepError::Journal(e)
    }
}

/// Records a change to the world in the workflow, durably, before the call that makes it.
pub(super) fn note(
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
    change: impl FnOnce(&mut Changes),
) -> Result<(), JournalError> {
    let before = wf.changes;
    change(&mut wf.changes);
    if wf.changes == before {
        return Ok(());
    }
    journal.record(wf)
}

/// Runs the current step once and says which step comes next (the same step to poll again).
async fn run_step<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    released: &[String],
    journal: &dyn Journal,
    now: u64,
) -> Result<Step, StepError> {
    let expiry = (cfg.protection_expiry.as_secs() / 60).max(1) as u32;
    match wf.step.clone() {
        Step::Protect => protect::protect(p, svc, wf, released, expiry, now).await,
        Step::Cordon => deregister::cordon(p, svc, wf, cfg, journal, now).await,
        Step::Hold { .. } => wait::hold(p, svc, wf, cfg, expiry, now).await,
        Step::Uncordon { reason } => roll_back::uncordon(p, svc, wf, journal, reason).await,
        Step::Deregister { target } => {
            deregister::deregister(p, svc, wf, cfg, journal, target, now).await
        }
        Step::Wait { target, .. } => wait::wait(p, svc, wf, cfg, target, now).await,
        Step::Recheck => wait::recheck(p, svc, wf, now).await,
        Step::ScaleIn { to: None } => scale_in::decide(p, svc).await,
        Step::ScaleIn { to: Some(n) } => {
            scale_in::scale_in(p, svc, wf, released, journal, expiry, n).await
        }
        Step::Confirm => scale_in::confirm(p, svc, wf, journal, now).await,
        Step::RollBack {
            reason,
            session_appeared,
        } => roll_back::roll_back(p, svc, wf, journal, expiry, reason, session_appeared).await,
        Step::Done { outcome } => Ok(Step::Done { outcome }),
    }
}

/// The tasks that stay: up or starting, neither this victim nor another
/// drain's released one; with `all`, protected ones too (to renew them).
fn keepers(
    wf: &DrainWorkflow,
    released: &[String],
    tasks: &[ClusterTask],
    all: bool,
) -> Vec<String> {
    tasks
        .iter()
        .filter(|t| t.id != wf.task_id && (all || !t.protected) && !released.contains(&t.id))
        .filter(|t| t.status == TaskStatus::Running || t.status.is_starting())
        .map(|t| t.id.clone())
        .collect()
}
