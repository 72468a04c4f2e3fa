//! Watching policy files for changes, for hot reload.
//!
//! Reacts only to writes being closed, creations and renames into place (the
//! host's own reads of a file fire access events too, and reacting to those
//! would reload forever), and batches events that arrive within a short
//! debounce. The daemon then skips a file whose content hash has not changed,
//! compiles and probes the new component, and swaps it in between ticks.
//!
//! The debounce runs in its own task, so it keeps going while the daemon
//! ticks; complete batches wait in a channel until the daemon takes them.
//! [`PolicyWatcher::changed`] is cancel-safe: dropping it (another branch of a
//! `select!` won) loses neither an event nor a batch.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// How long the events of one change may keep arriving before the change is
/// handed over. Short: a rename into place is one event, and content that did
/// not change is skipped anyway; long enough to gather a writer's events.
pub const DEBOUNCE: Duration = Duration::from_millis(20);

/// A watcher over a set of policy files.
pub struct PolicyWatcher {
    _watcher: RecommendedWatcher,
    batches: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    files: Vec<PathBuf>,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatcher")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

fn relevant(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Data(_) | ModifyKind::Any)
    )
}

fn normalize(p: &Path) -> PathBuf {
    match (
        p.parent().and_then(|d| d.canonicalize().ok()),
        p.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => p.to_path_buf(),
    }
}

/// Gathers paths from `events` until `debounce` passes with none, then hands
/// the batch (each path once) to `batches`. Ends when either side closes.
async fn debounce(
    mut events: mpsc::UnboundedReceiver<PathBuf>,
    batches: mpsc::UnboundedSender<Vec<PathBuf>>,
    quiet: Duration,
) {
    while let Some(first) = events.recv().await {
        let mut files = BTreeSet::from([first]);
        let mut open = true;
        loop {
            match tokio::time::timeout(quiet, events.recv()).await {
                Ok(Some(p)) => {
                    files.insert(p);
                }
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_) => break,
            }
        }
        if batches.send(files.into_iter().collect()).is_err() || !open {
            return;
        }
    }
}

impl PolicyWatcher {
    /// Watches `files` (through their folders, so replacing a file by rename
    /// is seen), batching with [`DEBOUNCE`]. Call it inside a tokio runtime:
    /// the debounce runs as a task of its own.
    pub fn watch(files: &[PathBuf]) -> Result<Self, notify::Error> {
        Self::watch_with(files, DEBOUNCE)
    }

    /// Like [`PolicyWatcher::watch`], with the debounce `quiet`.
    pub fn watch_with(files: &[PathBuf], quiet: Duration) -> Result<Self, notify::Error> {
        let wanted: BTreeSet<PathBuf> = files.iter().map(|f| normalize(f)).collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let filter = wanted.clone();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                let Ok(event) = res else { return };
                if !relevant(&event.kind) {
                    return;
                }
                for p in event.paths {
                    let p = normalize(&p);
                    if filter.contains(&p) {
                        let _ = tx.send(p);
                    }
                }
            })?;
        let dirs: BTreeSet<PathBuf> = wanted
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for d in dirs {
            watcher.watch(&d, RecursiveMode::NonRecursive)?;
        }
        let (batch_tx, batches) = mpsc::unbounded_channel();
        // Ends by itself: dropping the watcher drops the event sender.
        tokio::spawn(debounce(rx, batch_tx, quiet));
        Ok(PolicyWatcher {
            _watcher: watcher,
            batches,
            files: wanted.into_iter().collect(),
        })
    }

    /// The next batch of changed files, each once. Cancel-safe: if the future
    /// is dropped before it returns, the batch stays for the next call.
    /// Never returns if the debounce task has stopped.
    pub async fn changed(&mut self) -> Vec<PathBuf> {
        match self.batches.recv().await {
            Some(files) => files,
            None => std::future::pending().await,
        }
    }

    /// The watched files, in canonical form.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

/// The canonical form of a policy path, as the watcher reports it.
pub fn canonical(p: &Path) -> PathBuf {
    normalize(p)
}
