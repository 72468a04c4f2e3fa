//! The scale-in step (decide the count, then lower it for the victim) and
//! the confirmation that the victim stopped.

use super::{StepError, keepers, note};
use crate::model::TaskStatus;
use crate::providers::{Provider, ServiceRef};
use crate::workflow::{DrainWorkflow, Journal, Outcome, Step};

/// The scale-in's first half: the absolute desired count to set, journaled
/// before anything is done.
pub(super) async fn decide<P: Provider>(p: &P, svc: &ServiceRef) -> Result<Step, StepError> {
    // Decide the absolute count once, and journal it before acting.
    let counts = p.service(svc).await?;
    Ok(Step::ScaleIn {
        to: Some(counts.desired.saturating_sub(1)),
    })
}

/// The scale-in: protect every keeper afresh, unprotect the victim (journaled
/// first), set the desired count to `n`.
pub(super) async fn scale_in<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    released: &[String],
    journal: &dyn Journal,
    expiry: u32,
    n: u32,
) -> Result<Step, StepError> {
    // Every keeper is protected afresh, whatever the listing says: a
    // listing may lag, showing a protection that has since expired.
    let tasks = p.tasks(svc).await?;
    let keepers = keepers(wf, released, &tasks, true);
    if !keepers.is_empty() {
        p.set_protection(svc, &keepers, true, expiry).await?;
    }
    // A resumed step may find the victim already on its way out: ECS may
    // refuse protection changes on a stopping task, and none is needed.
    let victim_up = tasks
        .iter()
        .any(|t| t.id == wf.task_id && (t.status == TaskStatus::Running || t.status.is_starting()));
    if victim_up {
        note(wf, journal, |c| c.unprotected = true)?;
        p.set_protection(svc, std::slice::from_ref(&wf.task_id), false, expiry)
            .await?;
    }
    p.set_desired(svc, n).await?;
    Ok(Step::Confirm)
}

/// The confirmation: done once the victim is stopped, a roll-back past the
/// deadline, else poll again.
pub(super) async fn confirm<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
    now: u64,
) -> Result<Step, StepError> {
    let status = p
        .task_status(svc, std::slice::from_ref(&wf.task_id))
        .await?;
    let stopped = status
        .iter()
        .find(|(id, _)| *id == wf.task_id)
        .is_none_or(|(_, s)| *s == TaskStatus::Stopped);
    if stopped && wf.changes.cordoned_app {
        // The stopped task's cordon item is of no more use. Best
        // effort: the item expires by itself (its TTL) if this fails.
        if p.set_cordon(svc, &wf.task_id, None).await.is_ok() {
            note(wf, journal, |c| c.cordoned_app = false)?;
        }
    }
    Ok(if stopped {
        Step::Done {
            outcome: Outcome::Stopped,
        }
    } else if now >= wf.deadline_at {
        Step::RollBack {
            reason: "the task did not stop before the deadline".into(),
            session_appeared: false,
        }
    } else {
        Step::Confirm
    })
}
