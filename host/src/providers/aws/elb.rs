//! ELBv2: target health (DescribeTargetHealth), deregistration and registration.

use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::TargetDescription;

use super::errors::from_sdk;
use crate::model::TargetHealth;
use crate::providers::{ProviderResult, Target, TargetState};

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
}

impl Elb {
    pub(super) fn new(client: Client) -> Elb {
        Elb { client }
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
