//! The desired-count rules: min and max, step sizes, cooldowns, the
//! scale-in stabilization window, fresh data for scale-in, and the drain
//! candidates.

use crate::model::{Decision, Snapshot, TaskStatus};
use crate::tick::gather::DataHealth;

use super::config::GuardConfig;
use super::rule::{GuardRule, Ledger};
use super::state::GuardState;
use super::verdict::{Action, Guarded};

/// The desired-count part of the guard, on the effective count after this
/// tick's cordons and uncordons; a scale-out first uncordons.
#[allow(clippy::too_many_arguments)]
pub(super) fn guard_count(
    decision: &Decision,
    s: &Snapshot,
    health: DataHealth,
    cfg: &GuardConfig,
    state: &mut GuardState,
    cordon: &[String],
    mut uncordon: Vec<String>,
    mut log: Ledger,
    now: u64,
) -> Guarded {
    let effective =
        (s.effective_desired() + uncordon.len() as u32).saturating_sub(cordon.len() as u32);
    let hold = |log: Ledger, uncordon: Vec<String>| Guarded {
        action: Action::Hold,
        adjustments: log.0,
        cordon: Vec::new(),
        uncordon,
    };

    let mut target = decision.desired.unwrap_or(effective);
    // Tasks draining still count toward max: a drain may yet abort and keep
    // its task (cordoned tasks included, and this tick's cordons).
    let draining = (s.drains.len() + cordon.len()).saturating_sub(uncordon.len()) as u32;
    // Except the cordoned tasks a scale-out would uncordon first: serving
    // again, they add nothing to the desired count.
    let holding = s
        .tasks
        .iter()
        .filter(|t| t.cordoned_since.is_some() && !uncordon.contains(&t.id))
        .filter(|t| !cordon.contains(&t.id))
        .count() as u32;
    let ceiling = (cfg.max + holding).saturating_sub(draining);
    if target > ceiling {
        let reason = if draining > 0 {
            format!(
                "The service may have at most {} tasks, and {draining} of its tasks are draining (a drain may abort and keep its task).",
                cfg.max
            )
        } else {
            format!("The service may have at most {} tasks.", cfg.max)
        };
        log.note(GuardRule::Max, target, ceiling, reason);
        target = ceiling;
    }
    if target < cfg.min {
        log.note(
            GuardRule::Min,
            target,
            cfg.min,
            format!("The service needs at least {} tasks.", cfg.min),
        );
        target = cfg.min;
    }

    let window = cfg.scale_in_stabilization.as_secs();
    state.recent_targets.push_back((now, target));
    while state
        .recent_targets
        .front()
        .is_some_and(|&(t, _)| t + window < now)
    {
        state.recent_targets.pop_front();
    }

    if target > effective {
        // Uncordon first: instant and free, the fullest first (it empties last).
        let mut holding: Vec<&crate::model::TaskInfo> = s
            .tasks
            .iter()
            .filter(|t| t.cordoned_since.is_some() && !uncordon.contains(&t.id))
            .filter(|t| !cordon.contains(&t.id))
            .collect();
        holding.sort_by(|a, b| b.sessions.cmp(&a.sessions).then_with(|| a.id.cmp(&b.id)));
        let first: Vec<String> = holding
            .iter()
            .take((target - effective) as usize)
            .map(|t| t.id.clone())
            .collect();
        let effective = if first.is_empty() {
            effective
        } else {
            let after = effective + first.len() as u32;
            log.note(
                GuardRule::UncordonFirst,
                format!("launch {}", target - effective),
                format!(
                    "uncordon {} ({}), launch {}",
                    first.len(),
                    first.join(", "),
                    target - after
                ),
                "A scale-out first uncordons cordoned tasks (instant and free), the fullest first."
                    .into(),
            );
            uncordon.extend(first);
            after
        };
        if target == effective {
            return hold(log, uncordon);
        }
        if let Some(last) = state
            .last_scale_out
            .filter(|&t| now < t + cfg.scale_out_cooldown.as_secs())
        {
            log.note(
                GuardRule::ScaleOutCooldown,
                target,
                effective,
                format!(
                    "The last scale-out was {}s ago; the cooldown is {}s.",
                    now.saturating_sub(last),
                    cfg.scale_out_cooldown.as_secs()
                ),
            );
            return hold(log, uncordon);
        }
        if target > effective + cfg.max_step_up {
            let capped = effective + cfg.max_step_up;
            log.note(
                GuardRule::MaxStepUp,
                target,
                capped,
                format!("One tick may add at most {} tasks.", cfg.max_step_up),
            );
            target = capped;
        }
        return Guarded {
            action: Action::ScaleOut {
                from: effective,
                to: target,
            },
            adjustments: log.0,
            cordon: Vec::new(),
            uncordon,
        };
    }
    if target == effective {
        return hold(log, uncordon);
    }

    // Scale-in: every rule below can only raise the target back toward `effective`.
    let refuse = |mut log: Ledger, rule: GuardRule, reason: String| {
        log.note(rule, target, effective, reason);
        hold(log, uncordon.clone())
    };
    if cfg.session_unaware_reference {
        if let Some(last) = state
            .last_scale_in
            .filter(|&t| now < t + cfg.scale_in_cooldown.as_secs())
        {
            return refuse(
                log,
                GuardRule::ScaleInCooldown,
                format!("The last scale-in was {}s ago.", now.saturating_sub(last)),
            );
        }
        let to = target.max(effective.saturating_sub(cfg.max_step_down));
        return Guarded {
            action: Action::ScaleIn {
                from: effective,
                to,
                victims: Vec::new(),
            },
            adjustments: log.0,
            cordon: Vec::new(),
            uncordon,
        };
    }
    if !s.sessions_known {
        return refuse(
            log,
            GuardRule::SessionsUnknown,
            "Session counts are missing or stale, so no task can be proven idle.".into(),
        );
    }
    if !health.metrics_fresh {
        return refuse(
            log,
            GuardRule::MetricsStale,
            "Utilization metrics are missing or stale; scale-in waits for fresh data.".into(),
        );
    }
    if let Some(pause) = state.drains_paused.as_ref().filter(|p| now < p.until) {
        return refuse(
            log,
            GuardRule::DrainBackoff,
            format!(
                "A drain rolled back ({}); no new drain starts for another {}s (drain.pause_after_roll_back).",
                pause.because,
                pause.until - now
            ),
        );
    }
    let last_change = state.last_scale_in.max(state.last_scale_out);
    if let Some(last) = last_change.filter(|&t| now < t + cfg.scale_in_cooldown.as_secs()) {
        return refuse(
            log,
            GuardRule::ScaleInCooldown,
            format!(
                "The last scaling was {}s ago; the scale-in cooldown is {}s.",
                now.saturating_sub(last),
                cfg.scale_in_cooldown.as_secs()
            ),
        );
    }
    let stable = state
        .recent_targets
        .iter()
        .map(|&(_, t)| t)
        .max()
        .unwrap_or(target);
    if stable > target {
        log.note(
            GuardRule::ScaleInStabilization,
            target,
            stable.min(effective),
            format!("The policy asked for {stable} tasks within the last {window}s; scale-in goes no lower than that."),
        );
        target = stable;
        if target >= effective {
            return hold(log, uncordon);
        }
    }
    if effective - target > cfg.max_step_down {
        let capped = effective - cfg.max_step_down;
        log.note(
            GuardRule::MaxStepDown,
            target,
            capped,
            format!("One tick may drain at most {} tasks.", cfg.max_step_down),
        );
        target = capped;
    }
    // Cordoned tasks still holding are bounded by max_cordoned instead.
    let in_flight = s
        .drains
        .iter()
        .filter(|d| d.step != crate::model::DrainStep::Cordoned)
        .count() as u32;
    let room = cfg.max_concurrent_drains.saturating_sub(in_flight);
    if effective - target > room {
        let capped = effective - room;
        log.note(
            GuardRule::MaxConcurrentDrains,
            target,
            capped,
            format!(
                "{in_flight} drains are in flight; at most {} may run at once.",
                cfg.max_concurrent_drains
            ),
        );
        target = capped;
        if target >= effective {
            return hold(log, uncordon);
        }
    }

    let need = (effective - target) as usize;
    let mut victims: Vec<String> = Vec::with_capacity(need);
    for id in &decision.drain {
        if victims.len() == need {
            break;
        }
        let why_not = match s.task(id) {
            None => Some("it is not a task of the service".to_string()),
            Some(t) if t.draining => Some("it is already draining".into()),
            Some(t) if t.sessions > 0 => Some(format!("it has {} active session(s)", t.sessions)),
            Some(t) if t.status != TaskStatus::Running => {
                Some(format!("it is {:?}, not running", t.status))
            }
            Some(_) if victims.contains(id) => Some("it is named twice".into()),
            Some(_) if cordon.contains(id) => Some("the policy cordons it".into()),
            Some(_) => None,
        };
        match why_not {
            Some(reason) => log.refuse_task(GuardRule::DrainCandidate, id, "drained", reason),
            None => victims.push(id.clone()),
        }
    }
    if victims.len() < need {
        let reached = effective - victims.len() as u32;
        log.note(
            GuardRule::IdleCandidates,
            target,
            reached,
            format!(
                "The policy named {} drainable idle task(s) for a scale-in of {need}.",
                victims.len()
            ),
        );
        target = reached;
    }
    if victims.is_empty() {
        return hold(log, uncordon);
    }
    Guarded {
        action: Action::ScaleIn {
            from: effective,
            to: target,
            victims,
        },
        adjustments: log.0,
        cordon: Vec::new(),
        uncordon,
    }
}
