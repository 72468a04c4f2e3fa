//! Scenarios: a complete simulated service to backtest policies on.
//!
//! A scenario is one of:
//! - a **built-in** name (`autoscaler scenarios` lists them; see [`builtin`]);
//! - a **TOML file** (`*.toml`) in this form, every table optional except
//!   `duration` and `[sim]`'s workload:
//!
//! ```toml
//! name = "checkout"                 # default: the file's stem
//! description = "Black Friday replay"
//! duration = "3d"                   # simulated time per run
//! interval = "60s"                  # time between ticks (default 60s)
//! history = "30m"                   # the snapshot's history window (default 30m)
//!
//! [world]                           # the sim's world: seed, metrics_delay, ...
//! seed = 7
//!
//! [sim]                             # the simulated service (see crate::sim)
//! initial_tasks = 4
//! session_capacity = 20
//! session_mean = "45m"
//! workload = { kind = "trace", path = "black-friday.jsonl" }  # relative to this file
//!
//! [guard]                           # guardrails, as in the daemon's config
//! min = 2
//! max = 60
//!
//! [drain]                           # drain timing, as in the daemon's config
//! deregistration_delay = "300s"
//!
//! [params]                          # policy parameters
//! cpu-high = 75
//!
//! [cost]                            # Fargate prices and task size
//! vcpu_hour = 0.04048
//! gb_hour = 0.004445
//! task_vcpu = 1.0
//! task_memory_gb = 2.0
//! ```
//!
//! `params.session-capacity` defaults to `sim.session_capacity`, so a
//! session-aware policy sizes tasks as the simulated ones really are; when
//! only one of `[sim]` and `[drain]` sets `deregistration_delay`, the other
//! takes the same value (the workflow waits as long as the target group drains);
//! - an **exact-sessions file** (`*.csv`, one session per line, see
//!   [`crate::sim`]): replayed exactly on the `steady` scenario's service
//!   (see [`Scenario::from_sessions`]);
//! - a **trace file** (any other existing file, normally `*.jsonl`), in the
//!   sim's trace format (see [`crate::sim`]): replayed on the `steady`
//!   scenario's service, for as long as the trace lasts, with `guard.max`
//!   sized for the trace's peak (see [`Scenario::from_trace`]).
//!
//! `[sim]` also sets the load balancer the service sits behind and how it
//! routes: `load_balancer = "network" | "application"`,
//! `connection_termination = true | false`, `routing = "round-robin" |
//! "least-outstanding"` (see [`crate::sim`]).

pub mod builtin;
mod pricing;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::BacktestError;
use crate::model::ParamValue;
use crate::sim::{SessionTrace, SimConfig, SimServiceConfig, Trace, Workload};
use crate::tick::guard::GuardConfig;
use crate::workflow::{CordonMode, DrainConfig};

pub use self::pricing::{Pricing, PricingOverrides};

/// The longest simulated time one run may cover.
pub const MAX_DURATION: Duration = Duration::from_secs(400 * 86_400);

/// A complete simulated service and how long to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, shown in tables and reports.
    #[serde(default)]
    pub name: String,
    /// One line on what the scenario exercises.
    #[serde(default)]
    pub description: String,
    /// Simulated time per run.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Time between ticks.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// How far back the snapshot's history window reaches.
    #[serde(default = "default_history", with = "humantime_serde")]
    pub history: Duration,
    /// The simulated world (the seed, metrics delay).
    #[serde(default)]
    pub world: SimConfig,
    /// The simulated service: workload, sessions, capacity, start-up and drain timing.
    pub sim: SimServiceConfig,
    /// How the service cordons busy tasks when a policy asks (like a
    /// service's `cordon` key): `"app"` (the default here: the simulated
    /// application refuses new sessions on a cordoned task), `"deregister"`
    /// or `"off"`.
    #[serde(default = "default_cordon")]
    pub cordon: CordonMode,
    /// The guardrails.
    #[serde(default)]
    pub guard: GuardConfig,
    /// The drain workflow's timing.
    #[serde(default)]
    pub drain: DrainConfig,
    /// The policy parameters.
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    /// Fargate prices and the task size, for the cost figures.
    #[serde(default)]
    pub cost: Pricing,
}

fn default_cordon() -> CordonMode {
    CordonMode::App
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_history() -> Duration {
    Duration::from_secs(30 * 60)
}

impl Scenario {
    /// Resolves a `--scenario` argument: a built-in name, a `.toml` scenario
    /// file, or a trace file.
    pub fn resolve(arg: &str) -> Result<Scenario, BacktestError> {
        if let Some(s) = builtin::get(arg)? {
            return Ok(s);
        }
        let path = Path::new(arg);
        if !path.is_file() {
            return Err(BacktestError::UnknownScenario {
                name: arg.to_string(),
                known: builtin::NAMES.join(", "),
            });
        }
        if path.extension().is_some_and(|e| e == "toml") {
            Scenario::load_toml(path)
        } else if path.extension().is_some_and(|e| e == "csv") {
            Scenario::from_sessions(path)
        } else {
            Scenario::from_trace(path)
        }
    }

    /// Reads a scenario TOML file; a relative trace path is relative to the file.
    pub fn load_toml(path: &Path) -> Result<Scenario, BacktestError> {
        let text = std::fs::read_to_string(path).map_err(|e| BacktestError::ScenarioFile {
            path: path.to_path_buf(),
            message: format!("cannot read it: {e}"),
        })?;
        Scenario::parse_toml(&text, path)
    }

    /// Parses scenario TOML as if read from `path`.
    pub fn parse_toml(text: &str, path: &Path) -> Result<Scenario, BacktestError> {
        // Whether [sim] set its own deregistration delay, before defaults hide it.
        let raw: toml::Table = toml::from_str(text).map_err(|e| BacktestError::ScenarioFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let sets_delay = |table: &str| {
            raw.get(table)
                .and_then(|s| s.as_table())
                .is_some_and(|s| s.contains_key("deregistration_delay"))
        };
        let (sim_sets_delay, drain_sets_delay) = (sets_delay("sim"), sets_delay("drain"));
        let mut s: Scenario = toml::from_str(text).map_err(|e| BacktestError::ScenarioFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if s.name.is_empty() {
            s.name = path
                .file_stem()
                .map_or_else(|| "scenario".into(), |n| n.to_string_lossy().into_owned());
        }
        // The workflow waits as long as the target group drains, unless told otherwise.
        if drain_sets_delay && !sim_sets_delay {
            s.sim.deregistration_delay = s.drain.deregistration_delay;
        } else if sim_sets_delay && !drain_sets_delay {
            s.drain.deregistration_delay = s.sim.deregistration_delay;
        }
        if let Workload::Trace { path: trace, .. } | Workload::Sessions { path: trace } =
            &mut s.sim.workload
            && trace.is_relative()
        {
            *trace = path.parent().unwrap_or(Path::new(".")).join(&*trace);
        }
        s.fill_defaults();
        s.validate()?;
        Ok(s)
    }

    /// A scenario replaying a trace file on the `steady` scenario's service:
    /// the run lasts as long as the trace (its last line's `t` plus a
    /// minute, rounded up to whole minutes), and `guard.max` is twice the tasks the trace's peak needs
    /// (peak arrivals per minute times the mean session length in minutes,
    /// over the session capacity), at least 10.
    pub fn from_trace(path: &Path) -> Result<Scenario, BacktestError> {
        let name = path
            .file_stem()
            .map_or_else(|| "trace".into(), |n| n.to_string_lossy().into_owned());
        let sim_err = |source| BacktestError::Sim {
            scenario: name.clone(),
            source,
        };
        // Checks every line, with errors naming the file, line and field.
        Trace::load(path, false).map_err(sim_err)?;
        let text = std::fs::read_to_string(path).map_err(|source| BacktestError::Io {
            what: "cannot read the trace file",
            path: path.to_path_buf(),
            source,
        })?;
        let mut s = builtin::steady();
        let (mut end, mut peak_sessions) = (0u64, 0f64);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // Already validated: every line is an object with `t` and `arrivals_per_min`.
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let t = v["t"].as_u64().unwrap_or(0);
            let rate = v["arrivals_per_min"].as_f64().unwrap_or(0.0);
            let mean = v["mean_session_s"]
                .as_f64()
                .unwrap_or(s.sim.session_mean.as_secs_f64());
            end = end.max(t + 60);
            peak_sessions = peak_sessions.max(rate * mean / 60.0);
        }
        let capacity = f64::from(s.sim.session_capacity);
        s.guard.max = ((2.0 * peak_sessions / capacity).ceil() as u32).max(10);
        s.name = name;
        s.description = format!("Replay of the trace {}", path.display());
        s.duration = Duration::from_secs(end.div_ceil(60) * 60);
        s.sim.workload = Workload::Trace {
            path: path.to_path_buf(),
            repeat: false,
        };
        s.validate()?;
        Ok(s)
    }

    /// A scenario replaying an exact-sessions file (`*.csv`, see
    /// [`crate::sim`]) on the `steady` scenario's service: the run lasts until
    /// a minute after the last session's start (rounded up to whole
    /// minutes), and `guard.max` is twice the tasks the most sessions active
    /// at once need, at least 10.
    pub fn from_sessions(path: &Path) -> Result<Scenario, BacktestError> {
        let name = path
            .file_stem()
            .map_or_else(|| "sessions".into(), |n| n.to_string_lossy().into_owned());
        let trace = SessionTrace::load(path).map_err(|source| BacktestError::Sim {
            scenario: name.clone(),
            source,
        })?;
        let mut s = builtin::steady();
        let capacity = u64::from(s.sim.session_capacity);
        s.guard.max = u32::try_from((2 * trace.peak_active()).div_ceil(capacity))
            .unwrap_or(u32::MAX)
            .clamp(10, crate::sim::MAX_TASKS_PER_SERVICE);
        s.name = name;
        s.description = format!(
            "Exact replay of {} recorded sessions from {}",
            trace.sessions().len(),
            path.display()
        );
        s.duration = Duration::from_secs((trace.last_start() + 60).div_ceil(60) * 60);
        s.sim.workload = Workload::Sessions {
            path: path.to_path_buf(),
        };
        s.validate()?;
        Ok(s)
    }

    /// Fills `params.session-capacity` from the sim's capacity when missing.
    pub fn fill_defaults(&mut self) {
        self.params
            .entry("session-capacity".into())
            .or_insert(ParamValue::Number(f64::from(self.sim.session_capacity)));
    }

    /// Checks every value, naming the field and what to do.
    pub fn validate(&self) -> Result<(), BacktestError> {
        let bad = |field: &str, message: String| BacktestError::ScenarioField {
            scenario: self.name.clone(),
            field: field.to_string(),
            message,
        };
        if self.interval < Duration::from_secs(1) {
            return Err(bad("interval", "expected at least \"1s\"".into()));
        }
        if self.duration < self.interval {
            return Err(bad(
                "duration",
                format!(
                    "{} is shorter than one tick interval ({}); give a longer duration",
                    humantime::format_duration(self.duration),
                    humantime::format_duration(self.interval)
                ),
            ));
        }
        if !self.duration.as_secs().is_multiple_of(60) || self.duration.subsec_nanos() != 0 {
            return Err(bad(
                "duration",
                format!(
                    "expected whole minutes, found {}",
                    humantime::format_duration(self.duration)
                ),
            ));
        }
        if self.duration > MAX_DURATION {
            return Err(bad(
                "duration",
                format!(
                    "expected at most {}, found {}",
                    humantime::format_duration(MAX_DURATION),
                    humantime::format_duration(self.duration)
                ),
            ));
        }
        if self.guard.min > self.guard.max {
            return Err(bad(
                "guard.min",
                format!(
                    "min ({}) is greater than max ({}); lower min or raise max",
                    self.guard.min, self.guard.max
                ),
            ));
        }
        if self.guard.max_step_up == 0 {
            return Err(bad(
                "guard.max_step_up",
                "expected at least 1, or the service can never grow".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.drain.first_check_fraction) {
            return Err(bad(
                "drain.first_check_fraction",
                "expected a fraction within 0..=1".into(),
            ));
        }
        self.world
            .validate()
            .map_err(|e| bad("world", e.to_string()))?;
        self.sim.validate().map_err(|e| bad("sim", e.to_string()))?;
        self.cost.validate().map_err(|(f, m)| bad(f, m))?;
        Ok(())
    }

    /// The same scenario with another seed, duration or prices where given.
    pub fn with_overrides(
        mut self,
        seed: Option<u64>,
        duration: Option<Duration>,
        cost: &PricingOverrides,
    ) -> Result<Scenario, BacktestError> {
        if let Some(seed) = seed {
            self.world.seed = seed;
        }
        if let Some(d) = duration {
            self.duration = d;
        }
        cost.apply(&mut self.cost);
        self.validate()?;
        Ok(self)
    }

    /// The session capacity the oracle and the charts use.
    pub fn capacity(&self) -> u32 {
        self.sim.session_capacity
    }

    /// The trace file this scenario replays, if any.
    pub fn trace_file(&self) -> Option<&PathBuf> {
        match &self.sim.workload {
            Workload::Trace { path, .. } | Workload::Sessions { path } => Some(path),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
