//! Watching policy objects in S3 for changes: one task per object asks S3
//! every `policy_poll` with a conditional GetObject (`If-None-Match` on the
//! ETag it last saw). S3 answers 304 while nothing changed, so a poll costs
//! one small request. A changed object goes to the daemon, which loads it by
//! the same rules as a changed file (compile off the loop, a trial decision
//! first, a refused policy keeps the old one, a line in `reloads.jsonl`).
//!
//! When S3 cannot be reached (or the object is gone, or access is denied) the
//! last good policy keeps deciding; [`SourceHealth`] keeps the error for
//! `/readyz`, and the log says so once when it starts and once when it ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::S3Url;
use super::s3::{Fetched, Object, S3Error, S3Store};

/// Which setting bounds a policy object's size.
pub const POLICY_LIMIT_HINT: &str = "; a policy may be at most `[limits] max_component_bytes`";

/// A changed policy object, fetched.
#[derive(Debug)]
pub struct RemoteChange {
    /// The location, as the config names it (`s3://bucket/key`).
    pub path: PathBuf,
    /// Its new content, or why it cannot be used (too large).
    pub content: Result<Vec<u8>, String>,
}

/// One object to watch.
#[derive(Debug, Clone)]
pub struct Watch {
    /// Where.
    pub url: S3Url,
    /// How often to ask.
    pub every: Duration,
    /// The ETag of the content already loaded.
    pub etag: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The current error per location; none while it answers.
    errors: BTreeMap<String, (String, SystemTime)>,
    /// The locations each service's policies come from.
    services: BTreeMap<String, Vec<String>>,
}

/// Whether each policy location answered its last poll, shared with `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct SourceHealth {
    inner: Arc<Mutex<Inner>>,
}

impl SourceHealth {
    /// A health board for `services`: service key to the locations of its
    /// polled policies.
    pub fn new(services: BTreeMap<String, Vec<String>>) -> SourceHealth {
        SourceHealth {
            inner: Arc::new(Mutex::new(Inner {
                errors: BTreeMap::new(),
                services,
            })),
        }
    }

    /// Records a failed poll of `url` (logged when it starts failing).
    pub fn failed(&self, url: &str, error: &str) {
        let mut inner = self.inner.lock();
        match inner.errors.get_mut(url) {
            Some((e, _)) => {
                tracing::debug!(policy = %url, error = %error, "The policy location still cannot be checked.");
                *e = error.to_string();
            }
            None => {
                tracing::warn!(policy = %url, "Cannot check the policy for changes: {error}. The last good policy keeps deciding; polling goes on.");
                inner
                    .errors
                    .insert(url.to_string(), (error.to_string(), SystemTime::now()));
            }
        }
    }

    /// Records a poll of `url` that S3 answered (logged when it recovers).
    pub fn answered(&self, url: &str) {
        if let Some((_, since)) = self.inner.lock().errors.remove(url) {
            let secs = SystemTime::now()
                .duration_since(since)
                .unwrap_or_default()
                .as_secs();
            tracing::info!(policy = %url, "The policy location answers again, after {secs} s; changes are picked up again.");
        }
    }

    /// What `/readyz` says about `service`'s policy locations: one line per
    /// location that did not answer its last poll.
    pub fn warnings(&self, service: &str) -> Vec<String> {
        let inner = self.inner.lock();
        let now = SystemTime::now();
        inner
            .services
            .get(service)
            .into_iter()
            .flatten()
            .filter_map(|url| {
                let (error, since) = inner.errors.get(url)?;
                let secs = now.duration_since(*since).unwrap_or_default().as_secs();
                Some(format!(
                    "policy {url} cannot be checked for changes (failing for {secs} s: {error}); the last good policy keeps deciding"
                ))
            })
            .collect()
    }
}

/// The polling tasks and the changes they found.
#[derive(Debug)]
pub struct PolicySources {
    changes: mpsc::UnboundedReceiver<RemoteChange>,
    health: SourceHealth,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for PolicySources {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl PolicySources {
    /// Starts one polling task per watch (inside a tokio runtime), each
    /// object bounded to `limit` bytes; outcomes go to `health`.
    pub fn start(store: S3Store, watches: Vec<Watch>, limit: u64, health: SourceHealth) -> Self {
        let (tx, changes) = mpsc::unbounded_channel();
        let tasks = watches
            .into_iter()
            .map(|w| tokio::spawn(poll(store.clone(), w, limit, tx.clone(), health.clone())))
            .collect();
        PolicySources {
            changes,
            health,
            tasks,
        }
    }

    /// The health board `/readyz` reads.
    pub fn health(&self) -> &SourceHealth {
        &self.health
    }

    /// The next changed object. Cancel-safe (a channel receive); never
    /// returns once every polling task has ended.
    pub async fn changed(&mut self) -> RemoteChange {
        match self.changes.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }
}

async fn poll(
    store: S3Store,
    w: Watch,
    limit: u64,
    tx: mpsc::UnboundedSender<RemoteChange>,
    health: SourceHealth,
) {
    let url = w.url.to_string();
    let mut etag = w.etag;
    let every = w.every.max(Duration::from_secs(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let change = match store
            .get(&w.url, limit, POLICY_LIMIT_HINT, etag.as_deref())
            .await
        {
            Ok(Fetched::Unchanged) => {
                health.answered(&url);
                continue;
            }
            Ok(Fetched::Changed(Object { bytes, etag: new })) => {
                health.answered(&url);
                tracing::debug!(policy = %url, etag = ?new, bytes = bytes.len(), "The policy object changed; loading it.");
                etag = new;
                Ok(bytes)
            }
            Err(e @ S3Error::TooLarge { .. }) => {
                // The object answered: it is the content that is refused.
                health.answered(&url);
                if let S3Error::TooLarge { etag: new, .. } = &e {
                    etag.clone_from(new);
                }
                Err(e.to_string())
            }
            Err(e) => {
                health.failed(&url, &e.to_string());
                continue;
            }
        };
        let sent = tx.send(RemoteChange {
            path: w.url.to_path(),
            content: change,
        });
        if sent.is_err() {
            return;
        }
    }
}

/// Fetches every location in `urls` once (at start: there is no last good
/// policy yet, so any failure is an error), each at most `limit` bytes.
pub async fn fetch_all(
    store: &S3Store,
    urls: impl IntoIterator<Item = S3Url>,
    limit: u64,
) -> Result<BTreeMap<S3Url, Object>, S3Error> {
    let mut out = BTreeMap::new();
    for url in urls {
        if out.contains_key(&url) {
            continue;
        }
        match store.get(&url, limit, POLICY_LIMIT_HINT, None).await? {
            Fetched::Changed(obj) => {
                out.insert(url, obj);
            }
            // Only a misbehaving server answers 304 to an unconditional GetObject.
            Fetched::Unchanged => {
                return Err(S3Error::Unreachable {
                    message: "S3 answered 304 Not Modified to a request without a condition".into(),
                    url,
                });
            }
        }
    }
    Ok(out)
}
