//! guard: the host's limits on what a policy may do. The policy proposes;
//! the guard enforces min and max (the desired count, tasks still draining
//! included, never exceeds max), step sizes, cooldowns, the scale-in
//! stabilization window, fresh data for scale-in, and session safety of the
//! drain candidates. Every change it makes is recorded with the original
//! value and the reason.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Decision, Snapshot, TaskStatus};

/// A service's guardrails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// The fewest tasks the service may have.
    pub min: u32,
    /// The most tasks the service may have.
    pub max: u32,
    /// The most tasks one tick may add.
    pub max_step_up: u32,
    /// The most tasks one tick may start draining.
    pub max_step_down: u32,
    /// After a scale-out, no other scale-out for this long.
    #[serde(with = "humantime_serde")]
    pub scale_out_cooldown: Duration,
    /// After any scaling (a scale-out, a scale-in decided, or a drain
    /// lowering the desired count), no scale-in for this long. Keep it above
    /// how long the provider's reads may lag its writes.
    #[serde(with = "humantime_serde")]
    pub scale_in_cooldown: Duration,
    /// Scale in only to the highest target the policy asked for within this window.
    #[serde(with = "humantime_serde")]
    pub scale_in_stabilization: Duration,
    /// Metrics older than this count as missing, and missing metrics forbid scale-in.
    #[serde(with = "humantime_serde")]
    pub max_metric_age: Duration,
    /// The most drain workflows in flight at once.
    pub max_concurrent_drains: u32,
    /// Only for the simulated reference that behaves like AWS's own service
    /// autoscaling: scale-in lowers the desired count and ECS picks the tasks,
    /// sessions or not. Never set from a config file.
    #[serde(skip)]
    pub session_unaware_reference: bool,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            min: 1,
            max: 10,
            max_step_up: 10,
            max_step_down: 2,
            scale_out_cooldown: Duration::from_secs(60),
            scale_in_cooldown: Duration::from_secs(300),
            scale_in_stabilization: Duration::from_secs(300),
            max_metric_age: Duration::from_secs(300),
            max_concurrent_drains: 4,
            session_unaware_reference: false,
        }
    }
}

/// What the guard remembers between ticks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuardState {
    /// When the last scale-out was executed.
    pub last_scale_out: Option<u64>,
    /// When the last scale-in was started, or a drain last lowered the desired count.
    pub last_scale_in: Option<u64>,
    /// The policy's targets within the stabilization window: (time, target).
    pub recent_targets: VecDeque<(u64, u32)>,
    /// No new drain starts before this, after a drain rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drains_paused: Option<DrainPause>,
}

/// A pause of new drains after a drain of the service rolled back (say, a
/// protection call that fails for good), so the host does not start the same
/// failing drain again every tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrainPause {
    /// No new drain before this time, in seconds.
    pub until: u64,
    /// The rolled-back drain's task and outcome.
    pub because: String,
}

/// One change the guard made to the policy's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Which rule: `min`, `max`, `max-step-up`, `scale-out-cooldown`, `sessions-unknown`, ...
    pub rule: String,
    /// The value before.
    pub original: String,
    /// The value after.
    pub adjusted: String,
    /// Why, in a sentence.
    pub reason: String,
}

/// What the guard lets the executor do. Counts are effective counts (tasks draining excluded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Nothing.
    Hold,
    /// Raise the count.
    ScaleOut {
        /// The effective count before.
        from: u32,
        /// The effective count after.
        to: u32,
    },
    /// Drain these tasks.
    ScaleIn {
        /// The effective count before.
        from: u32,
        /// The effective count after.
        to: u32,
        /// The tasks to drain.
        victims: Vec<String>,
    },
}

/// The guard's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guarded {
    /// What may be done.
    pub action: Action,
    /// Every change made to the decision.
    pub adjustments: Vec<Adjustment>,
}

/// Facts about the data behind a snapshot that the guard needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHealth {
    /// Whether CPU or memory is present and not older than `max_metric_age`.
    pub metrics_fresh: bool,
}

struct Ledger(Vec<Adjustment>);

impl Ledger {
    fn note(
        &mut self,
        rule: &str,
        original: impl ToString,
        adjusted: impl ToString,
        reason: String,
    ) {
        self.0.push(Adjustment {
            rule: rule.into(),
            original: original.to_string(),
            adjusted: adjusted.to_string(),
            reason,
        });
    }
}

/// Applies the guardrails to a decision (none when the policy faulted: then it holds).
pub fn guard(
    decision: Option<&Decision>,
    s: &Snapshot,
    health: DataHealth,
    cfg: &GuardConfig,
    state: &mut GuardState,
    now: u64,
) -> Guarded {
    let mut log = Ledger(Vec::new());
    let effective = s.effective_desired();
    let hold = |log: Ledger| Guarded {
        action: Action::Hold,
        adjustments: log.0,
    };
    let Some(decision) = decision else {
        return hold(log);
    };

    let mut target = decision.desired.unwrap_or(effective);
    // Tasks draining still count toward max: a drain may yet abort and keep its task.
    let draining = s.drains.len() as u32;
    let ceiling = cfg.max.saturating_sub(draining);
    if target > ceiling {
        let reason = if draining > 0 {
            format!(
                "The service may have at most {} tasks, and {draining} of its tasks are draining (a drain may abort and keep its task).",
                cfg.max
            )
        } else {
            format!("The service may have at most {} tasks.", cfg.max)
        };
        log.note("max", target, ceiling, reason);
        target = ceiling;
    }
    if target < cfg.min {
        log.note(
            "min",
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
        if let Some(last) = state
            .last_scale_out
            .filter(|&t| now < t + cfg.scale_out_cooldown.as_secs())
        {
            log.note(
                "scale-out-cooldown",
                target,
                effective,
                format!(
                    "The last scale-out was {}s ago; the cooldown is {}s.",
                    now.saturating_sub(last),
                    cfg.scale_out_cooldown.as_secs()
                ),
            );
            return hold(log);
        }
        if target > effective + cfg.max_step_up {
            let capped = effective + cfg.max_step_up;
            log.note(
                "max-step-up",
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
        };
    }
    if target == effective {
        return hold(log);
    }

    // Scale-in: every rule below can only raise the target back toward `effective`.
    let refuse = |mut log: Ledger, rule: &str, reason: String| {
        log.note(rule, target, effective, reason);
        hold(log)
    };
    if cfg.session_unaware_reference {
        if let Some(last) = state
            .last_scale_in
            .filter(|&t| now < t + cfg.scale_in_cooldown.as_secs())
        {
            return refuse(
                log,
                "scale-in-cooldown",
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
        };
    }
    if !s.sessions_known {
        return refuse(
            log,
            "sessions-unknown",
            "Session counts are missing or stale, so no task can be proven idle.".into(),
        );
    }
    if !health.metrics_fresh {
        return refuse(
            log,
            "metrics-stale",
            "Utilization metrics are missing or stale; scale-in waits for fresh data.".into(),
        );
    }
    if let Some(pause) = state.drains_paused.as_ref().filter(|p| now < p.until) {
        return refuse(
            log,
            "drain-backoff",
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
            "scale-in-cooldown",
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
            "scale-in-stabilization",
            target,
            stable.min(effective),
            format!("The policy asked for {stable} tasks within the last {window}s; scale-in goes no lower than that."),
        );
        target = stable;
        if target >= effective {
            return hold(log);
        }
    }
    if effective - target > cfg.max_step_down {
        let capped = effective - cfg.max_step_down;
        log.note(
            "max-step-down",
            target,
            capped,
            format!("One tick may drain at most {} tasks.", cfg.max_step_down),
        );
        target = capped;
    }
    let in_flight = s.drains.len() as u32;
    let room = cfg.max_concurrent_drains.saturating_sub(in_flight);
    if effective - target > room {
        let capped = effective - room;
        log.note(
            "max-concurrent-drains",
            target,
            capped,
            format!(
                "{in_flight} drains are in flight; at most {} may run at once.",
                cfg.max_concurrent_drains
            ),
        );
        target = capped;
        if target >= effective {
            return hold(log);
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
            Some(_) => None,
        };
        match why_not {
            Some(reason) => log.note(
                "drain-candidate",
                id,
                "refused",
                format!("Task {id} cannot be drained: {reason}."),
            ),
            None => victims.push(id.clone()),
        }
    }
    if victims.len() < need {
        let reached = effective - victims.len() as u32;
        log.note(
            "idle-candidates",
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
        return hold(log);
    }
    Guarded {
        action: Action::ScaleIn {
            from: effective,
            to: target,
            victims,
        },
        adjustments: log.0,
    }
}

impl GuardState {
    /// Notes that an action was carried out at `now`.
    pub fn executed(&mut self, action: &Action, now: u64) {
        match action {
            Action::ScaleOut { .. } => self.last_scale_out = Some(now),
            Action::ScaleIn { .. } => self.last_scale_in = Some(now),
            Action::Hold => {}
        }
    }
}

#[cfg(test)]
mod tests;
