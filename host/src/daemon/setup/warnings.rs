//! Warnings at start about settings whose defaults surprise: a config
//! without `[http]` serves nothing, and a `guard.max` below the tasks a
//! service already runs (10 by default) holds it down and scales it in.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, ProviderConfig};
use crate::tick::record::{RecordSink, TickRecord};

/// What a config without an `[http]` table leaves off, or none when it has one.
pub fn http_missing(cfg: &Config) -> Option<String> {
    if cfg.http.is_some() {
        return None;
    }
    Some(
        "The config has no [http] table: metrics (/metrics), health (/healthz, /readyz) and /v1/services are not served. Add `[http]` with `listen = \"127.0.0.1:9464\"` to serve them (docs/config.md).".to_string(),
    )
}

/// What a config on AWS without an `[ingest]` table leaves off, or none.
pub fn ingest_missing(cfg: &Config) -> Option<String> {
    match (&cfg.provider, &cfg.ingest) {
        (ProviderConfig::Aws { .. }, None) => Some(
            "The config has no [ingest] table: the session ingest (POST /v1/sessions) is not served, so applications can report sessions only by writing the sessions table themselves. Add `[ingest]` with `listen` and `tokens_file` to serve it (docs/config.md, SECURITY.md).".to_string(),
        ),
        _ => None,
    }
}

/// A record sink that warns, once per service, when a tick finds more tasks
/// running than the service's `guard.max`; then writes the record on.
pub struct GuardMaxWarning {
    inner: Box<dyn RecordSink>,
    max: BTreeMap<String, u32>,
    warned: BTreeSet<String>,
}

impl GuardMaxWarning {
    /// Wraps `inner`; `max` is each service key's `guard.max`.
    pub fn new(inner: Box<dyn RecordSink>, max: BTreeMap<String, u32>) -> Self {
        GuardMaxWarning {
            inner,
            max,
            warned: BTreeSet::new(),
        }
    }

    /// The warning `record` calls for, the first time only.
    fn check(&mut self, record: &TickRecord) -> Option<String> {
        let running = record.state.as_ref()?.running;
        let max = *self.max.get(&record.service)?;
        if running <= max || !self.warned.insert(record.service.clone()) {
            return None;
        }
        let default = crate::tick::guard::GuardConfig::default().max;
        Some(format!(
            "Service {} has {running} tasks running, above its guard.max of {max} (the default when [service.guard] sets no max is {default}): the guard keeps it at {max} tasks at most and scales it in toward {max}. Raise `guard.max` in its [[service]] table if it should run more.",
            record.service
        ))
    }
}

impl RecordSink for GuardMaxWarning {
    fn write(&mut self, record: &TickRecord) -> std::io::Result<()> {
        if let Some(warning) = self.check(record) {
            tracing::warn!("{warning}");
        }
        self.inner.write(record)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.wasm"), b"").unwrap();
        let text = format!(
            "{text}\n[[service]]\nname = \"web\"\ncluster = \"prod\"\ntarget_group = \"tg\"\npolicy = \"p.wasm\"\n"
        );
        Config::parse(&text, &dir.path().join("autoscaler.toml")).unwrap()
    }

    #[test]
    fn a_config_without_http_is_told_what_is_off_and_how_to_turn_it_on() {
        let aws = http_missing(&config("[provider]\nkind = \"aws\"")).unwrap();
        for off in [
            "/metrics",
            "/healthz",
            "/readyz",
            "/v1/services",
            "listen =",
        ] {
            assert!(aws.contains(off), "{aws}");
        }
        assert!(
            !aws.contains("/v1/sessions"),
            "the ingest has its own listener: {aws}"
        );
        let served = config("[http]\nlisten = \"127.0.0.1:9464\"\n[provider]\nkind = \"aws\"");
        assert_eq!(http_missing(&served), None);
    }

    #[test]
    fn a_config_on_aws_without_ingest_is_told_sessions_cannot_be_reported() {
        let aws = ingest_missing(&config("[provider]\nkind = \"aws\"")).unwrap();
        assert!(
            aws.contains("POST /v1/sessions") && aws.contains("tokens_file"),
            "{aws}"
        );
        assert_eq!(ingest_missing(&config("[provider]\nkind = \"sim\"")), None);
        let served = config("[provider]\nkind = \"aws\"\n[ingest]\nlisten = \"127.0.0.1:9443\"");
        assert_eq!(ingest_missing(&served), None);
    }
}
