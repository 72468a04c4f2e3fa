//! execute: carry out what the guard allowed. Scale-out raises the desired
//! count; scale-in starts one durable drain workflow per victim. Drains then
//! advance whenever they are due ([`advance_drains`]).

use serde::Serialize;

use crate::events::{Event, Events};
use crate::providers::{Provider, ServiceRef};
use crate::workflow::{DrainConfig, DrainWorkflow, Journal, JournalError, advance};

use super::gather::Gathered;
use super::guard::Action;

/// What an action (or a drain step) came to, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ActionOutcome {
    /// What was done: `set-desired`, `drain-start`, `drain-retry`,
    /// `drain-scaled-in` (a drain lowered the desired count), `drain-finished`.
    pub what: String,
    /// The task, for drain outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Details: the new count, the step, the outcome, or the error.
    pub detail: String,
}

/// Executes `action`. Drains started here take their first steps at once.
#[allow(clippy::too_many_arguments)]
pub async fn execute<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    action: &Action,
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
    match action {
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
                outcomes.push(ActionOutcome {
                    what: "drain-start".into(),
                    task: Some(victim.clone()),
                    ok: true,
                    detail: format!("workflow {}", wf.id),
                });
                drains.push(wf);
            }
            outcomes.extend(advance_drains(p, svc, drains, cfg, journal, events, now).await?);
        }
    }
    Ok(outcomes)
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
            ActionOutcome {
                what: "set-desired".into(),
                task: None,
                ok: true,
                detail: desired.to_string(),
            }
        }
        Err(e) => {
            let error = e.to_string();
            events.emit(Event::ActionFailed {
                service: &key,
                error: &error,
            });
            ActionOutcome {
                what: "set-desired".into(),
                task: None,
                ok: false,
                detail: error,
            }
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
        let report = advance(p, svc, wf, cfg, &released, journal, now).await?;
        for step in &report.completed {
            events.emit(Event::DrainStep {
                service: &key,
                task: &wf.task_id,
                step,
            });
        }
        if let Some(n) = report.lowered_to {
            outcomes.push(ActionOutcome {
                what: "drain-scaled-in".into(),
                task: Some(wf.task_id.clone()),
                ok: true,
                detail: n.to_string(),
            });
        }
        for error in &report.retried {
            events.emit(Event::DrainRetried {
                service: &key,
                task: &wf.task_id,
                step: wf.step.name(),
                error,
            });
            outcomes.push(ActionOutcome {
                what: "drain-retry".into(),
                task: Some(wf.task_id.clone()),
                ok: false,
                detail: error.clone(),
            });
        }
        if let Some(outcome) = &report.finished {
            let detail = match outcome {
                crate::workflow::Outcome::Stopped => String::new(),
                crate::workflow::Outcome::Aborted { reason }
                | crate::workflow::Outcome::RolledBack { reason } => reason.clone(),
            };
            events.emit(Event::DrainFinished {
                service: &key,
                task: &wf.task_id,
                outcome: outcome.kind(),
                detail: &detail,
            });
            outcomes.push(ActionOutcome {
                what: "drain-finished".into(),
                task: Some(wf.task_id.clone()),
                ok: *outcome == crate::workflow::Outcome::Stopped,
                detail: if detail.is_empty() {
                    outcome.kind().to_string()
                } else {
                    format!("{}: {detail}", outcome.kind())
                },
            });
        }
    }
    drains.retain(|d| !d.is_done());
    Ok(outcomes)
}
