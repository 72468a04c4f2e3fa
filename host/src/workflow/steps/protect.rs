//! The protect step: scale-in protection on for the service's tasks, the
//! victim included.

use super::{StepError, keepers};
use crate::model::TaskStatus;
use crate::providers::{Provider, ServiceRef};
use crate::workflow::{DrainWorkflow, Outcome, Step};

/// Protects every running or starting task but other drains' released
/// victims; then the cordon (a cordon workflow), the deregistration (a
/// victim with a target) or the recheck.
pub(super) async fn protect<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    released: &[String],
    expiry: u32,
    now: u64,
) -> Result<Step, StepError> {
    let tasks = p.tasks(svc).await?;
    let Some(victim) = tasks.iter().find(|t| t.id == wf.task_id) else {
        return Ok(Step::Done {
            outcome: Outcome::Aborted {
                reason: "the task is gone already".into(),
            },
        });
    };
    if victim.status != TaskStatus::Running {
        return Ok(Step::Done {
            outcome: Outcome::Aborted {
                reason: format!("the task is {:?}, not running", victim.status),
            },
        });
    }
    // The victim too: it stays protected until its re-check has passed.
    let mut unprotected = keepers(wf, released, &tasks, false);
    if !victim.protected {
        unprotected.push(victim.id.clone());
    }
    if !unprotected.is_empty() {
        p.set_protection(svc, &unprotected, true, expiry).await?;
    }
    if let Some(c) = wf.cordon.as_mut() {
        c.protected_at = now;
        return Ok(Step::Cordon);
    }
    Ok(match wf.target.clone() {
        Some(target) => Step::Deregister { target },
        None => Step::Recheck,
    })
}
