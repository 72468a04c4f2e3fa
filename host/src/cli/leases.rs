//! `autoscaler leases list`: who holds each service's lease, and the live hosts.

use std::process::ExitCode;

use autoscaler::daemon::setup::{self, service_ref};
use autoscaler::ha::table::{LeaseTable, wall_ms};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LeasesCommand {
    /// List every configured service's lease (holder, fencing token, time
    /// left) and the hosts whose heartbeat is live, from the `[ha]` table.
    List {
        /// The daemon's config (a file or `s3://bucket/key.toml`): its `[ha]`
        /// table, services and `[provider]` region and endpoint.
        #[arg(long, short, value_name = "FILE|s3://BUCKET/KEY")]
        config: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

impl LeasesCommand {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let LeasesCommand::List { config, json } = self;
        runtime.block_on(async move {
            let cfg = super::load_config(&config).await?;
            let Some(ha) = &cfg.ha else {
                anyhow::bail!(
                    "{config}: the config has no [ha] table, so there are no leases to list"
                );
            };
            let aws = setup::aws_config(&cfg)
                .ok_or_else(|| anyhow::anyhow!("{config}: [ha] needs provider.kind = \"aws\""))?;
            let table = LeaseTable::connect(&aws, ha.table.clone(), aws.operation_timeout)
                .await
                .map_err(anyhow::Error::msg)?;
            let view = table.read().await.map_err(anyhow::Error::msg)?;
            let now = wall_ms();
            let rows: Vec<serde_json::Value> = cfg
                .services
                .iter()
                .map(|s| {
                    let key = service_ref(s).key();
                    let item = view.leases.get(&key);
                    let live = item.is_some_and(|i| i.expires_ms > now);
                    serde_json::json!({
                        "service": key,
                        "holder": item.filter(|_| live).map(|i| i.holder.clone()),
                        "last_holder": item.map(|i| i.holder.clone()),
                        "token": item.map(|i| i.token),
                        "expires_in_ms": item.filter(|_| live).map(|i| i.expires_ms - now),
                    })
                })
                .collect();
            let hosts: Vec<serde_json::Value> = view
                .hosts
                .iter()
                .filter(|(_, e)| **e > now)
                .map(|(h, e)| serde_json::json!({ "host": h, "expires_in_ms": e - now }))
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "table": ha.table, "leases": rows, "hosts": hosts })
                    )?
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<40} {:<40} {:>6} {:>10}",
                "SERVICE", "HOLDER", "TOKEN", "EXPIRES IN"
            );
            for r in &rows {
                let holder = match (r["holder"].as_str(), r["last_holder"].as_str()) {
                    (Some(h), _) => h.to_string(),
                    (None, Some(last)) => format!("(free; last {last})"),
                    (None, None) => "(free)".into(),
                };
                let expires = r["expires_in_ms"]
                    .as_u64()
                    .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
                let token = r["token"].as_u64().map_or("-".into(), |t| t.to_string());
                println!(
                    "{:<40} {:<40} {:>6} {:>10}",
                    r["service"].as_str().unwrap_or_default(),
                    holder,
                    token,
                    expires
                );
            }
            println!("\n{} live host(s):", hosts.len());
            for h in &hosts {
                println!("  {}", h["host"].as_str().unwrap_or_default());
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}
