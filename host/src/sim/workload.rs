//! Workloads: how the session arrival rate (and optionally the mean session
//! length) varies over virtual time. Times are seconds since the simulation
//! started; virtual time 0 is midnight for the diurnal shape.

use std::f64::consts::TAU;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::SimError;
use super::limits::check_non_negative;
use super::session_trace::{SessionArrival, SessionTrace};
use super::trace::Trace;

const DAY: f64 = 86_400.0;

/// A workload shape: session arrivals per minute as a function of virtual time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// A constant rate.
    Steady {
        /// Session arrivals per minute.
        per_min: f64,
    },
    /// A 24-hour sinusoid between a trough and a peak twelve hours apart.
    Diurnal {
        /// Arrivals per minute at the peak.
        peak_per_min: f64,
        /// Arrivals per minute at the trough.
        trough_per_min: f64,
        /// The time of day of the peak (virtual time 0 is midnight).
        #[serde(default = "default_peak_at", with = "humantime_serde")]
        peak_at: Duration,
    },
    /// One rate, then another from a given time on.
    Step {
        /// Arrivals per minute before `at`.
        before_per_min: f64,
        /// Arrivals per minute from `at` on.
        after_per_min: f64,
        /// When the rate changes.
        #[serde(with = "humantime_serde")]
        at: Duration,
    },
    /// A flash crowd: the rate jumps to a peak, holds, then decays
    /// exponentially back to the base.
    Spike {
        /// Arrivals per minute outside the spike.
        base_per_min: f64,
        /// Arrivals per minute at the spike's height.
        peak_per_min: f64,
        /// When the spike begins.
        #[serde(with = "humantime_serde")]
        at: Duration,
        /// How long the peak holds.
        #[serde(default = "default_hold", with = "humantime_serde")]
        hold: Duration,
        /// The decay's time constant after the hold ("0s": back to base at once).
        #[serde(default = "default_decay", with = "humantime_serde")]
        decay: Duration,
    },
    /// A linear change from one rate to another.
    Ramp {
        /// Arrivals per minute before the ramp.
        from_per_min: f64,
        /// Arrivals per minute after the ramp.
        to_per_min: f64,
        /// When the ramp begins.
        #[serde(default, with = "humantime_serde")]
        start: Duration,
        /// How long the ramp lasts.
        #[serde(with = "humantime_serde")]
        duration: Duration,
    },
    /// A repeated linear rise from low to high, then a drop back to low.
    Sawtooth {
        /// Arrivals per minute at the start of each period.
        low_per_min: f64,
        /// Arrivals per minute just before the end of each period.
        high_per_min: f64,
        /// The period.
        #[serde(with = "humantime_serde")]
        period: Duration,
    },
    /// Exact replay of recorded sessions: a CSV file with one session per
    /// line (see [`crate::sim`] for its format). Every session arrives at
    /// its start with its recorded length; nothing is drawn.
    Sessions {
        /// The sessions file. In a config file, a relative path is relative
        /// to the config file's folder.
        path: PathBuf,
    },
    /// Replay of a JSON-lines trace file (see [`crate::sim`] for its format).
    Trace {
        /// The trace file. In a config file, a relative path is relative to
        /// the config file's folder.
        path: PathBuf,
        /// Whether the trace starts over when it ends; otherwise the rate is 0 after it.
        #[serde(default)]
        repeat: bool,
    },
}

fn default_peak_at() -> Duration {
    Duration::from_secs(14 * 3600)
}

fn default_hold() -> Duration {
    Duration::from_secs(300)
}

fn default_decay() -> Duration {
    Duration::from_secs(600)
}

impl Default for Workload {
    fn default() -> Self {
        Workload::Steady { per_min: 2.0 }
    }
}

impl Workload {
    /// Checks every rate and period, without reading a trace file.
    pub fn validate(&self) -> Result<(), SimError> {
        let rates: Vec<(&str, f64)> = match self {
            Workload::Steady { per_min } => vec![("per_min", *per_min)],
            Workload::Diurnal {
                peak_per_min,
                trough_per_min,
                ..
            } => {
                if peak_per_min < trough_per_min {
                    return Err(SimError::config(
                        "workload.peak_per_min",
                        format!("the peak ({peak_per_min}) is below the trough ({trough_per_min})"),
                    ));
                }
                vec![
                    ("peak_per_min", *peak_per_min),
                    ("trough_per_min", *trough_per_min),
                ]
            }
            Workload::Step {
                before_per_min,
                after_per_min,
                ..
            } => {
                vec![
                    ("before_per_min", *before_per_min),
                    ("after_per_min", *after_per_min),
                ]
            }
            Workload::Spike {
                base_per_min,
                peak_per_min,
                ..
            } => {
                vec![
                    ("base_per_min", *base_per_min),
                    ("peak_per_min", *peak_per_min),
                ]
            }
            Workload::Ramp {
                from_per_min,
                to_per_min,
                ..
            } => {
                vec![("from_per_min", *from_per_min), ("to_per_min", *to_per_min)]
            }
            Workload::Sawtooth {
                low_per_min,
                high_per_min,
                period,
            } => {
                if period.as_secs() == 0 {
                    return Err(SimError::config(
                        "workload.period",
                        "expected at least \"1s\"",
                    ));
                }
                vec![
                    ("low_per_min", *low_per_min),
                    ("high_per_min", *high_per_min),
                ]
            }
            Workload::Trace { .. } | Workload::Sessions { .. } => vec![],
        };
        for (field, v) in rates {
            check_non_negative(&format!("workload.{field}"), v)?;
        }
        Ok(())
    }

    /// Validates the workload and reads its trace file, if it has one.
    pub fn load(&self) -> Result<WorkloadModel, SimError> {
        self.validate()?;
        let trace = match self {
            Workload::Trace { path, repeat } => Some(Trace::load(path, *repeat)?),
            _ => None,
        };
        let sessions = match self {
            Workload::Sessions { path } => Some(SessionTrace::load(path)?),
            _ => None,
        };
        Ok(WorkloadModel {
            spec: self.clone(),
            trace,
            sessions,
        })
    }
}

/// A loaded workload, ready to answer rates.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadModel {
    spec: Workload,
    trace: Option<Trace>,
    sessions: Option<SessionTrace>,
}

impl WorkloadModel {
    /// Session arrivals per minute at virtual time `t`.
    pub fn rate_per_min(&self, t: u64) -> f64 {
        let tf = t as f64;
        let rate = match &self.spec {
            Workload::Steady { per_min } => *per_min,
            Workload::Diurnal {
                peak_per_min,
                trough_per_min,
                peak_at,
            } => {
                let phase = (tf - peak_at.as_secs() as f64).rem_euclid(DAY) / DAY;
                trough_per_min + (peak_per_min - trough_per_min) * 0.5 * (1.0 + (TAU * phase).cos())
            }
            Workload::Step {
                before_per_min,
                after_per_min,
                at,
            } => {
                if t < at.as_secs() {
                    *before_per_min
                } else {
                    *after_per_min
                }
            }
            Workload::Spike {
                base_per_min,
                peak_per_min,
                at,
                hold,
                decay,
            } => {
                let (at, hold, decay) = (at.as_secs(), hold.as_secs(), decay.as_secs());
                if t < at {
                    *base_per_min
                } else if t < at + hold {
                    *peak_per_min
                } else if decay == 0 {
                    *base_per_min
                } else {
                    let x = (t - at - hold) as f64 / decay as f64;
                    base_per_min + (peak_per_min - base_per_min) * (-x).exp()
                }
            }
            Workload::Ramp {
                from_per_min,
                to_per_min,
                start,
                duration,
            } => {
                let (start, duration) = (start.as_secs(), duration.as_secs());
                if t < start {
                    *from_per_min
                } else if t >= start + duration {
                    *to_per_min
                } else {
                    let x = (t - start) as f64 / duration as f64;
                    from_per_min + (to_per_min - from_per_min) * x
                }
            }
            Workload::Sawtooth {
                low_per_min,
                high_per_min,
                period,
            } => {
                let p = period.as_secs().max(1);
                low_per_min + (high_per_min - low_per_min) * ((t % p) as f64 / p as f64)
            }
            Workload::Trace { .. } => self.trace.as_ref().map_or(0.0, |tr| tr.rate_per_min(t)),
            Workload::Sessions { .. } => self
                .sessions
                .as_ref()
                .map_or(0.0, |s| s.arrivals_in_minute(t) as f64),
        };
        rate.max(0.0)
    }

    /// The mean session length in seconds at `t`, when the workload sets one
    /// (only traces do); otherwise the service's `session_mean` applies.
    pub fn mean_session_secs(&self, t: u64) -> Option<f64> {
        self.trace.as_ref().and_then(|tr| tr.mean_session_secs(t))
    }

    /// The exact sessions, ordered by start, when the workload replays them.
    pub fn sessions(&self) -> Option<&[SessionArrival]> {
        self.sessions.as_ref().map(|s| &s.sessions()[..])
    }
}
