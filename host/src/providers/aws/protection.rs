//! ECS task scale-in protection: UpdateTaskProtection in batches of 10, and a
//! cache of what is known, so GetTaskProtection is asked only about tasks not
//! seen before or not checked for a while (the reasoning is in [`super`]).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_smithy_types::retry::RetryConfig;
use parking_lot::Mutex;

use super::errors::{Kind, from_sdk};
use super::task_id;
use crate::providers::{ProviderResult, ServiceRef};

const SERVICE: &str = "ECS";
/// UpdateTaskProtection and GetTaskProtection take at most 10 tasks per call.
const BATCH: usize = 10;

#[derive(Debug, Clone, Copy)]
struct Entry {
    protected: bool,
    /// When protection lapses, Unix seconds.
    expires_at: Option<u64>,
    /// When this was read or set; a failed lookup counts as a check too, so it is not repeated every tick.
    checked_at: u64,
}

#[derive(Debug)]
pub(super) struct Protection {
    refresh: u64,
    /// By [`ServiceRef::key`], then by task ID.
    entries: Mutex<HashMap<String, HashMap<String, Entry>>>,
}

impl Protection {
    pub(super) fn new(refresh: Duration) -> Protection {
        Protection {
            refresh: refresh.as_secs(),
            entries: Mutex::default(),
        }
    }

    /// Whether the task is protected at `now`, as far as is known (unknown reads as unprotected).
    pub(super) fn is_protected(&self, svc_key: &str, id: &str, now: u64) -> bool {
        self.entries
            .lock()
            .get(svc_key)
            .and_then(|tasks| tasks.get(id))
            .is_some_and(|e| e.protected && e.expires_at.is_none_or(|t| t > now))
    }

    /// Forgets tasks not in `live`, and asks GetTaskProtection about live tasks
    /// with no answer or an answer older than the refresh interval. Never
    /// fails: a failed lookup is logged and retried after the refresh interval.
    pub(super) async fn refresh(
        &self,
        client: &Client,
        svc: &ServiceRef,
        live: &[String],
        now: u64,
    ) {
        let key = svc.key();
        let stale: Vec<String> = {
            let mut entries = self.entries.lock();
            let tasks = entries.entry(key.clone()).or_default();
            tasks.retain(|id, _| live.contains(id));
            live.iter()
                .filter(|id| {
                    tasks
                        .get(*id)
                        .is_none_or(|e| e.checked_at + self.refresh <= now)
                })
                .cloned()
                .collect()
        };
        for (n, batch) in stale.chunks(BATCH).enumerate() {
            let result = client
                .get_task_protection()
                .cluster(&svc.cluster)
                .set_tasks(Some(batch.to_vec()))
                .customize()
                // Best effort: a failure only delays the answer until the next refresh.
                .config_override(
                    aws_sdk_ecs::config::Builder::default().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            let mut entries = self.entries.lock();
            let tasks = entries.entry(key.clone()).or_default();
            match result {
                Ok(out) => {
                    for id in batch {
                        tasks.insert(
                            id.clone(),
                            Entry {
                                protected: false,
                                expires_at: None,
                                checked_at: now,
                            },
                        );
                    }
                    for t in out.protected_tasks() {
                        let Some(arn) = t.task_arn() else { continue };
                        tasks.insert(
                            task_id(arn).to_string(),
                            Entry {
                                protected: t.protection_enabled(),
                                expires_at: t
                                    .expiration_date()
                                    .map(|d| u64::try_from(d.secs()).unwrap_or(0)),
                                checked_at: now,
                            },
                        );
                    }
                }
                Err(e) => {
                    let err = from_sdk(SERVICE, "GetTaskProtection", &svc.key(), e);
                    let skipped = &stale[n * BATCH..];
                    for id in skipped {
                        let previous = tasks.get(id).copied();
                        let entry = previous.unwrap_or(Entry {
                            protected: false,
                            expires_at: None,
                            checked_at: now,
                        });
                        tasks.insert(
                            id.clone(),
                            Entry {
                                checked_at: now,
                                ..entry
                            },
                        );
                    }
                    tracing::warn!(
                        service = %svc.key(),
                        tasks = skipped.len(),
                        "Scale-in protection could not be read; tasks not read before count as unprotected \
                         and are asked about again in {} s: {err}.",
                        self.refresh
                    );
                    break;
                }
            }
        }
    }

    /// Turns protection on (for `expires_minutes`) or off, 10 tasks per call,
    /// and remembers the result. Fails on the first failed call, or after all
    /// calls when ECS refused some tasks.
    pub(super) async fn set(
        &self,
        client: &Client,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
        now: u64,
    ) -> ProviderResult<()> {
        let key = svc.key();
        let mut refused: Vec<(String, String)> = Vec::new();
        for batch in ids.chunks(BATCH) {
            let mut call = client
                .update_task_protection()
                .cluster(&svc.cluster)
                .set_tasks(Some(batch.to_vec()))
                .protection_enabled(protected);
            if protected {
                call = call.expires_in_minutes(i32::try_from(expires_minutes).unwrap_or(i32::MAX));
            }
            let out = call.send().await.map_err(|e| {
                from_sdk(
                    SERVICE,
                    "UpdateTaskProtection",
                    &format!("{key} tasks {}", batch.join(",")),
                    e,
                )
            })?;
            let mut entries = self.entries.lock();
            let tasks = entries.entry(key.clone()).or_default();
            for t in out.protected_tasks() {
                let Some(arn) = t.task_arn() else { continue };
                let expires_at = t
                    .expiration_date()
                    .map(|d| u64::try_from(d.secs()).unwrap_or(0))
                    .or(protected.then_some(now + u64::from(expires_minutes) * 60));
                tasks.insert(
                    task_id(arn).to_string(),
                    Entry {
                        protected: t.protection_enabled(),
                        expires_at,
                        checked_at: now,
                    },
                );
            }
            refused.extend(out.failures().iter().map(|f| {
                (
                    f.arn().map(task_id).unwrap_or("?").to_string(),
                    f.reason().unwrap_or("no reason given").to_string(),
                )
            }));
        }
        if refused.is_empty() {
            return Ok(());
        }
        let kind = if refused.iter().all(|(_, reason)| reason == "MISSING") {
            Kind::NotFound
        } else {
            Kind::Permanent
        };
        let list: Vec<String> = refused
            .iter()
            .take(10)
            .map(|(id, reason)| format!("{id} ({reason})"))
            .collect();
        Err(kind.error(
            SERVICE,
            format!(
                "UpdateTaskProtection on {key}: ECS refused {} of {} tasks: {}",
                refused.len(),
                ids.len(),
                list.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protection_lapses_at_its_expiry() {
        let p = Protection::new(Duration::from_secs(600));
        p.entries.lock().entry("c/s".into()).or_default().insert(
            "t1".into(),
            Entry {
                protected: true,
                expires_at: Some(1_000),
                checked_at: 0,
            },
        );
        assert!(p.is_protected("c/s", "t1", 999));
        assert!(!p.is_protected("c/s", "t1", 1_000));
        assert!(!p.is_protected("c/s", "unknown", 0));
        assert!(!p.is_protected("other/svc", "t1", 0));
    }
}
