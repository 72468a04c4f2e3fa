//! The DynamoDB drain journal (`journal = { kind = "dynamodb", table = "..." }`):
//! the durable state of every drain workflow in a table that several hosts
//! can share, with conditional writes so that a stale host can never
//! overwrite a newer step.
//!
//! # Table schema
//!
//! One item per workflow:
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `service` | S | **partition key**: the workflow's service, `cluster/service` |
//! | `workflow_id` | S | **sort key**: the workflow's ID (`cluster/service/task/started`) |
//! | `version` | N | 1 on the first write, one more on every write after it |
//! | `finished` | BOOL | whether the workflow is done |
//! | `step` | S | the step's name, for people reading the table |
//! | `task_id` | S | the victim's task ID |
//! | `state` | S | the whole workflow as JSON: the line the file journal would write |
//! | `updated_at` | N | when this version was written, Unix seconds |
//! | `expires_at` | N | finished items only: `updated_at` + 7 days, for DynamoDB's TTL |
//!
//! Every write is a PutItem of the whole item, conditional on the version
//! this host last saw: `attribute_not_exists(workflow_id)` for a new
//! workflow, `version = :seen` after that. A write refused by its condition
//! means another host moved the workflow on; the journal reports
//! [`JournalError::Conflict`] and the daemon stops rather than act on a
//! stale state. If the refused write was in fact this host's own (an earlier
//! attempt of the same call landed and its answer was lost), a strongly
//! consistent GetItem shows the item holding exactly this state at this
//! version, and the write counts as done.
//!
//! With `[ha]` ([`DynamoJournal::with_fence`]), every write is instead a
//! TransactWriteItems: a ConditionCheck that the service's lease item still
//! names this host with its fencing token, and the same conditional Put. A
//! host that lost the lease (even one paused past it) has the write refused
//! ([`JournalError::Fenced`]) and stands down from the service; the step
//! the write announced is never taken.
//!
//! [`Journal::unfinished`] is one strongly consistent Query per service of
//! this host (`service = :s`, filtered on `finished = false`), so a host
//! sees only its own services' drains and never a stale copy. Finished items
//! stay until TTL removes them; the filter skips them, so TTL's lag does not
//! matter.
//!
//! # From a synchronous trait to the async SDK
//!
//! [`Journal`] is synchronous (a step must be durable before it runs, and
//! the file journal is an fsync), while the SDK is async. Each call runs the
//! SDK future on the caller's tokio runtime with
//! [`tokio::task::block_in_place`] and [`Handle::block_on`]: the worker
//! thread hands its other tasks to the rest of the pool while it waits, and
//! the SDK's connections stay on the runtime that made them. That needs a
//! multi-threaded runtime (the daemon's). On a current-thread runtime, or
//! outside any runtime, the journal refuses every call with an error rather
//! than panic or deadlock.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use parking_lot::{Mutex, MutexGuard};
use tokio::runtime::{Handle, RuntimeFlavor};

use super::errors::from_sdk;
use super::{AwsConfig, AwsProvider};
use crate::workflow::{DrainWorkflow, Journal, JournalError};

mod write;

/// The table's attribute names.
pub mod attr {
    /// Partition key: the service, `cluster/service`.
    pub const SERVICE: &str = "service";
    /// Sort key: the workflow ID.
    pub const WORKFLOW_ID: &str = "workflow_id";
    /// The item's version: 1, 2, 3, ...
    pub const VERSION: &str = "version";
    /// Whether the workflow has finished.
    pub const FINISHED: &str = "finished";
    /// The step's name.
    pub const STEP: &str = "step";
    /// The victim's task ID.
    pub const TASK_ID: &str = "task_id";
    /// The workflow as JSON.
    pub const STATE: &str = "state";
    /// When the item was written, Unix seconds.
    pub const UPDATED_AT: &str = "updated_at";
    /// When DynamoDB's TTL may delete a finished item, Unix seconds.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The default table name.
pub const DEFAULT_TABLE: &str = "autoscaler-drains";

/// How long a finished workflow's item is kept (through `expires_at` and TTL).
pub const FINISHED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Attempts per journal call, the first included. More than the provider's
/// calls get: a journal failure stops the daemon, a failed read only a tick.
const ATTEMPTS: u32 = 6;

const SERVICE_NAME: &str = "DynamoDB";

/// Drain workflows in a DynamoDB table (schema and guarantees in the module doc).
#[derive(Debug)]
pub struct DynamoJournal {
    client: Client,
    table: String,
    /// The service keys whose unfinished workflows [`Journal::unfinished`] returns.
    services: Vec<String>,
    /// The version of each workflow this host last wrote or read.
    versions: Mutex<HashMap<String, u64>>,
    /// With `[ha]`: the lease each write is conditional on.
    fence: Option<Arc<dyn Fence>>,
}

/// The lease item a journal write is conditional on (`[ha]`, see
/// [`crate::ha`]): the write lands only if the item at `key` in `table`
/// still names `holder` with `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseCondition {
    /// The lease table.
    pub table: String,
    /// The lease item's partition and sort key values (`group`, `id`).
    pub key: (String, String),
    /// This host.
    pub holder: String,
    /// The fencing token this host holds the lease with.
    pub token: u64,
}

/// Where the journal learns the lease of a service (none: this host holds none).
pub trait Fence: Send + Sync + std::fmt::Debug {
    /// The condition for writes of `service`'s workflows.
    fn condition(&self, service: &str) -> Option<LeaseCondition>;
}

impl DynamoJournal {
    /// A journal over `table` through `client`, reading back the workflows
    /// of `services` (keys `cluster/service`).
    pub fn new(client: Client, table: impl Into<String>, services: Vec<String>) -> DynamoJournal {
        DynamoJournal {
            client,
            table: table.into(),
            services,
            versions: Mutex::default(),
            fence: None,
        }
    }

    /// Makes every write conditional on the service's lease (`[ha]`): a
    /// TransactWriteItems of a ConditionCheck on the lease item (holder and
    /// fencing token) and the Put. A host that lost the lease, even one
    /// paused past it that has not noticed, has its writes refused with
    /// [`JournalError::Fenced`].
    pub fn with_fence(mut self, fence: Arc<dyn Fence>) -> DynamoJournal {
        self.fence = Some(fence);
        self
    }

    /// A journal with its own DynamoDB client from the SDK's default chain
    /// and `aws`'s region, endpoint and timeouts (see
    /// [`AwsProvider::load_sdk_config`]), retrying transient errors up to 6
    /// attempts. Called from a multi-threaded tokio runtime (see the module doc).
    pub fn connect(
        aws: &AwsConfig,
        table: impl Into<String>,
        services: Vec<String>,
    ) -> Result<DynamoJournal, JournalError> {
        let sdk = block_on(AwsProvider::load_sdk_config(aws))?
            .map_err(|e| JournalError::Remote(e.to_string()))?;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(aws.attempt_timeout)
                    .operation_timeout(aws.operation_timeout)
                    .build(),
            )
            .build();
        Ok(DynamoJournal::new(Client::from_conf(conf), table, services))
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn versions(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.versions.lock()
    }

    fn resource(&self, wf: &DrainWorkflow) -> String {
        format!("table {} item {}|{}", self.table, wf.service, wf.id)
    }

    /// The stored version and state of `wf`'s item (a strongly consistent GetItem).
    async fn stored(&self, wf: &DrainWorkflow) -> Result<Option<(u64, String)>, JournalError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::SERVICE, AttributeValue::S(wf.service.clone()))
            .key(attr::WORKFLOW_ID, AttributeValue::S(wf.id.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                JournalError::Remote(
                    from_sdk(SERVICE_NAME, "GetItem", &self.resource(wf), e).to_string(),
                )
            })?;
        Ok(out.item().and_then(|item| {
            let version = item.get(attr::VERSION)?.as_n().ok()?.parse().ok()?;
            let state = item.get(attr::STATE)?.as_s().ok()?.clone();
            Some((version, state))
        }))
    }

    /// Every unfinished workflow of `services`, with its version.
    async fn read_unfinished(
        &self,
        services: &[String],
    ) -> Result<Vec<(DrainWorkflow, u64)>, JournalError> {
        let mut found = Vec::new();
        for service in services {
            let mut items = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#s = :s")
                .filter_expression("#f = :open")
                .expression_attribute_names("#s", attr::SERVICE)
                .expression_attribute_names("#f", attr::FINISHED)
                .expression_attribute_values(":s", AttributeValue::S(service.clone()))
                .expression_attribute_values(":open", AttributeValue::Bool(false))
                .consistent_read(true)
                .into_paginator()
                .items()
                .send();
            while let Some(item) = items.next().await {
                let item = item.map_err(|e| {
                    JournalError::Remote(
                        from_sdk(
                            SERVICE_NAME,
                            "Query",
                            &format!("table {} partition {service}", self.table),
                            e,
                        )
                        .to_string(),
                    )
                })?;
                match parse_item(&item) {
                    Ok(entry) => found.push(entry),
                    Err(why) => tracing::warn!(
                        table = %self.table,
                        service = %service,
                        item = ?item.get(attr::WORKFLOW_ID),
                        "Skipping an unreadable drain journal item ({why}); it stays in the table untouched."
                    ),
                }
            }
        }
        Ok(found)
    }
}

fn parse_item(item: &HashMap<String, AttributeValue>) -> Result<(DrainWorkflow, u64), String> {
    let version = item
        .get(attr::VERSION)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or("no numeric `version`")?;
    let state = item
        .get(attr::STATE)
        .and_then(|v| v.as_s().ok())
        .ok_or("no string `state`")?;
    let wf: DrainWorkflow =
        serde_json::from_str(state).map_err(|e| format!("`state` is not a workflow: {e}"))?;
    Ok((wf, version))
}

impl Journal for DynamoJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        let seen = self.versions().get(&wf.id).copied();
        let version = seen.map_or(1, |v| v + 1);
        let state = serde_json::to_string(wf).expect("workflows serialize");
        block_on(self.write(wf, &state, seen, version))??;
        let mut versions = self.versions();
        if wf.is_done() {
            versions.remove(&wf.id);
        } else {
            versions.insert(wf.id.clone(), version);
        }
        Ok(())
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        self.remember(block_on(self.read_unfinished(&self.services))??)
    }

    fn unfinished_of(&self, service: &str) -> Result<Vec<DrainWorkflow>, JournalError> {
        self.remember(block_on(self.read_unfinished(&[service.to_string()]))??)
    }
}

impl DynamoJournal {
    /// Notes the versions read, so the next writes are conditional on them.
    fn remember(
        &self,
        found: Vec<(DrainWorkflow, u64)>,
    ) -> Result<Vec<DrainWorkflow>, JournalError> {
        let mut versions = self.versions();
        Ok(found
            .into_iter()
            .map(|(wf, version)| {
                versions.insert(wf.id.clone(), version);
                wf
            })
            .collect())
    }
}

/// Runs `f` to completion on the current multi-threaded tokio runtime, from
/// synchronous code running on it (see the module doc).
fn block_on<F: Future>(f: F) -> Result<F::Output, JournalError> {
    let refuse = || {
        JournalError::Remote(
            "the DynamoDB journal must be called from a multi-threaded tokio runtime \
             (it waits for DynamoDB with tokio::task::block_in_place)"
                .into(),
        )
    };
    let handle = Handle::try_current().map_err(|_| refuse())?;
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return Err(refuse());
    }
    Ok(tokio::task::block_in_place(|| handle.block_on(f)))
}

#[cfg(test)]
mod tests;
