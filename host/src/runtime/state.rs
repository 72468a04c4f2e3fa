//! What each policy's store holds: limits, the current call's task IDs, and captured logs.

use wasmtime::ResourceLimiter;

use super::bindings::{Level, autoscaler::policy::host};

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
    pub memory_cap: usize,
    pub memory_denied: bool,
    /// The current snapshot's task IDs, end to end in one string (one copy,
    /// no allocation per task: `task-id` is rarely called, the copy is per call).
    pub task_ids: String,
    /// Where each task's ID ends in `task_ids`.
    pub task_id_ends: Vec<u32>,
    pub logs: Vec<PolicyLog>,
    pub logs_dropped: usize,
    pub max_log_lines: usize,
    pub max_log_bytes: usize,
}

impl HostState {
    pub fn new(memory_cap: usize, max_log_lines: usize, max_log_bytes: usize) -> Self {
        HostState {
            memory_cap,
            memory_denied: false,
            task_ids: String::new(),
            task_id_ends: Vec::new(),
            logs: Vec::new(),
            logs_dropped: 0,
            max_log_lines,
            max_log_bytes,
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
        self.memory_denied = false;
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_cap;
        if !allowed {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: Level, message: String) {
        if self.logs.len() >= self.max_log_lines {
            self.logs_dropped += 1;
            return;
        }
        let mut message = message;
        if message.len() > self.max_log_bytes {
            let mut cut = self.max_log_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [truncated]");
        }
        let level = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        self.logs.push(PolicyLog { level, message });
    }

    fn task_id(&mut self, handle: u32) -> Option<String> {
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

impl super::bindings::autoscaler::policy::types::Host for HostState {}
