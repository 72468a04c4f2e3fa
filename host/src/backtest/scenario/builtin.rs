//! The built-in scenarios. Each is a complete simulated service: workload,
//! session lengths, capacity, CPU per session, start-up and drain timing,
//! guardrails, policy parameters (session capacity matching the sim's) and a
//! default duration.
//!
//! Common to all: one-minute ticks, a 30-minute history window, CloudWatch
//! metrics 90 s late, tasks up 60 s after launch (plus 30 s of health
//! checks), a 5-minute deregistration delay, guard min 2, at most 2 tasks
//! drained per tick, a 5-minute scale-in cooldown and stabilization window,
//! and the policy parameters cpu-high 75, cpu-low 30, target-cpu 60 (for
//! target tracking and the session-unaware reference), scale-in-window 600.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Pricing, Scenario};
use crate::backtest::BacktestError;
use crate::model::ParamValue;
use crate::sim::{SessionLength, SimConfig, SimServiceConfig, Usage, Workload};
use crate::tick::guard::GuardConfig;
use crate::workflow::{CordonMode, DrainConfig};

const MIN: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;

/// The built-in scenario names, in listing order.
pub const NAMES: [&str; 6] = [
    "steady",
    "diurnal-week",
    "flash-crowd",
    "slow-ramp",
    "sawtooth",
    "rdp-workday",
];

/// The built-in scenario `name`, or none for another name.
pub fn get(name: &str) -> Result<Option<Scenario>, BacktestError> {
    let s = match name {
        "steady" => steady(),
        "diurnal-week" => diurnal_week(),
        "flash-crowd" => flash_crowd(),
        "slow-ramp" => slow_ramp(),
        "sawtooth" => sawtooth(),
        "rdp-workday" => rdp_workday()?,
        _ => return Ok(None),
    };
    Ok(Some(s))
}

/// Every built-in scenario, in listing order.
pub fn all() -> Result<Vec<Scenario>, BacktestError> {
    NAMES
        .iter()
        .map(|n| get(n).map(|s| s.expect("every listed name is built in")))
        .collect()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The service every built-in starts from.
fn base(name: &str, description: &str, duration: u64, capacity: u32) -> Scenario {
    let mut params = BTreeMap::new();
    for (k, v) in [
        ("cpu-high", 75.0),
        ("cpu-low", 30.0),
        ("target-cpu", 60.0),
        ("scale-in-window", 600.0),
        ("session-capacity", f64::from(capacity)),
    ] {
        params.insert(k.to_string(), ParamValue::Number(v));
    }
    Scenario {
        name: name.into(),
        description: description.into(),
        duration: secs(duration),
        interval: secs(MIN),
        history: secs(30 * MIN),
        world: SimConfig::default(),
        sim: SimServiceConfig {
            initial_tasks: 2,
            session_capacity: capacity,
            deregistration_delay: secs(300),
            usage: Usage {
                cpu_base: 5.0,
                cpu_per_session: 75.0 / f64::from(capacity),
                cpu_noise: 2.0,
                memory_base: 25.0,
                memory_per_session: 25.0 / f64::from(capacity),
                memory_noise: 1.0,
            },
            ..SimServiceConfig::default()
        },
        cordon: CordonMode::App,
        guard: GuardConfig {
            min: 2,
            max: 100,
            max_cordoned: 20,
            ..GuardConfig::default()
        },
        drain: DrainConfig {
            deregistration_delay: secs(300),
            ..DrainConfig::default()
        },
        params,
        cost: Pricing::default(),
    }
}

/// A constant load: 30 arrivals a minute, 30-minute sessions (about 900 at
/// once, 36 tasks at 25 per task).
pub fn steady() -> Scenario {
    let mut s = base(
        "steady",
        "Constant 30 sessions/min, 30-min exponential sessions, 25 per task (~36 tasks busy); 1 day.",
        DAY,
        25,
    );
    s.sim.initial_tasks = 10;
    s.sim.session_mean = secs(30 * MIN);
    s.sim.workload = Workload::Steady { per_min: 30.0 };
    s
}

/// A week of day and night: a 24-hour sinusoid between 3 and 40 arrivals a minute.
pub fn diurnal_week() -> Scenario {
    let mut s = base(
        "diurnal-week",
        "Day/night sinusoid 3-40 sessions/min peaking at 14:00, 40-min lognormal sessions; 7 days.",
        7 * DAY,
        25,
    );
    s.sim.initial_tasks = 4;
    s.sim.session_mean = secs(40 * MIN);
    s.sim.session_length = SessionLength::Lognormal { sigma: 0.8 };
    s.sim.workload = Workload::Diurnal {
        peak_per_min: 40.0,
        trough_per_min: 3.0,
        peak_at: secs(14 * HOUR),
    };
    s.guard.max = 120;
    s
}

/// A flash crowd: 10 a minute jumps to 120 at noon, holds 15 minutes, decays.
pub fn flash_crowd() -> Scenario {
    let mut s = base(
        "flash-crowd",
        "10 sessions/min jumping to 120 at 12:00 for 15 min, then decaying (45-min time constant); 20-min sessions; 1 day.",
        DAY,
        25,
    );
    s.sim.initial_tasks = 8;
    s.sim.session_mean = secs(20 * MIN);
    s.sim.workload = Workload::Spike {
        base_per_min: 10.0,
        peak_per_min: 120.0,
        at: secs(12 * HOUR),
        hold: secs(15 * MIN),
        decay: secs(45 * MIN),
    };
    s.guard.max = 150;
    s.guard.max_step_up = 20;
    s
}

/// Growth: 5 a minute rising steadily to 60 over 40 hours.
pub fn slow_ramp() -> Scenario {
    let mut s = base(
        "slow-ramp",
        "5 sessions/min rising linearly to 60 over 40 h from hour 1, 30-min sessions; 2 days.",
        2 * DAY,
        25,
    );
    s.sim.initial_tasks = 2;
    s.sim.session_mean = secs(30 * MIN);
    s.sim.workload = Workload::Ramp {
        from_per_min: 5.0,
        to_per_min: 60.0,
        start: secs(HOUR),
        duration: secs(40 * HOUR),
    };
    s.guard.max = 120;
    s
}

/// Repeated surges: 5 to 50 a minute over 4 hours, then back to 5 at once.
pub fn sawtooth() -> Scenario {
    let mut s = base(
        "sawtooth",
        "5 sessions/min rising to 50 over 4 h, then dropping back at once, repeatedly; 15-min sessions; 1 day.",
        DAY,
        25,
    );
    s.sim.initial_tasks = 2;
    s.sim.session_mean = secs(15 * MIN);
    s.sim.workload = Workload::Sawtooth {
        low_per_min: 5.0,
        high_per_min: 50.0,
        period: secs(4 * HOUR),
    };
    s.guard.max = 60;
    s
}

/// Remote desktops over a working week: heavy-tailed session lengths (most
/// 20-90 minutes, about 5 % left open 6-10 hours) that pin tasks into the
/// evening, when a session-unaware scale-in cuts them.
pub fn rdp_workday() -> Result<Scenario, BacktestError> {
    let mut s = base(
        "rdp-workday",
        "RDP desktops: working-hours arrivals (peak 4/min, Mon-Fri, quiet weekend), sessions 20-90 min with 5% of 6-10 h, 15 per task; 7 days from Monday 00:00.",
        7 * DAY,
        15,
    );
    s.sim.initial_tasks = 2;
    s.sim.session_length = SessionLength::rdp_mixture();
    // The mixture's mean (about 76 minutes), for policies that read it.
    s.sim.session_mean = secs(76 * MIN);
    s.sim.workload = Workload::Trace {
        path: workday_trace()?,
        repeat: true,
    };
    s.guard.max = 80;
    // RDP is TCP behind a Network Load Balancer: a deregistered target keeps
    // its connections, so the application needs no change to be cordoned.
    s.cordon = CordonMode::Deregister;
    Ok(s)
}

/// The share of the peak arrival rate at `hour` of a working day: quiet at
/// night, a morning ramp from 07:00, a lunch dip, an evening decline.
fn workday_shape(hour: f64) -> f64 {
    const POINTS: [(f64, f64); 13] = [
        (0.0, 0.03),
        (6.5, 0.03),
        (8.0, 0.75),
        (9.0, 1.0),
        (11.5, 1.0),
        (12.25, 0.5),
        (13.25, 0.9),
        (16.0, 0.8),
        (17.5, 0.3),
        (19.0, 0.12),
        (21.0, 0.06),
        (23.0, 0.03),
        (24.0, 0.03),
    ];
    let i = POINTS
        .partition_point(|&(h, _)| h <= hour)
        .clamp(1, POINTS.len() - 1);
    let ((h0, v0), (h1, v1)) = (POINTS[i - 1], POINTS[i]);
    v0 + (v1 - v0) * (hour - h0) / (h1 - h0)
}

/// The rdp-workday week as trace text: one line per minute, Monday first,
/// weekends at a tenth of the weekday rate.
pub fn workday_trace_text() -> String {
    const PEAK_PER_MIN: f64 = 4.0;
    let mut text = String::with_capacity(7 * 1440 * 40);
    for minute in 0..7 * 1440u64 {
        let t = minute * MIN;
        let weekend = t / DAY >= 5;
        let hour = (t % DAY) as f64 / HOUR as f64;
        let rate = PEAK_PER_MIN * workday_shape(hour) * if weekend { 0.1 } else { 1.0 };
        text.push_str(&format!(
            "{{\"t\": {t}, \"arrivals_per_min\": {:.4}}}\n",
            rate
        ));
    }
    text
}

/// Writes the rdp-workday trace (once per content) to the temporary folder
/// and returns its path: the sim replays workloads of this shape from a file.
fn workday_trace() -> Result<PathBuf, BacktestError> {
    let text = workday_trace_text();
    let hash = hex::encode(&Sha256::digest(text.as_bytes())[..6]);
    let dir = std::env::temp_dir().join("autoscaler-scenarios");
    let path = dir.join(format!("rdp-workday-{hash}.jsonl"));
    if path.is_file() {
        return Ok(path);
    }
    let io = |source| BacktestError::Io {
        what: "cannot write the rdp-workday scenario's trace (check TMPDIR)",
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    // Write aside and rename, so a concurrent run never reads half a file.
    let tmp = dir.join(format!(
        "rdp-workday-{hash}.{}.{:?}.tmp",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_is_valid_and_named_as_listed() {
        for (name, s) in NAMES.iter().zip(all().expect("built-ins build")) {
            assert_eq!(&s.name, name);
            s.validate().expect("valid");
            assert!(!s.description.is_empty());
            assert_eq!(
                s.params.get("session-capacity"),
                Some(&ParamValue::Number(f64::from(s.sim.session_capacity))),
                "{name}: the policy sizes tasks as the sim does"
            );
            assert_eq!(
                s.sim.deregistration_delay, s.drain.deregistration_delay,
                "{name}: the workflow waits as long as the target group drains"
            );
            assert!(s.guard.min <= s.sim.initial_tasks, "{name}");
        }
    }

    #[test]
    fn the_workday_is_busy_by_day_quiet_by_night_and_at_weekends() {
        assert!((workday_shape(10.0) - 1.0).abs() < 1e-9);
        assert!(workday_shape(3.0) < 0.05);
        assert!(workday_shape(12.25) < workday_shape(11.0));
        assert!(workday_shape(23.99) > 0.0);
        let text = workday_trace_text();
        let rate_at = |t: u64| -> f64 {
            let line = text
                .lines()
                .nth((t / 60) as usize)
                .expect("a line a minute");
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
            assert_eq!(v["t"].as_u64(), Some(t));
            v["arrivals_per_min"].as_f64().expect("rate")
        };
        assert!((rate_at(10 * HOUR) - 4.0).abs() < 1e-9, "Monday 10:00");
        assert!(rate_at(3 * HOUR) < 0.2, "Monday 03:00");
        assert!(
            (rate_at(5 * DAY + 10 * HOUR) - 0.4).abs() < 1e-9,
            "Saturday 10:00"
        );
        assert_eq!(text.lines().count(), 7 * 1440);
    }

    #[test]
    fn the_workday_trace_file_is_written_once_and_parses() {
        let a = workday_trace().expect("written");
        let b = workday_trace().expect("reused");
        assert_eq!(a, b);
        let w = Workload::Trace {
            path: a,
            repeat: true,
        }
        .load()
        .expect("a valid trace");
        assert!(
            (w.rate_per_min(7 * DAY + 10 * HOUR) - 4.0).abs() < 1e-9,
            "repeats weekly"
        );
    }
}
