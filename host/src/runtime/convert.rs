//! Conversion at the plugin boundary: host snapshots to WIT records, WIT
//! decisions back to host decisions, with every check a decision must pass.

use std::collections::{BTreeMap, HashSet};

use super::bindings::{v1, v2};
use super::engine::Limits;
use super::fault::PolicyFault;
use super::params::{ParamSpec, with_defaults};
use crate::model::{Decision, DrainStep, ParamValue, Snapshot, TargetHealth, TaskStatus};

/// The largest target count the host takes seriously (ECS allows 5,000 tasks per service).
pub const MAX_SANE_DESIRED: u32 = 100_000;

/// Mark bits of the task columns: bit 0 protected, bit 1 draining, bit 2
/// cordoned (contract 0.2.0 only; 0.1.0 policies see a cordoned task as draining).
fn marks(t: &crate::model::TaskInfo, cordon_bit: bool) -> u8 {
    u8::from(t.protected)
        | (u8::from(t.draining) << 1)
        | (u8::from(cordon_bit && t.cordoned_since.is_some()) << 2)
}

/// The tasks as columns of plain numbers, in the contract's own `wit` types:
/// each list crosses the boundary in one copy. `$cordon` sets the cordon mark
/// bit; each extra `column: t => value` is a column only that contract has.
macro_rules! task_columns {
    ($s:expr, $cordon:literal $(, $column:ident: $t:ident => $value:expr)*) => {{
        let s: &Snapshot = $s;
        let n = s.tasks.len();
        let mut c = wit::TaskColumns {
            status: Vec::with_capacity(n),
            health: Vec::with_capacity(n),
            age_seconds: Vec::with_capacity(n),
            sessions: Vec::with_capacity(n),
            marks: Vec::with_capacity(n),
            $($column: Vec::with_capacity(n),)*
            cpu: Vec::with_capacity(n),
            memory: Vec::with_capacity(n),
        };
        for t in &s.tasks {
            c.status.push(status(t.status) as u8);
            c.health.push(health(t.health) as u8);
            c.age_seconds.push(t.age_seconds);
            c.sessions.push(t.sessions);
            c.marks.push(marks(t, $cordon));
            $(
                let $t = t;
                c.$column.push($value);
            )*
            c.cpu.push(t.cpu.unwrap_or(f64::NAN));
            c.memory.push(t.memory.unwrap_or(f64::NAN));
        }
        c
    }};
}

/// The conversions every contract version shares, for its own generated types.
macro_rules! common_conversions {
    // `$cordoned`: the contract's step for a cordoned task.
    ($wit:path, cordoned = $cordoned:ident) => {
        use $wit as wit;

        fn step(s: DrainStep) -> wit::DrainStep {
            match s {
                DrainStep::Protecting => wit::DrainStep::Protecting,
                DrainStep::Deregistering => wit::DrainStep::Deregistering,
                DrainStep::Waiting => wit::DrainStep::Waiting,
                DrainStep::Rechecking => wit::DrainStep::Rechecking,
                DrainStep::ScalingIn => wit::DrainStep::ScalingIn,
                DrainStep::Confirming => wit::DrainStep::Confirming,
                DrainStep::Cordoned => wit::DrainStep::$cordoned,
            }
        }

        pub(super) fn params(
            params: &BTreeMap<String, ParamValue>,
            declared: &[ParamSpec],
        ) -> Vec<wit::Param> {
            with_defaults(params, declared)
                .iter()
                .map(|(name, value)| wit::Param {
                    name: name.clone(),
                    value: match value {
                        ParamValue::Number(n) => wit::ParamValue::Number(*n),
                        ParamValue::Flag(b) => wit::ParamValue::Flag(*b),
                        ParamValue::Text(t) => wit::ParamValue::Text(t.clone()),
                    },
                })
                .collect()
        }

        pub(super) fn drains(s: &Snapshot) -> Vec<wit::Drain> {
            let handle_of = |id: &str| s.tasks.iter().position(|t| t.id == id).map(|i| i as u32);
            s.drains
                .iter()
                .filter_map(|d| {
                    Some(wit::Drain {
                        handle: handle_of(&d.task_id)?,
                        step: step(d.step),
                        elapsed_seconds: d.elapsed_seconds,
                    })
                })
                .collect()
        }

        /// The history as columns; unknown figures are NaN (or -1 for sessions).
        pub(super) fn history_columns(s: &Snapshot) -> wit::HistoryColumns {
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

        pub(super) fn status(s: TaskStatus) -> wit::TaskStatus {
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

        pub(super) fn health(h: TargetHealth) -> wit::TargetHealth {
            match h {
                TargetHealth::Unregistered => wit::TargetHealth::Unregistered,
                TargetHealth::Initial => wit::TargetHealth::Initial,
                TargetHealth::Healthy => wit::TargetHealth::Healthy,
                TargetHealth::Unhealthy => wit::TargetHealth::Unhealthy,
                TargetHealth::Draining => wit::TargetHealth::Draining,
                TargetHealth::Unknown => wit::TargetHealth::Unknown,
            }
        }
    };
}

/// Contract 0.1.0: no cordon column or mark, the cordoned step shown as waiting.
pub(crate) mod to_v1 {
    use super::*;
    // Contract 0.1.0 has no cordoned step: a cordoned task waits like a
    // deregistered one.
    common_conversions!(v1::wit, cordoned = Waiting);

    /// The snapshot as contract 0.1.0 shows it.
    pub(crate) fn snapshot(s: &Snapshot) -> wit::Snapshot {
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
            drains: drains(s),
            history: history_columns(s),
            params: params(&s.params, &[]),
        }
    }

    /// The tasks as columns, without the cordon mark.
    fn task_columns(s: &Snapshot) -> wit::TaskColumns {
        task_columns!(s, false)
    }

    /// A 0.1.0 decision: no cordons.
    pub(crate) fn decision(d: wit::Decision) -> RawDecision {
        RawDecision {
            desired: d.desired,
            drain: d.drain,
            cordon: Vec::new(),
            uncordon: Vec::new(),
            reason: d.reason,
        }
    }
}

/// Contract 0.2.0: the cordon column and mark, the cordoned step, declared defaults.
pub(crate) mod to_v2 {
    use super::*;
    common_conversions!(v2::wit, cordoned = Cordoned);

    /// The snapshot as contract 0.2.0 shows it, with the defaults of the
    /// parameters the policy declares filled in where the config leaves them out.
    pub(crate) fn snapshot(s: &Snapshot, declared: &[ParamSpec]) -> wit::Snapshot {
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
            drains: drains(s),
            history: history_columns(s),
            params: params(&s.params, declared),
        }
    }

    /// The tasks as columns, with the cordon mark and since when each is cordoned.
    fn task_columns(s: &Snapshot) -> wit::TaskColumns {
        task_columns!(s, true, cordoned_since: t => t.cordoned_since.unwrap_or(0))
    }

    /// A 0.2.0 decision, unchecked.
    pub(crate) fn decision(d: wit::Decision) -> RawDecision {
        RawDecision {
            desired: d.desired,
            drain: d.drain,
            cordon: d.cordon,
            uncordon: d.uncordon,
            reason: d.reason,
        }
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
    /// Task handles to cordon (contract 0.2.0; empty from 0.1.0 policies).
    pub cordon: Vec<u32>,
    /// Task handles to uncordon (contract 0.2.0; empty from 0.1.0 policies).
    pub uncordon: Vec<u32>,
    /// Why.
    pub reason: String,
}

/// The checks every policy's decision passes before the guard sees it: the
/// reason and the drain, cordon and uncordon lists within the limits, a sane
/// count, and handles that name distinct tasks of `s` (and no task both
/// cordoned and uncordoned). Handles become task IDs.
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
    for (what, list) in [
        ("the drain list (entries)", &d.drain),
        ("the cordon list (entries)", &d.cordon),
        ("the uncordon list (entries)", &d.uncordon),
    ] {
        if list.len() > limits.max_drain {
            return Err(PolicyFault::OutputTooLarge {
                what,
                size: list.len(),
                limit: limits.max_drain,
            });
        }
    }
    if let Some(n) = d.desired.filter(|&n| n > MAX_SANE_DESIRED) {
        return Err(PolicyFault::InvalidDecision {
            reason: format!(
                "desired count {n} is beyond any service's size (limit {MAX_SANE_DESIRED})"
            ),
        });
    }
    let (drain, _) = task_ids("drain", &d.drain, s)?;
    let (cordon, cordoned) = task_ids("cordon", &d.cordon, s)?;
    let (uncordon, _) = task_ids("uncordon", &d.uncordon, s)?;
    if let Some(&h) = d.uncordon.iter().find(|h| cordoned.contains(h)) {
        return Err(PolicyFault::InvalidDecision {
            reason: format!(
                "task handle {h} ({}) is both in cordon and in uncordon",
                s.tasks[h as usize].id
            ),
        });
    }
    Ok(Decision {
        desired: d.desired,
        drain,
        cordon,
        uncordon,
        reason: d.reason,
    })
}

/// The task IDs of the handles in `list` (the decision's field `field`),
/// each naming a task of `s` at most once; and the set of the handles.
fn task_ids(
    field: &str,
    list: &[u32],
    s: &Snapshot,
) -> Result<(Vec<String>, HashSet<u32>), PolicyFault> {
    let mut seen = HashSet::with_capacity(list.len());
    let mut ids = Vec::with_capacity(list.len());
    for &h in list {
        let Some(task) = s.tasks.get(h as usize) else {
            return Err(PolicyFault::InvalidDecision {
                reason: format!(
                    "{field} names task handle {h}, but the snapshot has only {} tasks (handles 0..{})",
                    s.tasks.len(),
                    s.tasks.len()
                ),
            });
        };
        if !seen.insert(h) {
            return Err(PolicyFault::InvalidDecision {
                reason: format!("{field} names task handle {h} ({}) twice", task.id),
            });
        }
        ids.push(task.id.clone());
    }
    Ok((ids, seen))
}
