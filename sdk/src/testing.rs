//! A native test harness: build snapshots in plain Rust and call a policy
//! function directly with `cargo test`, no WebAssembly involved.
//!
//! ```
//! use autoscaler_sdk::testing::SnapshotBuilder;
//! let s = SnapshotBuilder::new()
//!     .service("web")
//!     .min(1)
//!     .max(10)
//!     .cpu(82.5)
//!     .task(|t| t.sessions(4))
//!     .task(|t| t.sessions(0).id("idle-task"))
//!     .param("cpu-high", 75.0)
//!     .build();
//! assert_eq!(s.desired, 2);
//! assert_eq!(autoscaler_sdk::task_id(s.tasks[1].handle).as_deref(), Some("idle-task"));
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use crate::{
    Drain, DrainStep, Param, ParamSpec, ParamValue, Snapshot, TargetHealth, Task, TaskStatus,
    TickSummary,
};

thread_local! {
    static TASK_IDS: RefCell<HashMap<u32, String>> = RefCell::new(HashMap::new());
}

/// The ID a native test gave the task `handle` ([`crate::task_id`] outside a
/// component; inside one, `task_id` asks the host and this goes unused).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn native_task_id(handle: u32) -> Option<String> {
    TASK_IDS.with(|ids| ids.borrow().get(&handle).cloned())
}

/// Builds one task of a snapshot; see [`SnapshotBuilder::task`].
#[derive(Debug, Clone)]
pub struct TaskBuilder {
    task: Task,
    id: Option<String>,
}

impl TaskBuilder {
    /// Sets the active session count (default 0).
    pub fn sessions(mut self, n: u32) -> Self {
        self.task.sessions = n;
        self
    }
    /// Sets the age in seconds (default 3600).
    pub fn age_seconds(mut self, s: u32) -> Self {
        self.task.age_seconds = s;
        self
    }
    /// Sets the ECS task ID (default `task-N`).
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_string());
        self
    }
    /// Sets the status (default running).
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.task.status = status;
        self
    }
    /// Marks the task as still starting: pending, target initial, age 30 s.
    pub fn starting(mut self) -> Self {
        self.task.status = TaskStatus::Pending;
        self.task.health = TargetHealth::Initial;
        self.task.age_seconds = 30;
        self
    }
    /// Sets the target health (default healthy).
    pub fn health(mut self, health: TargetHealth) -> Self {
        self.task.health = health;
        self
    }
    /// Turns scale-in protection on.
    pub fn protected(mut self) -> Self {
        self.task.protected = true;
        self
    }
    /// Marks the task as being drained; the snapshot gets a matching drain in flight.
    pub fn draining(mut self) -> Self {
        self.task.draining = true;
        self.task.health = TargetHealth::Draining;
        self
    }
    /// Marks the task as cordoned since `since` (seconds): it is draining
    /// too, and the snapshot gets a matching drain in flight at step
    /// `cordoned`. The target health is left as set (an app-level cordon
    /// keeps the target healthy; use `.health(TargetHealth::Unregistered)`
    /// for a deregistered one).
    pub fn cordoned(mut self, since: u64) -> Self {
        self.task.draining = true;
        self.task.cordoned_since = Some(since);
        self
    }
    /// Sets the task's CPU utilization.
    pub fn cpu(mut self, cpu: f64) -> Self {
        self.task.cpu = Some(cpu);
        self
    }
    /// Sets the task's memory utilization.
    pub fn memory(mut self, memory: f64) -> Self {
        self.task.memory = Some(memory);
        self
    }
}

/// Builds a [`Snapshot`] with sensible defaults: cluster `test`, service
/// `svc`, min 1, max 10, CPU 50 %, memory 40 %, session data fresh, and the
/// desired and running counts derived from the tasks added.
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
    ids: Vec<String>,
    desired: Option<u32>,
}

impl Default for SnapshotBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SnapshotBuilder {
    /// A snapshot with no tasks and the defaults above.
    pub fn new() -> Self {
        SnapshotBuilder {
            snapshot: Snapshot {
                cluster: "test".into(),
                service: "svc".into(),
                now: 1_700_000_000,
                desired: 0,
                running: 0,
                pending: 0,
                min: 1,
                max: 10,
                cpu: Some(50.0),
                memory: Some(40.0),
                sessions_known: true,
                tasks: Vec::new(),
                drains: Vec::new(),
                history: Vec::new(),
                params: Vec::new(),
            },
            ids: Vec::new(),
            desired: None,
        }
    }

    /// Sets the service name.
    pub fn service(mut self, name: &str) -> Self {
        self.snapshot.service = name.into();
        self
    }
    /// Sets the tick's time in seconds.
    pub fn now(mut self, now: u64) -> Self {
        self.snapshot.now = now;
        self
    }
    /// Sets the minimum task count.
    pub fn min(mut self, min: u32) -> Self {
        self.snapshot.min = min;
        self
    }
    /// Sets the maximum task count.
    pub fn max(mut self, max: u32) -> Self {
        self.snapshot.max = max;
        self
    }
    /// Overrides the desired count (by default, the number of tasks added).
    pub fn desired(mut self, desired: u32) -> Self {
        self.desired = Some(desired);
        self
    }
    /// Sets the service CPU utilization.
    pub fn cpu(mut self, cpu: f64) -> Self {
        self.snapshot.cpu = Some(cpu);
        self
    }
    /// Sets the service memory utilization.
    pub fn memory(mut self, memory: f64) -> Self {
        self.snapshot.memory = Some(memory);
        self
    }
    /// Removes both service metrics, as when CloudWatch has no datapoint.
    pub fn no_metrics(mut self) -> Self {
        self.snapshot.cpu = None;
        self.snapshot.memory = None;
        self
    }
    /// Marks the session counts as unknown (the session store could not be read).
    pub fn sessions_unknown(mut self) -> Self {
        self.snapshot.sessions_known = false;
        self
    }
    /// Adds a task shaped by `f`, starting from a running, healthy, idle task.
    pub fn task(mut self, f: impl FnOnce(TaskBuilder) -> TaskBuilder) -> Self {
        let handle = self.snapshot.tasks.len() as u32;
        let built = f(TaskBuilder {
            task: Task {
                handle,
                status: TaskStatus::Running,
                health: TargetHealth::Healthy,
                age_seconds: 3600,
                protected: false,
                sessions: 0,
                cpu: None,
                memory: None,
                draining: false,
                cordoned_since: None,
            },
            id: None,
        });
        self.ids
            .push(built.id.unwrap_or_else(|| format!("task-{handle}")));
        self.snapshot.tasks.push(built.task);
        self
    }
    /// Adds `n` running, healthy, idle tasks.
    pub fn running_tasks(mut self, n: u32) -> Self {
        for _ in 0..n {
            self = self.task(|t| t);
        }
        self
    }
    /// Adds earlier ticks with the given `(at, cpu)` pairs; other fields copy the current counts.
    pub fn history_cpu(mut self, samples: &[(u64, f64)]) -> Self {
        for &(at, cpu) in samples {
            self.snapshot.history.push(TickSummary {
                at,
                desired: 0,
                running: 0,
                cpu: Some(cpu),
                memory: None,
                sessions: None,
            });
        }
        self
    }
    /// Adds an earlier tick.
    pub fn history(mut self, tick: TickSummary) -> Self {
        self.snapshot.history.push(tick);
        self
    }
    /// Sets a policy parameter: a number, a bool or a string.
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.snapshot.params.push(Param {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Adds the defaults of the declared parameters the snapshot does not
    /// set yet, as the host does when it loads a policy: pass
    /// `__AutoscalerPolicy::declared_params()` (made by `export_policy!`) or
    /// your own list. Call it after [`SnapshotBuilder::param`].
    pub fn declared(mut self, specs: &[ParamSpec]) -> Self {
        for spec in specs {
            if self.snapshot.params.iter().any(|p| p.name == spec.name) {
                continue;
            }
            if let Some(value) = &spec.default {
                self.snapshot.params.push(Param {
                    name: spec.name.clone(),
                    value: value.clone(),
                });
            }
        }
        self
    }

    /// Finishes the snapshot and registers its task IDs for [`crate::task_id`].
    pub fn build(self) -> Snapshot {
        let mut s = self.snapshot;
        let counts = |pred: fn(&Task) -> bool| s.tasks.iter().filter(|t| pred(t)).count() as u32;
        s.running = counts(|t| t.status == TaskStatus::Running);
        s.pending = counts(|t| {
            matches!(
                t.status,
                TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating
            )
        });
        s.desired = self.desired.unwrap_or(s.tasks.len() as u32);
        for t in s.tasks.iter().filter(|t| t.draining) {
            let (step, elapsed_seconds) = match t.cordoned_since {
                Some(since) => (
                    DrainStep::Cordoned,
                    u32::try_from(s.now.saturating_sub(since)).unwrap_or(u32::MAX),
                ),
                None => (DrainStep::Waiting, 60),
            };
            s.drains.push(Drain {
                handle: t.handle,
                step,
                elapsed_seconds,
            });
        }
        for h in &mut s.history {
            if h.desired == 0 {
                h.desired = s.desired;
                h.running = s.running;
            }
        }
        TASK_IDS.with(|ids| {
            let mut ids = ids.borrow_mut();
            ids.clear();
            ids.extend(
                self.ids
                    .into_iter()
                    .enumerate()
                    .map(|(i, id)| (i as u32, id)),
            );
        });
        s
    }
}

impl From<f64> for ParamValue {
    fn from(n: f64) -> Self {
        ParamValue::Number(n)
    }
}
impl From<bool> for ParamValue {
    fn from(b: bool) -> Self {
        ParamValue::Flag(b)
    }
}
impl From<&str> for ParamValue {
    fn from(s: &str) -> Self {
        ParamValue::Text(s.into())
    }
}
