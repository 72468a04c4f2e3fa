//! `autoscaler sessions ...`: the session store (DynamoDB), as the host sees it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use autoscaler::config::ProviderConfig;
use autoscaler::daemon::setup;

use autoscaler::providers::aws::{AwsConfig, AwsProvider};
use autoscaler::providers::{Clock, SystemClock};
use autoscaler::sessions::list::{format_table, list_by_task};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// List a service's active sessions per task (and expired ones the host ignores).
    List {
        /// The ECS cluster.
        #[arg(long)]
        cluster: String,
        /// The ECS service.
        #[arg(long)]
        service: String,
        /// The daemon's config: the table, region and endpoint come from its
        /// `[provider]` (kind = "aws"); the flags below override it.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The DynamoDB table of sessions [default: the config's
        /// `provider.sessions_table`, else autoscaler-sessions].
        #[arg(long)]
        table: Option<String>,
        /// The AWS region [default: the config's `provider.region`, else from
        /// the environment or profile].
        #[arg(long)]
        region: Option<String>,
        /// An endpoint to use instead of AWS's [default: the config's
        /// `provider.endpoint_url`, else AWS_ENDPOINT_URL if set].
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The AWS settings: the flags over the config's `[provider]` over the defaults.
fn settings(
    config: Option<&Path>,
    table: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
) -> anyhow::Result<AwsConfig> {
    let mut cfg = AwsConfig::default();
    if let Some(path) = config {
        // Only `[provider]` is read: the services' policy files need not be
        // on the machine that lists sessions.
        #[derive(serde::Deserialize)]
        struct ProviderOnly {
            provider: ProviderConfig,
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let loaded: ProviderOnly =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        cfg = setup::aws_settings(&loaded.provider).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: `provider.kind` is \"sim\"; the session store needs a config with provider.kind = \"aws\" (or leave out --config and give --table, --region and --endpoint-url)",
                path.display()
            )
        })?;
    }
    if let Some(t) = table {
        cfg.sessions_table = t;
    }
    if region.is_some() {
        cfg.region = region;
    }
    if endpoint_url.is_some() {
        cfg.endpoint_url = endpoint_url;
    }
    Ok(cfg)
}

impl SessionsCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let SessionsCommand::List {
            cluster,
            service,
            config,
            table,
            region,
            endpoint_url,
            json,
        } = self;
        let cfg = settings(config.as_deref(), table, region, endpoint_url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let provider = AwsProvider::from_env(cfg).await?;
            let now = SystemClock.now();
            let tasks = list_by_task(provider.session_store(), &cluster, &service, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tasks)?);
            } else {
                print!("{}", format_table(&tasks, now));
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
