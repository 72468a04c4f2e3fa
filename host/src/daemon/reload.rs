//! Applying changed policy files: compile, probe on the last snapshot, swap
//! between ticks. A file that fails any step is refused and the running
//! policy stays.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Daemon;
use crate::events::Event;
use crate::model::Snapshot;
use crate::providers::Provider;
use crate::runtime::reload::canonical;
use crate::runtime::{Policy, PolicyComponent};

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

impl<P: Provider> Daemon<P> {
    /// Reloads every service policy whose file is among `paths` and whose content changed.
    pub async fn apply_reloads(&mut self, paths: &[PathBuf]) {
        for path in paths {
            self.reload_file(path).await;
        }
    }

    async fn reload_file(&mut self, path: &Path) {
        let path = canonical(path);
        let slots: Vec<(usize, Slot)> = self
            .services
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
            .collect();
        if slots.is_empty() {
            return;
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return self.refuse(&slots, &path, &format!("cannot read the file: {e}")),
        };
        let sha = hex::encode(Sha256::digest(&bytes));
        let changed: Vec<(usize, Slot)> = slots
            .into_iter()
            .filter(|&(i, slot)| self.policy_at(i, slot).component().sha256 != sha)
            .collect();
        if changed.is_empty() {
            return; // Same content (an editor touched the file, or our own read): nothing to do.
        }
        let engine = self.engine.clone();
        let label = path.display().to_string();
        let loaded = tokio::task::spawn_blocking(move || engine.load_bytes(&bytes, &label)).await;
        let component = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return self.refuse(&changed, &path, &e.to_string()),
            Err(e) => {
                return self.refuse(&changed, &path, &format!("the compile task failed: {e}"));
            }
        };
        for (i, slot) in changed {
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
        component: &std::sync::Arc<PolicyComponent>,
        probe: &Snapshot,
    ) -> Result<String, String> {
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
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = log.append_line(line.as_bytes()) {
            tracing::warn!(path = %log.path().display(), error = %e, "Could not record a policy reload.");
        }
    }
}
