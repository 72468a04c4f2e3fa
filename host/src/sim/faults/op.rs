//! The kinds of provider call the simulated provider answers, which faults
//! are injected into.

/// A provider call, for fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SimOp {
    /// [`crate::providers::Cluster::service`].
    Service,
    /// [`crate::providers::Cluster::tasks`].
    Tasks,
    /// [`crate::providers::Cluster::task_status`].
    TaskStatus,
    /// [`crate::providers::Cluster::set_desired`].
    SetDesired,
    /// [`crate::providers::Cluster::set_protection`].
    SetProtection,
    /// [`crate::providers::LoadBalancer::targets`].
    Targets,
    /// [`crate::providers::LoadBalancer::deregister`].
    Deregister,
    /// [`crate::providers::LoadBalancer::register`].
    Register,
    /// [`crate::providers::Metrics::utilization`].
    Utilization,
    /// [`crate::providers::Sessions::sessions_by_task`].
    Sessions,
    /// [`crate::providers::Sessions::set_cordon`].
    SetCordon,
    /// [`crate::providers::LoadBalancer::target_group_info`].
    TargetGroupInfo,
}

impl SimOp {
    /// Every kind of call.
    pub const ALL: [SimOp; 12] = [
        SimOp::Service,
        SimOp::Tasks,
        SimOp::TaskStatus,
        SimOp::SetDesired,
        SimOp::SetProtection,
        SimOp::Targets,
        SimOp::Deregister,
        SimOp::Register,
        SimOp::Utilization,
        SimOp::Sessions,
        SimOp::SetCordon,
        SimOp::TargetGroupInfo,
    ];

    /// Its name in a [`super::FaultPlan`] (`set_desired`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SimOp::Service => "service",
            SimOp::Tasks => "tasks",
            SimOp::TaskStatus => "task_status",
            SimOp::SetDesired => "set_desired",
            SimOp::SetProtection => "set_protection",
            SimOp::Targets => "targets",
            SimOp::Deregister => "deregister",
            SimOp::Register => "register",
            SimOp::Utilization => "utilization",
            SimOp::Sessions => "sessions",
            SimOp::SetCordon => "set_cordon",
            SimOp::TargetGroupInfo => "target_group_info",
        }
    }

    /// The simulated AWS service that answers it, as errors name it.
    pub fn service(self) -> &'static str {
        match self {
            SimOp::Service
            | SimOp::Tasks
            | SimOp::TaskStatus
            | SimOp::SetDesired
            | SimOp::SetProtection => "sim-ecs",
            SimOp::Targets | SimOp::Deregister | SimOp::Register | SimOp::TargetGroupInfo => {
                "sim-elbv2"
            }
            SimOp::Utilization => "sim-cloudwatch",
            SimOp::Sessions | SimOp::SetCordon => "sim-dynamodb",
        }
    }

    /// Whether it changes the world.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            SimOp::SetDesired
                | SimOp::SetProtection
                | SimOp::Deregister
                | SimOp::Register
                | SimOp::SetCordon
        )
    }

    /// Whether it takes a batch of items that can fail part-way.
    pub fn is_batch(self) -> bool {
        matches!(
            self,
            SimOp::SetProtection | SimOp::Deregister | SimOp::Register
        )
    }

    /// Whether its answer can lag the host's writes (eventual consistency).
    pub fn can_lag(self) -> bool {
        matches!(
            self,
            SimOp::Service | SimOp::Tasks | SimOp::TaskStatus | SimOp::Targets
        )
    }
}
