//! The sim's configuration: the world ([`SimConfig`]) and each service
//! ([`SimServiceConfig`]), as serde structs the daemon's TOML embeds
//! (`[sim]` and `[services.sim]`). Durations are humantime strings ("90s", "5m").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::limits::{MAX_SESSION, MAX_TASKS_PER_SERVICE, check_non_negative};
use super::session_length::SessionLength;
use super::workload::Workload;

/// The simulated world: its seed and what is common to every service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// The seed every random draw derives from: the same seed and the same
    /// sequence of calls give the same run.
    pub seed: u64,
    /// How long after a minute ends its CPU and memory figures can be read
    /// (CloudWatch publishes ECS metrics one to two minutes late).
    #[serde(with = "humantime_serde")]
    pub metrics_delay: Duration,
    /// How far back a metrics read looks for the latest published minute, like
    /// a GetMetricData window; older figures count as missing.
    #[serde(with = "humantime_serde")]
    pub metrics_lookback: Duration,
    /// How long a stopped task stays listed by the cluster (ECS shows stopped
    /// tasks for about an hour).
    #[serde(with = "humantime_serde")]
    pub stopped_retention: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            metrics_delay: Duration::from_secs(90),
            metrics_lookback: Duration::from_secs(600),
            stopped_retention: Duration::from_secs(3600),
        }
    }
}

/// How the load balancer in front of the service treats a deregistered
/// target's open connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SimLoadBalancer {
    /// A Network Load Balancer: a deregistered target's connections live on
    /// (unless `connection_termination` is set).
    #[default]
    Network,
    /// An Application Load Balancer: when a deregistered target's delay
    /// ends, the connections still open on it are closed.
    Application,
}

/// How the load balancer picks a target for a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SimRouting {
    /// In turn over the healthy targets, oldest task first.
    #[default]
    RoundRobin,
    /// The healthy target with the fewest active sessions (ties: the oldest task).
    LeastOutstanding,
}

/// How a task's CPU and memory follow its load, in percent of the task's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    /// CPU of an idle running task.
    pub cpu_base: f64,
    /// CPU added by each active session.
    pub cpu_per_session: f64,
    /// Standard deviation of the noise added to each task's per-minute CPU.
    pub cpu_noise: f64,
    /// Memory of an idle running task.
    pub memory_base: f64,
    /// Memory added by each active session.
    pub memory_per_session: f64,
    /// Standard deviation of the noise added to each task's per-minute memory.
    pub memory_noise: f64,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            cpu_base: 5.0,
            cpu_per_session: 3.0,
            cpu_noise: 2.0,
            memory_base: 25.0,
            memory_per_session: 2.0,
            memory_noise: 1.0,
        }
    }
}

/// One simulated Fargate service behind its target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimServiceConfig {
    /// Tasks running, healthy and idle when the service is added; also its
    /// first desired count.
    pub initial_tasks: u32,
    /// The container port, registered with the target group beside the task's IP.
    pub container_port: u16,
    /// Time in PROVISIONING (ENI attachment) before PENDING.
    #[serde(with = "humantime_serde")]
    pub provisioning: Duration,
    /// Time in PENDING (image pull, container start) before RUNNING.
    #[serde(with = "humantime_serde")]
    pub startup: Duration,
    /// Time from a target's registration to its first healthy state (health
    /// check interval times the healthy threshold).
    #[serde(with = "humantime_serde")]
    pub health_check_delay: Duration,
    /// The target group's deregistration delay: how long a deregistered target
    /// drains, and how long a task stopped by the scheduler stays DEACTIVATING.
    #[serde(with = "humantime_serde")]
    pub deregistration_delay: Duration,
    /// Time in STOPPING (the container's stop timeout) before DEPROVISIONING.
    #[serde(with = "humantime_serde")]
    pub stopping: Duration,
    /// Time in DEPROVISIONING (ENI detachment) before STOPPED.
    #[serde(with = "humantime_serde")]
    pub deprovisioning: Duration,
    /// Sessions one task holds at most; a full task is skipped by routing.
    pub session_capacity: u32,
    /// The mean session length, unless the workload gives one.
    #[serde(with = "humantime_serde")]
    pub session_mean: Duration,
    /// The distribution of session lengths.
    pub session_length: SessionLength,
    /// How CPU and memory follow load.
    pub usage: Usage,
    /// Session arrivals over time.
    pub workload: Workload,
    /// The load balancer's kind: `network` keeps a deregistered target's
    /// connections, `application` closes them when the delay ends.
    pub load_balancer: SimLoadBalancer,
    /// NLB connection termination: a deregistered target's connections are
    /// closed when the delay ends, as with an ALB.
    pub connection_termination: bool,
    /// How the load balancer spreads new sessions over healthy targets.
    pub routing: SimRouting,
}

impl Default for SimServiceConfig {
    fn default() -> Self {
        SimServiceConfig {
            initial_tasks: 2,
            container_port: 8080,
            provisioning: Duration::from_secs(20),
            startup: Duration::from_secs(40),
            health_check_delay: Duration::from_secs(30),
            deregistration_delay: Duration::from_secs(300),
            stopping: Duration::from_secs(15),
            deprovisioning: Duration::from_secs(20),
            session_capacity: 25,
            session_mean: Duration::from_secs(1800),
            session_length: SessionLength::Exponential,
            usage: Usage::default(),
            workload: Workload::default(),
            load_balancer: SimLoadBalancer::Network,
            connection_termination: false,
            routing: SimRouting::RoundRobin,
        }
    }
}

impl SimConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.metrics_lookback < Duration::from_secs(60) {
            return Err(SimError::config(
                "metrics_lookback",
                "expected at least \"1m\", one published minute",
            ));
        }
        Ok(())
    }
}

impl SimServiceConfig {
    /// Checks every value except the workload's trace file, which is read when
    /// the service is added.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.initial_tasks > MAX_TASKS_PER_SERVICE {
            return Err(SimError::config(
                "initial_tasks",
                format!(
                    "expected at most {MAX_TASKS_PER_SERVICE}, the ECS tasks-per-service quota"
                ),
            ));
        }
        if self.session_capacity == 0 {
            return Err(SimError::config(
                "session_capacity",
                "expected at least 1 session per task",
            ));
        }
        if self.session_mean < Duration::from_secs(1) {
            return Err(SimError::config("session_mean", "expected at least \"1s\""));
        }
        if let SessionLength::Lognormal { sigma } = self.session_length {
            check_non_negative("session_length.sigma", sigma)?;
            if sigma > 5.0 {
                return Err(SimError::config(
                    "session_length.sigma",
                    "expected at most 5",
                ));
            }
        }
        if let SessionLength::Mixture {
            typical_min,
            typical_max,
            long_min,
            long_max,
            long_share,
        } = self.session_length
        {
            if typical_min < Duration::from_secs(1) || long_min < Duration::from_secs(1) {
                return Err(SimError::config(
                    "session_length.typical_min",
                    "expected typical_min and long_min of at least \"1s\"",
                ));
            }
            if typical_max < typical_min {
                return Err(SimError::config(
                    "session_length.typical_max",
                    "expected at least typical_min",
                ));
            }
            if long_max < long_min {
                return Err(SimError::config(
                    "session_length.long_max",
                    "expected at least long_min",
                ));
            }
            if long_max > MAX_SESSION {
                return Err(SimError::config(
                    "session_length.long_max",
                    "expected at most \"30days\"",
                ));
            }
            if !(long_share.is_finite() && (0.0..=1.0).contains(&long_share)) {
                return Err(SimError::config(
                    "session_length.long_share",
                    format!("expected a share within 0..=1, found {long_share}"),
                ));
            }
        }
        let u = &self.usage;
        for (field, v) in [
            ("usage.cpu_base", u.cpu_base),
            ("usage.cpu_per_session", u.cpu_per_session),
            ("usage.cpu_noise", u.cpu_noise),
            ("usage.memory_base", u.memory_base),
            ("usage.memory_per_session", u.memory_per_session),
            ("usage.memory_noise", u.memory_noise),
        ] {
            check_non_negative(field, v)?;
        }
        self.workload.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Daemon {
        sim: SimConfig,
        services: Vec<Svc>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Svc {
        #[allow(dead_code)]
        name: String,
        sim: SimServiceConfig,
    }

    #[test]
    fn a_daemon_style_toml_embeds_the_sim_config() {
        let text = r#"
            [sim]
            seed = 42
            metrics_delay = "2m"

            [[services]]
            name = "rdp"
            [services.sim]
            initial_tasks = 4
            startup = "90s"
            deregistration_delay = "5m"
            session_capacity = 20
            session_length = { kind = "lognormal", sigma = 0.9 }
            workload = { kind = "diurnal", peak_per_min = 40, trough_per_min = 4, peak_at = "15h" }
            [services.sim.usage]
            cpu_per_session = 4.0
        "#;
        let d: Daemon = toml::from_str(text).expect("parses");
        assert_eq!(d.sim.seed, 42);
        assert_eq!(d.sim.metrics_delay, Duration::from_secs(120));
        assert_eq!(d.sim.stopped_retention, Duration::from_secs(3600));
        let s = &d.services[0].sim;
        assert_eq!(s.initial_tasks, 4);
        assert_eq!(s.startup, Duration::from_secs(90));
        assert_eq!(s.provisioning, Duration::from_secs(20));
        assert_eq!(s.session_length, SessionLength::Lognormal { sigma: 0.9 });
        assert_eq!(s.usage.cpu_per_session, 4.0);
        assert_eq!(s.usage.cpu_base, Usage::default().cpu_base);
        assert!(matches!(
            s.workload,
            Workload::Diurnal { peak_per_min, peak_at, .. }
                if peak_per_min == 40.0 && peak_at == Duration::from_secs(15 * 3600)
        ));
        s.validate().expect("valid");
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        for bad in [
            "initial_taks = 3",
            "[usage]\ncpu_bse = 1.0",
            "workload = { kind = \"steady\", per_min = 3, extra = 1 }",
            "session_length = { kind = \"lognormal\", sigma = 1.0, mu = 2.0 }",
        ] {
            let err = toml::from_str::<SimServiceConfig>(bad)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("unknown field"), "{bad}: {err}");
        }
        assert!(toml::from_str::<SimConfig>("sead = 3").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = SimServiceConfig {
            session_capacity: 0,
            ..Default::default()
        };
        let err = c.validate().expect_err("capacity 0").to_string();
        assert!(err.contains("`session_capacity`"), "{err}");
        c.session_capacity = 5;
        c.usage.cpu_noise = f64::NAN;
        let err = c.validate().expect_err("NaN noise").to_string();
        assert!(err.contains("`usage.cpu_noise`"), "{err}");
        c.usage.cpu_noise = 1.0;
        c.workload = Workload::Steady { per_min: -1.0 };
        let err = c.validate().expect_err("negative rate").to_string();
        assert!(err.contains("`workload.per_min`"), "{err}");
        assert!(SimServiceConfig::default().validate().is_ok());
        assert!(SimConfig::default().validate().is_ok());
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let c = SimServiceConfig::default();
        let text = toml::to_string(&c).expect("serializes");
        assert!(text.contains("startup = \"40s\""), "{text}");
        let back: SimServiceConfig = toml::from_str(&text).expect("parses back");
        assert_eq!(back, c);
    }
}
