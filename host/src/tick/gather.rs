//! gather: one [`Snapshot`] of a service from the providers. Missing data is
//! marked missing (none, or `sessions_known = false`), never made up.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::model::{
    DrainInfo, ParamValue, Snapshot, TargetHealth, TaskInfo, TaskStatus, TickSummary,
};
use crate::providers::{Provider, ProviderError, ServiceRef, Target, Utilization};
use crate::workflow::DrainWorkflow;

/// Facts about the data behind a snapshot that the guard needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHealth {
    /// Whether CPU or memory is present and not older than `max_metric_age`.
    pub metrics_fresh: bool,
}

/// What a snapshot needs besides the providers.
#[derive(Debug, Clone)]
pub struct GatherSpec<'a> {
    /// The service.
    pub svc: &'a ServiceRef,
    /// The guard's min, shown to the policy.
    pub min: u32,
    /// The guard's max, shown to the policy.
    pub max: u32,
    /// The policy's parameters.
    pub params: &'a BTreeMap<String, ParamValue>,
    /// Metrics older than this are dropped from the snapshot, in seconds.
    pub max_metric_age: u64,
}

/// A snapshot and what the later stages need to act on it.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The snapshot the policy sees.
    pub snapshot: Snapshot,
    /// Facts about its data, for the guard.
    pub health: DataHealth,
    /// Each task's load balancer target, entry `i` for `snapshot.tasks[i]`.
    pub targets: Vec<Option<Target>>,
    /// Reads that failed (the snapshot marks their data missing), for the record.
    pub problems: Vec<String>,
}

impl Gathered {
    /// The load balancer target of the task with this ID, if it has one.
    pub fn target_of(&self, task_id: &str) -> Option<&Target> {
        let tasks = &self.snapshot.tasks;
        let i = tasks
            .binary_search_by(|t| t.id.as_str().cmp(task_id))
            .ok()?;
        self.targets.get(i)?.as_ref()
    }
}

/// Builds the snapshot. Fails only when the service or its tasks cannot be read,
/// since without them no decision makes sense.
pub async fn gather<P: Provider>(
    p: &P,
    spec: &GatherSpec<'_>,
    history: &VecDeque<TickSummary>,
    drains: &[DrainWorkflow],
    now: u64,
) -> Result<Gathered, ProviderError> {
    let svc = spec.svc;
    let counts = p.service(svc).await?;
    let mut tasks = p.tasks(svc).await?;
    let mut problems = Vec::new();

    let util = match p.utilization(std::slice::from_ref(svc), now).await {
        Ok(mut by_service) => by_service.remove(&svc.key()).unwrap_or_default(),
        Err(e) => {
            problems.push(format!("metrics: {e}"));
            Utilization::default()
        }
    };
    let fresh = util
        .at
        .is_some_and(|at| now.saturating_sub(at) <= spec.max_metric_age)
        && (util.cpu.is_some() || util.memory.is_some());
    if !fresh && util.at.is_some() {
        problems.push(format!(
            "metrics: the latest datapoint is {}s old",
            now.saturating_sub(util.at.unwrap_or(0))
        ));
    }
    let (cpu, memory) = if fresh {
        (util.cpu, util.memory)
    } else {
        (None, None)
    };

    let sessions = match p.sessions_by_task(svc, now).await {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(format!("sessions: {e}"));
            None
        }
    };
    let health_by_target: Option<HashMap<Target, TargetHealth, foldhash::fast::RandomState>> =
        match p.targets(&svc.target_group).await {
            Ok(ts) => Some(ts.into_iter().map(|t| (t.target, t.health)).collect()),
            Err(e) => {
                problems.push(format!("target health: {e}"));
                None
            }
        };

    // A stable order, so the same world gives the same snapshot (and digest).
    // Listings usually come sorted already (the sim's do), which costs one pass.
    tasks.retain(|t| t.status != TaskStatus::Stopped);
    tasks.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut targets = Vec::with_capacity(tasks.len());
    let mut infos = Vec::with_capacity(tasks.len());
    for t in tasks {
        let health = match (&t.target, &health_by_target) {
            (_, None) => TargetHealth::Unknown,
            (None, Some(_)) => TargetHealth::Unregistered,
            (Some(target), Some(h)) => h.get(target).copied().unwrap_or(TargetHealth::Unregistered),
        };
        let since = t.started_at.unwrap_or(t.created_at);
        let workflow = drains.iter().find(|d| d.task_id == t.id && !d.is_done());
        infos.push(TaskInfo {
            sessions: sessions
                .as_ref()
                .and_then(|s| s.get(&t.id).copied())
                .unwrap_or(0),
            draining: workflow.is_some(),
            id: t.id,
            status: t.status,
            health,
            age_seconds: now.saturating_sub(since).min(u64::from(u32::MAX)) as u32,
            protected: t.protected,
            cpu: t.cpu,
            memory: t.memory,
            // From the Cordon step until the hold ends (the drain shows `Cordoned`).
            cordoned_since: workflow.and_then(DrainWorkflow::cordoned_since),
        });
        targets.push(t.target);
    }

    let snapshot = Snapshot {
        cluster: svc.cluster.clone(),
        service: svc.service.clone(),
        now,
        desired: counts.desired,
        running: counts.running,
        pending: counts.pending,
        min: spec.min,
        max: spec.max,
        cpu,
        memory,
        sessions_known: sessions.is_some(),
        tasks: infos,
        drains: drains
            .iter()
            .filter(|d| d.counts_in_desired())
            .filter_map(|d| {
                Some(DrainInfo {
                    task_id: d.task_id.clone(),
                    step: d.step.public()?,
                    elapsed_seconds: now.saturating_sub(d.started_at) as u32,
                })
            })
            .collect(),
        history: history.iter().cloned().collect(),
        params: spec.params.clone(),
    };
    Ok(Gathered {
        snapshot,
        health: DataHealth {
            metrics_fresh: fresh,
        },
        targets,
        problems,
    })
}

/// The history entry for a snapshot.
pub fn summarize(s: &Snapshot) -> TickSummary {
    TickSummary {
        at: s.now,
        desired: s.desired,
        running: s.running,
        cpu: s.cpu,
        memory: s.memory,
        sessions: s.sessions_known.then(|| s.total_sessions()),
    }
}
