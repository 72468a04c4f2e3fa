//! Command-line parsing and dispatch. Each subcommand lives in its own module.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

mod compare;
mod leases;
mod policy;
mod record;
mod run;
mod scaffold;
mod sessions;
mod setup;
mod simulate;

/// Autoscale ECS Fargate services with policies written as WebAssembly
/// components, without ever stopping a task that carries a live session.
#[derive(Debug, Parser)]
#[command(name = "autoscaler", version, propagate_version = true)]
pub struct Cli {
    /// Log more (repeat for more detail); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log only warnings and errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Autoscale the configured services (the built-in simulated cluster, or AWS).
    Run(run::RunArgs),
    /// Check, evaluate and test policy components.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Backtest one policy on a scenario, on virtual time, and print its figures.
    Simulate(simulate::SimulateArgs),
    /// Run several policies on the identical scenario and seed, side by side.
    Compare(compare::CompareArgs),
    /// List the built-in backtest scenarios.
    Scenarios,
    /// Run the daemon and record one service's live sessions as a replayable trace.
    Record(record::RecordArgs),
    /// Inspect the session store.
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),
    /// Create the DynamoDB tables a config names (sessions, and the drain
    /// journal with `journal.kind = "dynamodb"`), with their keys and TTL.
    ///
    /// Idempotent: prints what it created and what was already there. A
    /// table that exists with other keys is an error and is left alone.
    Setup(setup::SetupArgs),
    /// The `[ha]` lease table: which host holds each service.
    #[command(subcommand)]
    Leases(leases::LeasesCommand),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Run(args) => args.run(),
            Command::Policy(cmd) => cmd.run(),
            Command::Simulate(args) => args.run(),
            Command::Compare(args) => args.run(),
            Command::Scenarios => simulate::list_scenarios(),
            Command::Record(args) => args.run(),
            Command::Sessions(cmd) => cmd.run(),
            Command::Setup(args) => args.run(),
            Command::Leases(cmd) => cmd.run(),
        }
    }
}

/// Reads the config named by `arg`: a file, or an S3 object
/// (`s3://bucket/key`, through the default AWS chain and `AWS_ENDPOINT_URL`,
/// at most [`CONFIG_MAX_BYTES`](autoscaler::remote::s3::CONFIG_MAX_BYTES)).
pub async fn load_config(arg: &str) -> anyhow::Result<autoscaler::config::Config> {
    use autoscaler::remote::S3Url;
    use autoscaler::remote::s3::{CONFIG_MAX_BYTES, Fetched, S3Store};
    let Some(url) = S3Url::parse(arg) else {
        return Ok(autoscaler::config::Config::load(std::path::Path::new(arg))?);
    };
    let url = url.map_err(|e| anyhow::anyhow!("--config: {e}"))?;
    let store = S3Store::connect(&Default::default()).await?;
    let object = match store
        .get(
            &url,
            CONFIG_MAX_BYTES,
            "; a config may be at most 1 MiB",
            None,
        )
        .await
        .with_context(|| format!("cannot read the config {url}"))?
    {
        Fetched::Changed(object) => object,
        Fetched::Unchanged => {
            anyhow::bail!("S3 answered 304 Not Modified to an unconditional read of {url}")
        }
    };
    let text = String::from_utf8(object.bytes)
        .map_err(|_| anyhow::anyhow!("the config {url} is not UTF-8 text"))?;
    tracing::info!(config = %url, etag = ?object.etag, "Read the config from S3.");
    Ok(autoscaler::config::Config::parse_remote(&text, &url)?)
}

/// Options shared by every command that loads policies.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Where compiled components are cached [default: $AUTOSCALER_CACHE_DIR, $XDG_CACHE_HOME/autoscaler or ~/.cache/autoscaler].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every component afresh and cache nothing.
    #[arg(long)]
    pub no_cache: bool,
    /// Fuel per policy call (about one unit per WebAssembly instruction).
    #[arg(long, value_name = "UNITS")]
    pub fuel: Option<u64>,
    /// Wall-time limit per policy call, such as "50ms".
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Memory cap per policy instance, in MiB.
    #[arg(long, value_name = "MIB")]
    pub memory_mib: Option<usize>,
}

impl EngineArgs {
    /// The engine these options describe, starting from `limits`.
    pub fn engine(
        &self,
        mut limits: autoscaler::runtime::Limits,
    ) -> anyhow::Result<autoscaler::runtime::PolicyEngine> {
        if let Some(f) = self.fuel {
            limits.fuel = f;
        }
        if let Some(t) = self.timeout {
            limits.timeout = t;
        }
        if let Some(m) = self.memory_mib {
            limits.memory_bytes = m << 20;
        }
        let cache = if self.no_cache {
            None
        } else {
            self.cache_dir
                .clone()
                .or_else(autoscaler::runtime::PolicyEngine::default_cache_dir)
        };
        Ok(autoscaler::runtime::PolicyEngine::new(limits, cache)?)
    }
}

/// Sets up logging to standard error.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // Colour codes only for a person at a terminal: log collectors
        // (CloudWatch, journald) would store them as text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
