//! The daemon's TOML config: the provider, the policy limits, and one
//! `[[service]]` table per service, each with its policy, shadows,
//! parameters, guardrails and drain timing.
//!
//! Every struct denies unknown fields, durations are written like "90s" or
//! "5m", and every error names the file and the field. Relative paths are
//! resolved against the config file's folder.
//!
//! Each section's type and its checks live together: `provider` (the
//! provider and the journal) and `service` (one `[[service]]`); the checks
//! of the whole file run in `Config::validate`'s order, the first problem
//! found being the error.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::remote::S3Url;
use crate::rotate::Rotation;
use crate::runtime::Limits;

mod provider;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod s3_tests;
mod service;

pub use provider::{JournalConfig, ProviderConfig};
pub use service::{Fallback, ServiceConfig};

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the drain journal, the decision records and saved state live.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Where compiled policy components are cached; default: the user's cache folder.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// The HTTP endpoint (/healthz, /metrics, /v1/services); none to serve nothing.
    #[serde(default)]
    pub http: Option<HttpConfig>,
    /// The session ingest API's own listener (`POST /v1/sessions`, AWS only); none to serve none.
    #[serde(default)]
    pub ingest: Option<crate::sessions::IngestConfig>,
    /// Limits on every policy call.
    #[serde(default)]
    pub limits: Limits,
    /// What the daemon autoscales: the simulated cluster or AWS.
    pub provider: ProviderConfig,
    /// Where drain workflows are journaled: `{ kind = "file" }` (the default)
    /// or `{ kind = "dynamodb", table = "autoscaler-drains" }` (AWS only).
    #[serde(default)]
    pub journal: JournalConfig,
    /// When `decisions.jsonl` and `reloads.jsonl` in `state_dir` rotate, and
    /// how many older files are kept.
    #[serde(default)]
    pub records: Rotation,
    /// High availability: hosts share the services through DynamoDB leases
    /// (`[ha]`, see docs/ha.md); none: this host runs every service alone.
    #[serde(default)]
    pub ha: Option<crate::ha::HaConfig>,
    /// The services, one `[[service]]` table each.
    #[serde(rename = "service")]
    pub services: Vec<ServiceConfig>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("autoscaler-state")
}

/// The HTTP endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The address to listen on, such as "127.0.0.1:9090".
    pub listen: SocketAddr,
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the right shape.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser said, with the line, column and field.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{path}: field `{field}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, as a dotted path.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl Config {
    /// Reads, parses, resolves and checks the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses `text` as if read from `path`, then resolves and checks it.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse_at(text, path, base, None)
    }

    /// Parses `text` as read from the S3 object `url`, then resolves and
    /// checks it. Relative policy paths resolve against the object's S3
    /// folder; the paths that must be local (`state_dir`, `cache_dir`, the
    /// ingest's files, a trace workload) resolve against the working directory.
    pub fn parse_remote(text: &str, url: &S3Url) -> Result<Config, ConfigError> {
        Config::parse_at(text, &url.to_path(), Path::new(""), Some(url))
    }

    fn parse_at(
        text: &str,
        path: &Path,
        base: &Path,
        remote: Option<&S3Url>,
    ) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() && !base.as_os_str().is_empty() {
                *p = base.join(&*p);
            }
        };
        resolve(&mut cfg.state_dir);
        if let Some(i) = cfg.ingest.as_mut() {
            i.resolve_paths(base);
        }
        if let Some(c) = cfg.cache_dir.as_mut() {
            resolve(c);
        }
        let invalid = |field: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        // A policy: an s3:// location stays; a relative path resolves against
        // the config's folder, in S3 for a config read from S3.
        let resolve_policy = |p: &mut PathBuf, field: String| -> Result<(), ConfigError> {
            if S3Url::is_s3(p) || p.is_absolute() {
                return Ok(());
            }
            match remote {
                Some(url) => {
                    let rel = p.to_str().ok_or_else(|| {
                        invalid(field.clone(), format!("{} is not valid UTF-8", p.display()))
                    })?;
                    *p = url.join(rel).map_err(|e| invalid(field, e))?.to_path();
                }
                None => *p = base.join(&*p),
            }
            Ok(())
        };
        for (i, s) in cfg.services.iter_mut().enumerate() {
            resolve_policy(&mut s.policy, format!("service[{i}].policy"))?;
            for (j, p) in s.shadows.iter_mut().enumerate() {
                resolve_policy(p, format!("service[{i}].shadows[{j}]"))?;
            }
            if let Fallback::Policy(p) = &mut s.fallback {
                resolve_policy(p, format!("service[{i}].fallback.policy"))?;
            }
            if let Some(crate::sim::Workload::Trace { path, .. }) =
                s.sim.as_mut().map(|c| &mut c.workload)
            {
                resolve(path);
            }
        }
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Every policy location in S3 the config names (live, shadows and
    /// fallbacks), each once, in order.
    pub fn s3_policies(&self) -> Vec<S3Url> {
        let mut seen = BTreeSet::new();
        self.services
            .iter()
            .flat_map(|s| {
                let fallback = match &s.fallback {
                    Fallback::Policy(p) => Some(p),
                    Fallback::Hold => None,
                };
                std::iter::once(&s.policy).chain(&s.shadows).chain(fallback)
            })
            .filter_map(|p| S3Url::from_path(p)?.ok())
            .filter(|u| seen.insert(u.clone()))
            .collect()
    }

    /// Checks each section in turn (each beside its type); the first
    /// problem found is the error, naming the file and the field.
    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        validate_state_dir(&self.state_dir)
            .map_err(|message| invalid("state_dir".into(), message))?;
        self.records
            .validate()
            .map_err(|(field, message)| invalid(format!("records.{field}"), message))?;
        if let Some(ingest) = &self.ingest {
            ingest
                .validate(matches!(self.provider, ProviderConfig::Aws { .. }))
                .map_err(|(field, message)| invalid(format!("ingest.{field}"), message))?;
        }
        if self.services.is_empty() {
            return Err(invalid(
                "service".into(),
                "add at least one [[service]] table".into(),
            ));
        }
        self.provider
            .validate()
            .map_err(|(field, message)| invalid(format!("provider.{field}"), message))?;
        let sim = matches!(self.provider, ProviderConfig::Sim { .. });
        self.journal
            .validate(sim)
            .map_err(|(field, message)| invalid(format!("journal.{field}"), message))?;
        if let Some(ha) = &self.ha {
            self.validate_ha(ha, sim)
                .map_err(|(field, message)| invalid(field, message))?;
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let section = format!("service[{i}].");
            if !seen.insert((s.cluster.clone(), s.name.clone())) {
                return Err(invalid(
                    format!("{section}name"),
                    format!("service {}/{} is listed twice", s.cluster, s.name),
                ));
            }
            s.validate(sim)
                .map_err(|(field, message)| invalid(format!("{section}{field}"), message))?;
        }
        Ok(())
    }

    /// Checks `[ha]` and what it needs of the provider and the journal.
    fn validate_ha(&self, ha: &crate::ha::HaConfig, sim: bool) -> Result<(), (String, String)> {
        if sim {
            return Err((
                "ha".into(),
                "[ha] needs provider.kind = \"aws\": the leases live in DynamoDB".into(),
            ));
        }
        if self.journal == JournalConfig::File {
            return Err((
                "journal.kind".into(),
                "[ha] needs journal.kind = \"dynamodb\": a host that takes over a service resumes its drains from the shared journal".into(),
            ));
        }
        ha.validate()
            .map_err(|(field, message)| (format!("ha.{field}"), message))
    }
}

/// Refuses a state directory that can never be created (a regular file in its way).
fn validate_state_dir(state_dir: &Path) -> Result<(), String> {
    let Some(file) = state_dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
    else {
        return Ok(());
    };
    Err(if file == state_dir {
        format!(
            "{} is a regular file, not a directory; point `state_dir` at a directory",
            file.display()
        )
    } else {
        format!(
            "cannot create {}: {} is a regular file, not a directory; point `state_dir` elsewhere",
            state_dir.display(),
            file.display()
        )
    })
}
