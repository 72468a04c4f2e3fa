//! `autoscaler sessions ...`: the session store (DynamoDB), as the host sees it.

use std::process::ExitCode;

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
        /// The DynamoDB table of sessions.
        #[arg(long, default_value = "autoscaler-sessions")]
        table: String,
        /// The AWS region (default: from the environment or profile).
        #[arg(long)]
        region: Option<String>,
        /// An endpoint to use instead of AWS's (default: AWS_ENDPOINT_URL if set).
        #[arg(long)]
        endpoint_url: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl SessionsCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let SessionsCommand::List {
            cluster,
            service,
            table,
            region,
            endpoint_url,
            json,
        } = self;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let cfg = AwsConfig {
                region,
                endpoint_url,
                sessions_table: table,
                ..AwsConfig::default()
            };
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
