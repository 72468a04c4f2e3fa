//! guard: the host's limits on what a policy may do. The policy proposes;
//! the guard enforces min and max (the desired count, tasks still draining
//! included, never exceeds max), step sizes, cooldowns, the scale-in
//! stabilization window, fresh data for scale-in, and session safety of the
//! drain candidates. Every change it makes is recorded with the original
//! value and the reason.
//!
//! Cordons (busy tasks that take no new sessions and stop once theirs end)
//! and uncordons are explicit actions beside the desired count. A cordoned
//! task is a drain in flight, so it is not serving capacity: after this
//! tick's cordons and uncordons the effective count is
//! `effective - cordoned + uncordoned`, and the policy's `desired` is
//! compared with that. Cordon rules: `cordon-off`, `sessions-unknown`,
//! `drain-backoff`, `cordon-candidate`, `max-cordoned`, `serving-capacity`;
//! `uncordon-candidate` for uncordons, and `uncordon-first`: a scale-out first
//! uncordons cordoned tasks (the fullest first: instant and free) and
//! launches only the rest.

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
    /// The most drain workflows in flight at once (cordoned tasks still
    /// holding are not counted: `max_cordoned` bounds them).
    pub max_concurrent_drains: u32,
    /// The most tasks cordoned at once.
    pub max_cordoned: u32,
    /// Sessions one task serves at most, for the `serving-capacity` rule:
    /// when set, cordons leave at least as many free session slots on the
    /// serving tasks as the sessions expected to arrive before a new task
    /// could start (`task_start_time`); unset, they leave at least one
    /// serving task.
    pub session_capacity: Option<u32>,
    /// How long a new task takes to start serving, for the `serving-capacity` rule.
    #[serde(with = "humantime_serde")]
    pub task_start_time: Duration,
    /// How the service cordons busy tasks: the service's `cordon` key (not
    /// part of the `[guard]` table), copied here when the service is loaded.
    #[serde(skip)]
    pub cordon: crate::workflow::CordonMode,
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
            max_cordoned: 4,
            session_capacity: None,
            task_start_time: Duration::from_secs(120),
            cordon: crate::workflow::CordonMode::Off,
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
    /// What may be done to the desired count and idle tasks. Its counts are
    /// effective counts after this tick's cordons and uncordons.
    pub action: Action,
    /// Every change made to the decision.
    pub adjustments: Vec<Adjustment>,
    /// Busy tasks to cordon, in the policy's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cordon: Vec<String>,
    /// Cordoned tasks to serve again: the policy's, then those a scale-out
    /// uncordons first (the fullest first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uncordon: Vec<String>,
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
    let Some(decision) = decision else {
        return Guarded {
            action: Action::Hold,
            adjustments: log.0,
            cordon: Vec::new(),
            uncordon: Vec::new(),
        };
    };
    let uncordon = uncordons(decision, s, &mut log);
    let cordon = cordons(decision, s, cfg, state, &uncordon, &mut log, now);
    let mut g = guard_count(decision, s, health, cfg, state, &cordon, uncordon, log, now);
    g.cordon = cordon;
    g
}

/// The policy's uncordons that name a cordoned task (rule `uncordon-candidate` for the rest).
fn uncordons(decision: &Decision, s: &Snapshot, log: &mut Ledger) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in &decision.uncordon {
        let why_not = match s.task(id) {
            None => Some("it is not a task of the service"),
            Some(t) if t.cordoned_since.is_none() => Some("it is not cordoned"),
            Some(_) if out.contains(id) => Some("it is named twice"),
            Some(_) => None,
        };
        match why_not {
            Some(reason) => log.note(
                "uncordon-candidate",
                id,
                "refused",
                format!("Task {id} cannot be uncordoned: {reason}."),
            ),
            None => out.push(id.clone()),
        }
    }
    out
}

/// The policy's cordons the rules allow, in its order.
#[allow(clippy::too_many_arguments)]
fn cordons(
    decision: &Decision,
    s: &Snapshot,
    cfg: &GuardConfig,
    state: &GuardState,
    uncordon: &[String],
    log: &mut Ledger,
    now: u64,
) -> Vec<String> {
    let asked = &decision.cordon;
    if asked.is_empty() {
        return Vec::new();
    }
    let names = || asked.join(", ");
    if cfg.cordon == crate::workflow::CordonMode::Off || cfg.session_unaware_reference {
        log.note(
            "cordon-off",
            names(),
            "refused",
            "The service does not cordon tasks (cordon = \"off\"); set cordon = \"deregister\" or \"app\" to allow it.".into(),
        );
        return Vec::new();
    }
    if !s.sessions_known {
        log.note(
            "sessions-unknown",
            names(),
            "refused",
            "Session counts are missing or stale, so no task is cordoned.".into(),
        );
        return Vec::new();
    }
    if let Some(pause) = state.drains_paused.as_ref().filter(|p| now < p.until) {
        log.note(
            "drain-backoff",
            names(),
            "refused",
            format!(
                "A drain rolled back ({}); no new cordon starts for another {}s (drain.pause_after_roll_back).",
                pause.because,
                pause.until - now
            ),
        );
        return Vec::new();
    }
    let deregister = cfg.cordon == crate::workflow::CordonMode::Deregister;
    let mut out: Vec<String> = Vec::new();
    for id in asked {
        let why_not = match s.task(id) {
            None => Some("it is not a task of the service".to_string()),
            Some(t) if t.draining => Some("it is already draining or cordoned".into()),
            Some(t) if t.status != TaskStatus::Running => {
                Some(format!("it is {:?}, not running", t.status))
            }
            Some(t)
                if deregister
                    && matches!(
                        t.health,
                        crate::model::TargetHealth::Unregistered
                            | crate::model::TargetHealth::Draining
                    ) =>
            {
                Some("it is not registered in its target group (cordon = \"deregister\")".into())
            }
            Some(_) if uncordon.contains(id) => Some("the policy uncordons it too".into()),
            Some(_) if out.contains(id) => Some("it is named twice".into()),
            Some(_) => None,
        };
        match why_not {
            Some(reason) => log.note(
                "cordon-candidate",
                id,
                "refused",
                format!("Task {id} cannot be cordoned: {reason}."),
            ),
            None => out.push(id.clone()),
        }
    }
    let cordoned_now = s
        .tasks
        .iter()
        .filter(|t| t.cordoned_since.is_some())
        .count() as u32;
    let room = (cfg.max_cordoned + uncordon.len() as u32).saturating_sub(cordoned_now) as usize;
    if out.len() > room {
        let dropped = out.split_off(room);
        log.note(
            "max-cordoned",
            dropped.join(", "),
            "refused",
            format!(
                "{cordoned_now} task(s) are cordoned; at most {} may be at once.",
                cfg.max_cordoned
            ),
        );
    }
    // Cordons that would need more launches to keep `min` serving than
    // `max` leaves room for are dropped (from the end of the policy's list).
    let effective = s.effective_desired() + uncordon.len() as u32;
    let room = cfg.max.saturating_sub(s.desired);
    let fits = |k: usize| cfg.min.saturating_sub(effective.saturating_sub(k as u32)) <= room;
    if !fits(out.len()) {
        let mut keep = out.len();
        while keep > 0 && !fits(keep) {
            keep -= 1;
        }
        let dropped = out.split_off(keep);
        log.note(
            "serving-capacity",
            dropped.join(", "),
            "refused",
            format!(
                "Cordoning them would leave fewer than min ({}) tasks serving, and replacing them would take the service past max ({}).",
                cfg.min, cfg.max
            ),
        );
    }
    // Serving capacity: drop cordons from the end of the policy's list
    // until what stays serving is enough for the current arrivals.
    let mut dropped: Vec<String> = Vec::new();
    let mut why = String::new();
    while !out.is_empty() {
        match serving_shortfall(s, cfg, &out, uncordon) {
            None => break,
            Some(reason) => {
                why = reason;
                dropped.insert(0, out.pop().expect("not empty"));
            }
        }
    }
    if !dropped.is_empty() {
        log.note("serving-capacity", dropped.join(", "), "refused", why);
    }
    out
}

/// Why cordoning `cordon` (and uncordoning `uncordon`) would leave too
/// little serving capacity; none when enough stays. Serving tasks are the
/// running tasks not draining or cordoned. Without `session_capacity`, one
/// serving task is enough; with it, their free session slots must cover the
/// sessions expected to arrive before a new task could start (the steepest
/// rise of the service's session count in its history, over
/// `task_start_time`), and at least one.
fn serving_shortfall(
    s: &Snapshot,
    cfg: &GuardConfig,
    cordon: &[String],
    uncordon: &[String],
) -> Option<String> {
    let serving: Vec<&crate::model::TaskInfo> = s
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Running)
        .filter(|t| (!t.draining || uncordon.contains(&t.id)) && !cordon.contains(&t.id))
        .collect();
    if serving.is_empty() {
        return Some(
            "The cordons would leave no task serving new sessions; at least one must.".into(),
        );
    }
    let capacity = cfg.session_capacity?;
    let free: u64 = serving
        .iter()
        .map(|t| u64::from(capacity.saturating_sub(t.sessions)))
        .sum();
    let rate = arrival_rate(s);
    let expected = (rate * cfg.task_start_time.as_secs_f64()).ceil().max(1.0) as u64;
    (free < expected).then(|| {
        format!(
            "The cordons would leave {free} free session slot(s) on {} serving task(s) (session_capacity {capacity}); \
             {expected} session(s) may arrive before a new task could start ({:.2}/min over task_start_time {}s).",
            serving.len(),
            rate * 60.0,
            cfg.task_start_time.as_secs()
        )
    })
}

/// The steepest rise of the session count between two consecutive known
/// points of the history (and the snapshot), in sessions per second: a
/// lower bound of the arrival rate at that time (sessions also ended).
fn arrival_rate(s: &Snapshot) -> f64 {
    let now = s.sessions_known.then(|| (s.now, s.total_sessions()));
    let points: Vec<(u64, u32)> = s
        .history
        .iter()
        .filter_map(|h| Some((h.at, h.sessions?)))
        .chain(now)
        .collect();
    points
        .windows(2)
        .filter(|w| w[1].0 > w[0].0)
        .map(|w| f64::from(w[1].1.saturating_sub(w[0].1)) / (w[1].0 - w[0].0) as f64)
        .fold(0.0, f64::max)
}

/// The desired-count part of the guard, on the effective count after this
/// tick's cordons and uncordons; a scale-out first uncordons.
#[allow(clippy::too_many_arguments)]
fn guard_count(
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
                "uncordon-first",
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
                "scale-out-cooldown",
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
            cordon: Vec::new(),
            uncordon,
        };
    }
    if target == effective {
        return hold(log, uncordon);
    }

    // Scale-in: every rule below can only raise the target back toward `effective`.
    let refuse = |mut log: Ledger, rule: &str, reason: String| {
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
            cordon: Vec::new(),
            uncordon,
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
            return hold(log, uncordon);
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
