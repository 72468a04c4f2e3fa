//! execute: carry out what the guard allowed. Uncordons step their cordon
//! workflows back; cordons start one cordon workflow per task; scale-out
//! raises the desired count; scale-in starts one durable drain workflow per
//! victim. Drains then advance whenever they are due ([`advance_drains`]).
//! Every tick also deregisters again the targets of deregister-cordoned
//! tasks that were registered again ([`re_deregister`]).

use crate::events::{Event, Events};
use crate::model::TargetHealth;
use crate::providers::{Provider, ServiceRef};
use crate::workflow::{
    CordonMechanism, CordonMode, DrainConfig, DrainWorkflow, Journal, JournalError, Outcome, Step,
    StepReport, advance,
};

use super::gather::Gathered;
use super::guard::{Action, Guarded};
use super::outcome::{ActionOutcome, OutcomeKind};

/// The API call behind [`Provider::set_desired`], named in warnings.
const SET_DESIRED_CALL: &str = "UpdateService";

/// Executes what the guard allowed: uncordons, cordons (by `mode`), then
/// the action. Workflows started or stepped back here take their first steps at once.
#[allow(clippy::too_many_arguments)]
pub async fn execute<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    guarded: &Guarded,
    mode: CordonMode,
    gathered: &Gathered,
    drains: &mut Vec<DrainWorkflow>,
    cfg: &DrainConfig,
    journal: &dyn Journal,
    events: &Events,
    now: u64,
) -> Result<Vec<ActionOutcome>, JournalError> {
    let key = svc.key();
    let snapshot = &gathered.snapshot;
    let mut outcomes = Vec::new();
    let mut started = false;
    for id in &guarded.uncordon {
        let Some(wf) = drains.iter_mut().find(|d| &d.task_id == id) else {
            continue;
        };
        if wf.uncordon("demand returned: the policy or a scale-out uncordoned it") {
            wf.not_before = now;
            journal.record(wf)?;
            outcomes.push(ActionOutcome::new(
                OutcomeKind::Uncordon,
                Some(id),
                true,
                format!("workflow {}", wf.id),
            ));
            started = true;
        }
    }
    if let Some(mechanism) = mode.mechanism() {
        for id in &guarded.cordon {
            let wf = DrainWorkflow::new_cordon(
                &key,
                id,
                gathered.target_of(id).cloned(),
                mechanism,
                now,
                cfg,
            );
            journal.record(&wf)?;
            events.emit(Event::Cordoned {
                service: &key,
                task: id,
                mechanism,
            });
            outcomes.push(ActionOutcome::new(
                OutcomeKind::CordonStart,
                Some(id),
                true,
                format!("workflow {} ({mechanism})", wf.id),
            ));
            drains.push(wf);
            started = true;
        }
    }
    match &guarded.action {
        Action::Hold => {}
        Action::ScaleOut { from, to } => {
            let desired = snapshot.desired + (to - from);
            outcomes.push(set_desired(p, svc, desired, events).await);
        }
        Action::ScaleIn { from, to, victims } if victims.is_empty() => {
            // The session-unaware reference: ECS picks what to stop.
            let desired = snapshot.desired.saturating_sub(from - to);
            outcomes.push(set_desired(p, svc, desired, events).await);
        }
        Action::ScaleIn { victims, .. } => {
            for victim in victims {
                let wf =
                    DrainWorkflow::new(&key, victim, gathered.target_of(victim).cloned(), now, cfg);
                journal.record(&wf)?;
                outcomes.push(ActionOutcome::new(
                    OutcomeKind::DrainStart,
                    Some(victim),
                    true,
                    format!("workflow {}", wf.id),
                ));
                drains.push(wf);
            }
            started = true;
        }
    }
    if started {
        outcomes.extend(advance_drains(p, svc, drains, cfg, journal, events, now).await?);
    }
    Ok(outcomes)
}

/// Deregisters again the target of every deregister-cordoned task that the
/// snapshot shows registered again (by ECS or a person): read from the
/// gathered target health, so it costs no call unless one is found. Runs
/// every tick, before the policy's actions.
pub async fn re_deregister<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    gathered: &Gathered,
    drains: &[DrainWorkflow],
    events: &Events,
) -> Vec<ActionOutcome> {
    let key = svc.key();
    let mut outcomes = Vec::new();
    for wf in drains {
        let deregistered_cordon = wf
            .cordon
            .as_ref()
            .is_some_and(|c| c.mechanism == CordonMechanism::Deregister)
            && wf.changes.deregistered
            && matches!(wf.step, Step::Hold { .. } | Step::Recheck);
        if !deregistered_cordon {
            continue;
        }
        let (Some(task), Some(target)) = (gathered.snapshot.task(&wf.task_id), wf.target.as_ref())
        else {
            continue;
        };
        if !matches!(
            task.health,
            TargetHealth::Initial | TargetHealth::Healthy | TargetHealth::Unhealthy
        ) {
            continue;
        }
        let result = p
            .deregister(&svc.target_group, std::slice::from_ref(target))
            .await;
        let error = result.as_ref().err().map(ToString::to_string);
        events.emit(Event::ReDeregistered {
            service: &key,
            task: &wf.task_id,
            error: error.as_deref(),
        });
        outcomes.push(ActionOutcome::new(
            OutcomeKind::ReDeregister,
            Some(&wf.task_id),
            error.is_none(),
            match error {
                None => format!("its target was {:?} again: deregistered again", task.health)
                    .to_lowercase(),
                Some(e) => format!("its target was registered again; deregistering it failed: {e}"),
            },
        ));
    }
    outcomes
}

async fn set_desired<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    desired: u32,
    events: &Events,
) -> ActionOutcome {
    let key = svc.key();
    match p.set_desired(svc, desired).await {
        Ok(()) => {
            events.emit(Event::DesiredSet {
                service: &key,
                desired,
            });
            ActionOutcome::new(OutcomeKind::SetDesired, None, true, desired.to_string())
        }
        Err(e) => {
            // The AWS provider's errors name the call already; the sim's do not.
            let error = e.to_string();
            let error = if error.contains(SET_DESIRED_CALL) {
                error
            } else {
                format!("{SET_DESIRED_CALL}: {error}")
            };
            // Logged as a WARN naming the call by the event.
            events.emit(Event::ActionFailed {
                service: &key,
                error: &error,
            });
            ActionOutcome::new(OutcomeKind::SetDesired, None, false, error)
        }
    }
}

/// Advances every drain that is due at `now`, and drops the finished ones.
pub async fn advance_drains<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    drains: &mut Vec<DrainWorkflow>,
    cfg: &DrainConfig,
    journal: &dyn Journal,
    events: &Events,
    now: u64,
) -> Result<Vec<ActionOutcome>, JournalError> {
    let key = svc.key();
    let mut outcomes = Vec::new();
    for i in 0..drains.len() {
        if drains[i].wake_at().is_none_or(|t| t > now) {
            continue;
        }
        // Victims already unprotected on purpose (past their re-check) stay unprotected.
        let released: Vec<String> = drains
            .iter()
            .filter(|d| d.id != drains[i].id && d.is_released())
            .map(|d| d.task_id.clone())
            .collect();
        let wf = &mut drains[i];
        let before = wf.step.name();
        let report = advance(p, svc, wf, cfg, &released, journal, now).await?;
        if !events.is_quiet() {
            warn_failed_calls(&key, wf, before, &report);
        }
        for step in &report.completed {
            events.emit(Event::DrainStep {
                service: &key,
                task: &wf.task_id,
                step: *step,
            });
        }
        if let Some(n) = report.lowered_to {
            outcomes.push(ActionOutcome::new(
                OutcomeKind::DrainScaledIn,
                Some(&wf.task_id),
                true,
                n.to_string(),
            ));
        }
        for error in &report.retried {
            events.emit(Event::DrainRetried {
                service: &key,
                task: &wf.task_id,
                step: wf.step.kind(),
                error,
            });
            outcomes.push(ActionOutcome::new(
                OutcomeKind::DrainRetry,
                Some(&wf.task_id),
                false,
                error.clone(),
            ));
        }
        if let Some(outcome) = &report.finished {
            let detail = outcome.detail();
            if let Outcome::Uncordoned { reason } = outcome {
                events.emit(Event::Uncordoned {
                    service: &key,
                    task: &wf.task_id,
                    reason,
                });
            }
            events.emit(Event::DrainFinished {
                service: &key,
                task: &wf.task_id,
                outcome: outcome.into(),
                detail: &detail,
            });
            outcomes.push(ActionOutcome::drain_finished(&wf.task_id, outcome));
        }
    }
    drains.retain(|d| !d.is_done());
    Ok(outcomes)
}

/// Logs one WARN line when a drain gives up and rolls back: the step is
/// named, and the provider's error names the API call. (Each retried error
/// is logged once by `Event::DrainRetried`.)
fn warn_failed_calls(service: &str, wf: &DrainWorkflow, before: &str, report: &StepReport) {
    // Each retry is logged once, by `Event::DrainRetried` (with its metric).
    // Giving up journals a roll-back whose reason is "step <name> failed: <error>".
    let gave_up = match (&wf.step, &report.finished) {
        (Step::RollBack { reason, .. }, _) => Some(reason),
        (_, Some(Outcome::RolledBack { reason } | Outcome::RollBackFailed { reason, .. })) => {
            Some(reason)
        }
        _ => None,
    };
    // A roll-back that began in an earlier wake-up was warned about then.
    let new = |r: &&String| {
        r.starts_with("step ") && (before != "roll-back" || r.starts_with("step roll-back failed"))
    };
    if let Some(reason) = gave_up.filter(new) {
        tracing::warn!(service, task = %crate::escape::Escaped(&wf.task_id), step = before, "A provider call of a drain step failed; the drain rolls back: {}", crate::escape::Escaped(reason));
    }
}
