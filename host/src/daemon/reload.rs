//! Applying changed policy files: read, hash and compile on a blocking
//! thread while the daemon keeps ticking with the old policy; then, between
//! ticks, probe on the last snapshot and swap. A file that fails any step is
//! refused and the running policy stays.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::Daemon;
use crate::events::Event;
use crate::model::Snapshot;
use crate::providers::Provider;
use crate::runtime::reload::canonical;
use crate::runtime::{Policy, PolicyComponent, PolicyEngine};

#[derive(Serialize)]
struct ReloadRecord<'a> {
    at: u64,
    service: &'a str,
    path: String,
    role: &'a str,
    old_sha256: &'a str,
    new_sha256: Option<&'a str>,
    error: Option<&'a str>,
}

/// Which policy of a service a file feeds.
#[derive(Clone, Copy)]
enum Slot {
    Live,
    Shadow(usize),
}

/// What reading and compiling one file gave.
enum Outcome {
    /// Every policy the file feeds already runs this content.
    Unchanged,
    /// The file could not be read.
    Unreadable(String),
    /// The content (with this sha256) is not a policy this host can run.
    Broken { sha256: String, error: String },
    /// A compiled component, to probe and swap in.
    Ready(Arc<PolicyComponent>),
}

/// A finished read-and-compile of one policy file.
pub struct Compiled {
    path: PathBuf,
    generation: u64,
    outcome: Outcome,
}

/// Policy files being read and compiled off the daemon loop. Each file's
/// newest change wins: a compile that finishes after a newer one for the
/// same file was started is dropped, so an older content never replaces a
/// newer one.
pub struct Reloads {
    tx: mpsc::UnboundedSender<Compiled>,
    rx: mpsc::UnboundedReceiver<Compiled>,
    /// The newest generation started per file, while it is in flight.
    newest: HashMap<PathBuf, u64>,
    generation: u64,
    in_flight: usize,
}

impl Default for Reloads {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Reloads {
            tx,
            rx,
            newest: HashMap::new(),
            generation: 0,
            in_flight: 0,
        }
    }
}

impl std::fmt::Debug for Reloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloads")
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

impl Reloads {
    /// Compiles in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The next finished compile. Cancel-safe (a channel receive): if dropped
    /// before it returns, nothing is lost. Never returns while none is in flight.
    pub async fn next(&mut self) -> Compiled {
        match self.rx.recv().await {
            Some(c) => c,
            // We hold a sender, so the channel never closes.
            None => std::future::pending().await,
        }
    }

    /// Books a new change of `path`, newer than any before it; returns its generation.
    fn begin(&mut self, path: &Path) -> u64 {
        self.generation += 1;
        self.newest.insert(path.to_path_buf(), self.generation);
        self.in_flight += 1;
        self.generation
    }

    /// Reads `path` from disk (`content` none) or takes the fetched
    /// `content` of a remote object, and compiles it on a blocking thread.
    fn start(
        &mut self,
        path: PathBuf,
        content: Option<Result<Vec<u8>, String>>,
        engine: PolicyEngine,
        loaded: Vec<String>,
    ) {
        let generation = self.begin(&path);
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let file = path.clone();
            let outcome = tokio::task::spawn_blocking(move || match content {
                None => read_and_compile(&file, &engine, &loaded),
                Some(Ok(bytes)) => compile(&bytes, &file, &engine, &loaded),
                Some(Err(error)) => Outcome::Unreadable(error),
            })
            .await
            .unwrap_or_else(|e| Outcome::Unreadable(format!("the compile task failed: {e}")));
            let _ = tx.send(Compiled {
                path,
                generation,
                outcome,
            });
        });
    }

    /// Takes `done` off the books; false if a newer change of its file was started since.
    fn settle(&mut self, done: &Compiled) -> bool {
        self.in_flight -= 1;
        if self.newest.get(&done.path) == Some(&done.generation) {
            self.newest.remove(&done.path);
            true
        } else {
            false
        }
    }
}

/// Reads `path`; unless every policy it feeds (`loaded`) already runs that
/// content, compiles it. Runs on a blocking thread.
fn read_and_compile(path: &Path, engine: &PolicyEngine, loaded: &[String]) -> Outcome {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return Outcome::Unreadable(format!("cannot read the file: {e}")),
    };
    compile(&bytes, path, engine, loaded)
}

/// Compiles `bytes` (the content of `path`), unless every policy it feeds
/// (`loaded`) already runs that content.
fn compile(bytes: &[u8], path: &Path, engine: &PolicyEngine, loaded: &[String]) -> Outcome {
    let sha256 = hex::encode(Sha256::digest(bytes));
    if loaded.iter().all(|s| *s == sha256) {
        // Same content (an editor touched the file, or our own read): nothing to do.
        return Outcome::Unchanged;
    }
    match engine.load_bytes(bytes, &path.display().to_string()) {
        Ok(c) => Outcome::Ready(c),
        Err(e) => Outcome::Broken {
            sha256,
            error: e.to_string(),
        },
    }
}

impl<P: Provider> Daemon<P> {
    /// Reloads every service policy whose file is among `paths` and whose
    /// content changed, and waits for it. The run loop does the same without
    /// waiting ([`Daemon::start_reloads`], [`Daemon::finish_reload`]).
    pub async fn apply_reloads(&mut self, paths: &[PathBuf]) {
        let mut reloads = Reloads::default();
        self.start_reloads(&mut reloads, paths);
        while reloads.in_flight() > 0 {
            let done = reloads.next().await;
            self.finish_reload(&mut reloads, done);
        }
    }

    /// Starts reading and compiling each of `paths` that feeds a policy, on a
    /// blocking thread; the results come out of [`Reloads::next`].
    pub fn start_reloads(&self, reloads: &mut Reloads, paths: &[PathBuf]) {
        for path in paths {
            let path = canonical(path);
            let slots = self.slots(&path);
            if slots.is_empty() {
                continue;
            }
            let loaded = slots
                .iter()
                .map(|&(i, slot)| self.policy_at(i, slot).component().sha256.clone())
                .collect();
            reloads.start(path, None, self.engine.clone(), loaded);
        }
    }

    /// Starts compiling a changed policy object fetched from S3, on a
    /// blocking thread, like a changed file ([`Daemon::start_reloads`]).
    pub fn start_remote_reload(
        &self,
        reloads: &mut Reloads,
        change: crate::remote::poll::RemoteChange,
    ) {
        let slots = self.slots(&change.path);
        if slots.is_empty() {
            return;
        }
        let loaded = slots
            .iter()
            .map(|&(i, slot)| self.policy_at(i, slot).component().sha256.clone())
            .collect();
        reloads.start(
            change.path,
            Some(change.content),
            self.engine.clone(),
            loaded,
        );
    }

    /// Probes and swaps in a finished compile (call it between ticks), or
    /// records why its file is refused. A compile overtaken by a newer change
    /// of the same file is dropped.
    pub fn finish_reload(&mut self, reloads: &mut Reloads, done: Compiled) {
        if !reloads.settle(&done) {
            tracing::debug!(path = %done.path.display(), "A newer change of this policy file is being compiled; this one is skipped.");
            return;
        }
        let path = done.path;
        let slots = self.slots(&path);
        let differs = |d: &Self, sha: &str| -> Vec<(usize, Slot)> {
            slots
                .iter()
                .copied()
                .filter(|&(i, slot)| d.policy_at(i, slot).component().sha256 != sha)
                .collect()
        };
        match done.outcome {
            Outcome::Unchanged => {}
            Outcome::Unreadable(error) => self.refuse(&slots, &path, &error),
            Outcome::Broken { sha256, error } => {
                let changed = differs(self, &sha256);
                self.refuse(&changed, &path, &error);
            }
            Outcome::Ready(component) => {
                for (i, slot) in differs(self, &component.sha256) {
                    let probe = self.services[i]
                        .last_snapshot
                        .clone()
                        .unwrap_or_else(Snapshot::example);
                    match self.swap(i, slot, &component, &probe) {
                        Ok(old) => self.note(i, slot, &path, &old, Some(&component.sha256), None),
                        Err(e) => self.refuse(&[(i, slot)], &path, &e),
                    }
                }
            }
        }
    }

    /// Every policy slot the file at canonical `path` feeds.
    fn slots(&self, path: &Path) -> Vec<(usize, Slot)> {
        self.services
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                let live = s
                    .spec
                    .policy_path
                    .iter()
                    .filter(|p| canonical(p) == path)
                    .map(move |_| (i, Slot::Live));
                let shadows = s
                    .spec
                    .shadow_paths
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| canonical(p) == path)
                    .map(move |(j, _)| (i, Slot::Shadow(j)));
                live.chain(shadows).collect::<Vec<_>>()
            })
            .collect()
    }

    fn policy_at(&self, i: usize, slot: Slot) -> &Policy {
        match slot {
            Slot::Live => &self.services[i].policy,
            Slot::Shadow(j) => &self.services[i].shadows[j],
        }
    }

    /// Probes the new component on `probe`, then swaps it in; returns the old sha256.
    fn swap(
        &mut self,
        i: usize,
        slot: Slot,
        component: &Arc<PolicyComponent>,
        probe: &Snapshot,
    ) -> Result<String, String> {
        // The service's [params] must fit the new policy's declarations (next
        // to those of the service's other policies) before it runs.
        {
            let s = &self.services[i];
            let components: Vec<&PolicyComponent> = std::iter::once(&s.policy)
                .chain(&s.shadows)
                .chain(&s.fallback)
                .enumerate()
                .map(|(k, p)| {
                    let replaced = match slot {
                        Slot::Live => k == 0,
                        Slot::Shadow(j) => k == j + 1,
                    };
                    if replaced {
                        component.as_ref()
                    } else {
                        p.component().as_ref()
                    }
                })
                .collect();
            PolicyComponent::check_service_params(&s.spec.params, &components)
                .map_err(|e| format!("the service's [params] do not fit the new policy: {e}"))?;
        }
        let mut fresh = Policy::new(self.engine.clone(), component.clone());
        if let Err(fault) = fresh.decide(probe).result {
            return Err(format!(
                "the new policy failed its probe on the last snapshot: {fault}"
            ));
        }
        let s = &mut self.services[i];
        let target = match slot {
            Slot::Live => &mut s.policy,
            Slot::Shadow(j) => &mut s.shadows[j],
        };
        let old = target.component().sha256.clone();
        *target = fresh;
        self.totals.entry(s.key()).or_default().reloads += 1;
        Ok(old)
    }

    fn refuse(&self, slots: &[(usize, Slot)], path: &Path, error: &str) {
        for &(i, slot) in slots {
            let old = self.policy_at(i, slot).component().sha256.clone();
            self.note(i, slot, path, &old, None, Some(error));
        }
    }

    fn note(
        &self,
        i: usize,
        slot: Slot,
        path: &Path,
        old: &str,
        new: Option<&str>,
        error: Option<&str>,
    ) {
        let service = self.services[i].key();
        let shown = path.display().to_string();
        self.events.emit(Event::PolicyReloaded {
            service: &service,
            path: &shown,
            error,
        });
        let Some(log) = &self.reload_log else { return };
        let record = ReloadRecord {
            at: self.pacer.now(),
            service: &service,
            path: shown.clone(),
            role: match slot {
                Slot::Live => "live",
                Slot::Shadow(_) => "shadow",
            },
            old_sha256: old,
            new_sha256: new,
            error,
        };
        let line = serde_json::to_string(&record).expect("reload records serialize");
        let mut log = log.lock();
        if let Err(e) = log.append_line(line.as_bytes()) {
            tracing::warn!(path = %log.path().display(), error = %e, "Could not record a policy reload.");
        }
    }
}

#[cfg(test)]
mod tests;
