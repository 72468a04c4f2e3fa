//! `autoscaler compare`: several policies on the identical scenario and seed,
//! side by side, optionally with the session-unaware AWS-style reference.

use std::path::PathBuf;
use std::process::ExitCode;

use autoscaler::backtest::compare::{Options, PolicyChoice};
use clap::Args;

use super::simulate::BacktestArgs;

/// Options of `autoscaler compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The scenario: a built-in name (see `autoscaler scenarios`), a scenario
    /// TOML file, a JSON-lines rate trace, or a CSV file of exact sessions.
    #[arg(long, short, value_name = "NAME|FILE")]
    scenario: String,
    /// The policy components (.wasm) to compare.
    #[arg(value_name = "POLICY.wasm", num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Also run the AWS-style session-unaware reference: the target-tracking
    /// policy whose scale-in lowers the desired count and lets ECS pick
    /// which tasks stop, sessions or not.
    #[arg(long)]
    reference: bool,
    /// The component the reference runs [default: the target-tracking
    /// policy built with this host].
    #[arg(long, value_name = "FILE.wasm", requires = "reference")]
    reference_policy: Option<PathBuf>,
    /// Runs at once; 0 means one per core [default: one per core].
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    parallel: usize,
    #[command(flatten)]
    common: BacktestArgs,
}

impl CompareArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut choices: Vec<PolicyChoice> = self
            .policies
            .iter()
            .cloned()
            .map(PolicyChoice::File)
            .collect();
        if self.reference {
            let path = self
                .reference_policy
                .clone()
                .unwrap_or_else(|| PathBuf::from(autoscaler::artifacts::TARGET_TRACKING));
            choices.push(PolicyChoice::Reference(path));
        }
        if choices.len() < 2 {
            anyhow::bail!(
                "compare needs at least two runs: give another policy file, or add --reference for the AWS-style session-unaware reference (or use `autoscaler simulate` for one policy)"
            );
        }
        let scenario = self.common.scenario(&self.scenario)?;
        let options = Options {
            parallel: self.parallel,
            ..Options::default()
        };
        self.common.run(&scenario, &choices, options)
    }
}
