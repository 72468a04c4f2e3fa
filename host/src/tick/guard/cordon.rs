//! The cordon rules: which of the policy's cordons and uncordons the guard
//! allows (`cordon-off`, `sessions-unknown`, `drain-backoff`,
//! `cordon-candidate`, `max-cordoned`, `serving-capacity`,
//! `uncordon-candidate`).

use crate::model::{Decision, Snapshot, TaskStatus};

use super::config::GuardConfig;
use super::rule::{GuardRule, Ledger};
use super::state::GuardState;

/// The policy's uncordons that name a cordoned task (rule `uncordon-candidate` for the rest).
pub(super) fn uncordons(decision: &Decision, s: &Snapshot, log: &mut Ledger) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in &decision.uncordon {
        let why_not = match s.task(id) {
            None => Some("it is not a task of the service"),
            Some(t) if t.cordoned_since.is_none() => Some("it is not cordoned"),
            Some(_) if out.contains(id) => Some("it is named twice"),
            Some(_) => None,
        };
        match why_not {
            Some(reason) => log.refuse_task(GuardRule::UncordonCandidate, id, "uncordoned", reason),
            None => out.push(id.clone()),
        }
    }
    out
}

/// The policy's cordons the rules allow, in its order.
#[allow(clippy::too_many_arguments)]
pub(super) fn cordons(
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
            GuardRule::CordonOff,
            names(),
            "refused",
            "The service does not cordon tasks (cordon = \"off\"); set cordon = \"deregister\" or \"app\" to allow it.".into(),
        );
        return Vec::new();
    }
    if !s.sessions_known {
        log.note(
            GuardRule::SessionsUnknown,
            names(),
            "refused",
            "Session counts are missing or stale, so no task is cordoned.".into(),
        );
        return Vec::new();
    }
    if let Some(pause) = state.drains_paused.as_ref().filter(|p| now < p.until) {
        log.note(
            GuardRule::DrainBackoff,
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
            Some(reason) => log.refuse_task(GuardRule::CordonCandidate, id, "cordoned", reason),
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
            GuardRule::MaxCordoned,
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
            GuardRule::ServingCapacity,
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
        log.note(
            GuardRule::ServingCapacity,
            dropped.join(", "),
            "refused",
            why,
        );
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
