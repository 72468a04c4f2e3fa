//! What an action or a drain step came to, as the tick record keeps it.
//!
//! Kinds are enums, written in the records by the same kebab-case names as
//! always; a drain's end is a typed field, and the `detail` text built from
//! it is never read back.

use serde::{Deserialize, Serialize};

use crate::workflow::Outcome;

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// The desired count was set (by a scale-out, or a session-unaware scale-in).
    SetDesired,
    /// A drain workflow started.
    DrainStart,
    /// A cordon workflow started.
    CordonStart,
    /// A cordon stepped back.
    Uncordon,
    /// A cordoned target registered again was deregistered again.
    ReDeregister,
    /// A drain step failed and is retried.
    DrainRetry,
    /// A drain lowered the desired count.
    DrainScaledIn,
    /// A drain finished.
    DrainFinished,
}

/// How a drain ended. The variants are in the alphabetical order of their
/// names, so a map keyed by them (the run's summary) lists them as it did
/// when the keys were the names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::Display,
    strum::EnumIter,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum DrainEnd {
    /// A session appeared on the victim; it rejoined the pool.
    Aborted,
    /// Undoing it failed too.
    RollBackFailed,
    /// The workflow could not finish and was undone.
    RolledBack,
    /// The victim stopped.
    Stopped,
    /// The cordoned victim serves new sessions again.
    Uncordoned,
}

impl From<&Outcome> for DrainEnd {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::Stopped => DrainEnd::Stopped,
            Outcome::Aborted { .. } => DrainEnd::Aborted,
            Outcome::Uncordoned { .. } => DrainEnd::Uncordoned,
            Outcome::RolledBack { .. } => DrainEnd::RolledBack,
            Outcome::RollBackFailed { .. } => DrainEnd::RollBackFailed,
        }
    }
}

/// What an action (or a drain step) came to, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionOutcome {
    /// What was done.
    pub what: OutcomeKind,
    /// The task, for drain outcomes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Details: the new count, the step, the outcome, or the error.
    pub detail: String,
    /// For `drain-finished`: how the drain ended, so counts need not parse `detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<DrainEnd>,
}

impl ActionOutcome {
    /// An outcome of `what`, with no drain end.
    pub fn new(what: OutcomeKind, task: Option<&str>, ok: bool, detail: String) -> Self {
        ActionOutcome {
            what,
            task: task.map(str::to_string),
            ok,
            detail,
            outcome: None,
        }
    }

    /// The drain of `task` finished with `outcome`. Its detail reads
    /// `kind` or `kind: detail`, built here and nowhere else.
    pub fn drain_finished(task: &str, outcome: &Outcome) -> Self {
        let end = DrainEnd::from(outcome);
        let detail = outcome.detail();
        ActionOutcome {
            what: OutcomeKind::DrainFinished,
            task: Some(task.to_string()),
            ok: end == DrainEnd::Stopped,
            detail: if detail.is_empty() {
                end.to_string()
            } else {
                format!("{end}: {detail}")
            },
            outcome: Some(end),
        }
    }

    /// Whether this is a drain that ended as `end`.
    pub fn drain_ended(&self, end: DrainEnd) -> bool {
        self.what == OutcomeKind::DrainFinished && self.outcome == Some(end)
    }

    /// Whether this is a drain that finished rolled back (done or failed), not stopped or aborted.
    pub fn is_roll_back(&self) -> bool {
        self.drain_ended(DrainEnd::RolledBack) || self.drain_ended(DrainEnd::RollBackFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_json_format_and_read_older_lines() {
        let old = r#"{"what":"drain-finished","task":"t1","ok":false,"detail":"rolled-back: step protect failed: x"}"#;
        let parsed: ActionOutcome = serde_json::from_str(old).unwrap();
        assert_eq!(parsed.outcome, None);
        let plain = ActionOutcome::new(OutcomeKind::SetDesired, None, true, "4".into());
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"what":"set-desired","ok":true,"detail":"4"}"#
        );
        let mut finished = parsed.clone();
        finished.outcome = Some(DrainEnd::RolledBack);
        let line = serde_json::to_string(&finished).unwrap();
        assert!(line.starts_with(&old[..old.len() - 1]), "{line}");
        assert!(line.ends_with(r#","outcome":"rolled-back"}"#), "{line}");
    }

    #[test]
    fn every_kind_keeps_its_name_in_the_records() {
        use OutcomeKind::*;
        let kinds = [
            (SetDesired, "set-desired"),
            (DrainStart, "drain-start"),
            (CordonStart, "cordon-start"),
            (Uncordon, "uncordon"),
            (ReDeregister, "re-deregister"),
            (DrainRetry, "drain-retry"),
            (DrainScaledIn, "drain-scaled-in"),
            (DrainFinished, "drain-finished"),
        ];
        for (kind, name) in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(
                serde_json::from_value::<OutcomeKind>(name.into()).unwrap(),
                kind
            );
        }
    }

    #[test]
    fn a_drain_end_reads_as_the_workflow_names_it() {
        let outcomes = [
            Outcome::Stopped,
            Outcome::Aborted { reason: "a".into() },
            Outcome::Uncordoned { reason: "b".into() },
            Outcome::RolledBack { reason: "c".into() },
            Outcome::RollBackFailed {
                reason: "d".into(),
                left_as_is: "e".into(),
            },
        ];
        for o in &outcomes {
            let end = DrainEnd::from(o);
            assert_eq!(end.to_string(), o.kind());
            assert_eq!(serde_json::to_value(end).unwrap(), o.kind());
            let finished = ActionOutcome::drain_finished("t1", o);
            let kind = finished.detail.split(':').next().unwrap();
            assert_eq!(kind, o.kind(), "{}", finished.detail);
        }
    }

    #[test]
    fn drain_ends_sort_as_their_names() {
        use strum::IntoEnumIterator;
        let ends: Vec<DrainEnd> = DrainEnd::iter().collect();
        let mut by_name = ends.clone();
        by_name.sort_by_key(|e| e.to_string());
        assert_eq!(ends, by_name);
    }
}
