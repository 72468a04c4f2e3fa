//! ELBv2: target health (DescribeTargetHealth), deregistration and
//! registration, and how a target group drains a deregistered target
//! (DescribeTargetGroups, DescribeLoadBalancers, DescribeTargetGroupAttributes).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerTypeEnum, TargetDescription};
use parking_lot::Mutex;

use super::errors::from_sdk;
use crate::model::TargetHealth;
use crate::providers::{
    LoadBalancerKind, ProviderError, ProviderResult, Target, TargetGroupInfo, TargetState,
};

/// How long a target group's info is reused before it is read again: its
/// deregistration delay may be changed by a person, but not every cordon
/// needs three calls.
const INFO_TTL: Duration = Duration::from_secs(300);

/// The most target groups whose info is cached (a host runs a few services).
const INFO_CACHE_MAX: usize = 256;

/// The longest deregistration delay ELBv2 allows, in seconds: a larger value
/// read back is refused rather than trusted.
const MAX_DELAY_S: u64 = 3600;

const SERVICE: &str = "ELBv2";

fn describe(targets: &[Target]) -> Vec<TargetDescription> {
    targets
        .iter()
        .map(|t| {
            TargetDescription::builder()
                .id(t.ip.to_string())
                .port(i32::from(t.port))
                .build()
        })
        .collect()
}

fn list(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| format!("{}:{}", t.ip, t.port))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Debug)]
pub(super) struct Elb {
    client: Client,
    info: Mutex<HashMap<String, (Instant, TargetGroupInfo)>>,
}

impl Elb {
    pub(super) fn new(client: Client) -> Elb {
        Elb {
            client,
            info: Mutex::new(HashMap::new()),
        }
    }

    /// The load balancer kind and deregistration behaviour of a target group,
    /// cached for [`INFO_TTL`] (three calls when not cached).
    pub(super) async fn target_group_info(
        &self,
        target_group: &str,
    ) -> ProviderResult<TargetGroupInfo> {
        let cached = self
            .info
            .lock()
            .get(target_group)
            .filter(|(at, _)| at.elapsed() < INFO_TTL)
            .map(|(_, info)| *info);
        if let Some(info) = cached {
            return Ok(info);
        }
        let info = self.read_info(target_group).await?;
        let mut cache = self.info.lock();
        if cache.len() >= INFO_CACHE_MAX {
            cache.retain(|_, (at, _)| at.elapsed() < INFO_TTL);
            if cache.len() >= INFO_CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(target_group.to_string(), (Instant::now(), info));
        Ok(info)
    }

    async fn read_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        let bad = |message: String| ProviderError::Permanent {
            service: SERVICE,
            message,
        };
        let groups = self
            .client
            .describe_target_groups()
            .target_group_arns(target_group)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "DescribeTargetGroups", target_group, e))?;
        let group = groups
            .target_groups()
            .first()
            .ok_or_else(|| ProviderError::NotFound {
                service: SERVICE,
                message: format!("DescribeTargetGroups {target_group}: no such target group"),
            })?;
        let kind = match group.load_balancer_arns().first() {
            None => LoadBalancerKind::Other,
            Some(lb) => {
                let lbs = self
                    .client
                    .describe_load_balancers()
                    .load_balancer_arns(lb)
                    .send()
                    .await
                    .map_err(|e| from_sdk(SERVICE, "DescribeLoadBalancers", lb, e))?;
                match lbs.load_balancers().first().and_then(|l| l.r#type()) {
                    Some(LoadBalancerTypeEnum::Application) => LoadBalancerKind::Application,
                    Some(LoadBalancerTypeEnum::Network) => LoadBalancerKind::Network,
                    _ => LoadBalancerKind::Other,
                }
            }
        };
        let attrs = self
            .client
            .describe_target_group_attributes()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "DescribeTargetGroupAttributes", target_group, e))?;
        let value = |key: &str| {
            attrs
                .attributes()
                .iter()
                .find(|a| a.key() == Some(key))
                .and_then(|a| a.value())
                .map(str::to_string)
        };
        // ELBv2's default delay is 300 s; the attribute is always listed by AWS.
        let delay = match value("deregistration_delay.timeout_seconds") {
            None => 300,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|&d| d <= MAX_DELAY_S)
                .ok_or_else(|| {
                    bad(format!(
                        "target group {target_group}: deregistration_delay.timeout_seconds is {:?}, not a number of seconds within 0..={MAX_DELAY_S}",
                        crate::escape::Escaped(&v).to_string()
                    ))
                })?,
        };
        let termination = value("deregistration_delay.connection_termination.enabled")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Ok(TargetGroupInfo {
            kind,
            deregistration_delay_s: delay,
            connection_termination: termination,
        })
    }

    /// Every registered target of the group with its health (one call).
    pub(super) async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        let out = self
            .client
            .describe_target_health()
            .target_group_arn(target_group)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "DescribeTargetHealth", target_group, e))?;
        Ok(out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let target = d.target()?;
                let port = u16::try_from(target.port()?).ok()?;
                let health = d
                    .target_health()
                    .and_then(|h| h.state())
                    .map_or(TargetHealth::Unknown, |s| {
                        TargetHealth::from_elb(s.as_str())
                    });
                Some(TargetState {
                    target: Target {
                        // Fargate registers tasks by IP; other target types
                        // are no task's, so they cannot match one.
                        ip: target.id()?.parse().ok()?,
                        port,
                    },
                    health,
                })
            })
            .collect())
    }

    /// Starts draining the targets (one call).
    pub(super) async fn deregister(
        &self,
        target_group: &str,
        targets: &[Target],
    ) -> ProviderResult<()> {
        if targets.is_empty() {
            return Ok(());
        }
        self.client
            .deregister_targets()
            .target_group_arn(target_group)
            .set_targets(Some(describe(targets)))
            .send()
            .await
            .map_err(|e| {
                from_sdk(
                    SERVICE,
                    "DeregisterTargets",
                    &format!("{target_group} targets {}", list(targets)),
                    e,
                )
            })?;
        Ok(())
    }

    /// Registers the targets again (one call).
    pub(super) async fn register(
        &self,
        target_group: &str,
        targets: &[Target],
    ) -> ProviderResult<()> {
        if targets.is_empty() {
            return Ok(());
        }
        self.client
            .register_targets()
            .target_group_arn(target_group)
            .set_targets(Some(describe(targets)))
            .send()
            .await
            .map_err(|e| {
                from_sdk(
                    SERVICE,
                    "RegisterTargets",
                    &format!("{target_group} targets {}", list(targets)),
                    e,
                )
            })?;
        Ok(())
    }
}
