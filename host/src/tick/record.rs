//! record: one structured decision record per tick, written as a JSON line.

pub mod status;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::Decision;
use crate::rotate::{RotatingFile, Rotation};
use crate::runtime::{FaultKind, PolicyFault};

use super::guard::{Action, Adjustment, GuardRule};
use super::outcome::ActionOutcome;

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

impl From<&crate::runtime::PolicyComponent> for PolicyRef {
    fn from(c: &crate::runtime::PolicyComponent) -> Self {
        PolicyRef {
            name: c.name.clone(),
            version: c.version.clone(),
            sha256: c.sha256.clone(),
        }
    }
}

/// The fallback policy's part in a tick, when the live policy kept faulting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FallbackRecord {
    /// The fallback policy.
    pub policy: PolicyRef,
    /// The live policy's consecutive faults, this tick's included (0 when
    /// it answered this tick but had faulted too often of late).
    pub after_faults: u32,
    /// The live policy's faults among the last `window` ticks, this one included.
    #[serde(default)]
    pub recent_faults: u32,
    /// The window those faults were counted over, in ticks (`fallback_window`).
    #[serde(default)]
    pub window: u32,
    /// The live policy's own decision when it answered this tick but was
    /// overruled for faulting too often of late; never executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overruled: Option<Decision>,
    /// The fallback's own fault, if it faulted too (the tick then holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
}

/// A shadow policy's answer, for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowDecision {
    /// The shadow's name.
    pub policy: String,
    /// sha256 of its component.
    pub sha256: String,
    /// Its decision, when it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Its fault kind and message, when it faulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
    /// How long its call took, in microseconds.
    pub call_micros: u64,
}

/// A fault, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// The fault kind (`timeout`, `trap`, ...).
    pub kind: FaultKind,
    /// The fault's message.
    pub message: String,
}

impl From<&PolicyFault> for FaultRecord {
    fn from(f: &PolicyFault) -> Self {
        FaultRecord {
            kind: f.kind(),
            message: f.to_string(),
        }
    }
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
    /// Drains in flight (cordoned tasks included).
    pub draining: u32,
    /// Of those, tasks cordoned: they take no new sessions and wait for
    /// theirs to end.
    #[serde(default)]
    pub cordoned: u32,
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
    /// Tasks cordoned at this tick (their cordon workflows started).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cordoned: Vec<String>,
    /// Tasks uncordoned at this tick: they serve new sessions again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uncordoned: Vec<String>,
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
        self.action.name()
    }

    /// The reason to show: the fault, the problem, or the policy's reason.
    pub fn reason(&self) -> String {
        if let (Some(f), Some(fb), Some(d)) = (&self.fault, &self.fallback, &self.decision) {
            return format!(
                "fallback {} after {} policy faults ({}): {}",
                fb.policy.name, fb.after_faults, f.kind, d.reason
            );
        }
        if let Some(FallbackRecord {
            policy,
            fault: Some(f),
            ..
        }) = &self.fallback
        {
            return format!(
                "the fallback {} faulted too ({}): {}; hold",
                policy.name, f.kind, f.message
            );
        }
        if let (Some(fb), Some(d)) = (&self.fallback, &self.decision)
            && fb.fault.is_none()
        {
            return format!(
                "fallback {}: the live policy faulted on {} of the last {} ticks: {}",
                fb.policy.name, fb.recent_faults, fb.window, d.reason
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
            .rfind(|a| a.rule != GuardRule::DrainCandidate)
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

/// Records as JSON lines in a file.
pub struct JsonlSink {
    out: Out,
}

enum Out {
    /// The daemon's: appended, flushed per record, rotated (see [`crate::rotate`]).
    Rotating { file: RotatingFile, line: Vec<u8> },
    /// A backtest's: one file, buffered until `flush`.
    Whole { path: PathBuf, out: BufWriter<File> },
}

impl JsonlSink {
    /// Opens (or creates) `path` for appending: the daemon's record, which
    /// outlives any one run. It rotates by `rotation` (between records, never
    /// within one); a restarted host appends to the current file.
    /// Each record reaches the file as it is written, so a crash loses none.
    pub fn open(path: &Path, rotation: Rotation) -> std::io::Result<Self> {
        Ok(JsonlSink {
            out: Out::Rotating {
                file: RotatingFile::open(path, rotation)?,
                line: Vec::new(),
            },
        })
    }

    /// Creates `path`, replacing what it held: the records of one backtest run.
    /// Records are buffered until [`RecordSink::flush`]: a run that crashes
    /// is run again, and a month of ticks is 43,200 records. It never rotates.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(JsonlSink {
            out: Out::Whole {
                path: path.to_path_buf(),
                out: BufWriter::new(File::create(path)?),
            },
        })
    }

    /// The (current) file.
    pub fn path(&self) -> &Path {
        match &self.out {
            Out::Rotating { file, .. } => file.path(),
            Out::Whole { path, .. } => path,
        }
    }
}

impl RecordSink for JsonlSink {
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()> {
        match &mut self.out {
            Out::Rotating { file, line } => {
                line.clear();
                serde_json::to_writer(&mut *line, record)?;
                file.append_line(line)
            }
            Out::Whole { out, .. } => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Out::Rotating { .. } => Ok(()),
            Out::Whole { out, .. } => out.flush(),
        }
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
