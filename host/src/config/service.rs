//! `[[service]]`: one service to autoscale, with its policy, shadows,
//! parameters, guardrails, drain timing and fallback; and its checks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::model::ParamValue;
use crate::remote::S3Url;
use crate::sim::SimServiceConfig;
use crate::tick::guard::GuardConfig;
use crate::workflow::DrainConfig;

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

impl ServiceConfig {
    /// Checks one service (`sim`: the provider is the simulated one): its
    /// guardrails, timings, fallback, policy locations and `[service.sim]`.
    /// The error's field is relative to the service's table.
    pub(crate) fn validate(&self, sim: bool) -> Result<(), (String, String)> {
        let s = self;
        let field = |name: &str| name.to_string();
        if s.guard.min > s.guard.max {
            return Err((
                field("guard.min"),
                format!(
                    "min ({}) is greater than max ({}); lower min or raise max",
                    s.guard.min, s.guard.max
                ),
            ));
        }
        if s.policy_poll < Duration::from_secs(1) {
            return Err((field("policy_poll"), "expected at least \"1s\"".into()));
        }
        if s.interval < Duration::from_secs(1) {
            return Err((field("interval"), "expected at least \"1s\"".into()));
        }
        if s.guard.max_step_up == 0 {
            return Err((
                field("guard.max_step_up"),
                "expected at least 1, or the service can never grow".into(),
            ));
        }
        if !(0.0..=1.0).contains(&s.drain.first_check_fraction) {
            return Err((
                field("drain.first_check_fraction"),
                "expected a fraction within 0..=1".into(),
            ));
        }
        for (name, d) in [
            ("drain.cordon_first_check", s.drain.cordon_first_check),
            ("drain.cordon_check_interval", s.drain.cordon_check_interval),
        ] {
            if d < Duration::from_secs(1) {
                return Err((
                    field(name),
                    "expected at least \"1s\" (each check reads the session store)".into(),
                ));
            }
        }
        let margin = s.drain.cordon_uncordon_margin.as_secs();
        let retries = u64::from(s.drain.max_attempts) * crate::workflow::UNCORDON_RETRY;
        if margin < crate::workflow::MIN_UNCORDON_MARGIN.max(retries) {
            return Err((
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
            return Err((
                field("guard.max_cordoned"),
                format!(
                    "cordon = {:?} with max_cordoned = 0 can never cordon a task; raise max_cordoned or set cordon = \"off\"",
                    s.cordon
                ),
            ));
        }
        if s.guard.session_capacity == Some(0) {
            return Err((
                field("guard.session_capacity"),
                "expected at least 1 session per task, or leave it out".into(),
            ));
        }
        if s.fallback_after == 0 {
            return Err((
                field("fallback_after"),
                "expected at least 1 consecutive fault".into(),
            ));
        }
        if s.fallback_window < s.fallback_after {
            return Err((
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
                url.map_err(|e| (f, e))?;
                continue;
            }
            if !p.is_file() {
                return Err((
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
                return Err((
                    field("sim"),
                    "a [service.sim] table needs provider.kind = \"sim\"".into(),
                ));
            }
            (Some(c), true) => c.validate().map_err(|e| (field("sim"), e.to_string()))?,
            _ => {}
        }
        Ok(())
    }
}
