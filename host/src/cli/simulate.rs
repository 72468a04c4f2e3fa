//! `autoscaler simulate` and `autoscaler scenarios`: one policy on a
//! scenario, and the list of built-in scenarios. The options shared with
//! `compare` live here too.

use parking_lot::Mutex;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use autoscaler::backtest::compare::{self, Comparison, Options, PolicyChoice, Progress};
use autoscaler::backtest::scenario::PricingOverrides;
use autoscaler::backtest::scenario::builtin;
use autoscaler::backtest::{Scenario, report, table};
use autoscaler::runtime::Limits;
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::EngineArgs;

/// The wall-clock deadline of a policy call in a backtest (`--timeout` changes it).
pub const BACKTEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The scenario, seed, figures and output options of `simulate` and `compare`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The seed of the simulation [default: the scenario's; 1 for built-ins].
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Simulated time to cover, such as "2d" or "12h" [default: the scenario's].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// CPU target in percent, for "minutes CPU over target" and reaction times.
    #[arg(long, value_name = "PERCENT", default_value_t = 75.0)]
    cpu_target: f64,
    /// Fargate price per vCPU-hour in USD [default: the scenario's; 0.04048].
    #[arg(long, value_name = "USD")]
    vcpu_hour_price: Option<f64>,
    /// Fargate price per GB-hour in USD [default: the scenario's; 0.004445].
    #[arg(long, value_name = "USD")]
    gb_hour_price: Option<f64>,
    /// vCPUs per task [default: the scenario's; 1].
    #[arg(long, value_name = "VCPU")]
    task_vcpu: Option<f64>,
    /// GB of memory per task [default: the scenario's; 2].
    #[arg(long, value_name = "GB")]
    task_memory_gb: Option<f64>,
    /// Write a self-contained HTML report with charts to this file.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Print the results as JSON instead of a table (no progress bar).
    #[arg(long)]
    json: bool,
    /// Leave out the wall-clock figures (policy call time, run time), so the
    /// same seed gives byte-identical output.
    #[arg(long)]
    no_timing: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

impl BacktestArgs {
    /// The scenario named by `arg`, with this command line's overrides.
    pub fn scenario(&self, arg: &str) -> anyhow::Result<Scenario> {
        if !(self.cpu_target.is_finite() && (0.0..=100.0).contains(&self.cpu_target)) {
            anyhow::bail!(
                "--cpu-target must be a percentage within 0..=100, found {}",
                self.cpu_target
            );
        }
        let pricing = PricingOverrides {
            vcpu_hour: self.vcpu_hour_price,
            gb_hour: self.gb_hour_price,
            task_vcpu: self.task_vcpu,
            task_memory_gb: self.task_memory_gb,
        };
        Ok(Scenario::resolve(arg)?.with_overrides(self.seed, self.duration, &pricing)?)
    }

    /// Runs `choices` on `scenario` and prints (and writes) the results.
    pub fn run(
        &self,
        scenario: &Scenario,
        choices: &[PolicyChoice],
        mut options: Options,
    ) -> anyhow::Result<ExitCode> {
        options.cpu_target = self.cpu_target;
        // Fuel bounds every call deterministically; the wall-clock deadline is
        // only a backstop here, so a busy machine cannot change the results.
        let limits = Limits {
            timeout: BACKTEST_TIMEOUT,
            ..Limits::default()
        };
        let engine = self.engine.engine(limits)?;
        let show = !self.json && std::io::stdout().is_terminal();
        let progress = TermProgress::new(show, scenario.duration.as_secs(), choices.len());
        let result = compare::compare(scenario, choices, &engine, &options, &progress);
        progress.clear();
        let c = result?;
        self.print(&c)?;
        Ok(ExitCode::SUCCESS)
    }

    fn print(&self, c: &Comparison) -> anyhow::Result<()> {
        if let Some(path) = &self.report {
            report::write(c, path)?;
        }
        if self.json {
            println!("{}", c.to_json(!self.no_timing));
        } else {
            print!("{}", table::render(c, !self.no_timing));
            if let Some(path) = &self.report {
                println!("\nReport written to {}.", path.display());
            }
        }
        Ok(())
    }
}

/// Options of `autoscaler simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The policy component (.wasm).
    #[arg(
        long,
        short,
        value_name = "FILE.wasm",
        required_unless_present = "list_scenarios"
    )]
    policy: Option<PathBuf>,
    /// The scenario: a built-in name (see --list-scenarios), a scenario TOML
    /// file, a JSON-lines rate trace, or a CSV file of exact sessions.
    #[arg(
        long,
        short,
        value_name = "NAME|FILE",
        required_unless_present = "list_scenarios"
    )]
    scenario: Option<String>,
    /// List the built-in scenarios and exit.
    #[arg(long)]
    list_scenarios: bool,
    /// Also write every decision record to this JSON-lines file (replacing its contents).
    #[arg(long, value_name = "FILE.jsonl")]
    records: Option<PathBuf>,
    #[command(flatten)]
    common: BacktestArgs,
}

impl SimulateArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        if self.list_scenarios {
            return list_scenarios();
        }
        let (Some(policy), Some(scenario)) = (&self.policy, &self.scenario) else {
            anyhow::bail!("give --policy and --scenario, or --list-scenarios");
        };
        let scenario = self.common.scenario(scenario)?;
        let options = Options {
            records: self.records.clone(),
            ..Options::default()
        };
        self.common
            .run(&scenario, &[PolicyChoice::File(policy.clone())], options)
    }
}

/// Prints the built-in scenarios, one a line.
pub fn list_scenarios() -> anyhow::Result<ExitCode> {
    let all = builtin::all().context("cannot build the built-in scenarios")?;
    let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in all {
        println!("{:width$}  {}", s.name, s.description);
    }
    println!(
        "\nOr give a scenario TOML file or a JSON-lines trace file (see docs/backtesting.md)."
    );
    Ok(ExitCode::SUCCESS)
}

/// Progress bars on standard error: one per run, shown only once the runs
/// have taken about a second, and never when `show` is false.
pub struct TermProgress {
    multi: MultiProgress,
    bars: Mutex<Vec<Option<ProgressBar>>>,
    total: u64,
    started: Instant,
    visible: AtomicBool,
    show: bool,
}

impl TermProgress {
    /// Bars for `runs` runs of `total` simulated seconds.
    pub fn new(show: bool, total: u64, runs: usize) -> TermProgress {
        TermProgress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: Mutex::new(vec![None; runs]),
            total,
            started: Instant::now(),
            visible: AtomicBool::new(false),
            show,
        }
    }

    /// Removes the bars.
    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

impl Progress for TermProgress {
    fn start(&self, index: usize, label: &str) {
        if !self.show {
            return;
        }
        let bar = self.multi.add(ProgressBar::new(self.total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:30!} [{bar:40}] {percent:>3}% simulated, {elapsed} ({eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        if let Some(slot) = self.bars.lock().get_mut(index) {
            *slot = Some(bar);
        }
    }

    fn advance(&self, index: usize, done: u64) {
        if !self.show {
            return;
        }
        if !self.visible.load(Ordering::Relaxed) && self.started.elapsed() > Duration::from_secs(1)
        {
            self.visible.store(true, Ordering::Relaxed);
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
        }
        if let Some(Some(bar)) = self.bars.lock().get(index) {
            bar.set_position(done);
        }
    }

    fn finish(&self, index: usize) {
        if let Some(Some(bar)) = self.bars.lock().get(index) {
            bar.set_position(self.total);
        }
    }
}
