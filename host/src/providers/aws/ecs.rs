//! ECS: service counts (DescribeServices), the service's tasks (ListTasks and
//! DescribeTasks), the desired count (UpdateService), with scale-in protection
//! delegated to [`super::protection`].

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_ecs::Client;
use aws_sdk_ecs::types::{DesiredStatus, Task};
use parking_lot::Mutex;

use super::errors::from_sdk;
use super::protection::Protection;
use super::task_id;
use crate::model::TaskStatus;
use crate::providers::{
    ClusterTask, ProviderError, ProviderResult, ServiceCounts, ServiceRef, Target,
};

const SERVICE: &str = "ECS";
/// DescribeTasks takes at most 100 tasks per call.
const DESCRIBE_BATCH: usize = 100;

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn secs(t: Option<&aws_smithy_types::DateTime>) -> Option<u64> {
    t.map(|t| u64::try_from(t.secs()).unwrap_or(0))
}

/// The task's private IP: from its ENI attachment, else from a container's network interface.
fn private_ip(task: &Task) -> Option<String> {
    let from_eni = task
        .attachments()
        .iter()
        .filter(|a| a.r#type() == Some("ElasticNetworkInterface"))
        .flat_map(|a| a.details())
        .find(|d| d.name() == Some("privateIPv4Address"))
        .and_then(|d| d.value());
    let from_container = || {
        task.containers()
            .iter()
            .flat_map(|c| c.network_interfaces())
            .find_map(|n| n.private_ipv4_address())
    };
    from_eni
        .or_else(from_container)
        .filter(|ip| !ip.is_empty())
        .map(str::to_string)
}

/// The task as the pipeline sees it; none for a task without an ARN.
fn cluster_task(t: &Task, port: u16, protected: impl Fn(&str) -> bool) -> Option<ClusterTask> {
    let id = task_id(t.task_arn()?).to_string();
    Some(ClusterTask {
        protected: protected(&id),
        status: TaskStatus::from_ecs(t.last_status().unwrap_or("")),
        created_at: secs(t.created_at()).unwrap_or(0),
        started_at: secs(t.started_at()),
        target: private_ip(t)
            .and_then(|ip| ip.parse().ok())
            .map(|ip| Target { ip, port }),
        cpu: None,
        memory: None,
        id,
    })
}

#[derive(Debug)]
pub(super) struct Ecs {
    client: Client,
    /// The container port each service registers in its target group, by [`ServiceRef::key`].
    ports: Mutex<HashMap<String, u16>>,
    /// Task ARNs of each service seen not stopped at the last [`Ecs::tasks`], by [`ServiceRef::key`].
    known: Mutex<HashMap<String, BTreeSet<String>>>,
    protection: Protection,
}

impl Ecs {
    pub(super) fn new(client: Client, protection_refresh: Duration) -> Ecs {
        Ecs {
            client,
            ports: Mutex::default(),
            known: Mutex::default(),
            protection: Protection::new(protection_refresh),
        }
    }

    pub(super) async fn service(&self, svc: &ServiceRef) -> ProviderResult<ServiceCounts> {
        let s = self.describe_service(svc).await?;
        Ok(ServiceCounts {
            desired: count(s.desired_count()),
            running: count(s.running_count()),
            pending: count(s.pending_count()),
        })
    }

    /// DescribeServices for one service; caches its container port for the target group.
    async fn describe_service(
        &self,
        svc: &ServiceRef,
    ) -> ProviderResult<aws_sdk_ecs::types::Service> {
        let out = self
            .client
            .describe_services()
            .cluster(&svc.cluster)
            .services(&svc.service)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "DescribeServices", &svc.key(), e))?;
        let Some(s) = out.services().first() else {
            let reason = out
                .failures()
                .first()
                .and_then(|f| f.reason())
                .unwrap_or("no service in the answer");
            return Err(ProviderError::NotFound {
                service: SERVICE,
                message: format!(
                    "DescribeServices on {}: the service does not exist ({reason})",
                    svc.key()
                ),
            });
        };
        if s.status() == Some("INACTIVE") {
            return Err(ProviderError::NotFound {
                service: SERVICE,
                message: format!(
                    "DescribeServices on {}: the service is INACTIVE (deleted)",
                    svc.key()
                ),
            });
        }
        let port = s
            .load_balancers()
            .iter()
            .find(|lb| lb.target_group_arn() == Some(svc.target_group.as_str()))
            .and_then(|lb| lb.container_port())
            .and_then(|p| u16::try_from(p).ok());
        let mut ports = self.ports.lock();
        match port {
            Some(port) => ports.insert(svc.key(), port),
            None => ports.remove(&svc.key()),
        };
        Ok(s.clone())
    }

    /// The container port of the service's target group entry: cached, or read once.
    async fn container_port(&self, svc: &ServiceRef) -> ProviderResult<u16> {
        if let Some(port) = self.ports.lock().get(&svc.key()) {
            return Ok(*port);
        }
        let s = self.describe_service(svc).await?;
        if let Some(port) = self.ports.lock().get(&svc.key()) {
            return Ok(*port);
        }
        let groups: Vec<&str> = s
            .load_balancers()
            .iter()
            .filter_map(|lb| lb.target_group_arn())
            .collect();
        Err(ProviderError::Permanent {
            service: SERVICE,
            message: format!(
                "DescribeServices on {}: the service registers no container port in target group {}; \
                 its load balancer target groups are [{}]: set the service's target group in the config to one of them",
                svc.key(),
                svc.target_group,
                groups.join(", ")
            ),
        })
    }

    /// The service's tasks: those ListTasks returns (desired status RUNNING),
    /// plus those seen last time that it no longer returns (being stopped, or
    /// stopped: reported once, then forgotten). Tasks of other services are
    /// left out by their `group` (`service:NAME`), which works where ListTasks
    /// ignores the service filter.
    pub(super) async fn tasks(
        &self,
        svc: &ServiceRef,
        now: u64,
    ) -> ProviderResult<Vec<ClusterTask>> {
        let key = svc.key();
        let port = self.container_port(svc).await?;
        let mut arns: BTreeSet<String> = self.list_task_arns(svc).await?.into_iter().collect();
        if let Some(previous) = self.known.lock().get(&key) {
            arns.extend(previous.iter().cloned());
        }
        let arns: Vec<String> = arns.into_iter().collect();
        let group = format!("service:{}", svc.service);
        let described = self.describe(svc, &arns).await?;
        let mine: Vec<&Task> = described
            .iter()
            .filter(|t| t.group() == Some(group.as_str()))
            .collect();

        let status = |t: &Task| TaskStatus::from_ecs(t.last_status().unwrap_or(""));
        let live: Vec<&Task> = mine
            .iter()
            .copied()
            .filter(|t| status(t) != TaskStatus::Stopped)
            .collect();
        self.known.lock().insert(
            key.clone(),
            live.iter()
                .filter_map(|t| t.task_arn())
                .map(str::to_string)
                .collect(),
        );
        let live_ids: Vec<String> = live
            .iter()
            .filter_map(|t| t.task_arn())
            .map(|a| task_id(a).to_string())
            .collect();
        self.protection
            .refresh(&self.client, svc, &live_ids, now)
            .await;

        Ok(mine
            .into_iter()
            .filter_map(|t| cluster_task(t, port, |id| self.protection.is_protected(&key, id, now)))
            .collect())
    }

    async fn list_task_arns(&self, svc: &ServiceRef) -> ProviderResult<Vec<String>> {
        let mut pages = self
            .client
            .list_tasks()
            .cluster(&svc.cluster)
            .service_name(&svc.service)
            .desired_status(DesiredStatus::Running)
            .max_results(100)
            .into_paginator()
            .items()
            .send();
        let mut arns = Vec::new();
        while let Some(arn) = pages.next().await {
            arns.push(arn.map_err(|e| from_sdk(SERVICE, "ListTasks", &svc.key(), e))?);
        }
        Ok(arns)
    }

    /// DescribeTasks, 100 tasks per call. Tasks ECS no longer knows are left out.
    async fn describe(&self, svc: &ServiceRef, tasks: &[String]) -> ProviderResult<Vec<Task>> {
        let mut described = Vec::with_capacity(tasks.len());
        for batch in tasks.chunks(DESCRIBE_BATCH) {
            let out = self
                .client
                .describe_tasks()
                .cluster(&svc.cluster)
                .set_tasks(Some(batch.to_vec()))
                .send()
                .await
                .map_err(|e| {
                    from_sdk(
                        SERVICE,
                        "DescribeTasks",
                        &format!("{} ({} tasks)", svc.key(), batch.len()),
                        e,
                    )
                })?;
            for f in out
                .failures()
                .iter()
                .filter(|f| f.reason() != Some("MISSING"))
            {
                tracing::warn!(
                    service = %svc.key(),
                    task = f.arn().unwrap_or("?"),
                    "ECS could not describe a task: {}.",
                    f.reason().unwrap_or("no reason given")
                );
            }
            described.extend(out.tasks().iter().cloned());
        }
        Ok(described)
    }

    pub(super) async fn task_status(
        &self,
        svc: &ServiceRef,
        ids: &[String],
    ) -> ProviderResult<Vec<(String, TaskStatus)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let tasks = self.describe(svc, ids).await?;
        Ok(tasks
            .iter()
            .filter_map(|t| {
                let id = task_id(t.task_arn()?).to_string();
                Some((id, TaskStatus::from_ecs(t.last_status().unwrap_or(""))))
            })
            .collect())
    }

    pub(super) async fn set_desired(&self, svc: &ServiceRef, desired: u32) -> ProviderResult<()> {
        let desired_count = i32::try_from(desired).map_err(|_| ProviderError::Permanent {
            service: SERVICE,
            message: format!(
                "UpdateService on {}: desired count {desired} is out of range",
                svc.key()
            ),
        })?;
        self.client
            .update_service()
            .cluster(&svc.cluster)
            .service(&svc.service)
            .desired_count(desired_count)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "UpdateService", &svc.key(), e))?;
        Ok(())
    }

    pub(super) async fn set_protection(
        &self,
        svc: &ServiceRef,
        ids: &[String],
        protected: bool,
        expires_minutes: u32,
        now: u64,
    ) -> ProviderResult<()> {
        self.protection
            .set(&self.client, svc, ids, protected, expires_minutes, now)
            .await
    }
}

#[cfg(test)]
mod tests;
