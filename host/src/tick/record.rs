//! record: one structured decision record per tick, written as a JSON line.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Decision;

use super::decide::{FaultRecord, ShadowDecision};
use super::execute::ActionOutcome;
use super::guard::{Action, Adjustment};

/// Which policy decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// sha256 of its `.wasm`.
    pub sha256: String,
}

/// The fallback policy's part in a tick, when the live policy kept faulting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackRecord {
    /// The fallback policy.
    pub policy: PolicyRef,
    /// The live policy's consecutive faults, this tick's included.
    pub after_faults: u32,
    /// The fallback's own fault, if it faulted too (the tick then holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
}

/// Counts and load at the tick, for status lines, charts and backtests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickState {
    /// The desired count.
    pub desired: u32,
    /// Tasks running.
    pub running: u32,
    /// Tasks starting.
    pub pending: u32,
    /// Drains in flight.
    pub draining: u32,
    /// Service CPU, when known.
    pub cpu: Option<f64>,
    /// Service memory, when known.
    pub memory: Option<f64>,
    /// Total sessions, when known.
    pub sessions: Option<u32>,
}

/// A drain from the journal that a dry run holds where it is: not advanced,
/// left in the journal for a live run to resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedDrain {
    /// The drain workflow's ID.
    pub workflow: String,
    /// The victim.
    pub task: String,
    /// The step it waits at.
    pub step: String,
}

/// One tick of one service, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickRecord {
    /// When, in seconds.
    pub at: u64,
    /// The service key.
    pub service: String,
    /// Whether actions were suppressed (`--dry-run`).
    pub dry_run: bool,
    /// sha256 prefix of the snapshot's canonical form; none when gathering
    /// failed, or in a backtest that keeps no records (`ServiceSpec::digest`).
    pub snapshot_digest: Option<String>,
    /// Counts and load.
    pub state: Option<TickState>,
    /// Reads that failed during gather.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// The live policy.
    pub policy: PolicyRef,
    /// Its decision, as it made it.
    pub decision: Option<Decision>,
    /// Its fault, if it faulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
    /// When the live policy kept faulting and the fallback policy decided
    /// instead: which one. `decision` is then the fallback's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackRecord>,
    /// How long the live call took, in microseconds.
    pub call_micros: u64,
    /// What the guard changed.
    pub adjustments: Vec<Adjustment>,
    /// What the guard allowed.
    pub action: Action,
    /// What execution and the drains came to.
    pub outcomes: Vec<ActionOutcome>,
    /// Under `--dry-run`: the drains in flight, held where they are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paused_drains: Vec<PausedDrain>,
    /// Written at shutdown to carry the drain outcomes since the last tick:
    /// no gather, decision or action.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shutdown: bool,
    /// The shadow policies' decisions, never executed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadows: Vec<ShadowDecision>,
}

impl TickRecord {
    /// `hold`, `scale-out` or `scale-in`.
    pub fn action_name(&self) -> &'static str {
        match self.action {
            Action::Hold => "hold",
            Action::ScaleOut { .. } => "scale-out",
            Action::ScaleIn { .. } => "scale-in",
        }
    }

    /// The reason to show: the fault, the problem, or the policy's reason.
    pub fn reason(&self) -> String {
        if let (Some(f), Some(fb), Some(d)) = (&self.fault, &self.fallback, &self.decision) {
            return format!(
                "fallback {} after {} policy faults ({}): {}",
                fb.policy.name, fb.after_faults, f.kind, d.reason
            );
        }
        if let Some(f) = &self.fault {
            return format!("policy fault ({}): {}", f.kind, f.message);
        }
        if self.shutdown {
            return "shutdown: what the drains did since the last tick".into();
        }
        if self.state.is_none() {
            return self
                .problems
                .first()
                .cloned()
                .unwrap_or_else(|| "gather failed".into());
        }
        let mut reason = self
            .decision
            .as_ref()
            .map(|d| d.reason.clone())
            .unwrap_or_default();
        if let Some(a) = self
            .adjustments
            .iter()
            .rfind(|a| a.rule != "drain-candidate")
        {
            reason = format!("{reason} [guard: {}]", a.reason);
        }
        reason
    }
}

/// Where tick records go.
pub trait RecordSink: Send {
    /// Writes one record.
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()>;
    /// Flushes buffered records.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records as JSON lines in a file, appended.
pub struct JsonlSink {
    path: PathBuf,
    out: BufWriter<File>,
    /// Flush after every record (the daemon's), or only on `flush` (a backtest's).
    flush_each: bool,
}

impl JsonlSink {
    /// Opens (or creates) `path` for appending: the daemon's record, which
    /// outlives any one run.
    /// Each record is flushed as it is written, so a crash loses none.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::with(path, OpenOptions::new().create(true).append(true), true)
    }

    /// Creates `path`, replacing what it held: the records of one backtest run.
    /// Records are buffered until [`RecordSink::flush`]: a run that crashes
    /// is run again, and a month of ticks is 43,200 records.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::with(
            path,
            OpenOptions::new().create(true).write(true).truncate(true),
            false,
        )
    }

    fn with(path: &Path, options: &OpenOptions, flush_each: bool) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = options.open(path)?;
        Ok(JsonlSink {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            flush_each,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl RecordSink for JsonlSink {
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, record)?;
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Records kept in memory (backtests, tests).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Every record written, in order.
    pub records: Vec<TickRecord>,
}

impl RecordSink for MemorySink {
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()> {
        self.records.push(record.clone());
        Ok(())
    }
}
