//! Backtesting and A/B comparison of policies on the simulated cluster.
//!
//! A backtest runs a [`Scenario`] (a complete simulated service: workload,
//! session lengths, capacity, guardrails, drain timing, policy parameters and
//! a duration) through the **real daemon**: [`crate::daemon::Daemon::step`]
//! ticks the [`crate::tick::Service`] (gather, decide, guard, execute,
//! record) and advances its drain workflows against the
//! [`crate::providers::sim::SimProvider`], on virtual time, as fast as the
//! machine allows. Nothing is shortcut: the policy is the component, the
//! guard and the drain workflow are the daemon's.
//!
//! | module | what |
//! |---|---|
//! | [`scenario`] | built-in scenarios, scenario TOML files and bare traces |
//! | [`run`] | one policy on one scenario: drives the daemon, samples the sim each minute |
//! | [`oracle`] | the offline lower bound on task-hours |
//! | [`packing`] | the packing reference: clairvoyant placement without migration |
//! | [`figures`] | the figures of a run, and their definitions |
//! | [`compare`] | several policies on the identical scenario and seed, in parallel |
//! | [`table`] | the side-by-side text table |
//! | [`report`] | the self-contained HTML report with SVG charts |
//! | [`record`] | recording live traffic as a replayable trace |
//!
//! Same seed, same scenario, same policy: same figures, byte for byte (the
//! sim is seeded, policies are pure, fuel is deterministic); only the
//! wall-clock figures (policy call time, run time) vary.

pub mod compare;
pub mod figures;
pub mod oracle;
pub mod packing;
pub mod record;
pub mod report;
pub mod run;
mod sampler;
pub mod scenario;
pub mod series;
pub mod table;

use std::path::PathBuf;

pub use compare::{Comparison, PolicyChoice, compare};
pub use figures::{Figures, Timing};
pub use run::{RunOutput, RunSpec};
pub use scenario::{Pricing, Scenario};

/// Why a backtest could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The scenario argument is neither a built-in name nor an existing file.
    #[error(
        "unknown scenario `{name}`: it is not a built-in scenario ({known}; see `autoscaler scenarios`) and no file by that name exists"
    )]
    UnknownScenario {
        /// What was asked for.
        name: String,
        /// The built-in names, comma-separated.
        known: String,
    },
    /// A scenario file could not be read or parsed.
    #[error("scenario file {}: {message}", path.display())]
    ScenarioFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line and field when known.
        message: String,
    },
    /// A scenario value is out of range.
    #[error("scenario {scenario}: field `{field}`: {message}")]
    ScenarioField {
        /// The scenario's name or file.
        scenario: String,
        /// The field, as a dotted path.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A policy component could not be loaded.
    #[error("policy {}: {source}", path.display())]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why (the message names the file too).
        source: crate::runtime::LoadError,
    },
    /// The simulated cluster refused the scenario (a bad trace line, a bad value).
    #[error("scenario {scenario}: {source}")]
    Sim {
        /// The scenario's name.
        scenario: String,
        /// What the sim said (it names the trace file, line and field).
        source: crate::sim::SimError,
    },
    /// The drain journal or the record sink failed.
    #[error("the daemon stopped: {0}")]
    Daemon(#[from] crate::daemon::DaemonError),
    /// The runs of a comparison did not face the same arrivals: the sim lost
    /// its determinism, and the comparison would be meaningless.
    #[error(
        "runs {a} and {b} saw different session arrivals (digests {digest_a} and {digest_b}); the simulation is not deterministic, so this comparison is void. Please report it as a bug"
    )]
    ArrivalsDiffer {
        /// One run's label.
        a: String,
        /// The other run's label.
        b: String,
        /// The first run's arrivals digest.
        digest_a: String,
        /// The other run's arrivals digest.
        digest_b: String,
    },
    /// A chart could not be drawn.
    #[error("cannot draw chart `{chart}`: {message}")]
    Chart {
        /// The chart's title.
        chart: String,
        /// What plotters said.
        message: String,
    },
    /// A file could not be written or read.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What the file is for ("cannot write the report").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A backtest thread panicked (a bug); its message.
    #[error("a backtest run failed unexpectedly: {0}")]
    Panicked(String),
}

/// Rounds to `places` decimals, so JSON stays readable.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `a / b` rounded to four places, or 0 when `b` is 0 (a figure over a
/// reference that has none).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { round(a / b, 4) } else { 0.0 }
}
