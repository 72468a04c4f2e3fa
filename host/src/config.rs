//! The daemon's TOML config: the provider, the policy limits, and one
//! `[[service]]` table per service, each with its policy, shadows,
//! parameters, guardrails and drain timing.
//!
//! Every struct denies unknown fields, durations are written like "90s" or
//! "5m", and every error names the file and the field. Relative paths are
//! resolved against the config file's folder.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::ParamValue;
use crate::remote::S3Url;
use crate::rotate::Rotation;
use crate::runtime::Limits;
use crate::sim::{FaultPlan, SimConfig, SimError, SimServiceConfig};
use crate::tick::guard::GuardConfig;
use crate::workflow::DrainConfig;

#[cfg(test)]
mod reference_tests;

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

/// Which world the daemon acts on.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProviderConfig {
    /// The built-in simulated Fargate cluster: no AWS account needed.
    Sim {
        /// The simulated world (seed, metrics delay).
        #[serde(default)]
        world: SimConfig,
        /// Simulated seconds per wall-clock second; 0 runs as fast as the machine allows.
        #[serde(default = "default_speed")]
        speed: f64,
        /// Stop after this much simulated time, and print a summary.
        #[serde(default, with = "humantime_serde::option")]
        duration: Option<Duration>,
        /// Random faults in the simulated provider's calls (throttling, 5xx,
        /// timeouts, partial batches, reads that lag writes); none by default.
        /// See `autoscaler::sim::faults` for the table's fields.
        #[serde(default)]
        faults: Option<Box<FaultPlan>>,
    },
    /// Real AWS (or an AWS-compatible endpoint), with the default credential chain.
    Aws {
        /// The region; default: from the environment or profile.
        #[serde(default)]
        region: Option<String>,
        /// An endpoint to use instead of AWS's (also read from AWS_ENDPOINT_URL).
        #[serde(default)]
        endpoint_url: Option<String>,
        /// The DynamoDB table of active sessions.
        #[serde(default = "default_sessions_table")]
        sessions_table: String,
    },
}

/// Where the drain journal lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum JournalConfig {
    /// `drains.jsonl` in `state_dir`, fsynced on every write: one host per set of services.
    #[default]
    File,
    /// A DynamoDB table several hosts can share, with conditional writes
    /// (schema in [`crate::providers::aws::journal`]); needs `provider.kind = "aws"`.
    Dynamodb {
        /// The table's name.
        #[serde(default = "default_journal_table")]
        table: String,
    },
}

fn default_journal_table() -> String {
    crate::providers::aws::journal::DEFAULT_TABLE.into()
}

fn default_speed() -> f64 {
    60.0
}

fn default_sessions_table() -> String {
    "autoscaler-sessions".into()
}

/// One service to autoscale.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The ECS service name.
    pub name: String,
    /// The ECS cluster name.
    pub cluster: String,
    /// The ELBv2 target group ARN (any name in the sim).
    pub target_group: String,
    /// Time between ticks.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// The live policy component (.wasm): a file, or an S3 object
    /// (`s3://bucket/key.wasm`) checked for changes every `policy_poll`.
    pub policy: PathBuf,
    /// How often policies kept in S3 are checked for changes (a conditional
    /// GetObject each); files are watched instead.
    #[serde(default = "default_policy_poll", with = "humantime_serde")]
    pub policy_poll: Duration,
    /// Shadow policies: they decide on every tick beside the live one; their
    /// decisions are recorded and never executed.
    #[serde(default)]
    pub shadows: Vec<PathBuf>,
    /// Parameters passed to the policies (numbers, booleans or strings).
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    /// How far back the snapshot's history window reaches.
    #[serde(default = "default_history", with = "humantime_serde")]
    pub history: Duration,
    /// Decide and record for this service, but execute nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The guardrails.
    #[serde(default)]
    pub guard: GuardConfig,
    /// The drain workflow's timing.
    #[serde(default)]
    pub drain: DrainConfig,
    /// How busy tasks are cordoned when the policy asks: `"off"` (the
    /// default: cordon requests are refused), `"deregister"` (deregister the
    /// task's target) or `"app"` (the application refuses new sessions, told
    /// by the ingest API's `"accepting": false`). See docs/consolidation.md.
    #[serde(default)]
    pub cordon: crate::workflow::CordonMode,
    /// What decides when the live policy keeps faulting: `"hold"` (the
    /// default: every faulted tick holds) or `{ policy = "file.wasm" }`, a
    /// policy that decides instead once the live one has faulted
    /// on `fallback_after` of the last `fallback_window` ticks. The live policy
    /// is still called every tick; it decides again once its faults in the
    /// window drop below `fallback_after`, or at once when a new live policy
    /// is loaded. The fallback's
    /// file is read at start (it is not hot-reloaded).
    #[serde(default)]
    pub fallback: Fallback,
    /// How many of the last `fallback_window` ticks must have faulted for
    /// the fallback policy to decide.
    #[serde(default = "default_fallback_after")]
    pub fallback_after: u32,
    /// The window of recent ticks over which live-policy faults are counted
    /// (at least `fallback_after`): a policy that faults every other tick
    /// trips the fallback too.
    #[serde(default = "default_fallback_window")]
    pub fallback_window: u32,
    /// The simulated service (with `provider.kind = "sim"` only).
    #[serde(default)]
    pub sim: Option<SimServiceConfig>,
}

/// What decides when the live policy keeps faulting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fallback {
    /// Every faulted tick holds.
    #[default]
    Hold,
    /// This policy component decides instead.
    Policy(PathBuf),
}

impl<'de> Deserialize<'de> for Fallback {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            policy: PathBuf,
        }
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Fallback;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"hold\" or a table { policy = \"fallback.wasm\" }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Fallback, E> {
                match v {
                    "hold" => Ok(Fallback::Hold),
                    other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Fallback, A::Error> {
                let t = Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Fallback::Policy(t.policy))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn default_fallback_after() -> u32 {
    3
}

fn default_fallback_window() -> u32 {
    6
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_policy_poll() -> Duration {
    Duration::from_secs(15)
}

fn default_history() -> Duration {
    Duration::from_secs(30 * 60)
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

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            field,
            message,
        };
        // A state directory that can never be created (a regular file in its way).
        if let Some(file) = self
            .state_dir
            .ancestors()
            .find(|a| !a.as_os_str().is_empty() && a.exists() && !a.is_dir())
        {
            let message = if file == self.state_dir {
                format!(
                    "{} is a regular file, not a directory; point `state_dir` at a directory",
                    file.display()
                )
            } else {
                format!(
                    "cannot create {}: {} is a regular file, not a directory; point `state_dir` elsewhere",
                    self.state_dir.display(),
                    file.display()
                )
            };
            return Err(invalid("state_dir".into(), message));
        }
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
        if let ProviderConfig::Sim {
            speed,
            world,
            faults,
            ..
        } = &self.provider
        {
            if !speed.is_finite() || *speed < 0.0 {
                return Err(invalid(
                    "provider.speed".into(),
                    format!("expected a number of at least 0, found {speed}"),
                ));
            }
            world
                .validate()
                .map_err(|e| invalid("provider.world".into(), e.to_string()))?;
            if let Some(plan) = faults {
                plan.validate().map_err(|e| match e {
                    SimError::Config { field, message } => {
                        invalid(format!("provider.{field}"), message)
                    }
                    other => invalid("provider.faults".into(), other.to_string()),
                })?;
            }
        }
        let sim = matches!(self.provider, ProviderConfig::Sim { .. });
        match &self.journal {
            JournalConfig::Dynamodb { .. } if sim => {
                return Err(invalid(
                    "journal.kind".into(),
                    "a \"dynamodb\" journal needs provider.kind = \"aws\"; the simulated cluster uses kind = \"file\"".into(),
                ));
            }
            JournalConfig::Dynamodb { table } if table.trim().is_empty() => {
                return Err(invalid(
                    "journal.table".into(),
                    "expected the name of a DynamoDB table".into(),
                ));
            }
            _ => {}
        }
        if let Some(ha) = &self.ha {
            if sim {
                return Err(invalid(
                    "ha".into(),
                    "[ha] needs provider.kind = \"aws\": the leases live in DynamoDB".into(),
                ));
            }
            if self.journal == JournalConfig::File {
                return Err(invalid(
                    "journal.kind".into(),
                    "[ha] needs journal.kind = \"dynamodb\": a host that takes over a service resumes its drains from the shared journal".into(),
                ));
            }
            ha.validate()
                .map_err(|(field, message)| invalid(format!("ha.{field}"), message))?;
        }
        let mut seen = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            let field = |name: &str| format!("service[{i}].{name}");
            if !seen.insert((s.cluster.clone(), s.name.clone())) {
                return Err(invalid(
                    field("name"),
                    format!("service {}/{} is listed twice", s.cluster, s.name),
                ));
            }
            if s.guard.min > s.guard.max {
                return Err(invalid(
                    field("guard.min"),
                    format!(
                        "min ({}) is greater than max ({}); lower min or raise max",
                        s.guard.min, s.guard.max
                    ),
                ));
            }
            if s.policy_poll < Duration::from_secs(1) {
                return Err(invalid(
                    field("policy_poll"),
                    "expected at least \"1s\"".into(),
                ));
            }
            if s.interval < Duration::from_secs(1) {
                return Err(invalid(
                    field("interval"),
                    "expected at least \"1s\"".into(),
                ));
            }
            if s.guard.max_step_up == 0 {
                return Err(invalid(
                    field("guard.max_step_up"),
                    "expected at least 1, or the service can never grow".into(),
                ));
            }
            if !(0.0..=1.0).contains(&s.drain.first_check_fraction) {
                return Err(invalid(
                    field("drain.first_check_fraction"),
                    "expected a fraction within 0..=1".into(),
                ));
            }
            for (name, d) in [
                ("drain.cordon_first_check", s.drain.cordon_first_check),
                ("drain.cordon_check_interval", s.drain.cordon_check_interval),
            ] {
                if d < Duration::from_secs(1) {
                    return Err(invalid(
                        field(name),
                        "expected at least \"1s\" (each check reads the session store)".into(),
                    ));
                }
            }
            let margin = s.drain.cordon_uncordon_margin.as_secs();
            let retries = u64::from(s.drain.max_attempts) * crate::workflow::UNCORDON_RETRY;
            if margin < crate::workflow::MIN_UNCORDON_MARGIN.max(retries) {
                return Err(invalid(
                    field("drain.cordon_uncordon_margin"),
                    format!(
                        "expected at least \"{}s\": an uncordon must have time for its retries (drain.max_attempts {} x {}s) before the load balancer cuts sessions",
                        crate::workflow::MIN_UNCORDON_MARGIN.max(retries),
                        s.drain.max_attempts,
                        crate::workflow::UNCORDON_RETRY
                    ),
                ));
            }
            if s.cordon != crate::workflow::CordonMode::Off && s.guard.max_cordoned == 0 {
                return Err(invalid(
                    field("guard.max_cordoned"),
                    format!(
                        "cordon = {:?} with max_cordoned = 0 can never cordon a task; raise max_cordoned or set cordon = \"off\"",
                        s.cordon
                    ),
                ));
            }
            if s.guard.session_capacity == Some(0) {
                return Err(invalid(
                    field("guard.session_capacity"),
                    "expected at least 1 session per task, or leave it out".into(),
                ));
            }
            if s.fallback_after == 0 {
                return Err(invalid(
                    field("fallback_after"),
                    "expected at least 1 consecutive fault".into(),
                ));
            }
            if s.fallback_window < s.fallback_after {
                return Err(invalid(
                    field("fallback_window"),
                    format!(
                        "expected at least fallback_after ({}) ticks, got {}",
                        s.fallback_after, s.fallback_window
                    ),
                ));
            }
            let fallback = match &s.fallback {
                Fallback::Policy(p) => Some((field("fallback.policy"), p)),
                Fallback::Hold => None,
            };
            for (f, p) in std::iter::once((field("policy"), &s.policy))
                .chain(
                    s.shadows
                        .iter()
                        .enumerate()
                        .map(|(j, p)| (field(&format!("shadows[{j}]")), p)),
                )
                .chain(fallback)
            {
                if let Some(url) = S3Url::from_path(p) {
                    url.map_err(|e| invalid(f, e))?;
                    continue;
                }
                if !p.is_file() {
                    return Err(invalid(
                        f,
                        format!(
                            "policy file {} does not exist; build it first (see README)",
                            p.display()
                        ),
                    ));
                }
            }
            match (&s.sim, sim) {
                (Some(_), false) => {
                    return Err(invalid(
                        field("sim"),
                        "a [service.sim] table needs provider.kind = \"sim\"".into(),
                    ));
                }
                (Some(c), true) => c
                    .validate()
                    .map_err(|e| invalid(field("sim"), e.to_string()))?,
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod s3_tests {
    use super::*;

    const SERVICE: &str = r#"
[provider]
kind = "sim"
[[service]]
name = "web"
cluster = "c"
target_group = "tg"
"#;

    #[test]
    fn s3_policies_need_no_local_file_and_relative_ones_resolve_against_the_config_in_s3() {
        let text = format!(
            "{SERVICE}policy = \"live.wasm\"\nshadows = [\"s3://other-bucket/s.wasm\", \"../x/s2.wasm\"]\nfallback = {{ policy = \"fb.wasm\" }}\n"
        );
        let url = S3Url::parse("s3://my-bucket/prod/autoscaler.toml")
            .unwrap()
            .unwrap();
        let cfg = Config::parse_remote(&text, &url).unwrap();
        let s = &cfg.services[0];
        assert_eq!(s.policy, PathBuf::from("s3://my-bucket/prod/live.wasm"));
        assert_eq!(
            s.shadows,
            [
                PathBuf::from("s3://other-bucket/s.wasm"),
                PathBuf::from("s3://my-bucket/x/s2.wasm")
            ]
        );
        assert_eq!(
            s.fallback,
            Fallback::Policy(PathBuf::from("s3://my-bucket/prod/fb.wasm"))
        );
        assert_eq!(s.policy_poll, Duration::from_secs(15));
        // Local-only paths resolve against the working directory.
        assert_eq!(cfg.state_dir, PathBuf::from("autoscaler-state"));
        let urls: Vec<String> = cfg.s3_policies().iter().map(ToString::to_string).collect();
        assert_eq!(
            urls,
            [
                "s3://my-bucket/prod/live.wasm",
                "s3://other-bucket/s.wasm",
                "s3://my-bucket/x/s2.wasm",
                "s3://my-bucket/prod/fb.wasm"
            ]
        );
    }

    #[test]
    fn a_malformed_s3_location_or_a_short_poll_names_the_field() {
        let text = format!("{SERVICE}policy = \"s3://Bad_Bucket/p.wasm\"\n");
        let err = Config::parse(&text, Path::new("/cfg/a.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `service[0].policy`") && err.contains("not a valid bucket name"),
            "{err}"
        );
        let text = format!("{SERVICE}policy = \"s3://b-1/p.wasm\"\npolicy_poll = \"500ms\"\n");
        let err = Config::parse(&text, Path::new("/cfg/a.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service[0].policy_poll") && err.contains("at least \"1s\""),
            "{err}"
        );
        let url = S3Url::parse("s3://b-1/autoscaler.toml").unwrap().unwrap();
        let text = format!("{SERVICE}policy = \"../p.wasm\"\n");
        let err = Config::parse_remote(&text, &url).unwrap_err().to_string();
        assert!(
            err.contains("s3://b-1/autoscaler.toml: field `service[0].policy`")
                && err.contains("climbs above"),
            "{err}"
        );
    }
}
