//! What each policy's store holds: limits, the current call's task IDs, and captured logs.

use super::Limits;
use super::bindings::{v1, v2};
use super::limiter::InstanceLimiter;
use super::text;

/// One message a policy logged during a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyLog {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    /// The message, truncated to the limit.
    pub message: String,
}

/// The data of a policy's store.
pub(crate) struct HostState {
    /// The memory cap over all the instance's memories and tables.
    pub limiter: InstanceLimiter,
    /// The current snapshot's task IDs, end to end in one string (one copy,
    /// no allocation per task: `task-id` is rarely called, the copy is per call).
    pub task_ids: String,
    /// Where each task's ID ends in `task_ids`.
    pub task_id_ends: Vec<u32>,
    pub logs: Vec<PolicyLog>,
    pub logs_dropped: usize,
    pub max_log_lines: usize,
    pub max_log_bytes: usize,
    pub log_budget_bytes: usize,
    /// Log bytes this call may still keep.
    pub log_budget_left: usize,
}

impl HostState {
    pub fn new(limits: &Limits) -> Self {
        HostState {
            limiter: InstanceLimiter::new(
                limits.memory_bytes,
                limits.max_memories,
                limits.max_tables,
                limits.max_instances,
            ),
            task_ids: String::new(),
            task_id_ends: Vec::new(),
            logs: Vec::new(),
            logs_dropped: 0,
            max_log_lines: limits.max_log_lines,
            max_log_bytes: limits.max_log_bytes,
            log_budget_bytes: limits.log_budget_bytes,
            log_budget_left: limits.log_budget_bytes,
        }
    }

    /// Clears per-call state before a call.
    pub fn begin_call<'a>(&mut self, task_ids: impl Iterator<Item = &'a str>) {
        self.task_ids.clear();
        self.task_id_ends.clear();
        for id in task_ids {
            self.task_ids.push_str(id);
            self.task_id_ends.push(self.task_ids.len() as u32);
        }
        self.logs.clear();
        self.logs_dropped = 0;
        self.log_budget_left = self.log_budget_bytes;
        self.limiter.denied = false;
    }

    /// How many bytes of the next log line may be kept; 0 when it must be dropped.
    pub fn log_room(&self) -> usize {
        if self.logs.len() >= self.max_log_lines {
            return 0;
        }
        self.max_log_bytes.min(self.log_budget_left)
    }

    /// Keeps `kept`, the prefix of a `full_len`-byte message the policy logged
    /// (already cut to [`HostState::log_room`]), or counts it dropped.
    pub fn keep_log(&mut self, level: &'static str, kept: &str, full_len: usize) {
        if self.log_room() == 0 {
            self.logs_dropped += 1;
            return;
        }
        self.log_budget_left = self.log_budget_left.saturating_sub(kept.len());
        let message = text::marked(kept, full_len);
        self.logs.push(PolicyLog { level, message });
    }
}

impl HostState {
    /// The bindgen-generated `log`, either version. The linker shadows it with
    /// [`super::log::add_to_linker`], which copies only the kept prefix out of
    /// the guest; this one stays for the traits and keeps the same rules.
    fn log_whole(&mut self, level: &'static str, message: String) {
        let kept = text::prefix(&message, self.log_room());
        self.keep_log(level, kept, message.len());
    }

    /// The `task-id` import, either version.
    fn lookup_task_id(&mut self, handle: u32) -> Option<String> {
        let i = handle as usize;
        let end = *self.task_id_ends.get(i)? as usize;
        let start = if i == 0 {
            0
        } else {
            self.task_id_ends[i - 1] as usize
        };
        Some(self.task_ids[start..end].to_string())
    }
}

/// A log level by its case index (debug, info, warn, error), the same in every contract version.
pub(crate) fn level_name(index: u8) -> &'static str {
    match index {
        0 => "debug",
        1 => "info",
        2 => "warn",
        _ => "error",
    }
}

impl v1::autoscaler::policy::host::Host for HostState {
    fn log(&mut self, level: v1::Level, message: String) {
        self.log_whole(level_name(level as u8), message);
    }

    fn task_id(&mut self, handle: u32) -> Option<String> {
        self.lookup_task_id(handle)
    }
}

impl v2::autoscaler::policy::host::Host for HostState {
    fn log(&mut self, level: v2::Level, message: String) {
        self.log_whole(level_name(level as u8), message);
    }

    fn task_id(&mut self, handle: u32) -> Option<String> {
        self.lookup_task_id(handle)
    }
}

impl v1::autoscaler::policy::types::Host for HostState {}
impl v2::autoscaler::policy::types::Host for HostState {}
