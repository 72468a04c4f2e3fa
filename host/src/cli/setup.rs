//! `autoscaler setup`: create the DynamoDB tables a config names.

use std::process::ExitCode;

use anyhow::Context;
use autoscaler::config::{JournalConfig, ProviderConfig};
use autoscaler::daemon::setup::aws_config;
use autoscaler::providers::aws::AwsProvider;
use autoscaler::providers::aws::tables::{TableSpec, ensure_table};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use clap::Args;

/// Options of `autoscaler setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// The TOML config (a file or `s3://bucket/key.toml`) whose tables to
    /// create: `provider.sessions_table`, and `journal.table` when
    /// `[journal]` has `kind = "dynamodb"`, and `ha.table` with `[ha]`.
    #[arg(long, short, value_name = "FILE|s3://BUCKET/KEY")]
    config: String,
}

impl SetupArgs {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.run_async())
    }

    async fn run_async(self) -> anyhow::Result<ExitCode> {
        let cfg = super::load_config(&self.config).await?;
        let ProviderConfig::Aws { sessions_table, .. } = &cfg.provider else {
            anyhow::bail!(
                "{}: setup creates the DynamoDB tables of a provider.kind = \"aws\" config; this one uses the simulated cluster, which needs none",
                self.config
            );
        };
        let mut specs = vec![TableSpec::sessions(sessions_table)];
        if let JournalConfig::Dynamodb { table } = &cfg.journal {
            specs.push(TableSpec::journal(table));
        }
        if let Some(ha) = &cfg.ha {
            specs.push(TableSpec::leases(&ha.table));
        }
        let aws = aws_config(&cfg).expect("an aws config gives AWS settings");
        let sdk = AwsProvider::load_sdk_config(&aws).await?;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(aws.max_attempts.max(1)))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(aws.attempt_timeout)
                    .operation_timeout(aws.operation_timeout)
                    .build(),
            )
            .build();
        let client = aws_sdk_dynamodb::Client::from_conf(conf);
        for spec in &specs {
            let outcome = ensure_table(&client, spec)
                .await
                .with_context(|| format!("setting up the {} table", spec.role))?;
            println!("{outcome}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
