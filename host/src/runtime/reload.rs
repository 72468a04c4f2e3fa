//! Watching policy files for changes, for hot reload.
//!
//! Reacts only to writes being closed, creations and renames into place (the
//! host's own reads of a file fire access events too, and reacting to those
//! would reload forever), and batches events that arrive within a short
//! debounce. The daemon then skips a file whose content hash has not changed,
//! compiles and probes the new component, and swaps it in between ticks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// A watcher over a set of policy files.
pub struct PolicyWatcher {
    _watcher: RecommendedWatcher,
    rx: mpsc::UnboundedReceiver<PathBuf>,
}

impl std::fmt::Debug for PolicyWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyWatcher").finish_non_exhaustive()
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

impl PolicyWatcher {
    /// Watches `files` (through their folders, so replacing a file by rename is seen).
    pub fn watch(files: &[PathBuf]) -> Result<Self, notify::Error> {
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
        Ok(PolicyWatcher {
            _watcher: watcher,
            rx,
        })
    }

    /// Waits for a change, then for the debounce to pass quietly; returns each changed file once.
    pub async fn changed(&mut self, debounce: Duration) -> Vec<PathBuf> {
        let mut files = BTreeSet::new();
        match self.rx.recv().await {
            Some(p) => files.insert(p),
            None => return Vec::new(),
        };
        while let Ok(Some(p)) = tokio::time::timeout(debounce, self.rx.recv()).await {
            files.insert(p);
        }
        files.into_iter().collect()
    }
}

/// The canonical form of a policy path, as the watcher reports it.
pub fn canonical(p: &Path) -> PathBuf {
    normalize(p)
}
