//! The steps that take the victim out of service: deregister its target,
//! or cordon it (a busy task).

use super::{StepError, note};
use crate::providers::{Provider, ServiceRef, Target};
use crate::workflow::{CordonMechanism, DrainConfig, DrainWorkflow, Journal, Outcome, Step};

/// The deregister step: fix when the recheck must come (before a load
/// balancer would cut a late session), journal the change, deregister.
pub(super) async fn deregister<P: Provider>(
    p: &P,
    svc: &ServiceRef,
    wf: &mut DrainWorkflow,
    cfg: &DrainConfig,
    journal: &dyn Journal,
    target: Target,
    now: u64,
) -> Result<Step, StepError> {
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
        target,
    })
}

/// The cordon step: read the target group's behaviour (journaled before
/// anything is done), then cordon by the workflow's mechanism, journaling
/// the change before its call.
pub(super) async fn cordon<P: Provider>(
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
