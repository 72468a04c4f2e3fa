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
    let ingest = match cfg.provider {
        ProviderConfig::Aws { .. } => {
            ", and the session ingest (POST /v1/sessions) is off, so applications cannot report sessions"
        }
        ProviderConfig::Sim { .. } => "",
    };
    Some(format!(
        "The config has no [http] table: metrics (/metrics), health (/healthz) and /v1/services are not served{ingest}. Add `[http]` with `listen = \"0.0.0.0:9464\"` to serve them (docs/config.md)."
    ))
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
            "/v1/services",
            "POST /v1/sessions",
            "listen =",
        ] {
            assert!(aws.contains(off), "{aws}");
        }
        let sim = http_missing(&config("[provider]\nkind = \"sim\"")).unwrap();
        assert!(
            sim.contains("/metrics") && !sim.contains("/v1/sessions"),
            "{sim}"
        );
        let served = config("[http]\nlisten = \"127.0.0.1:9464\"\n[provider]\nkind = \"aws\"");
        assert_eq!(http_missing(&served), None);
    }
}
