//! The steps back: the uncordon (the task serves again) and the roll-back
//! (undo what the drain changed), and what a failed roll-back leaves.

use super::{StepError, note};
use crate::model::TaskStatus;
use crate::providers::{Provider, ServiceRef};
use crate::workflow::{DrainWorkflow, Journal, Outcome, Step};

/// The uncordon: a step back that serves the victim again and ends the
/// workflow `uncordoned`.
pub(super) async fn uncordon<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
    reason: String,
) -> Result<Step, StepError> {
    // The victim stayed protected through the hold: it may serve at once.
    register_again(p, svc, wf, journal).await?;
    lift_app_cordon(p, svc, wf, journal).await?;
    Ok(Step::Done {
        outcome: Outcome::Uncordoned { reason },
    })
}

/// The roll-back: undo exactly what [`DrainWorkflow::changes`] records.
pub(super) async fn roll_back<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
    expiry: u32,
    reason: String,
    session_appeared: bool,
) -> Result<Step, StepError> {
    // Nothing to undo needs no call at all (a drain that failed at
    // protect): the protection it may have set stays on.
    let alive = !wf.changes.is_empty()
        && p.task_status(svc, std::slice::from_ref(&wf.task_id))
            .await?
            .into_iter()
            .any(|(id, s)| id == wf.task_id && s == TaskStatus::Running);
    if alive {
        // Protection first: the target is registered again only once
        // the task cannot be stopped under a new session.
        if wf.changes.unprotected {
            p.set_protection(svc, std::slice::from_ref(&wf.task_id), true, expiry)
                .await?;
            note(wf, journal, |c| c.unprotected = false)?;
        }
        register_again(p, svc, wf, journal).await?;
    }
    // After the protection, like the target: the application may give
    // the task new sessions again. A stopped task's item is lifted too.
    lift_app_cordon(p, svc, wf, journal).await?;
    let outcome = if session_appeared {
        Outcome::Aborted { reason }
    } else {
        Outcome::RolledBack { reason }
    };
    Ok(Step::Done { outcome })
}

/// Registers the victim's target again if the drain deregistered it, and
/// journals that it is undone.
async fn register_again<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
) -> Result<(), StepError> {
    if wf.changes.deregistered {
        if let Some(target) = &wf.target {
            p.register(&svc.target_group, std::slice::from_ref(target))
                .await?;
        }
        note(wf, journal, |c| c.deregistered = false)?;
    }
    Ok(())
}

/// Lifts the victim's app-level cordon if the drain set it, and journals
/// that it is undone.
async fn lift_app_cordon<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    journal: &dyn Journal,
) -> Result<(), StepError> {
    if wf.changes.cordoned_app {
        p.set_cordon(svc, &wf.task_id, None).await?;
        note(wf, journal, |c| c.cordoned_app = false)?;
    }
    Ok(())
}

/// What a failed roll-back leaves behind, from what it could not undo.
pub(super) fn left_as_is(wf: &DrainWorkflow) -> String {
    let c = wf.changes;
    let app = if c.cordoned_app {
        "; the app-level cordon stays published (the application refuses new sessions on the \
         task until a later drain or uncordon lifts it)"
    } else {
        ""
    };
    format!("{}{app}", left_as_is_lb(wf))
}

fn left_as_is_lb(wf: &DrainWorkflow) -> String {
    let c = wf.changes;
    if c.unprotected && wf.target.is_none() {
        "the task stays unprotected: ECS may stop it (its sessions were re-checked before it \
         was unprotected)"
            .into()
    } else if c.unprotected {
        // The target was not registered again: that waits for the protection.
        "the task stays unprotected and out of its target group: no new session can reach it, \
         and ECS may stop it (its sessions were re-checked before it was unprotected)"
            .into()
    } else if c.deregistered {
        "the task stays protected (until its protection expires) and out of its target group: \
         no new session reaches it and the host does not stop it; register its target again by \
         hand, or let a later drain take it"
            .into()
    } else if c.cordoned_app {
        "the task stays protected (until its protection expires)".into()
    } else {
        "nothing: the drain changed no more than the task's protection, which stays on".into()
    }
}
