//! A snapshot of one service at one tick: what `gather` builds and `decide` reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The lifecycle of an ECS task (its `lastStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum TaskStatus {
    Provisioning,
    Pending,
    Activating,
    Running,
    Deactivating,
    Stopping,
    Deprovisioning,
    Stopped,
}

impl TaskStatus {
    /// Parses an ECS `lastStatus` string; unknown values are treated as provisioning.
    pub fn from_ecs(s: &str) -> TaskStatus {
        match s {
            "PENDING" => TaskStatus::Pending,
            "ACTIVATING" => TaskStatus::Activating,
            "RUNNING" => TaskStatus::Running,
            "DEACTIVATING" => TaskStatus::Deactivating,
            "STOPPING" => TaskStatus::Stopping,
            "DEPROVISIONING" => TaskStatus::Deprovisioning,
            "STOPPED" | "DELETED" => TaskStatus::Stopped,
            _ => TaskStatus::Provisioning,
        }
    }

    /// Whether the task counts as starting (pending in ECS's service counts).
    pub fn is_starting(self) -> bool {
        matches!(
            self,
            TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating
        )
    }
}

/// The health of a task's load balancer target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum TargetHealth {
    Unregistered,
    Initial,
    Healthy,
    Unhealthy,
    Draining,
    Unknown,
}

impl TargetHealth {
    /// Parses an ELBv2 target health state.
    pub fn from_elb(s: &str) -> TargetHealth {
        match s {
            "initial" => TargetHealth::Initial,
            "healthy" => TargetHealth::Healthy,
            "unhealthy" | "unhealthy.draining" => TargetHealth::Unhealthy,
            "draining" => TargetHealth::Draining,
            "unused" => TargetHealth::Unregistered,
            _ => TargetHealth::Unknown,
        }
    }
}

/// One task of the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInfo {
    /// The ECS task ID (the last part of its ARN).
    pub id: String,
    /// The task's last status.
    pub status: TaskStatus,
    /// The health of its load balancer target.
    pub health: TargetHealth,
    /// Seconds since it started (or was created, if not started yet).
    pub age_seconds: u32,
    /// Whether scale-in protection is on.
    #[serde(default)]
    pub protected: bool,
    /// Active sessions.
    #[serde(default)]
    pub sessions: u32,
    /// The task's CPU utilization in percent, when known.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// The task's memory utilization in percent, when known.
    #[serde(default)]
    pub memory: Option<f64>,
    /// Whether the host is draining the task.
    #[serde(default)]
    pub draining: bool,
    /// When the host cordoned the task (it takes no new sessions, keeps its
    /// own, and is stopped once they have ended), in seconds; none when the
    /// task is not cordoned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cordoned_since: Option<u64>,
}

/// A step of the drain workflow, as shown to policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DrainStep {
    Protecting,
    Deregistering,
    Waiting,
    Rechecking,
    ScalingIn,
    Confirming,
    /// The task is cordoned: it takes no new sessions, and the drain waits
    /// for its sessions to end.
    Cordoned,
}

/// A drain in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainInfo {
    /// The task being drained.
    pub task_id: String,
    /// The step it is at.
    pub step: DrainStep,
    /// Seconds since it began.
    pub elapsed_seconds: u32,
}

/// A summary of an earlier tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickSummary {
    /// When it ran, in seconds.
    pub at: u64,
    /// The desired count then.
    pub desired: u32,
    /// The running count then.
    pub running: u32,
    /// Service CPU in percent, when known.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Service memory in percent, when known.
    #[serde(default)]
    pub memory: Option<f64>,
    /// Total sessions, when known.
    #[serde(default)]
    pub sessions: Option<u32>,
}

/// A policy parameter's value, as written in the config: a number, a bool or a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(missing_docs)]
pub enum ParamValue {
    Flag(bool),
    Number(f64),
    Text(String),
}

/// Everything the host knows about one service at one tick.
///
/// Its JSON form is what `autoscaler policy eval --snapshot` reads and what
/// `autoscaler policy example-snapshot` prints; the README documents it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub service: String,
    /// The tick's time in seconds (Unix time, or virtual time in the sim).
    pub now: u64,
    /// The desired count.
    pub desired: u32,
    /// Tasks running.
    pub running: u32,
    /// Tasks starting.
    pub pending: u32,
    /// The lowest count the host allows.
    pub min: u32,
    /// The highest count the host allows.
    pub max: u32,
    /// Service CPU in percent; none when missing.
    #[serde(default)]
    pub cpu: Option<f64>,
    /// Service memory in percent; none when missing.
    #[serde(default)]
    pub memory: Option<f64>,
    /// Whether per-task session counts are fresh.
    pub sessions_known: bool,
    /// Every task that has not stopped.
    #[serde(default)]
    pub tasks: Vec<TaskInfo>,
    /// Drains in flight.
    #[serde(default)]
    pub drains: Vec<DrainInfo>,
    /// Earlier ticks, oldest first.
    #[serde(default)]
    pub history: Vec<TickSummary>,
    /// The policy's parameters.
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
}

impl Snapshot {
    /// Total active sessions across tasks.
    pub fn total_sessions(&self) -> u32 {
        self.tasks.iter().map(|t| t.sessions).sum()
    }

    /// The desired count once the drains in flight finish.
    pub fn effective_desired(&self) -> u32 {
        self.desired.saturating_sub(self.drains.len() as u32)
    }

    /// The task with this ID.
    pub fn task(&self, id: &str) -> Option<&TaskInfo> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// A sha256 (first 12 bytes, hex) of the snapshot's canonical binary
    /// form, for decision records (see `model/digest.rs`).
    pub fn digest(&self) -> String {
        super::digest::of(self)
    }

    /// A sample of `n` running tasks, every other one idle, at `cpu` percent:
    /// the shape the benchmarks measure a call on.
    pub fn example_sized(n: u32, cpu: f64) -> Snapshot {
        let mut s = Snapshot::example();
        s.cpu = Some(cpu);
        s.tasks = (0..n)
            .map(|i| TaskInfo {
                id: format!("{:032x}", 0xabcdef_u128 * u128::from(i + 1)),
                status: TaskStatus::Running,
                health: TargetHealth::Healthy,
                age_seconds: 600 + i * 60,
                protected: false,
                sessions: if i % 2 == 0 { 3 } else { 0 },
                cpu: Some(cpu),
                memory: Some(30.0),
                draining: false,
                cordoned_since: None,
            })
            .collect();
        (s.desired, s.running, s.max) = (n, n, 2 * n.max(1));
        s
    }

    /// A realistic sample: four tasks, two of them idle, CPU low, with history.
    pub fn example() -> Snapshot {
        let task = |id: &str, sessions: u32, age: u32| TaskInfo {
            id: id.to_string(),
            status: TaskStatus::Running,
            health: TargetHealth::Healthy,
            age_seconds: age,
            protected: false,
            sessions,
            cpu: Some(12.0 + f64::from(sessions) * 3.0),
            memory: Some(30.0),
            draining: false,
            cordoned_since: None,
        };
        let now = 1_764_403_200;
        Snapshot {
            cluster: "prod".into(),
            service: "rdp-proxy".into(),
            now,
            desired: 4,
            running: 4,
            pending: 0,
            min: 1,
            max: 20,
            cpu: Some(14.5),
            memory: Some(31.0),
            sessions_known: true,
            tasks: vec![
                task("0a1b2c3d4e5f4a5b8c9d0e1f2a3b4c5d", 3, 86_400),
                task("1b2c3d4e5f6a4b5c9d0e1f2a3b4c5d6e", 0, 7_200),
                task("2c3d4e5f6a7b4c5d8e0f1a2b3c4d5e6f", 1, 5_400),
                task("3d4e5f6a7b8c4d5e9f0a1b2c3d4e5f6a", 0, 900),
            ],
            drains: vec![],
            history: (1..=10)
                .map(|i| TickSummary {
                    at: now - 60 * (11 - i),
                    desired: 4,
                    running: 4,
                    cpu: Some(15.0 - i as f64 * 0.1),
                    memory: Some(31.0),
                    sessions: Some(4),
                })
                .collect(),
            params: BTreeMap::from([
                ("cpu-high".into(), ParamValue::Number(75.0)),
                ("cpu-low".into(), ParamValue::Number(30.0)),
                ("scale-in-window".into(), ParamValue::Number(300.0)),
                ("session-capacity".into(), ParamValue::Number(20.0)),
            ]),
        }
    }
}
