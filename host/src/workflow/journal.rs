//! Where drain workflows are made durable: a line per change, written (and
//! fsynced) before the step it announces runs.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use super::DrainWorkflow;

/// Why the journal failed. The host stops acting on a service whose journal fails:
/// a step that cannot be made durable is not taken.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Reading or writing the journal file failed.
    #[error("drain journal {path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A remote journal failed.
    #[error("drain journal: {0}")]
    Remote(String),
    /// Another host wrote this workflow since this host last read or wrote
    /// it: this host's copy is stale, and the write was refused.
    #[error(
        "drain journal: workflow {id} was written by another host (this host expected {}, the journal holds {}); \
         this host's copy is stale, so it stops acting on the workflow",
        expected.map_or("no entry".to_string(), |v| format!("version {v}")),
        found.map_or("no entry".to_string(), |v| format!("version {v}"))
    )]
    Conflict {
        /// The workflow.
        id: String,
        /// The version this host last saw, if any.
        expected: Option<u64>,
        /// The version the journal holds, if any.
        found: Option<u64>,
    },
    /// The write was refused because this host no longer holds the
    /// service's lease with its fencing token (`[ha]`): another host took
    /// the service over, so this one must not act on its drains.
    #[error(
        "drain journal: a write for {service} was refused: {reason}; this host stands down from the service"
    )]
    Fenced {
        /// The service key.
        service: String,
        /// Why: no lease held, or the lease's holder or token changed.
        reason: String,
    },
}

/// Durable storage of drain workflows.
pub trait Journal: Send + Sync {
    /// Makes this state of the workflow durable before returning.
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError>;
    /// The latest state of every workflow that has not finished.
    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError>;
    /// The unfinished workflows of one service, read now (a host that just
    /// took the service's lease resumes them).
    fn unfinished_of(&self, service: &str) -> Result<Vec<DrainWorkflow>, JournalError> {
        let mut all = self.unfinished()?;
        all.retain(|w| w.service == service);
        Ok(all)
    }
}

/// The embedded journal: JSON lines in a local file, fsynced on every write.
///
/// On open it reads every line (the last state of each workflow wins), skips
/// a torn last line left by a crash (and any other unreadable line, with a
/// warning), and rewrites the file with only the unfinished workflows.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    file: Mutex<File>,
    open: LatestJournal,
}

impl FileJournal {
    /// Opens (or creates) the journal at `path`, recovering and compacting it.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut latest = BTreeMap::new();
        if path.exists() {
            let reader = BufReader::new(File::open(path).map_err(io)?);
            for (n, line) in reader.split(b'\n').enumerate() {
                let line = line.map_err(io)?;
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<DrainWorkflow>(&line) {
                    Ok(wf) => {
                        latest.insert(wf.id.clone(), wf);
                    }
                    Err(e) => tracing::warn!(
                        journal = %path.display(),
                        line = n + 1,
                        error = %e,
                        "Skipping an unreadable drain journal line (a write torn by a crash); the other entries are kept."
                    ),
                }
            }
        }
        latest.retain(|_, wf: &mut DrainWorkflow| !wf.is_done());
        // Compact: write the unfinished workflows to a new file, then swap it in.
        let tmp = path.with_extension("jsonl.tmp");
        {
            let mut f = File::create(&tmp).map_err(io)?;
            for wf in latest.values() {
                writeln!(
                    f,
                    "{}",
                    serde_json::to_string(wf).expect("workflows serialize")
                )
                .map_err(io)?;
            }
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let file = OpenOptions::new().append(true).open(path).map_err(io)?;
        Ok(FileJournal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            open: LatestJournal {
                open: Mutex::new(latest),
            },
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Journal for FileJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        let mut line = serde_json::to_vec(wf).expect("workflows serialize");
        line.push(b'\n');
        let mut file = self.file.lock();
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        file.write_all(&line).map_err(io)?;
        file.sync_data().map_err(io)?;
        self.open.record(wf)
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        self.open.unfinished()
    }
}

/// A journal in memory that keeps only the latest state of each unfinished
/// workflow, dropping finished ones: a month-long backtest with thousands of
/// drains holds only those in flight. [`FileJournal`] keeps its index in one.
#[derive(Debug, Default)]
pub struct LatestJournal {
    open: Mutex<BTreeMap<String, DrainWorkflow>>,
}

impl Journal for LatestJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        let mut open = self.open.lock();
        if wf.is_done() {
            open.remove(&wf.id);
        } else {
            open.insert(wf.id.clone(), wf.clone());
        }
        Ok(())
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        Ok(self.open.lock().values().cloned().collect())
    }
}

/// A journal in memory, for backtests and tests: every state ever recorded, in order.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    entries: Mutex<Vec<DrainWorkflow>>,
}

impl MemoryJournal {
    /// Every state recorded so far, oldest first.
    pub fn entries(&self) -> Vec<DrainWorkflow> {
        self.entries.lock().clone()
    }
}

impl Journal for MemoryJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        self.entries.lock().push(wf.clone());
        Ok(())
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        let mut latest = BTreeMap::new();
        for wf in self.entries.lock().iter() {
            latest.insert(wf.id.clone(), wf.clone());
        }
        Ok(latest.into_values().filter(|wf| !wf.is_done()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{DrainConfig, Outcome, Step};

    fn wf(task: &str) -> DrainWorkflow {
        DrainWorkflow::new("c/s", task, None, 100, &DrainConfig::default())
    }

    #[test]
    fn file_journal_keeps_the_latest_unfinished_state_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drains.jsonl");
        let j = FileJournal::open(&path).unwrap();
        let mut a = wf("a");
        j.record(&a).unwrap();
        a.step = Step::Recheck;
        j.record(&a).unwrap();
        let mut b = wf("b");
        j.record(&b).unwrap();
        b.step = Step::Done {
            outcome: Outcome::Stopped,
        };
        j.record(&b).unwrap();
        drop(j);
        let j = FileJournal::open(&path).unwrap();
        assert_eq!(j.unfinished().unwrap(), vec![a]);
        // Compaction left one line.
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drains.jsonl");
        let j = FileJournal::open(&path).unwrap();
        let (a, b) = (wf("a"), wf("b"));
        j.record(&a).unwrap();
        j.record(&b).unwrap();
        drop(j);
        let mut text = std::fs::read_to_string(&path).unwrap();
        let torn = serde_json::to_string(&wf("c")).unwrap();
        text.push_str(&torn[..torn.len() / 2]);
        std::fs::write(&path, text).unwrap();
        let j = FileJournal::open(&path).unwrap();
        assert_eq!(j.unfinished().unwrap(), vec![a, b]);
    }

    #[test]
    fn an_unwritable_journal_is_an_error_naming_the_path() {
        let err = FileJournal::open(Path::new("/proc/no-such-dir/drains.jsonl")).unwrap_err();
        assert!(
            err.to_string().contains("/proc/no-such-dir/drains.jsonl"),
            "{err}"
        );
    }

    #[test]
    fn the_latest_journal_keeps_the_latest_unfinished_state_only() {
        let j = LatestJournal::default();
        let mut a = DrainWorkflow::new("c/s", "a", None, 0, &DrainConfig::default());
        let b = DrainWorkflow::new("c/s", "b", None, 0, &DrainConfig::default());
        j.record(&a).unwrap();
        j.record(&b).unwrap();
        a.step = Step::Recheck;
        j.record(&a).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(
            open.iter().find(|w| w.task_id == "a").unwrap().step,
            Step::Recheck
        );
        a.step = Step::Done {
            outcome: Outcome::Stopped,
        };
        j.record(&a).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].task_id, "b");
    }
}
