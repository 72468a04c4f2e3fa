//! Conversion at the plugin boundary: host snapshots to WIT records, WIT
//! decisions back to host decisions, with every check a decision must pass.

use std::collections::HashSet;

use super::bindings::wit;
use super::engine::Limits;
use super::fault::PolicyFault;
use crate::model::{Decision, DrainStep, ParamValue, Snapshot, TargetHealth, TaskStatus};

/// The largest target count the host takes seriously (ECS allows 5,000 tasks per service).
pub const MAX_SANE_DESIRED: u32 = 100_000;

pub(crate) fn snapshot_to_wit(s: &Snapshot) -> wit::Snapshot {
    let handle_of = |id: &str| s.tasks.iter().position(|t| t.id == id).map(|i| i as u32);
    wit::Snapshot {
        cluster: s.cluster.clone(),
        service: s.service.clone(),
        now: s.now,
        desired: s.desired,
        running: s.running,
        pending: s.pending,
        min: s.min,
        max: s.max,
        cpu: s.cpu,
        memory: s.memory,
        sessions_known: s.sessions_known,
        tasks: task_columns(s),
        drains: s
            .drains
            .iter()
            .filter_map(|d| {
                Some(wit::Drain {
                    handle: handle_of(&d.task_id)?,
                    step: step(d.step),
                    elapsed_seconds: d.elapsed_seconds,
                })
            })
            .collect(),
        history: history_columns(s),
        params: s
            .params
            .iter()
            .map(|(name, value)| wit::Param {
                name: name.clone(),
                value: match value {
                    ParamValue::Number(n) => wit::ParamValue::Number(*n),
                    ParamValue::Flag(b) => wit::ParamValue::Flag(*b),
                    ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
                },
            })
            .collect(),
    }
}

/// The tasks as columns of plain numbers: each list crosses the boundary in one copy.
fn task_columns(s: &Snapshot) -> wit::TaskColumns {
    let n = s.tasks.len();
    let mut c = wit::TaskColumns {
        status: Vec::with_capacity(n),
        health: Vec::with_capacity(n),
        age_seconds: Vec::with_capacity(n),
        sessions: Vec::with_capacity(n),
        marks: Vec::with_capacity(n),
        cpu: Vec::with_capacity(n),
        memory: Vec::with_capacity(n),
    };
    for t in &s.tasks {
        c.status.push(status(t.status) as u8);
        c.health.push(health(t.health) as u8);
        c.age_seconds.push(t.age_seconds);
        c.sessions.push(t.sessions);
        c.marks
            .push(u8::from(t.protected) | (u8::from(t.draining) << 1));
        c.cpu.push(t.cpu.unwrap_or(f64::NAN));
        c.memory.push(t.memory.unwrap_or(f64::NAN));
    }
    c
}

/// The history as columns; unknown figures are NaN (or -1 for sessions).
fn history_columns(s: &Snapshot) -> wit::HistoryColumns {
    let h = &s.history;
    wit::HistoryColumns {
        at: h.iter().map(|x| x.at).collect(),
        desired: h.iter().map(|x| x.desired).collect(),
        running: h.iter().map(|x| x.running).collect(),
        cpu: h.iter().map(|x| x.cpu.unwrap_or(f64::NAN)).collect(),
        memory: h.iter().map(|x| x.memory.unwrap_or(f64::NAN)).collect(),
        sessions: h.iter().map(|x| x.sessions.map_or(-1, i64::from)).collect(),
    }
}

/// A decision as a policy component returns it, before the host checks it:
/// drain candidates are task handles (indexes into the snapshot's tasks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawDecision {
    /// The absolute task count wanted; none for no change.
    pub desired: Option<u32>,
    /// Task handles to drain, best first.
    pub drain: Vec<u32>,
    /// Why.
    pub reason: String,
}

/// Checks a policy's decision against the snapshot it answered and converts it.
pub(crate) fn decision_from_wit(
    d: wit::Decision,
    s: &Snapshot,
    limits: &Limits,
) -> Result<Decision, PolicyFault> {
    validate_decision(
        RawDecision {
            desired: d.desired,
            drain: d.drain,
            reason: d.reason,
        },
        s,
        limits,
    )
}

/// The checks every policy's decision passes before the guard sees it: the
/// reason and the drain list within the limits, a sane count, and drain
/// handles that name distinct tasks of `s`. Handles become task IDs.
pub fn validate_decision(
    d: RawDecision,
    s: &Snapshot,
    limits: &Limits,
) -> Result<Decision, PolicyFault> {
    if d.reason.len() > limits.max_reason_bytes {
        return Err(PolicyFault::OutputTooLarge {
            what: "the reason (bytes)",
            size: d.reason.len(),
            limit: limits.max_reason_bytes,
        });
    }
    if d.drain.len() > limits.max_drain {
        return Err(PolicyFault::OutputTooLarge {
            what: "the drain list (entries)",
            size: d.drain.len(),
            limit: limits.max_drain,
        });
    }
    if let Some(n) = d.desired.filter(|&n| n > MAX_SANE_DESIRED) {
        return Err(PolicyFault::InvalidDecision {
            reason: format!(
                "desired count {n} is beyond any service's size (limit {MAX_SANE_DESIRED})"
            ),
        });
    }
    let mut seen = HashSet::with_capacity(d.drain.len());
    let mut drain = Vec::with_capacity(d.drain.len());
    for h in d.drain {
        let Some(task) = s.tasks.get(h as usize) else {
            return Err(PolicyFault::InvalidDecision {
                reason: format!(
                    "drain names task handle {h}, but the snapshot has only {} tasks (handles 0..{})",
                    s.tasks.len(),
                    s.tasks.len()
                ),
            });
        };
        if !seen.insert(h) {
            return Err(PolicyFault::InvalidDecision {
                reason: format!("drain names task handle {h} ({}) twice", task.id),
            });
        }
        drain.push(task.id.clone());
    }
    Ok(Decision {
        desired: d.desired,
        drain,
        cordon: Vec::new(),
        uncordon: Vec::new(),
        reason: d.reason,
    })
}

fn status(s: TaskStatus) -> wit::TaskStatus {
    match s {
        TaskStatus::Provisioning => wit::TaskStatus::Provisioning,
        TaskStatus::Pending => wit::TaskStatus::Pending,
        TaskStatus::Activating => wit::TaskStatus::Activating,
        TaskStatus::Running => wit::TaskStatus::Running,
        TaskStatus::Deactivating => wit::TaskStatus::Deactivating,
        TaskStatus::Stopping => wit::TaskStatus::Stopping,
        TaskStatus::Deprovisioning => wit::TaskStatus::Deprovisioning,
        TaskStatus::Stopped => wit::TaskStatus::Stopped,
    }
}

fn health(h: TargetHealth) -> wit::TargetHealth {
    match h {
        TargetHealth::Unregistered => wit::TargetHealth::Unregistered,
        TargetHealth::Initial => wit::TargetHealth::Initial,
        TargetHealth::Healthy => wit::TargetHealth::Healthy,
        TargetHealth::Unhealthy => wit::TargetHealth::Unhealthy,
        TargetHealth::Draining => wit::TargetHealth::Draining,
        TargetHealth::Unknown => wit::TargetHealth::Unknown,
    }
}

fn step(s: DrainStep) -> wit::DrainStep {
    match s {
        DrainStep::Protecting => wit::DrainStep::Protecting,
        DrainStep::Deregistering => wit::DrainStep::Deregistering,
        DrainStep::Waiting => wit::DrainStep::Waiting,
        DrainStep::Rechecking => wit::DrainStep::Rechecking,
        DrainStep::ScalingIn => wit::DrainStep::ScalingIn,
        DrainStep::Confirming => wit::DrainStep::Confirming,
        // Contract 0.1.0 has no cordoned step: a cordoned task waits like a
        // deregistered one.
        DrainStep::Cordoned => wit::DrainStep::Waiting,
    }
}
