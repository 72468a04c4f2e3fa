//! The policies a config keeps in S3: fetched at start, then polled.

use std::collections::BTreeMap;

use anyhow::Context;
use autoscaler::config::Config;
use autoscaler::daemon::setup::{self, service_ref};
use autoscaler::remote::S3Url;
use autoscaler::remote::poll::{self, PolicySources, SourceHealth, Watch};
use autoscaler::remote::s3::{Object, S3Store};

/// The policies the config keeps in S3: fetched once at start (a failure
/// then is an error: there is no last good policy yet), and the client that
/// polls them afterwards.
pub(crate) struct RemotePolicies {
    store: Option<S3Store>,
    /// Every `s3://` policy location the config names, fetched.
    pub(crate) fetched: BTreeMap<S3Url, Object>,
}

impl RemotePolicies {
    /// Fetches every policy the config keeps in S3.
    pub(crate) async fn fetch(cfg: &Config) -> anyhow::Result<RemotePolicies> {
        let urls = cfg.s3_policies();
        if urls.is_empty() {
            return Ok(RemotePolicies {
                store: None,
                fetched: BTreeMap::new(),
            });
        }
        // The provider's region and endpoint when it is AWS; the default chain for the sim.
        let aws = setup::aws_config(cfg).unwrap_or_default();
        let store = S3Store::connect(&aws).await?;
        let fetched = poll::fetch_all(&store, urls, cfg.limits.max_component_bytes)
            .await
            .context("cannot fetch a policy from S3 at start")?;
        for (url, object) in &fetched {
            tracing::info!(policy = %url, etag = ?object.etag, bytes = object.bytes.len(), "Fetched a policy from S3.");
        }
        Ok(RemotePolicies {
            store: Some(store),
            fetched,
        })
    }

    /// Starts polling the live and shadow policies in S3, each location at
    /// the shortest `policy_poll` of the services using it (fallbacks are
    /// read at start only, like fallback files).
    pub(crate) fn start(self, cfg: &Config) -> Option<PolicySources> {
        let store = self.store?;
        let mut every: BTreeMap<S3Url, std::time::Duration> = BTreeMap::new();
        let mut services: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &cfg.services {
            for p in std::iter::once(&s.policy).chain(&s.shadows) {
                let Some(Ok(url)) = S3Url::from_path(p) else {
                    continue;
                };
                services
                    .entry(service_ref(s).key())
                    .or_default()
                    .push(url.to_string());
                let e = every.entry(url).or_insert(s.policy_poll);
                *e = (*e).min(s.policy_poll);
            }
        }
        let watches: Vec<Watch> = every
            .into_iter()
            .map(|(url, every)| Watch {
                etag: self.fetched.get(&url).and_then(|o| o.etag.clone()),
                url,
                every,
            })
            .collect();
        if watches.is_empty() {
            return None;
        }
        tracing::info!(
            objects = watches.len(),
            "Polling the policies kept in S3 for changes."
        );
        Some(PolicySources::start(
            store,
            watches,
            cfg.limits.max_component_bytes,
            SourceHealth::new(services),
        ))
    }
}
