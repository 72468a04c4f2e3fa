//! Workloads: how the session arrival rate (and optionally the mean session
//! length) varies over virtual time. Times are seconds since the simulation
//! started; virtual time 0 is midnight for the diurnal shape.

use std::f64::consts::TAU;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::check_non_negative;
use super::error::SimError;
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
    /// Replay of a JSON-lines trace file (see [`crate::sim`] for its format).
    Trace {
        /// The trace file, as given (relative paths are relative to the
        /// process's working directory).
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
            Workload::Trace { .. } => vec![],
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
        Ok(WorkloadModel {
            spec: self.clone(),
            trace,
        })
    }
}

/// A loaded workload, ready to answer rates.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadModel {
    spec: Workload,
    trace: Option<Trace>,
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
        };
        rate.max(0.0)
    }

    /// The mean session length in seconds at `t`, when the workload sets one
    /// (only traces do); otherwise the service's `session_mean` applies.
    pub fn mean_session_secs(&self, t: u64) -> Option<f64> {
        self.trace.as_ref().and_then(|tr| tr.mean_session_secs(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(w: Workload, t: u64) -> f64 {
        w.load().expect("loads").rate_per_min(t)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    const H: u64 = 3600;

    #[test]
    fn steady_and_step() {
        assert!(close(rate(Workload::Steady { per_min: 7.5 }, 123_456), 7.5));
        let step = Workload::Step {
            before_per_min: 2.0,
            after_per_min: 9.0,
            at: Duration::from_secs(600),
        };
        assert!(close(rate(step.clone(), 599), 2.0));
        assert!(close(rate(step.clone(), 600), 9.0));
        assert!(close(rate(step, 10 * H), 9.0));
    }

    #[test]
    fn diurnal_peaks_at_peak_at_and_troughs_twelve_hours_later() {
        let w = Workload::Diurnal {
            peak_per_min: 40.0,
            trough_per_min: 4.0,
            peak_at: Duration::from_secs(14 * H),
        };
        assert!(close(rate(w.clone(), 14 * H), 40.0));
        assert!(close(rate(w.clone(), 2 * H), 4.0));
        assert!(
            close(rate(w.clone(), 8 * H), 22.0),
            "halfway between, six hours off the peak"
        );
        assert!(
            close(rate(w.clone(), 14 * H + 86_400 * 3), 40.0),
            "repeats daily"
        );
        let before = rate(w.clone(), 13 * H);
        let after = rate(w, 15 * H);
        assert!(close(before, after) && before < 40.0 && before > 22.0);
    }

    #[test]
    fn spike_jumps_holds_and_decays() {
        let w = Workload::Spike {
            base_per_min: 5.0,
            peak_per_min: 105.0,
            at: Duration::from_secs(H),
            hold: Duration::from_secs(600),
            decay: Duration::from_secs(600),
        };
        assert!(close(rate(w.clone(), H - 1), 5.0));
        assert!(close(rate(w.clone(), H), 105.0));
        assert!(close(rate(w.clone(), H + 599), 105.0));
        assert!(close(rate(w.clone(), H + 600), 105.0));
        assert!(close(
            rate(w.clone(), H + 1200),
            5.0 + 100.0 * (-1.0f64).exp()
        ));
        assert!(rate(w, H + 100 * 600) < 5.0 + 1e-9);
    }

    #[test]
    fn ramp_is_linear_between_its_ends() {
        let w = Workload::Ramp {
            from_per_min: 10.0,
            to_per_min: 30.0,
            start: Duration::from_secs(H),
            duration: Duration::from_secs(2 * H),
        };
        assert!(close(rate(w.clone(), 0), 10.0));
        assert!(close(rate(w.clone(), 2 * H), 20.0));
        assert!(close(rate(w.clone(), 3 * H), 30.0));
        assert!(close(rate(w, 9 * H), 30.0));
    }

    #[test]
    fn sawtooth_rises_and_drops_each_period() {
        let w = Workload::Sawtooth {
            low_per_min: 0.0,
            high_per_min: 60.0,
            period: Duration::from_secs(H),
        };
        assert!(close(rate(w.clone(), 0), 0.0));
        assert!(close(rate(w.clone(), H / 2), 30.0));
        assert!(close(rate(w.clone(), H - 60), 59.0));
        assert!(close(rate(w.clone(), H), 0.0));
        assert!(close(rate(w, 5 * H + H / 4), 15.0));
    }

    #[test]
    fn invalid_shapes_are_refused_with_their_field() {
        let err = Workload::Diurnal {
            peak_per_min: 1.0,
            trough_per_min: 2.0,
            peak_at: Duration::ZERO,
        }
        .load()
        .expect_err("peak below trough")
        .to_string();
        assert!(err.contains("`workload.peak_per_min`"), "{err}");
        let err = Workload::Sawtooth {
            low_per_min: 1.0,
            high_per_min: 2.0,
            period: Duration::ZERO,
        }
        .load()
        .expect_err("zero period")
        .to_string();
        assert!(err.contains("`workload.period`"), "{err}");
        let err = Workload::Spike {
            base_per_min: 1.0,
            peak_per_min: f64::INFINITY,
            at: Duration::ZERO,
            hold: Duration::ZERO,
            decay: Duration::ZERO,
        }
        .load()
        .expect_err("infinite")
        .to_string();
        assert!(err.contains("`workload.peak_per_min`"), "{err}");
    }
}
