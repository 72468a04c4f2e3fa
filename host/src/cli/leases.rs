//! `autoscaler leases list`: who holds each service's lease, and the live hosts.

use std::process::ExitCode;

use autoscaler::daemon::setup::{self, service_ref};
use autoscaler::ha::table::{LeaseTable, wall_ms};
use clap::Subcommand;
use comfy_table::{CellAlignment, ColumnConstraint, Table, Width};

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
            println!("{}", lease_table(&rows));
            println!("\n{} live host(s):", hosts.len());
            for h in &hosts {
                println!("  {}", h["host"].as_str().unwrap_or_default());
            }
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// The leases as a text table: no borders, the columns at least as wide as
/// they always were (40, 40, 6 and 10 characters), the numbers right-aligned.
fn lease_table(rows: &[serde_json::Value]) -> Table {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::NOTHING).set_header([
        "SERVICE",
        "HOLDER",
        "TOKEN",
        "EXPIRES IN",
    ]);
    for r in rows {
        let holder = match (r["holder"].as_str(), r["last_holder"].as_str()) {
            (Some(h), _) => h.to_string(),
            (None, Some(last)) => format!("(free; last {last})"),
            (None, None) => "(free)".into(),
        };
        let expires = r["expires_in_ms"]
            .as_u64()
            .map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
        let token = r["token"].as_u64().map_or("-".into(), |t| t.to_string());
        t.add_row([
            r["service"].as_str().unwrap_or_default().to_string(),
            holder,
            token,
            expires,
        ]);
    }
    // One space between columns: the right padding of all but the last.
    for (i, (width, align)) in [
        (40, CellAlignment::Left),
        (40, CellAlignment::Left),
        (6, CellAlignment::Right),
        (10, CellAlignment::Right),
    ]
    .into_iter()
    .enumerate()
    {
        let gap = u16::from(i < 3);
        let column = t.column_mut(i).expect("four columns");
        column
            .set_padding((0, gap))
            .set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(width + gap)));
        column.set_cell_alignment(align);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_the_columns_of_the_hand_formatted_one() {
        let rows = [
            serde_json::json!({"service": "prod/rdp", "holder": "host-a", "last_holder": "host-a",
                "token": 7, "expires_in_ms": 12_345}),
            serde_json::json!({"service": "prod/vnc", "holder": null, "last_holder": "host-b",
                "token": 3, "expires_in_ms": null}),
            serde_json::json!({"service": "dev/rdp", "holder": null, "last_holder": null,
                "token": null, "expires_in_ms": null}),
        ];
        let line = |a: &str, b: &str, c: &str, d: &str| format!("{a:<40} {b:<40} {c:>6} {d:>10}");
        let want = [
            line("SERVICE", "HOLDER", "TOKEN", "EXPIRES IN"),
            line("prod/rdp", "host-a", "7", "12.3s"),
            line("prod/vnc", "(free; last host-b)", "3", "-"),
            line("dev/rdp", "(free)", "-", "-"),
        ]
        .join("\n");
        assert_eq!(lease_table(&rows).to_string(), want);
    }
}
