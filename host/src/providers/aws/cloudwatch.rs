//! CloudWatch: service CPU and memory utilization for many services in one
//! GetMetricData call (`AWS/ECS` CPUUtilization and MemoryUtilization,
//! dimensions ClusterName and ServiceName, 60 s periods, Average).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use super::errors::from_sdk;
use crate::providers::{ProviderResult, ServiceRef, Utilization};
use crate::sessions::cluster_name;

const SERVICE: &str = "CloudWatch";
const PERIOD: u64 = 60;
/// GetMetricData takes at most 500 queries: two per service.
const SERVICES_PER_CALL: usize = 250;

fn query(id: String, metric: &str, svc: &ServiceRef) -> MetricDataQuery {
    let dimension = |name: &str, value: &str| Dimension::builder().name(name).value(value).build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/ECS")
                        .metric_name(metric)
                        .dimensions(dimension("ClusterName", cluster_name(&svc.cluster)))
                        .dimensions(dimension("ServiceName", &svc.service))
                        .build(),
                )
                .period(PERIOD as i32)
                .stat("Average")
                .build(),
        )
        .return_data(true)
        .build()
}

/// The window to ask for at `now`: whole periods, ending at the start of the
/// current (incomplete) period, so every datapoint returned is complete.
fn window(now: u64, lookback: u64) -> (u64, u64) {
    let end = now - now % PERIOD;
    let periods = lookback.div_ceil(PERIOD).max(1);
    (end.saturating_sub(periods * PERIOD), end)
}

#[derive(Debug)]
pub(super) struct CloudWatch {
    client: Client,
    lookback: u64,
}

impl CloudWatch {
    pub(super) fn new(client: Client, lookback: Duration) -> CloudWatch {
        CloudWatch {
            client,
            lookback: lookback.as_secs(),
        }
    }

    /// The latest complete datapoint of each service's CPU and memory; every
    /// service asked about is in the answer, with `None` where data is missing.
    pub(super) async fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> ProviderResult<HashMap<String, Utilization>> {
        let mut result: HashMap<String, Utilization> = HashMap::new();
        let mut seen = HashSet::new();
        let unique: Vec<&ServiceRef> = services.iter().filter(|s| seen.insert(s.key())).collect();
        let (start, end) = window(now, self.lookback);
        for batch in unique.chunks(SERVICES_PER_CALL) {
            let queries: Vec<MetricDataQuery> = batch
                .iter()
                .enumerate()
                .flat_map(|(i, s)| {
                    [
                        query(format!("cpu{i}"), "CPUUtilization", s),
                        query(format!("mem{i}"), "MemoryUtilization", s),
                    ]
                })
                .collect();
            let latest = self.latest(queries, start, end, batch).await?;
            for (i, svc) in batch.iter().enumerate() {
                let cpu = latest.get(&format!("cpu{i}")).copied();
                let memory = latest.get(&format!("mem{i}")).copied();
                let at = cpu.iter().chain(&memory).map(|(t, _)| *t).max();
                result.insert(
                    svc.key(),
                    Utilization {
                        cpu: cpu.map(|(_, v)| v),
                        memory: memory.map(|(_, v)| v),
                        at,
                    },
                );
            }
        }
        Ok(result)
    }

    /// Runs the queries (following next tokens) and keeps each query's latest datapoint.
    async fn latest(
        &self,
        queries: Vec<MetricDataQuery>,
        start: u64,
        end: u64,
        batch: &[&ServiceRef],
    ) -> ProviderResult<HashMap<String, (u64, f64)>> {
        let mut latest: HashMap<String, (u64, f64)> = HashMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .get_metric_data()
                .set_metric_data_queries(Some(queries.clone()))
                .start_time(DateTime::from_secs(start as i64))
                .end_time(DateTime::from_secs(end as i64))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| {
                    let names: Vec<String> = batch.iter().take(3).map(|s| s.key()).collect();
                    let more = if batch.len() > 3 { ", ..." } else { "" };
                    from_sdk(
                        SERVICE,
                        "GetMetricData",
                        &format!("{} services ({}{more})", batch.len(), names.join(", ")),
                        e,
                    )
                })?;
            for r in out.metric_data_results() {
                let Some(id) = r.id() else { continue };
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    let Ok(t) = u64::try_from(t.secs()) else {
                        continue;
                    };
                    if t + PERIOD > end || !v.is_finite() {
                        continue;
                    }
                    let slot = latest.entry(id.to_string()).or_insert((t, *v));
                    if t > slot.0 {
                        *slot = (t, *v);
                    }
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(latest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_at_the_current_period_start() {
        assert_eq!(window(1_000_030, 600), (999_420, 1_000_020));
        assert_eq!(window(1_000_020, 600), (999_420, 1_000_020));
        assert_eq!(window(1_000_030, 0), (999_960, 1_000_020));
        assert_eq!(window(1_000_030, 90), (999_900, 1_000_020));
    }
}
