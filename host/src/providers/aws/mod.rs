//! The AWS provider: the [`Provider`](super::Provider) traits on the real
//! `aws-sdk-*` clients (ECS, ELBv2, CloudWatch, DynamoDB).
//!
//! Configuration comes from the SDK's default chain (credentials, region,
//! `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>`), with
//! the standard retry mode and the attempt limits and timeouts of [`AwsConfig`].
//! Every client carries one [`CallCounter`], so the cost of a tick is measurable
//! and the calls are exported as the `autoscaler_aws_*` metrics.
//!
//! # Calls per tick, per service (steady state)
//!
//! | trait method | AWS calls |
//! |---|---|
//! | [`Cluster::service`] | 1 DescribeServices |
//! | [`Cluster::tasks`] | 1 ListTasks per 100 tasks, 1 DescribeTasks per 100 tasks, GetTaskProtection only for tasks not seen before (see below) |
//! | [`Metrics::utilization`] | 1 GetMetricData for up to 250 services together |
//! | [`Sessions::sessions_by_task`] | 1 Query per 1 MB of session items |
//! | [`LoadBalancer::targets`] | 1 DescribeTargetHealth |
//!
//! That is 6 for a 100-task service, and 5 + 1/N for N services sharing the
//! metrics call.
//!
//! # Scale-in protection
//!
//! DescribeTasks does not report protection, and GetTaskProtection would be
//! a 7th call (10 tasks per call: 10 calls for 100 tasks). The host sets
//! protection itself ([`Cluster::set_protection`]) and remembers what it set
//! and until when; it asks GetTaskProtection only about tasks it has not seen
//! before and about tasks whose answer is older than
//! [`AwsConfig::protection_refresh`] (so protection an application set on
//! itself is seen within that time). Protection is informational in the
//! snapshot: the drain workflow sets the protection it relies on rather than
//! reading it. A failed protection lookup never fails the tick: the task
//! reads as unprotected, a warning is logged, and the lookup is retried
//! after `protection_refresh`. Lookups are not retried by the SDK, and a
//! round stops at its first failure. moto_server answers every task
//! protection call with HTTP 500, so against moto every task reads as
//! unprotected and [`Cluster::set_protection`] fails with a transient error.
//!
//! # Targets
//!
//! A task's [`Target`](super::Target) is its ENI's private IP (the
//! `privateIPv4Address` detail of its `ElasticNetworkInterface` attachment)
//! with the container port the *service* registers in the target group (the
//! `containerPort` of the service's `loadBalancers` entry for
//! [`ServiceRef::target_group`](super::ServiceRef::target_group)). That
//! port is read by every [`Cluster::service`] call and cached; [`Cluster::tasks`]
//! asks DescribeServices itself only when it has no port yet. Fargate tasks
//! report no network bindings, and the target health list misses targets
//! that are deregistered, so neither can supply the port of a task being
//! drained. A service with no `loadBalancers` entry for its configured
//! target group is a configuration error and fails [`Cluster::tasks`].

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::{
    Clock, Cluster, ClusterTask, LoadBalancer, Metrics, ProviderError, ProviderResult,
    ServiceCounts, ServiceRef, SessionCounts, Sessions, SystemClock, Target, TargetGroupInfo,
    TargetState, Utilization,
};
use crate::model::TaskStatus;
use crate::sessions::{DEFAULT_TABLE, SessionStore};

pub mod calls;
mod cloudwatch;
mod dynamodb;
mod ecs;
mod elb;
pub(crate) mod errors;
pub mod journal;
mod protection;
pub mod tables;

pub use calls::{CallCounter, CallCounts, ErrorKind, OpCount, ServiceCalls};
pub use journal::DynamoJournal;

/// The ECS task ID: the last part of a task ARN (an ID stays as it is).
/// The ECS calls and the protection cache both key tasks by it.
pub(super) fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Settings of the AWS provider beyond what the SDK's default chain supplies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// The region; none to take it from the environment or profile (`AWS_REGION`).
    pub region: Option<String>,
    /// An endpoint to use instead of AWS's; none to take it from `AWS_ENDPOINT_URL`
    /// (or `AWS_ENDPOINT_URL_<SERVICE>`) if set. Only [`AwsProvider::from_env`] reads it.
    pub endpoint_url: Option<String>,
    /// The DynamoDB table holding sessions.
    pub sessions_table: String,
    /// How long a task's scale-in protection, once read or set, is trusted
    /// before GetTaskProtection is asked again.
    pub protection_refresh: Duration,
    /// How far back GetMetricData looks for the latest complete datapoint.
    pub metrics_lookback: Duration,
    /// Attempts per call, the first included, in the SDK's standard retry mode.
    pub max_attempts: u32,
    /// The limit on one HTTP attempt.
    pub attempt_timeout: Duration,
    /// The limit on one call, retries included.
    pub operation_timeout: Duration,
}

impl Default for AwsConfig {
    fn default() -> Self {
        AwsConfig {
            region: None,
            endpoint_url: None,
            sessions_table: DEFAULT_TABLE.to_string(),
            protection_refresh: Duration::from_secs(600),
            metrics_lookback: Duration::from_secs(600),
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
        }
    }
}

/// The providers' traits on AWS.
#[derive(Debug)]
pub struct AwsProvider {
    ecs: ecs::Ecs,
    elb: elb::Elb,
    cloudwatch: cloudwatch::CloudWatch,
    sessions: SessionStore,
    calls: CallCounter,
    config: AwsConfig,
}

impl AwsProvider {
    /// Loads the SDK configuration from the default chain (environment,
    /// profile, container or instance credentials; `AWS_REGION`;
    /// `AWS_ENDPOINT_URL`), with [`AwsConfig::region`] and
    /// [`AwsConfig::endpoint_url`] taking precedence when set, and builds the
    /// provider. Fails when no region is configured anywhere.
    pub async fn from_env(config: AwsConfig) -> ProviderResult<AwsProvider> {
        let sdk = AwsProvider::load_sdk_config(&config).await?;
        Ok(AwsProvider::from_sdk_config(&sdk, config))
    }

    /// The SDK configuration [`AwsProvider::from_env`] builds on: the default
    /// chain, with [`AwsConfig::region`] and [`AwsConfig::endpoint_url`] taking
    /// precedence when set. Fails when no region is configured anywhere.
    pub async fn load_sdk_config(config: &AwsConfig) -> ProviderResult<SdkConfig> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &config.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(ProviderError::Permanent {
                service: "AWS",
                message:
                    "no AWS region is configured: set AWS_REGION (or a region in the AWS profile)"
                        .into(),
            });
        }
        Ok(sdk)
    }

    /// Builds the provider from an explicit SDK configuration (tests point
    /// this at a local server with fixed credentials and `endpoint_url`).
    /// Retry attempts and timeouts come from `config`.
    pub fn from_sdk_config(sdk: &SdkConfig, config: AwsConfig) -> AwsProvider {
        let calls = CallCounter::new();
        let retry = RetryConfig::standard().with_max_attempts(config.max_attempts.max(1));
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(config.attempt_timeout)
            .operation_timeout(config.operation_timeout)
            .build();
        let ecs = aws_sdk_ecs::config::Builder::from(sdk)
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone())
            .interceptor(calls.interceptor("ecs"))
            .build();
        let elb = aws_sdk_elasticloadbalancingv2::config::Builder::from(sdk)
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone())
            .interceptor(calls.interceptor("elbv2"))
            .build();
        let cw = aws_sdk_cloudwatch::config::Builder::from(sdk)
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone())
            .interceptor(calls.interceptor("cloudwatch"))
            .build();
        let ddb = aws_sdk_dynamodb::config::Builder::from(sdk)
            .retry_config(retry)
            .timeout_config(timeouts)
            .interceptor(calls.interceptor("dynamodb"))
            .build();
        AwsProvider {
            ecs: ecs::Ecs::new(
                aws_sdk_ecs::Client::from_conf(ecs),
                config.protection_refresh,
            ),
            elb: elb::Elb::new(aws_sdk_elasticloadbalancingv2::Client::from_conf(elb)),
            cloudwatch: cloudwatch::CloudWatch::new(
                aws_sdk_cloudwatch::Client::from_conf(cw),
                config.metrics_lookback,
            ),
            sessions: SessionStore::new(
                aws_sdk_dynamodb::Client::from_conf(ddb),
                config.sessions_table.clone(),
            ),
            calls,
            config,
        }
    }

    /// The counter of every AWS call this provider makes.
    pub fn calls(&self) -> &CallCounter {
        &self.calls
    }

    /// The session store (for the ingest API and `sessions list`), sharing
    /// this provider's DynamoDB client and call counter.
    pub fn session_store(&self) -> &SessionStore {
        &self.sessions
    }

    /// The provider's settings.
    pub fn config(&self) -> &AwsConfig {
        &self.config
    }
}

impl Cluster for AwsProvider {
    async fn service(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        self.ecs.service(svc).await
    }

    async fn tasks(&self, svc: &ServiceRef) -> ProviderResult<Vec<ClusterTask>> {
        self.ecs.tasks(svc, SystemClock.now()).await
    }

    async fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        self.ecs.task_status(svc, ids).await
    }

    async fn set_desired(&self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        self.ecs.set_desired(svc, desired).await
    }

    async fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> ProviderResult<()> {
        self.ecs
            .set_protection(svc, ids, protected, expires_minutes, SystemClock.now())
            .await
    }
}

impl LoadBalancer for AwsProvider {
    async fn targets(&self, target_group: &str) -> ProviderResult<Vec<TargetState>> {
        self.elb.targets(target_group).await
    }

    async fn deregister(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.elb.deregister(target_group, targets).await
    }

    async fn register(&self, target_group: &str, targets: &[Target]) -> ProviderResult<()> {
        self.elb.register(target_group, targets).await
    }

    async fn target_group_info(&self, target_group: &str) -> ProviderResult<TargetGroupInfo> {
        self.elb.target_group_info(target_group).await
    }
}

impl Metrics for AwsProvider {
    async fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> ProviderResult<std::collections::HashMap<String, Utilization>> {
        self.cloudwatch.utilization(services, now).await
    }
}

impl Sessions for AwsProvider {
    async fn sessions_by_task(&self, svc: &ServiceRef, now: u64) -> ProviderResult<SessionCounts> {
        dynamodb::sessions_by_task(&self.sessions, svc, now).await
    }

    async fn set_cordon(
        &self,
        svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        self.sessions
            .set_cordon(&svc.cluster, &svc.service, task_id, cordoned_since)
            .await
    }
}

impl Clock for AwsProvider {
    fn now(&self) -> u64 {
        SystemClock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::task_id;

    #[test]
    fn task_ids_come_from_arns() {
        assert_eq!(task_id("arn:aws:ecs:eu-west-1:1:task/prod/abc"), "abc");
        assert_eq!(task_id("abc"), "abc");
    }
}
