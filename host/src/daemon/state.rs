//! Saving and restoring what services carry between ticks (history and guard
//! state), so a restarted daemon keeps its cooldowns and hysteresis. Drains
//! are not here: the journal holds them.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Daemon;
use crate::model::TickSummary;
use crate::providers::Provider;
use crate::tick::guard::GuardState;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    services: BTreeMap<String, SavedService>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SavedService {
    history: VecDeque<TickSummary>,
    guard: GuardState,
}

impl<P: Provider> Daemon<P> {
    /// Writes guard state and history to the state file (atomically). Failures are logged.
    pub fn save_state(&self) {
        let Some(path) = &self.state_file else { return };
        let saved = Saved {
            services: self
                .services
                .iter()
                .map(|s| {
                    (
                        s.key(),
                        SavedService {
                            history: s.history.clone(),
                            guard: s.guard_state.clone(),
                        },
                    )
                })
                .collect(),
        };
        let tmp = path.with_extension("json.tmp");
        let result = serde_json::to_vec_pretty(&saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "Could not save the services' state; a restart will start their history afresh.");
        }
    }

    /// Restores guard state and history saved by an earlier run, for services still configured.
    pub fn restore_state(&mut self, path: &Path) {
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        match serde_json::from_slice::<Saved>(&bytes) {
            Ok(mut saved) => {
                for s in &mut self.services {
                    if let Some(x) = saved.services.remove(&s.key()) {
                        s.history = x.history;
                        s.guard_state = x.guard;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Ignoring an unreadable saved state file.")
            }
        }
    }
}
