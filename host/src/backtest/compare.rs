//! Several policies on the identical scenario and seed: each run has its own
//! simulated world built from the same config, so the same sessions arrive
//! at the same moments with the same lengths (the sim draws arrivals and
//! lengths from streams no policy action touches). That is checked, not
//! assumed: every run digests its arrivals, and a comparison whose digests
//! differ is refused.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde::Serialize;

use super::BacktestError;
use super::figures::{Figures, Timing};
use super::oracle::OracleFigures;
use super::packing::PackingFigures;
use super::run::{self, REFERENCE_LABEL, RunOutput, RunSpec};
use super::scenario::{Pricing, Scenario};
use crate::runtime::PolicyEngine;

/// A policy to run.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyChoice {
    /// A policy component file.
    File(PathBuf),
    /// The session-unaware reference: this component (the target-tracking
    /// policy) with `session_unaware_reference` set, so scale-in lowers the
    /// desired count and ECS picks the victims, as AWS's own autoscaling does.
    Reference(PathBuf),
}

/// Options of a comparison.
#[derive(Debug, Clone)]
pub struct Options {
    /// The CPU target of the "minutes over target" and reaction figures, in percent.
    pub cpu_target: f64,
    /// Runs at once (threads); 0 means one per core.
    pub parallel: usize,
    /// Write each run's decision records to this file (one run only).
    pub records: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cpu_target: 75.0,
            parallel: 0,
            records: None,
        }
    }
}

/// Progress reporting for a comparison: one bar (or nothing) per run.
pub trait Progress: Sync {
    /// Run `index` (labelled `label`) is about to start.
    fn start(&self, index: usize, label: &str);
    /// Run `index` has simulated `done` seconds.
    fn advance(&self, index: usize, done: u64);
    /// Run `index` finished.
    fn finish(&self, index: usize);
}

/// No progress reporting.
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: usize, _: &str) {}
    fn advance(&self, _: usize, _: u64) {}
    fn finish(&self, _: usize) {}
}

/// A finished comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The scenario, with overrides applied.
    pub scenario: Scenario,
    /// The CPU target used.
    pub cpu_target: f64,
    /// The oracle (the same for every run).
    pub oracle: OracleFigures,
    /// The packing reference (the same for every run).
    pub packing: PackingFigures,
    /// The online packing reference (the same for every run).
    pub online_packing: PackingFigures,
    /// The runs, in the order given.
    pub runs: Vec<RunOutput>,
}

/// Runs every policy on `scenario`. Policies load first, so a bad file fails
/// before any run starts; runs then go in parallel.
pub fn compare(
    scenario: &Scenario,
    choices: &[PolicyChoice],
    engine: &PolicyEngine,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Comparison, BacktestError> {
    let specs = load(choices, engine, options)?;
    let threads = match options.parallel {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, specs.len().max(1));
    let results: Vec<Mutex<Option<Result<RunOutput, BacktestError>>>> =
        specs.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let worker = || {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(spec) = specs.get(i) else { break };
            progress.start(i, &spec.label);
            let out = run::run(scenario, spec, engine, options.cpu_target, &|done| {
                progress.advance(i, done)
            });
            progress.finish(i);
            let failed = out.is_err();
            *results[i].lock() = Some(out);
            if failed {
                // Stop handing out runs: the comparison has failed.
                next.store(specs.len(), Ordering::Relaxed);
            }
        }
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(worker)).collect();
        for h in handles {
            if let Err(panic) = h.join() {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(BacktestError::Panicked(message));
            }
        }
        Ok(())
    })?;
    let mut runs = Vec::with_capacity(specs.len());
    for slot in results {
        match slot.into_inner() {
            Some(Ok(r)) => runs.push(r),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    check_same_arrivals(&runs)?;
    let first = runs.first().expect("at least one policy to run");
    let (oracle, packing, online_packing) = (first.oracle, first.packing, first.online_packing);
    Ok(Comparison {
        scenario: scenario.clone(),
        cpu_target: options.cpu_target,
        oracle,
        packing,
        online_packing,
        runs,
    })
}

/// Loads every component and labels the runs: the policy's name, with the
/// file's name added when two runs would share one.
fn load(
    choices: &[PolicyChoice],
    engine: &PolicyEngine,
    options: &Options,
) -> Result<Vec<RunSpec>, BacktestError> {
    let mut specs = Vec::with_capacity(choices.len());
    for choice in choices {
        let (path, reference) = match choice {
            PolicyChoice::File(p) => (p, false),
            PolicyChoice::Reference(p) => (p, true),
        };
        if !path.is_file() {
            return Err(BacktestError::Io {
                what: if reference {
                    "cannot find the reference policy component (build the workspace, or pass --reference-policy)"
                } else {
                    "cannot find the policy component (check the path, or build the policy first)"
                },
                path: path.clone(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let component = engine
            .load_file(path)
            .map_err(|source| BacktestError::Policy {
                path: path.clone(),
                source,
            })?;
        let label = if reference {
            REFERENCE_LABEL.to_string()
        } else {
            component.name.clone()
        };
        specs.push(RunSpec {
            label,
            component,
            reference,
            records: options.records.clone(),
        });
    }
    for i in 0..specs.len() {
        let clash = specs
            .iter()
            .enumerate()
            .any(|(j, s)| j != i && s.label == specs[i].label);
        if clash && let PolicyChoice::File(p) = &choices[i] {
            let file = p.file_name().unwrap_or_default().to_string_lossy();
            specs[i].label = format!("{} ({file}, #{})", specs[i].label, i + 1);
        }
    }
    Ok(specs)
}

/// Refuses a comparison whose runs faced different arrivals.
fn check_same_arrivals(runs: &[RunOutput]) -> Result<(), BacktestError> {
    let Some(first) = runs.first() else {
        return Ok(());
    };
    for r in &runs[1..] {
        if r.figures.arrivals_digest != first.figures.arrivals_digest
            || r.figures.sessions.arrived != first.figures.sessions.arrived
        {
            return Err(BacktestError::ArrivalsDiffer {
                a: first.label.clone(),
                b: r.label.clone(),
                digest_a: first.figures.arrivals_digest.clone(),
                digest_b: r.figures.arrivals_digest.clone(),
            });
        }
    }
    Ok(())
}

/// The scenario as the JSON output describes it.
#[derive(Debug, Serialize)]
struct ScenarioJson<'a> {
    name: &'a str,
    description: &'a str,
    seed: u64,
    duration_s: u64,
    interval_s: u64,
    session_capacity: u32,
    guard_min: u32,
    guard_max: u32,
    load_balancer: crate::sim::SimLoadBalancer,
    connection_termination: bool,
    routing: crate::sim::SimRouting,
}

#[derive(Debug, Serialize)]
struct RunJson<'a> {
    label: &'a str,
    policy: &'a str,
    version: &'a str,
    sha256: &'a str,
    session_unaware_reference: bool,
    figures: &'a Figures,
    #[serde(skip_serializing_if = "Option::is_none")]
    timing: Option<&'a Timing>,
}

#[derive(Debug, Serialize)]
struct ComparisonJson<'a> {
    scenario: ScenarioJson<'a>,
    pricing: &'a Pricing,
    task_hour_usd: f64,
    cpu_target: f64,
    oracle: &'a OracleFigures,
    packing_reference: &'a PackingFigures,
    online_packing_reference: &'a PackingFigures,
    runs: Vec<RunJson<'a>>,
}

impl Comparison {
    /// The results as pretty JSON; without `timing`, the wall-clock figures
    /// are left out and the same seed gives byte-identical output.
    pub fn to_json(&self, timing: bool) -> String {
        let s = &self.scenario;
        let doc = ComparisonJson {
            scenario: ScenarioJson {
                name: &s.name,
                description: &s.description,
                seed: s.world.seed,
                duration_s: s.duration.as_secs(),
                interval_s: s.interval.as_secs(),
                session_capacity: s.sim.session_capacity,
                guard_min: s.guard.min,
                guard_max: s.guard.max,
                load_balancer: s.sim.load_balancer,
                connection_termination: s.sim.connection_termination,
                routing: s.sim.routing,
            },
            pricing: &s.cost,
            task_hour_usd: super::figures::round(s.cost.task_hour_usd(), 6),
            cpu_target: self.cpu_target,
            oracle: &self.oracle,
            packing_reference: &self.packing,
            online_packing_reference: &self.online_packing,
            runs: self
                .runs
                .iter()
                .map(|r| RunJson {
                    label: &r.label,
                    policy: &r.policy.name,
                    version: &r.policy.version,
                    sha256: &r.policy.sha256,
                    session_unaware_reference: r.reference,
                    figures: &r.figures,
                    timing: timing.then_some(&r.timing),
                })
                .collect(),
        };
        serde_json::to_string_pretty(&doc).expect("the results always serialize")
    }
}
