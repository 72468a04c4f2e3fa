//! The waiting steps: for the deregistration to finish, for a cordoned
//! task's sessions to end (the hold), and the recheck of the victim's
//! sessions that follows.

use super::StepError;
use crate::model::TargetHealth;
use crate::providers::{Provider, ServiceRef, Target};
use crate::workflow::{CordonMechanism, DrainConfig, DrainWorkflow, Step};

/// The wait: recheck early before a load balancer would cut a late
/// session, else read the target's state (deregister again if someone
/// registered it again).
pub(super) async fn wait<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    target: Target,
    now: u64,
) -> Result<Step, StepError> {
    if wf
        .cordon
        .and_then(|c| c.uncordon_at)
        .or(wf.recheck_by)
        .is_some_and(|t| now >= t)
    {
        // Recheck before the load balancer would cut a late session.
        return Ok(Step::Recheck);
    }
    let targets = p.targets(&svc.target_group).await?;
    let state = targets
        .iter()
        .find(|t| t.target == target)
        .map(|t| t.health);
    Ok(match state {
        None | Some(TargetHealth::Unregistered) => Step::Recheck,
        Some(TargetHealth::Draining) | Some(TargetHealth::Unknown) => Step::Wait {
            next_check_at: now + cfg.check_interval.as_secs().max(1),
            target,
        },
        // Registered again by someone else: deregister once more.
        Some(_) => Step::Deregister { target },
    })
}

/// The recheck: a session on the victim rolls the drain back (an abort),
/// none leads to the scale-in.
pub(super) async fn recheck<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &DrainWorkflow,
    now: u64,
) -> Result<Step, StepError> {
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

/// The hold: uncordon when the load balancer would soon cut the sessions,
/// renew the victim's protection when half of it has run out, then read its
/// sessions: none left ends the hold (the drain's deadline counts from
/// here), else check again after the interval.
pub(super) async fn hold<P: Provider>(
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
        CordonMechanism::App => match wf.target.clone() {
            Some(target) => Step::Deregister { target },
            None => Step::Recheck,
        },
    })
}
