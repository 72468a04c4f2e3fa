//! Advancing one drain workflow: run every step that is due, journaling each
//! new state before acting on it.

use super::{
    Changes, CordonMechanism, DrainConfig, DrainWorkflow, Journal, JournalError, Outcome, Step,
    backoff,
};
use crate::model::{TargetHealth, TaskStatus};
use crate::providers::{Provider, ProviderError, ServiceRef};

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
    /// Each step that completed, by name, in order.
    pub completed: Vec<&'static str>,
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
                Step::Protect | Step::Deregister | Step::Wait { .. } | Step::Recheck
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
        let name = wf.step.name();
        match run_step(p, svc, wf, cfg, released, journal, now).await {
            Ok(next) => {
                report.completed.push(name);
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
enum StepError {
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
fn note(
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
fn left_as_is(wf: &DrainWorkflow) -> String {
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
    // The tasks that stay: up or starting, neither this victim nor another
    // drain's released one; with `all`, protected ones too (to renew them).
    let keepers = |tasks: &[crate::providers::ClusterTask], all: bool| -> Vec<String> {
        tasks
            .iter()
            .filter(|t| t.id != wf.task_id && (all || !t.protected) && !released.contains(&t.id))
            .filter(|t| t.status == TaskStatus::Running || t.status.is_starting())
            .map(|t| t.id.clone())
            .collect()
    };
    match wf.step.clone() {
        Step::Protect => {
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
            let mut unprotected = keepers(&tasks, false);
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
            Ok(if wf.target.is_some() {
                Step::Deregister
            } else {
                Step::Recheck
            })
        }
        Step::Cordon => cordon(p, svc, wf, cfg, journal, now).await,
        Step::Hold { .. } => hold(p, svc, wf, cfg, expiry, now).await,
        Step::Uncordon { reason } => {
            // The victim stayed protected through the hold: it may serve at once.
            register_again(p, svc, wf, journal).await?;
            lift_app_cordon(p, svc, wf, journal).await?;
            Ok(Step::Done {
                outcome: Outcome::Uncordoned { reason },
            })
        }
        Step::Deregister => {
            let target = wf
                .target
                .clone()
                .expect("deregister only runs with a target");
            // After an app-level hold, with a load balancer that cuts a
            // deregistered target's connections: a session reported late
            // must be found (and the target registered again) before then.
            let margin = cfg.cordon_uncordon_margin.as_secs();
            if let Some(c) = wf.cordon.as_mut()
                && c.uncordon_at.is_none()
                && let Some(info) = c.info.filter(|i| !i.keeps_connections())
            {
                c.uncordon_at = Some((now + info.deregistration_delay_s).saturating_sub(margin));
            }
            // An idle drain too: a session routed to the task just before its
            // target left and reported late would be cut when the delay ends.
            // The recheck comes a margin before, while the target can still
            // be registered again (the step back).
            if wf.cordon.is_none() && wf.recheck_by.is_none() && !wf.changes.deregistered {
                let delay = match p.target_group_info(&svc.target_group).await {
                    Ok(info) => (!info.keeps_connections()).then_some(info.deregistration_delay_s),
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    // Unreadable for good (say, an IAM policy without the
                    // Describe calls): assume the cut, at the configured delay.
                    Err(_) => Some(cfg.deregistration_delay.as_secs()),
                };
                wf.recheck_by = delay.map(|d| (now + d).saturating_sub(margin));
            }
            note(wf, journal, |c| c.deregistered = true)?;
            p.deregister(&svc.target_group, std::slice::from_ref(&target))
                .await?;
            let first = (cfg.deregistration_delay.as_secs_f64() * cfg.first_check_fraction) as u64;
            Ok(Step::Wait {
                next_check_at: now + first.max(1),
            })
        }
        Step::Wait { .. } => {
            if wf
                .cordon
                .and_then(|c| c.uncordon_at)
                .or(wf.recheck_by)
                .is_some_and(|t| now >= t)
            {
                // Recheck before the load balancer would cut a late session.
                return Ok(Step::Recheck);
            }
            let target = wf.target.clone().expect("wait only runs with a target");
            let targets = p.targets(&svc.target_group).await?;
            let state = targets
                .iter()
                .find(|t| t.target == target)
                .map(|t| t.health);
            Ok(match state {
                None | Some(TargetHealth::Unregistered) => Step::Recheck,
                Some(TargetHealth::Draining) | Some(TargetHealth::Unknown) => Step::Wait {
                    next_check_at: now + cfg.check_interval.as_secs().max(1),
                },
                // Registered again by someone else: deregister once more.
                Some(_) => Step::Deregister,
            })
        }
        Step::Recheck => {
            let sessions = p.sessions_by_task(svc, now).await?;
            let n = sessions.get(&wf.task_id).copied().unwrap_or(0);
            Ok(if n > 0 {
                Step::RollBack {
                    reason: format!("{n} session(s) appeared on the task during its drain"),
                    session_appeared: true,
                }
            } else {
                Step::ScaleIn { to: None }
            })
        }
        Step::ScaleIn { to: None } => {
            // Decide the absolute count once, and journal it before acting.
            let counts = p.service(svc).await?;
            Ok(Step::ScaleIn {
                to: Some(counts.desired.saturating_sub(1)),
            })
        }
        Step::ScaleIn { to: Some(n) } => {
            // Every keeper is protected afresh, whatever the listing says: a
            // listing may lag, showing a protection that has since expired.
            let tasks = p.tasks(svc).await?;
            let keepers = keepers(&tasks, true);
            if !keepers.is_empty() {
                p.set_protection(svc, &keepers, true, expiry).await?;
            }
            // A resumed step may find the victim already on its way out: ECS may
            // refuse protection changes on a stopping task, and none is needed.
            let victim_up = tasks.iter().any(|t| {
                t.id == wf.task_id && (t.status == TaskStatus::Running || t.status.is_starting())
            });
            if victim_up {
                note(wf, journal, |c| c.unprotected = true)?;
                p.set_protection(svc, std::slice::from_ref(&wf.task_id), false, expiry)
                    .await?;
            }
            p.set_desired(svc, n).await?;
            Ok(Step::Confirm)
        }
        Step::Confirm => {
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
        Step::RollBack {
            reason,
            session_appeared,
        } => {
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
        Step::Done { outcome } => Ok(Step::Done { outcome }),
    }
}

/// The cordon step: read the target group's behaviour (journaled before
/// anything is done), then cordon by the workflow's mechanism, journaling
/// the change before its call.
async fn cordon<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    journal: &dyn Journal,
    now: u64,
) -> Result<Step, StepError> {
    let mut c = wf
        .cordon
        .expect("the cordon step runs in a cordon workflow");
    if c.info.is_none() && wf.target.is_some() {
        c.info = Some(p.target_group_info(&svc.target_group).await?);
        wf.cordon = Some(c);
        journal.record(wf)?;
    }
    let margin = cfg.cordon_uncordon_margin.as_secs();
    let first = now + cfg.cordon_first_check.as_secs().max(1);
    match c.mechanism {
        CordonMechanism::Deregister => {
            let (Some(target), Some(info)) = (wf.target.clone(), c.info) else {
                return Ok(Step::Done {
                    outcome: Outcome::Aborted {
                        reason: "the task has no load balancer target to deregister: it cannot \
                                 be cordoned by deregistration"
                            .into(),
                    },
                });
            };
            if !info.keeps_connections() && info.deregistration_delay_s <= margin {
                return Ok(Step::Done {
                    outcome: Outcome::Aborted {
                        reason: format!(
                            "not cordoned: the load balancer ({:?}) closes a deregistered target's \
                             connections after {}s, within drain.cordon_uncordon_margin ({margin}s); \
                             raise the target group's deregistration delay or use cordon = \"app\"",
                            info.kind, info.deregistration_delay_s
                        ),
                    },
                });
            }
            // Kept on a resume: the delay counts from the first call.
            c.cordoned_at.get_or_insert(now);
            c.uncordon_at = c.uncordon_by(margin);
            wf.cordon = Some(c);
            wf.changes.deregistered = true;
            journal.record(wf)?;
            p.deregister(&svc.target_group, std::slice::from_ref(&target))
                .await?;
        }
        CordonMechanism::App => {
            let at = *c.cordoned_at.get_or_insert(now);
            wf.cordon = Some(c);
            wf.changes.cordoned_app = true;
            journal.record(wf)?;
            p.set_cordon(svc, &wf.task_id, Some(at)).await?;
        }
    }
    Ok(Step::Hold {
        next_check_at: first,
    })
}

/// The hold: uncordon when the load balancer would soon cut the sessions,
/// renew the victim's protection when half of it has run out, then read its
/// sessions: none left ends the hold (the drain's deadline counts from
/// here), else check again after the interval.
async fn hold<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    expiry_minutes: u32,
    now: u64,
) -> Result<Step, StepError> {
    let c = wf.cordon.expect("the hold runs in a cordon workflow");
    if let Some(limit) = c.uncordon_at.filter(|&t| now >= t) {
        let delay = c.info.map_or(0, |i| i.deregistration_delay_s);
        return Ok(Step::Uncordon {
            reason: format!(
                "the task still had sessions at {limit}s, {}s before its load balancer closes the \
                 connections of a target deregistered {delay}s earlier: it serves again rather than \
                 have a session cut",
                cfg.cordon_uncordon_margin.as_secs()
            ),
        });
    }
    if now >= c.protected_at + cfg.protection_expiry.as_secs() / 2 {
        p.set_protection(svc, std::slice::from_ref(&wf.task_id), true, expiry_minutes)
            .await?;
        if let Some(c) = wf.cordon.as_mut() {
            c.protected_at = now;
        }
    }
    let sessions = p.sessions_by_task(svc, now).await?;
    let n = sessions.get(&wf.task_id).copied().unwrap_or(0);
    if n > 0 {
        return Ok(Step::Hold {
            next_check_at: now + cfg.cordon_check_interval.as_secs().max(1),
        });
    }
    if let Some(c) = wf.cordon.as_mut() {
        c.hold_ended_at = Some(now);
    }
    wf.deadline_at = now + cfg.deadline.as_secs();
    Ok(match c.mechanism {
        // Already out of the load balancer.
        CordonMechanism::Deregister => Step::Recheck,
        CordonMechanism::App if wf.target.is_some() => Step::Deregister,
        CordonMechanism::App => Step::Recheck,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::sim::{SimOp, SimProvider};
    use crate::providers::{Clock, Cluster, LoadBalancer, ServiceRef};
    use crate::sim::{FaultPlan, OpFaults, SimConfig, SimServiceConfig, Workload};
    use crate::workflow::MemoryJournal;

    fn world(tasks: u32) -> (SimProvider, ServiceRef) {
        let sim = SimProvider::new(SimConfig::default()).unwrap();
        let svc = ServiceRef {
            cluster: "c".into(),
            service: "s".into(),
            target_group: "tg".into(),
        };
        let cfg = SimServiceConfig {
            initial_tasks: tasks,
            workload: Workload::Steady { per_min: 0.0 },
            ..SimServiceConfig::default()
        };
        sim.add_service(svc.clone(), &cfg).unwrap();
        (sim, svc)
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn protect_spares_released_victims_and_covers_the_rest() {
        let (sim, svc) = world(4);
        let tasks = sim.sim_tasks(&svc).unwrap();
        let (victim, released) = (tasks[0].id.clone(), tasks[1].id.clone());
        let cfg = DrainConfig::default();
        let target = Some(tasks[0].target.clone());
        let mut wf = DrainWorkflow::new(&svc.key(), &victim, target, 0, &cfg);
        let journal = MemoryJournal::default();
        let report = block_on(advance(
            &sim,
            &svc,
            &mut wf,
            &cfg,
            std::slice::from_ref(&released),
            &journal,
            0,
        ))
        .unwrap();
        assert_eq!(report.completed, vec!["protect", "deregister"]);
        let protected: Vec<(String, bool)> = sim
            .sim_tasks(&svc)
            .unwrap()
            .into_iter()
            .map(|t| (t.id, t.protected))
            .collect();
        for (id, p) in protected {
            assert_eq!(p, id != released, "task {id}");
        }
        // Every state was journaled before acting on it, and the deregistration
        // (for a roll-back to undo) before its call.
        let steps: Vec<(&str, bool)> = journal
            .entries()
            .iter()
            .map(|w| (w.step.name(), w.changes.deregistered))
            .collect();
        assert_eq!(
            steps,
            vec![("deregister", false), ("deregister", true), ("wait", true)]
        );
    }

    #[test]
    fn a_full_drain_stops_exactly_the_victim_once() {
        let (sim, svc) = world(3);
        let tasks = sim.sim_tasks(&svc).unwrap();
        let victim = tasks[2].id.clone();
        let cfg = DrainConfig::default();
        let mut wf =
            DrainWorkflow::new(&svc.key(), &victim, Some(tasks[2].target.clone()), 0, &cfg);
        let journal = MemoryJournal::default();
        let mut t = 0;
        while !wf.is_done() {
            t = wf.wake_at().unwrap().max(t);
            sim.advance_to(t);
            block_on(advance(&sim, &svc, &mut wf, &cfg, &[], &journal, t)).unwrap();
            assert!(t < 3600, "the drain finishes within an hour");
        }
        assert_eq!(
            wf.step,
            Step::Done {
                outcome: Outcome::Stopped
            }
        );
        let stats = sim.stats(&svc).unwrap();
        assert_eq!(
            (stats.desired, stats.set_desired_calls, stats.tasks_stopped),
            (2, 1, 1)
        );
        let after = sim.sim_tasks(&svc).unwrap();
        let stopped: Vec<&str> = after
            .iter()
            .filter(|t| t.status == TaskStatus::Stopped)
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(stopped, vec![victim.as_str()]);
        // The first check came after most of the deregistration delay, not every second.
        let waits = journal
            .entries()
            .iter()
            .filter(|w| matches!(w.step, Step::Wait { .. }))
            .count();
        assert!(waits <= 3, "{waits} wait states");
        assert_eq!(block_on(sim.service(&svc)).unwrap().desired, 2);
    }

    #[test]
    fn the_scale_in_step_protects_every_keeper_even_when_the_listing_lags() {
        let (p, svc) = world(3);
        let ids: Vec<String> = block_on(p.tasks(&svc))
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        // Protected for one minute; a write at 50 s leaves a listing that lags it by 45 s.
        block_on(p.set_protection(&svc, &ids, true, 1)).unwrap();
        let lagging = OpFaults {
            stale: 1.0,
            lag: std::time::Duration::from_secs(45),
            ..OpFaults::default()
        };
        p.set_fault_plan(Some(FaultPlan {
            tasks: Some(lagging),
            ..FaultPlan::default()
        }))
        .unwrap();
        p.advance_to(50);
        block_on(p.set_protection(&svc, &ids[..1], true, 1)).unwrap();
        p.advance_to(61);
        let listed = block_on(p.tasks(&svc)).unwrap();
        assert!(
            listed.iter().all(|t| t.protected),
            "the listing still shows protection"
        );
        assert_eq!(
            p.stats(&svc).unwrap().protected,
            1,
            "two protections expired"
        );

        let cfg = DrainConfig::default();
        let mut wf = DrainWorkflow::new(&svc.key(), &ids[2], None, 0, &cfg);
        wf.step = Step::ScaleIn { to: Some(2) };
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, p.now())).unwrap();
        assert_eq!(wf.step, Step::Confirm);
        for t in p.sim_tasks(&svc).unwrap() {
            if t.id == ids[2] {
                assert!(t.stop_cause.is_some(), "the victim is stopping");
            } else {
                assert!(t.protected && t.stop_cause.is_none(), "keeper {t:?}");
            }
        }
    }

    /// HTTP 500 on every call, as moto answers UpdateTaskProtection.
    fn http_500(service: &'static str) -> ProviderError {
        ProviderError::Transient {
            service,
            message: "HTTP 500 (injected: fails for good)".into(),
        }
    }

    /// Runs `wf` until it is done, at each wake-up; returns the end time.
    fn run_to_end(
        p: &SimProvider,
        svc: &ServiceRef,
        wf: &mut DrainWorkflow,
        cfg: &DrainConfig,
        journal: &MemoryJournal,
    ) -> u64 {
        while !wf.is_done() {
            let now = wf
                .wake_at()
                .expect("a workflow in flight wakes")
                .max(p.now());
            p.advance_to(now);
            block_on(advance(p, svc, wf, cfg, &[], journal, now)).unwrap();
            assert!(
                p.now() < 24 * 3600,
                "the workflow ends within a day: {:?}",
                wf.step
            );
        }
        p.now()
    }

    fn health_of(
        p: &SimProvider,
        target: &Option<crate::providers::Target>,
    ) -> Option<TargetHealth> {
        block_on(p.targets("tg"))
            .unwrap()
            .into_iter()
            .find(|t| Some(&t.target) == target.as_ref())
            .map(|t| t.health)
    }

    #[test]
    fn a_roll_back_retries_transient_errors_within_its_bound_and_registers_the_target_it_deregistered()
     {
        let (p, svc) = world(2);
        let cfg = DrainConfig {
            max_attempts: 2,
            ..DrainConfig::default()
        };
        let task = block_on(p.tasks(&svc)).unwrap().remove(0);
        let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
        let journal = MemoryJournal::default();
        // Protect, deregister; then the roll-back meets more throttling than max_attempts
        // (a bound for the other steps), but fewer errors than its own bound.
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(matches!(wf.step, Step::Wait { .. }));
        assert!(wf.changes.deregistered, "the deregistration is recorded");
        wf.step = Step::RollBack {
            reason: "test".into(),
            session_appeared: false,
        };
        let throttled = ProviderError::Transient {
            service: "sim-elbv2",
            message: "throttled".into(),
        };
        p.inject_fault(SimOp::Register, 10, throttled);
        run_to_end(&p, &svc, &mut wf, &cfg, &journal);
        assert_eq!(p.faults_served(), 10, "every error was retried");
        assert!(matches!(
            wf.step,
            Step::Done {
                outcome: Outcome::RolledBack { .. }
            }
        ));
        assert!(
            wf.changes.is_empty(),
            "everything was undone: {:?}",
            wf.changes
        );
        assert_eq!(
            health_of(&p, &task.target),
            Some(TargetHealth::Initial),
            "registered again"
        );
        // The victim was never unprotected, so no protection call was needed to undo.
        assert_eq!(
            p.stats(&svc).unwrap().protection_calls,
            1,
            "only the protect step's call"
        );
    }

    #[test]
    fn a_drain_whose_protection_fails_for_good_rolls_back_at_once_without_registering_anything() {
        let (p, svc) = world(3);
        let cfg = DrainConfig {
            max_attempts: 3,
            ..DrainConfig::default()
        };
        let task = block_on(p.tasks(&svc)).unwrap().remove(0);
        p.inject_fault(SimOp::SetProtection, u32::MAX, http_500("sim-ecs"));
        let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
        let journal = MemoryJournal::default();
        let end = run_to_end(&p, &svc, &mut wf, &cfg, &journal);
        let Step::Done {
            outcome: Outcome::RolledBack { reason },
        } = &wf.step
        else {
            panic!("rolled back: {:?}", wf.step)
        };
        assert!(
            reason.contains("step protect failed 4 times") && reason.contains("HTTP 500"),
            "{reason}"
        );
        // The protect step's attempts and their backoff, nothing more: the roll-back had nothing to undo.
        assert!(end <= 4 * 60, "ended at {end}s");
        let stats = p.stats(&svc).unwrap();
        assert_eq!(
            stats.register_calls, 0,
            "no RegisterTargets for a target never deregistered"
        );
        assert_eq!(stats.deregister_calls, 0);
        assert_eq!(
            stats.protection_calls, 0,
            "every protection call failed, none was repeated by the roll-back"
        );
        assert_eq!(health_of(&p, &task.target), Some(TargetHealth::Healthy));
    }

    #[test]
    fn a_roll_back_that_cannot_protect_the_victim_again_ends_within_its_bound_and_keeps_it_out_of_the_load_balancer()
     {
        let (p, svc) = world(3);
        let cfg = DrainConfig::default();
        let task = block_on(p.tasks(&svc)).unwrap().remove(0);
        let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
        let journal = MemoryJournal::default();
        // Protect and deregister; then, as if the scale-in step had unprotected
        // the victim and its confirm had timed out, roll back with protection failing for good.
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        block_on(p.set_protection(&svc, std::slice::from_ref(&task.id), false, 60)).unwrap();
        wf.changes.unprotected = true;
        wf.step = Step::RollBack {
            reason: "the task did not stop before the deadline".into(),
            session_appeared: false,
        };
        let registers = p.stats(&svc).unwrap().register_calls;
        p.inject_fault(SimOp::SetProtection, u32::MAX, http_500("sim-ecs"));
        let end = run_to_end(&p, &svc, &mut wf, &cfg, &journal);
        // Bounded: roll_back_attempts retries, each backoff at most 60 s.
        assert!(
            end <= 60 * u64::from(cfg.roll_back_attempts + 1),
            "ended at {end}s"
        );
        assert_eq!(p.faults_served(), u64::from(cfg.roll_back_attempts) + 1);
        let Step::Done {
            outcome: Outcome::RollBackFailed { reason, left_as_is },
        } = &wf.step
        else {
            panic!("the roll-back failed: {:?}", wf.step)
        };
        assert!(
            reason.starts_with(
                "the task did not stop before the deadline; then the step roll-back failed 21 times"
            ) && reason.contains("HTTP 500"),
            "{reason}"
        );
        assert!(
            left_as_is.contains("unprotected and out of its target group"),
            "{left_as_is}"
        );
        // Safety: an unprotected task is not put back behind the load balancer.
        assert_eq!(
            p.stats(&svc).unwrap().register_calls,
            registers,
            "no RegisterTargets"
        );
        assert_ne!(health_of(&p, &task.target), Some(TargetHealth::Healthy));
        // The journal knows what is left undone.
        let last = journal.entries().last().cloned().unwrap();
        assert!(
            last.changes.unprotected && last.changes.deregistered,
            "{:?}",
            last.changes
        );
        // Its slot is free (a finished drain no longer counts), and once the
        // call works a later drain of another task runs to the end.
        assert!(wf.is_done() && !wf.counts_in_desired());
        p.inject_fault(SimOp::SetProtection, 0, http_500("sim-ecs"));
        let other = block_on(p.tasks(&svc)).unwrap().remove(1);
        let mut next = DrainWorkflow::new(&svc.key(), &other.id, other.target.clone(), end, &cfg);
        run_to_end(&p, &svc, &mut next, &cfg, &journal);
        assert_eq!(
            next.step,
            Step::Done {
                outcome: Outcome::Stopped
            }
        );
    }

    #[test]
    fn changes_are_journaled_before_their_calls_and_old_journal_lines_assume_everything() {
        let (p, svc) = world(3);
        let cfg = DrainConfig::default();
        let task = block_on(p.tasks(&svc)).unwrap().remove(0);
        let mut wf = DrainWorkflow::new(&svc.key(), &task.id, task.target.clone(), 0, &cfg);
        let journal = MemoryJournal::default();
        // The deregister call fails: its intent was journaled before it was sent.
        p.inject_fault(SimOp::Deregister, 1, http_500("sim-elbv2"));
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        let first = journal.entries();
        let marked = first
            .iter()
            .position(|w| w.changes.deregistered)
            .expect("the deregistration was journaled");
        assert_eq!(
            first[marked].step,
            Step::Deregister,
            "journaled at the deregister step, before the call"
        );
        // A line from before `changes` existed reads as "may have done everything".
        let mut line = serde_json::to_value(&wf).unwrap();
        line.as_object_mut().unwrap().remove("changes");
        let old: DrainWorkflow = serde_json::from_value(line).unwrap();
        assert_eq!(old.changes, crate::workflow::Changes::unknown());
        assert_eq!(
            DrainWorkflow::new("c/s", "t", None, 0, &cfg).changes,
            crate::workflow::Changes::default()
        );
    }

    // ---- the cordon path ----

    use crate::providers::double::Double;
    use crate::providers::{LoadBalancerKind, TargetGroupInfo};
    use crate::workflow::{CordonMechanism, Journal};

    fn nlb() -> TargetGroupInfo {
        TargetGroupInfo {
            kind: LoadBalancerKind::Network,
            deregistration_delay_s: 300,
            connection_termination: false,
        }
    }

    fn alb(delay: u64) -> TargetGroupInfo {
        TargetGroupInfo {
            kind: LoadBalancerKind::Application,
            deregistration_delay_s: delay,
            connection_termination: false,
        }
    }

    /// A world of `tasks` tasks whose first carries sessions ending at `ends` (seconds from 0).
    fn busy_world(tasks: u32, info: TargetGroupInfo, ends: &[u64]) -> (Double, ServiceRef, String) {
        let (sim, svc) = world(tasks);
        let victim = sim.sim_tasks(&svc).unwrap()[0].id.clone();
        for &end in ends {
            sim.open_session(&svc, &victim, std::time::Duration::from_secs(end))
                .unwrap();
        }
        (Double::new(sim, info), svc, victim)
    }

    fn cordon_wf(p: &Double, svc: &ServiceRef, victim: &str, m: CordonMechanism) -> DrainWorkflow {
        let target = p
            .sim
            .sim_tasks(svc)
            .unwrap()
            .into_iter()
            .find(|t| t.id == victim)
            .map(|t| t.target);
        DrainWorkflow::new_cordon(&svc.key(), victim, target, m, 0, &DrainConfig::default())
    }

    /// Runs `wf` on the double until done (or `until`), checking after every
    /// wake-up that the victim is never stopped while it has a session.
    fn run_cordon(
        p: &Double,
        svc: &ServiceRef,
        wf: &mut DrainWorkflow,
        cfg: &DrainConfig,
        journal: &MemoryJournal,
        until: u64,
    ) {
        while !wf.is_done() {
            let now = wf.wake_at().unwrap().max(p.sim.now());
            if now > until {
                break;
            }
            p.sim.advance_to(now);
            block_on(advance(p, svc, wf, cfg, &[], journal, now)).unwrap();
            let stats = p.sim.stats(svc).unwrap();
            assert_eq!(stats.sessions_killed, 0, "no session killed: {:?}", wf.step);
            assert!(now < 48 * 3600, "ends within two days: {:?}", wf.step);
        }
    }

    #[test]
    fn an_nlb_cordon_holds_until_the_last_session_ends_then_stops_the_task() {
        // Sessions end at 1 h and 3 h: the hold lasts past any drain deadline.
        let (p, svc, victim) = busy_world(3, nlb(), &[3600, 3 * 3600]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(
            matches!(wf.step, Step::Hold { next_check_at: 600 }),
            "{:?}",
            wf.step
        );
        assert_eq!(wf.cordoned_since(), Some(0));
        let c = wf.cordon.unwrap();
        assert_eq!(
            (c.info, c.cordoned_at, c.uncordon_at),
            (Some(nlb()), Some(0), None)
        );
        assert!(wf.changes.deregistered);
        assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Draining));
        run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
        assert_eq!(
            wf.step,
            Step::Done {
                outcome: Outcome::Stopped
            }
        );
        let c = wf.cordon.unwrap();
        let ended = c.hold_ended_at.unwrap();
        assert!(
            (3 * 3600..3 * 3600 + 301).contains(&ended),
            "checked every 5 min: {ended}"
        );
        // The first check came late, then one every interval: few reads.
        let holds = journal
            .entries()
            .iter()
            .filter(|w| matches!(w.step, Step::Hold { .. }))
            .count();
        assert!(
            holds <= 2 + (3 * 3600 - 600) / 300 + 1,
            "{holds} hold states"
        );
        assert_eq!(p.sim.stats(&svc).unwrap().tasks_stopped, 1);
        // Protection was renewed during the 3 h hold (it lasts 2 h).
        assert!(p.sim.stats(&svc).unwrap().protection_calls >= 3);
    }

    #[test]
    fn an_alb_cordon_uncordons_before_the_delay_ends_and_registers_the_target_again() {
        let (p, svc, victim) = busy_world(3, alb(900), &[4 * 3600]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
        let journal = MemoryJournal::default();
        run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
        let Step::Done {
            outcome: Outcome::Uncordoned { reason },
        } = &wf.step
        else {
            panic!("uncordoned: {:?}", wf.step)
        };
        assert!(
            reason.contains("rather than have a session cut"),
            "{reason}"
        );
        // 900 s delay, 120 s margin: uncordoned at 780 s, not at a later check.
        assert_eq!(p.sim.now(), 780);
        assert_eq!(wf.cordon.unwrap().uncordon_at, Some(780));
        assert!(wf.changes.is_empty(), "{:?}", wf.changes);
        assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Initial));
        assert_eq!(p.sim.stats(&svc).unwrap().tasks_stopped, 0);
        assert_eq!(
            Outcome::Uncordoned {
                reason: String::new()
            }
            .kind(),
            "uncordoned"
        );
    }

    #[test]
    fn an_alb_whose_delay_is_within_the_margin_is_never_deregistered() {
        let (p, svc, victim) = busy_world(2, alb(60), &[3600]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        let Step::Done {
            outcome: Outcome::Aborted { reason },
        } = &wf.step
        else {
            panic!("aborted: {:?}", wf.step)
        };
        assert!(
            reason.contains("within drain.cordon_uncordon_margin"),
            "{reason}"
        );
        assert_eq!(p.sim.stats(&svc).unwrap().deregister_calls, 0);
    }

    #[test]
    fn an_app_cordon_publishes_then_lifts_its_state_and_drains_through_the_load_balancer() {
        let (p, svc, victim) = busy_world(3, alb(300), &[2 * 3600]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::App);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(matches!(wf.step, Step::Hold { .. }));
        assert_eq!(p.cordons.lock().get(&victim), Some(&0));
        // The app mechanism leaves the target in the load balancer during the hold,
        // and an ALB's delay does not bound it.
        assert_eq!(health_of(&p.sim, &wf.target), Some(TargetHealth::Healthy));
        assert_eq!(wf.cordon.unwrap().uncordon_at, None);
        run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
        assert_eq!(
            wf.step,
            Step::Done {
                outcome: Outcome::Stopped
            }
        );
        let steps: Vec<&str> = journal.entries().iter().map(|w| w.step.name()).collect();
        let after_hold: Vec<&str> = steps
            .iter()
            .skip_while(|s| **s != "hold")
            .skip_while(|s| **s == "hold")
            .copied()
            .collect();
        assert_eq!(
            after_hold[..3],
            ["deregister", "deregister", "wait"],
            "{steps:?}"
        );
        assert!(
            p.cordons.lock().is_empty(),
            "the stopped task's cordon is lifted"
        );
        assert!(!wf.changes.cordoned_app);
    }

    #[test]
    fn an_idle_drain_behind_an_alb_rechecks_before_the_cut_and_steps_back_for_a_late_session() {
        let cfg = DrainConfig::default();
        let margin = cfg.cordon_uncordon_margin.as_secs();
        // Behind an NLB that keeps connections: no early recheck.
        let (p, svc, victim) = busy_world(3, nlb(), &[]);
        let target = p.sim.sim_tasks(&svc).unwrap()[0].target.clone();
        let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(target), 0, &cfg);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(matches!(wf.step, Step::Wait { .. }), "{:?}", wf.step);
        assert_eq!(wf.recheck_by, None);

        // Behind an ALB with a 300 s delay: the recheck comes a margin before
        // the cut, and a session reported late steps the drain back while the
        // target can still be registered again.
        let (p, svc, victim) = busy_world(3, alb(300), &[]);
        let target = p.sim.sim_tasks(&svc).unwrap()[0].target.clone();
        let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(target), 0, &cfg);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert_eq!(wf.recheck_by, Some(300 - margin));
        assert!(
            journal
                .entries()
                .iter()
                .any(|e| e.recheck_by == Some(300 - margin)),
            "journaled before the deregistration"
        );
        assert!(wf.wake_at().unwrap() <= 300 - margin);
        p.sim.advance_to(100);
        p.sim
            .open_session(&svc, &victim, std::time::Duration::from_secs(3600))
            .unwrap();
        while !wf.is_done() {
            let now = wf.wake_at().unwrap().max(p.sim.now());
            assert!(
                now < 300,
                "the drain ends before the ALB cuts: {:?}",
                wf.step
            );
            p.sim.advance_to(now);
            block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, now)).unwrap();
        }
        assert!(
            matches!(
                wf.step,
                Step::Done {
                    outcome: Outcome::Aborted { .. }
                }
            ),
            "{:?}",
            wf.step
        );
        assert!(matches!(
            health_of(&p.sim, &wf.target),
            Some(TargetHealth::Initial | TargetHealth::Healthy)
        ));
    }

    #[test]
    fn uncordon_is_a_step_back_for_both_mechanisms_and_a_failed_one_rolls_back() {
        for m in [CordonMechanism::Deregister, CordonMechanism::App] {
            let (p, svc, victim) = busy_world(3, nlb(), &[3600]);
            let cfg = DrainConfig {
                max_attempts: 2,
                ..DrainConfig::default()
            };
            let mut wf = cordon_wf(&p, &svc, &victim, m);
            let journal = MemoryJournal::default();
            block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
            assert!(wf.is_holding());
            assert!(wf.uncordon("demand returned"));
            journal.record(&wf).unwrap();
            block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
            assert_eq!(
                wf.step,
                Step::Done {
                    outcome: Outcome::Uncordoned {
                        reason: "demand returned".into()
                    }
                },
                "{m:?}"
            );
            assert!(wf.changes.is_empty(), "{m:?}: {:?}", wf.changes);
            assert_eq!(
                health_of(&p.sim, &wf.target),
                Some(match m {
                    CordonMechanism::Deregister => TargetHealth::Initial,
                    CordonMechanism::App => TargetHealth::Healthy,
                })
            );
            assert!(p.cordons.lock().is_empty());
            assert!(
                !wf.uncordon("twice"),
                "a finished workflow does not step back"
            );
        }
        // A lift that keeps failing rolls the cordon back: the roll-back lifts it.
        let (p, svc, victim) = busy_world(3, nlb(), &[3600]);
        let cfg = DrainConfig {
            max_attempts: 1,
            ..DrainConfig::default()
        };
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::App);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert!(wf.uncordon("demand returned"));
        *p.cordon_faults.lock() = 2;
        run_cordon(&p, &svc, &mut wf, &cfg, &journal, u64::MAX);
        assert!(
            matches!(
                wf.step,
                Step::Done {
                    outcome: Outcome::RolledBack { .. }
                }
            ),
            "{:?}",
            wf.step
        );
        assert!(
            p.cordons.lock().is_empty(),
            "the roll-back lifted the cordon"
        );
        assert!(wf.changes.is_empty());
    }

    #[test]
    fn a_cordon_resumed_from_its_journal_keeps_its_first_cordon_time() {
        let (p, svc, victim) = busy_world(3, alb(900), &[4 * 3600]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
        let journal = MemoryJournal::default();
        // The deregister call fails: the intent and its time were journaled first.
        p.sim
            .inject_fault(SimOp::Deregister, 1, http_500("sim-elbv2"));
        p.sim.advance_to(10);
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 10)).unwrap();
        let last = journal.entries().last().cloned().unwrap();
        assert_eq!(last.step, Step::Cordon);
        assert!(last.changes.deregistered);
        assert_eq!(last.cordon.unwrap().cordoned_at, Some(10));
        // A new host resumes the journaled line later: the delay still counts from 10 s.
        let mut resumed: DrainWorkflow =
            serde_json::from_str(&serde_json::to_string(&last).unwrap()).unwrap();
        resumed.not_before = 0;
        p.sim.advance_to(100);
        block_on(advance(&p, &svc, &mut resumed, &cfg, &[], &journal, 100)).unwrap();
        assert!(
            matches!(resumed.step, Step::Hold { .. }),
            "{:?}",
            resumed.step
        );
        assert_eq!(resumed.cordon.unwrap().uncordon_at, Some(10 + 900 - 120));
        // Old journal lines (no cordon, no cordoned_app) still load.
        let mut line = serde_json::to_value(&wf).unwrap();
        let o = line.as_object_mut().unwrap();
        o.remove("cordon");
        o.insert("step".into(), "wait".into());
        o.insert("next_check_at".into(), 5.into());
        o.insert(
            "changes".into(),
            serde_json::json!({"deregistered": true, "unprotected": false}),
        );
        let old: DrainWorkflow = serde_json::from_value(line).unwrap();
        assert_eq!(old.cordon, None);
        assert!(!old.changes.cordoned_app);
        assert_eq!(old.cordoned_since(), None);
    }

    #[test]
    fn the_hold_ends_at_the_first_check_without_sessions_and_the_deadline_counts_from_there() {
        // The only session ends at 100 s; the first check comes at 600 s.
        let (p, svc, victim) = busy_world(3, nlb(), &[100]);
        let cfg = DrainConfig::default();
        let mut wf = cordon_wf(&p, &svc, &victim, CordonMechanism::Deregister);
        let journal = MemoryJournal::default();
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 0)).unwrap();
        assert_eq!(wf.wake_at(), Some(600), "the first check comes late");
        p.sim.advance_to(600);
        block_on(advance(&p, &svc, &mut wf, &cfg, &[], &journal, 600)).unwrap();
        assert_eq!(
            wf.step,
            Step::Confirm,
            "recheck and scale-in in the same wake-up"
        );
        assert_eq!(wf.cordon.unwrap().hold_ended_at, Some(600));
        assert_eq!(
            wf.deadline_at,
            600 + cfg.deadline.as_secs(),
            "the deadline counts from the hold's end"
        );
        assert_eq!(
            wf.cordoned_since(),
            None,
            "no longer cordoned once the hold ended"
        );
    }
}
