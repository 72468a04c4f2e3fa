//! The status line: a tick's record in one line, for the console and the log.

use crate::tick::guard::Action;
use crate::tick::outcome::{ActionOutcome, DrainEnd, OutcomeKind};

use super::TickRecord;

/// A one-line summary of a tick: counts, load, what was done (not only what
/// was allowed), the reason, and what the drains did or why they wait.
pub fn status_line(r: &TickRecord) -> String {
    let counts = match &r.state {
        Some(s) => format!(
            "desired {:>3}  running {:>3}  sessions {:>5}  cpu {:>5}",
            s.desired,
            s.running,
            s.sessions.map_or("?".into(), |n| n.to_string()),
            s.cpu.map_or("?".into(), |c| format!("{c:.0}%")),
        ),
        None => "no snapshot".to_string(),
    };
    let mut line = match action_text(r) {
        Done::Said(action) => format!("{counts}  {action}: {}", r.reason()),
        Done::Failed(action) => format!("{counts}  {action} [policy: {}]", r.reason()),
    };
    let mut notes = cordon_notes(r);
    notes.extend(drain_notes(r));
    if !notes.is_empty() {
        line.push_str(&format!(" [{}]", notes.join("; ")));
    }
    // The reason, errors and task IDs come from a policy or the world: a
    // control character in them must not reach the terminal as itself.
    match crate::escape::escape(&line) {
        std::borrow::Cow::Borrowed(_) => line,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

/// How the action part of a status line reads.
enum Done {
    /// What happened (or, in a dry run, what would have).
    Said(String),
    /// The action failed, with the error.
    Failed(String),
}

fn action_text(r: &TickRecord) -> Done {
    let (base, victims) = match &r.action {
        Action::Hold => return Done::Said("hold".into()),
        Action::ScaleOut { from, to } => (format!("scale-out {from}->{to}"), &[][..]),
        Action::ScaleIn { from, to, victims } => {
            (format!("scale-in {from}->{to}"), victims.as_slice())
        }
    };
    if r.dry_run {
        return Done::Said(format!("{base} (dry run)"));
    }
    if victims.is_empty() {
        return match r
            .outcomes
            .iter()
            .find(|o| o.what == OutcomeKind::SetDesired)
        {
            Some(o) if !o.ok => Done::Failed(format!("{base} failed: {}", o.detail)),
            _ => Done::Said(base),
        };
    }
    if let Some(o) = failed_drain_start(r) {
        return Done::Failed(format!(
            "{base} failed: draining {}: {}",
            o.task.as_deref().unwrap_or_default(),
            o.detail
        ));
    }
    let mut said = format!("{base}: draining {}", victims.join(", "));
    // A transient error is retried: the drain is under way, not failed.
    if let Some(o) = this_ticks_drains(r).find(|o| {
        o.what == OutcomeKind::DrainRetry && o.task.as_ref().is_some_and(|t| victims.contains(t))
    }) {
        said.push_str(&format!(" (retrying: {})", o.detail));
    }
    Done::Said(said)
}

/// The outcomes of the drains this tick started: those from its first
/// `drain-start` on (what drains did between ticks comes before it).
fn this_ticks_drains(r: &TickRecord) -> impl Iterator<Item = &ActionOutcome> {
    let from = r
        .outcomes
        .iter()
        .position(|o| o.what == OutcomeKind::DrainStart)
        .unwrap_or(r.outcomes.len());
    r.outcomes[from..].iter()
}

/// The outcome of a drain started this tick that ended at once without
/// stopping its task (rolled back or aborted): the scale-in failed. A retry
/// is not a failure.
pub fn failed_drain_start(r: &TickRecord) -> Option<&ActionOutcome> {
    let Action::ScaleIn { victims, .. } = &r.action else {
        return None;
    };
    this_ticks_drains(r).find(|o| {
        o.what == OutcomeKind::DrainFinished
            && !o.ok
            && o.task.as_ref().is_some_and(|t| victims.contains(t))
    })
}

/// The tick's cordons and uncordons, e.g. `cordon 2 (T1, T2)`, `uncordon T3`,
/// and the cordoned targets deregistered again.
fn cordon_notes(r: &TickRecord) -> Vec<String> {
    let list = |verb: &str, ids: &[String]| match ids {
        [] => None,
        [one] => Some(format!("{verb} {one}")),
        many => Some(format!("{verb} {} ({})", many.len(), many.join(", "))),
    };
    let again: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| o.what == OutcomeKind::ReDeregister)
        .filter_map(|o| o.task.clone())
        .collect();
    [
        list("cordon", &r.cordoned),
        list("uncordon", &r.uncordoned),
        list("deregistered again", &again),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// What drains other than this tick's victims did, and the paused ones.
fn drain_notes(r: &TickRecord) -> Vec<String> {
    let victims: &[String] = match &r.action {
        Action::ScaleIn { victims, .. } => victims,
        _ => &[],
    };
    let mut notes: Vec<String> = r
        .outcomes
        .iter()
        .filter(|o| o.task.as_ref().is_some_and(|t| !victims.contains(t)))
        .filter_map(|o| {
            let task = o.task.as_deref().unwrap_or_default();
            match o.what {
                OutcomeKind::DrainScaledIn => {
                    Some(format!("drain {task} set desired {}", o.detail))
                }
                OutcomeKind::DrainRetry => {
                    Some(format!("drain {task} failed, retrying: {}", o.detail))
                }
                OutcomeKind::DrainFinished if o.outcome == Some(DrainEnd::Uncordoned) => None,
                OutcomeKind::DrainFinished => Some(format!("drain {task} {}", o.detail)),
                _ => None,
            }
        })
        .collect();
    if !r.paused_drains.is_empty() {
        let paused: Vec<String> = r
            .paused_drains
            .iter()
            .map(|d| format!("{} at {}", d.task, d.step))
            .collect();
        notes.push(format!("drains paused (dry run): {}", paused.join(", ")));
    }
    notes
}
