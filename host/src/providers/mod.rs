//! The narrow traits through which the tick pipeline touches the world, and
//! their two implementations: [`aws`] (the real SDKs) and [`sim`] (the
//! in-process simulated cluster). The pipeline is generic over [`Provider`],
//! so the daemon, the backtester and the tests drive the very same code.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;

use crate::model::{TargetHealth, TaskStatus};

pub mod aws;
#[cfg(test)]
pub(crate) mod double;
pub mod sim;

/// Which service a call is about, and where its tasks are load-balanced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    /// The ECS cluster name or ARN.
    pub cluster: String,
    /// The ECS service name.
    pub service: String,
    /// The ELBv2 target group ARN (a name in the sim).
    pub target_group: String,
}

impl ServiceRef {
    /// `cluster/service`, the key used in logs, metrics and records.
    pub fn key(&self) -> String {
        format!("{}/{}", self.cluster, self.service)
    }
}

/// A service's task counts, as ECS reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceCounts {
    /// The desired count.
    pub desired: u32,
    /// Tasks running.
    pub running: u32,
    /// Tasks starting.
    pub pending: u32,
}

/// Where a task is reachable in its target group: its ENI private IP and container port.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Target {
    /// The target ID: the task's private IP address (Fargate's awsvpc
    /// network mode registers tasks by IP).
    pub ip: IpAddr,
    /// The container port.
    pub port: u16,
}

/// One task as the cluster reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterTask {
    /// The ECS task ID (the last part of its ARN).
    pub id: String,
    /// Its last status.
    pub status: TaskStatus,
    /// When it was created, in seconds.
    pub created_at: u64,
    /// When it started running, in seconds, if it has.
    pub started_at: Option<u64>,
    /// Whether scale-in protection is on.
    pub protected: bool,
    /// Its target, once it has a network address.
    pub target: Option<Target>,
    /// Its CPU utilization in percent, when the provider reports per-task figures.
    pub cpu: Option<f64>,
    /// Its memory utilization in percent, when the provider reports per-task figures.
    pub memory: Option<f64>,
}

/// One target's health in a target group.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetState {
    /// The target.
    pub target: Target,
    /// Its health.
    pub health: TargetHealth,
}

/// The kind of load balancer a target group serves, which decides what
/// happens to a deregistered target's open connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerKind {
    /// An Application Load Balancer: when a deregistered target's
    /// deregistration delay ends, its connections are closed.
    Application,
    /// A Network Load Balancer: with connection termination off (the
    /// default), a deregistered target's connections live on.
    Network,
    /// A target group with no load balancer, or of another kind (gateway):
    /// the host treats it as closing connections at the end of the delay.
    Other,
}

/// How a target group drains a deregistered target, as the load balancer
/// reports it (DescribeTargetGroups and DescribeTargetGroupAttributes): the
/// host reads these, it never assumes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetGroupInfo {
    /// The load balancer's kind.
    pub kind: LoadBalancerKind,
    /// `deregistration_delay.timeout_seconds`: how long a deregistered target drains.
    pub deregistration_delay_s: u64,
    /// `deregistration_delay.connection_termination.enabled` (NLB only): the
    /// load balancer closes a deregistered target's connections when the delay ends.
    pub connection_termination: bool,
}

impl TargetGroupInfo {
    /// Whether a deregistered target's open connections outlive its
    /// deregistration delay (an NLB with connection termination off). When
    /// false, they are cut when the delay ends.
    pub fn keeps_connections(&self) -> bool {
        self.kind == LoadBalancerKind::Network && !self.connection_termination
    }
}

/// Service utilization from the metrics provider.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Utilization {
    /// Average CPU utilization in percent over the latest complete period; none when missing.
    pub cpu: Option<f64>,
    /// Average memory utilization in percent over the latest complete period; none when missing.
    pub memory: Option<f64>,
    /// The start of the period the figures describe, in seconds; none when both are missing.
    pub at: Option<u64>,
}

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Throttling, a 5xx, a timeout or a dropped connection: worth retrying.
    #[error("transient error from {service}: {message}")]
    Transient {
        /// The AWS service (or sim component) that failed.
        service: &'static str,
        /// What it said.
        message: String,
    },
    /// The resource does not exist.
    #[error("{service} says not found: {message}")]
    NotFound {
        /// The AWS service that answered.
        service: &'static str,
        /// What it said.
        message: String,
    },
    /// The host's credentials may not do this; retrying will not help.
    #[error("{service} denied access: {message} (check the IAM policy in deploy/iam-policy.json)")]
    AccessDenied {
        /// The AWS service that answered.
        service: &'static str,
        /// What it said.
        message: String,
    },
    /// Any other failure that retrying will not fix.
    #[error("{service} failed: {message}")]
    Permanent {
        /// The AWS service that answered.
        service: &'static str,
        /// What it said.
        message: String,
    },
}

impl ProviderError {
    /// Whether retrying the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Transient { .. })
    }
}

/// A provider call's result.
pub type ProviderResult<T> = Result<T, ProviderError>;

/// The ECS side: service counts, tasks, desired count and scale-in protection.
pub trait Cluster: Send + Sync {
    /// The service's desired, running and pending counts (DescribeServices).
    fn service(
        &self,
        svc: &ServiceRef,
    ) -> impl Future<Output = ProviderResult<ServiceCounts>> + Send;
    /// Every task of the service that has not stopped, plus tasks stopped recently
    /// (ListTasks and DescribeTasks). Protection comes with it (GetTaskProtection).
    fn tasks(
        &self,
        svc: &ServiceRef,
    ) -> impl Future<Output = ProviderResult<Vec<ClusterTask>>> + Send;
    /// The status of specific tasks by ID, stopped ones included (DescribeTasks);
    /// IDs the cluster no longer knows are left out.
    fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> impl Future<Output = ProviderResult<Vec<(String, TaskStatus)>>> + Send;
    /// Sets the desired count (UpdateService).
    fn set_desired(
        &self,
        svc: &ServiceRef,
        desired: u32,
    ) -> impl Future<Output = ProviderResult<()>> + Send;
    /// Turns scale-in protection on or off for tasks (UpdateTaskProtection, at most
    /// 10 per call; the provider batches). `expires_minutes` bounds protection.
    fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
    ) -> impl Future<Output = ProviderResult<()>> + Send;
}

/// The ELBv2 side: target health, deregistration and registration.
pub trait LoadBalancer: Send + Sync {
    /// Every target of the group with its health (DescribeTargetHealth).
    fn targets(
        &self,
        target_group: &str,
    ) -> impl Future<Output = ProviderResult<Vec<TargetState>>> + Send;
    /// Deregisters targets, which start draining (DeregisterTargets).
    fn deregister(
        &self,
        target_group: &str,
        targets: &[Target],
    ) -> impl Future<Output = ProviderResult<()>> + Send;
    /// Registers targets again (RegisterTargets).
    fn register(
        &self,
        target_group: &str,
        targets: &[Target],
    ) -> impl Future<Output = ProviderResult<()>> + Send;
    /// The load balancer's kind and the group's deregistration behaviour
    /// (DescribeTargetGroups, DescribeLoadBalancers, DescribeTargetGroupAttributes).
    fn target_group_info(
        &self,
        target_group: &str,
    ) -> impl Future<Output = ProviderResult<TargetGroupInfo>> + Send;
}

/// The CloudWatch side: service CPU and memory utilization.
pub trait Metrics: Send + Sync {
    /// The latest complete figures for each service, keyed by [`ServiceRef::key`],
    /// in as few calls as possible (one GetMetricData for many services).
    fn utilization(
        &self,
        services: &[ServiceRef],
        now: u64,
    ) -> impl Future<Output = ProviderResult<HashMap<String, Utilization>>> + Send;
}

/// Active sessions per task ID. Hashed with foldhash (randomly seeded per
/// map, like the standard hasher, but several times faster on short keys):
/// the tick builds and reads maps like this for every task, every tick.
pub type SessionCounts = HashMap<String, u32, foldhash::fast::RandomState>;

/// The DynamoDB side: active sessions per task.
pub trait Sessions: Send + Sync {
    /// Active sessions per task ID for the service, ignoring items whose
    /// heartbeat expired before `now` (one paginated Query).
    fn sessions_by_task(
        &self,
        svc: &ServiceRef,
        now: u64,
    ) -> impl Future<Output = ProviderResult<SessionCounts>> + Send;
    /// Publishes a task's app-level cordon state in the session store, where
    /// the application reads it (the ingest API answers `"accepting": false`):
    /// `Some(since)` cordons the task from `since` (seconds), `None` lets it
    /// accept new sessions again. Idempotent.
    fn set_cordon(
        &self,
        svc: &ServiceRef,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> impl Future<Output = ProviderResult<()>> + Send;
}

/// The time, in whole seconds: Unix time with AWS, virtual time in the sim.
pub trait Clock: Send + Sync {
    /// Now, in seconds.
    fn now(&self) -> u64;
}

/// Everything the pipeline needs from the world.
pub trait Provider: Cluster + LoadBalancer + Metrics + Sessions + Clock {}
impl<T: Cluster + LoadBalancer + Metrics + Sessions + Clock> Provider for T {}

/// The wall clock, for the AWS provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}
