//! The journal's JSON form of a [`DrainWorkflow`], one line per change.
//!
//! The form predates the target inside the deregister and wait steps: the
//! target stands once, beside the workflow's ID, and the step is flat among
//! the workflow's fields (`"step": "wait", "next_check_at": ...`). Lines in
//! the field and the tests load as they are, so the typed workflow is
//! converted to and from that flat form here. A line whose deregister or
//! wait step has no target is refused (the journals skip it as unreadable)
//! rather than loaded into a state no step can run.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Changes, Cordon, DrainWorkflow, Outcome, Step};
use crate::providers::Target;

/// A workflow as a journal line stores it.
#[derive(Serialize, Deserialize)]
struct Wire {
    id: String,
    service: String,
    task_id: String,
    target: Option<Target>,
    #[serde(flatten)]
    step: WireStep,
    started_at: u64,
    deadline_at: u64,
    attempts: u32,
    not_before: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    // Journal lines written before changes were recorded.
    #[serde(default = "Changes::unknown")]
    changes: Changes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cordon: Option<Cordon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recheck_by: Option<u64>,
}

/// A step as a journal line stores it: [`Step`] without the targets.
#[derive(Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
enum WireStep {
    Protect,
    Cordon,
    Hold {
        next_check_at: u64,
    },
    Uncordon {
        reason: String,
    },
    Deregister,
    Wait {
        next_check_at: u64,
    },
    Recheck,
    ScaleIn {
        to: Option<u32>,
    },
    Confirm,
    RollBack {
        reason: String,
        #[serde(default)]
        session_appeared: bool,
    },
    Done {
        outcome: Outcome,
    },
}

impl From<Step> for WireStep {
    fn from(step: Step) -> Self {
        match step {
            Step::Protect => WireStep::Protect,
            Step::Cordon => WireStep::Cordon,
            Step::Hold { next_check_at } => WireStep::Hold { next_check_at },
            Step::Uncordon { reason } => WireStep::Uncordon { reason },
            Step::Deregister { .. } => WireStep::Deregister,
            Step::Wait { next_check_at, .. } => WireStep::Wait { next_check_at },
            Step::Recheck => WireStep::Recheck,
            Step::ScaleIn { to } => WireStep::ScaleIn { to },
            Step::Confirm => WireStep::Confirm,
            Step::RollBack {
                reason,
                session_appeared,
            } => WireStep::RollBack {
                reason,
                session_appeared,
            },
            Step::Done { outcome } => WireStep::Done { outcome },
        }
    }
}

impl WireStep {
    /// The step, with the workflow's `target` in the steps that act on it.
    fn with_target(self, target: Option<&Target>) -> Result<Step, String> {
        let target = |name: &str| {
            target.cloned().ok_or_else(|| {
                format!("a {name} step needs the workflow's target, and it has none")
            })
        };
        Ok(match self {
            WireStep::Protect => Step::Protect,
            WireStep::Cordon => Step::Cordon,
            WireStep::Hold { next_check_at } => Step::Hold { next_check_at },
            WireStep::Uncordon { reason } => Step::Uncordon { reason },
            WireStep::Deregister => Step::Deregister {
                target: target("deregister")?,
            },
            WireStep::Wait { next_check_at } => Step::Wait {
                next_check_at,
                target: target("wait")?,
            },
            WireStep::Recheck => Step::Recheck,
            WireStep::ScaleIn { to } => Step::ScaleIn { to },
            WireStep::Confirm => Step::Confirm,
            WireStep::RollBack {
                reason,
                session_appeared,
            } => Step::RollBack {
                reason,
                session_appeared,
            },
            WireStep::Done { outcome } => Step::Done { outcome },
        })
    }
}

impl Serialize for DrainWorkflow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wf = self.clone();
        Wire {
            id: wf.id,
            service: wf.service,
            task_id: wf.task_id,
            target: wf.target,
            step: wf.step.into(),
            started_at: wf.started_at,
            deadline_at: wf.deadline_at,
            attempts: wf.attempts,
            not_before: wf.not_before,
            last_error: wf.last_error,
            changes: wf.changes,
            cordon: wf.cordon,
            recheck_by: wf.recheck_by,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DrainWorkflow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(deserializer)?;
        let step = w
            .step
            .with_target(w.target.as_ref())
            .map_err(serde::de::Error::custom)?;
        Ok(DrainWorkflow {
            id: w.id,
            service: w.service,
            task_id: w.task_id,
            target: w.target,
            step,
            started_at: w.started_at,
            deadline_at: w.deadline_at,
            attempts: w.attempts,
            not_before: w.not_before,
            last_error: w.last_error,
            changes: w.changes,
            cordon: w.cordon,
            recheck_by: w.recheck_by,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the journal wrote them before the targets moved into the
    /// steps: one per step kind that changed, and the cordon fields.
    const OLD_LINES: [&str; 4] = [
        r#"{"id":"c/s/t1/100","service":"c/s","task_id":"t1","target":{"ip":"10.0.0.7","port":3389},"step":"deregister","started_at":100,"deadline_at":1900,"attempts":0,"not_before":100,"changes":{"deregistered":false,"unprotected":false,"cordoned_app":false}}"#,
        r#"{"id":"c/s/t1/100","service":"c/s","task_id":"t1","target":{"ip":"10.0.0.7","port":3389},"step":"wait","next_check_at":340,"started_at":100,"deadline_at":1900,"attempts":2,"not_before":130,"last_error":"throttled","changes":{"deregistered":true,"unprotected":false,"cordoned_app":false},"recheck_by":280}"#,
        r#"{"id":"c/s/t2/0","service":"c/s","task_id":"t2","target":{"ip":"10.0.0.8","port":3389},"step":"hold","next_check_at":600,"started_at":0,"deadline_at":1800,"attempts":0,"not_before":0,"changes":{"deregistered":true,"unprotected":false,"cordoned_app":false},"cordon":{"mechanism":"deregister","info":{"kind":"application","deregistration_delay_s":3600,"connection_termination":false},"cordoned_at":0,"uncordon_at":3480,"protected_at":0}}"#,
        r#"{"id":"c/s/t3/0","service":"c/s","task_id":"t3","target":null,"step":"roll-back","reason":"step protect failed: denied","session_appeared":false,"started_at":0,"deadline_at":1800,"attempts":0,"not_before":0,"changes":{"deregistered":false,"unprotected":false,"cordoned_app":false}}"#,
    ];

    #[test]
    fn old_journal_lines_load_into_typed_steps_and_write_back_byte_identical() {
        for line in OLD_LINES {
            let wf: DrainWorkflow = serde_json::from_str(line).unwrap();
            assert_eq!(serde_json::to_string(&wf).unwrap(), line);
        }
        let wait: DrainWorkflow = serde_json::from_str(OLD_LINES[1]).unwrap();
        assert_eq!(
            wait.step,
            Step::Wait {
                next_check_at: 340,
                target: wait.target.clone().unwrap(),
            }
        );
    }

    #[test]
    fn a_line_from_before_changes_existed_assumes_everything_was_changed() {
        let line = OLD_LINES[0].replace(
            r#","changes":{"deregistered":false,"unprotected":false,"cordoned_app":false}"#,
            "",
        );
        let wf: DrainWorkflow = serde_json::from_str(&line).unwrap();
        assert_eq!(wf.changes, Changes::unknown());
    }

    #[test]
    fn a_deregister_or_wait_line_without_a_target_is_refused() {
        for line in &OLD_LINES[..2] {
            let line = line.replace(r#"{"ip":"10.0.0.7","port":3389}"#, "null");
            let err = serde_json::from_str::<DrainWorkflow>(&line).unwrap_err();
            assert!(
                err.to_string().contains("needs the workflow's target"),
                "{err}"
            );
        }
    }
}
