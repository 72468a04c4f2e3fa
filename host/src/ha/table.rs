//! The lease table: one item per service lease and one heartbeat item per
//! host, all in one partition, written only with conditional writes.
//!
//! | attribute | type | meaning |
//! |---|---|---|
//! | `group` | S | **partition key**: always `autoscaler` (one Query reads everything) |
//! | `id` | S | **sort key**: `lease#cluster/service` or `host#HOST_ID` |
//! | `holder` | S | leases: the host that holds (or last held) it |
//! | `token` | N | leases: the fencing token, raised on every takeover |
//! | `expires_ms` | N | until when the lease or heartbeat holds, Unix milliseconds; 0 once released |
//! | `expires_at` | N | heartbeats only: a day later, Unix seconds, for DynamoDB's TTL |

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::providers::aws::errors::from_sdk;
use crate::providers::aws::{AwsConfig, AwsProvider};

/// The table's attribute names.
pub mod attr {
    /// Partition key: always [`super::GROUP`].
    pub const GROUP: &str = "group";
    /// Sort key: `lease#SERVICE` or `host#HOST`.
    pub const ID: &str = "id";
    /// The lease's holder.
    pub const HOLDER: &str = "holder";
    /// The fencing token.
    pub const TOKEN: &str = "token";
    /// Until when it holds, Unix milliseconds.
    pub const EXPIRES_MS: &str = "expires_ms";
    /// Heartbeats: when TTL may delete the item, Unix seconds.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The partition every item is in.
pub const GROUP: &str = "autoscaler";

const SERVICE_NAME: &str = "DynamoDB";

/// The key (`group`, `id`) of `service`'s lease item.
pub fn key(service: &str) -> (String, String) {
    (GROUP.to_string(), format!("lease#{service}"))
}

/// A lease item as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseItem {
    /// Its holder (the last one, if released or expired).
    pub holder: String,
    /// Its fencing token.
    pub token: u64,
    /// Until when it holds, Unix milliseconds; 0 once released.
    pub expires_ms: u64,
}

/// Everything in the table, as one strongly consistent Query read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Lease items by service key.
    pub leases: BTreeMap<String, LeaseItem>,
    /// Host heartbeats: host ID and until when it counts as live (Unix ms).
    pub hosts: BTreeMap<String, u64>,
}

impl View {
    /// The hosts whose heartbeat holds at `now_ms`.
    pub fn live_hosts(&self, now_ms: u64) -> usize {
        self.hosts.values().filter(|e| **e > now_ms).count()
    }
}

/// A lease table call failed (not a refused condition: that is an `Ok(false)`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("lease table: {0}")]
pub struct TableError(pub String);

/// The lease table through its own DynamoDB client.
#[derive(Debug, Clone)]
pub struct LeaseTable {
    client: Client,
    table: String,
}

/// Unix milliseconds now, by this host's clock.
pub fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl LeaseTable {
    /// A table client over `client`.
    pub fn new(client: Client, table: impl Into<String>) -> LeaseTable {
        LeaseTable {
            client,
            table: table.into(),
        }
    }

    /// A client from the SDK's default chain and `aws`'s region and endpoint,
    /// each call bounded by `timeout` in all (a renewal must end well inside a lease).
    pub async fn connect(
        aws: &AwsConfig,
        table: impl Into<String>,
        timeout: Duration,
    ) -> Result<LeaseTable, TableError> {
        let sdk = AwsProvider::load_sdk_config(aws)
            .await
            .map_err(|e| TableError(e.to_string()))?;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(aws.attempt_timeout.min(timeout))
                    .operation_timeout(timeout)
                    .build(),
            )
            .build();
        Ok(LeaseTable::new(Client::from_conf(conf), table))
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.table
    }

    fn err<E>(&self, call: &str, id: &str, e: SdkError<E, HttpResponse>) -> TableError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        TableError(
            from_sdk(
                SERVICE_NAME,
                call,
                &format!("table {} item {id}", self.table),
                e,
            )
            .to_string(),
        )
    }

    /// Every lease and heartbeat (one strongly consistent, paginated Query).
    /// Unreadable items are skipped with a warning.
    pub async fn read(&self) -> Result<View, TableError> {
        let mut view = View::default();
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#g = :g")
            .expression_attribute_names("#g", attr::GROUP)
            .expression_attribute_values(":g", s(GROUP))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| self.err("Query", GROUP, e))?;
            let num = |a: &str| {
                item.get(a)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let id = item.get(attr::ID).and_then(|v| v.as_s().ok());
            let expires = num(attr::EXPIRES_MS);
            match (id.map(String::as_str), expires) {
                (Some(id), Some(e)) if id.starts_with("host#") => {
                    view.hosts.insert(id["host#".len()..].to_string(), e);
                }
                (Some(id), Some(e)) if id.starts_with("lease#") => {
                    let holder = item.get(attr::HOLDER).and_then(|v| v.as_s().ok());
                    match (holder, num(attr::TOKEN)) {
                        (Some(h), Some(t)) => {
                            view.leases.insert(
                                id["lease#".len()..].to_string(),
                                LeaseItem {
                                    holder: h.clone(),
                                    token: t,
                                    expires_ms: e,
                                },
                            );
                        }
                        _ => {
                            tracing::warn!(table = %self.table, item = id, "Skipping a lease item without a holder or token.")
                        }
                    }
                }
                _ => {
                    tracing::warn!(table = %self.table, item = ?id, "Skipping an unreadable item in the lease table.")
                }
            }
        }
        Ok(view)
    }

    /// Takes `service`'s lease for `me` until `expires_ms`, on condition that
    /// the item is still what `seen` says (absent, or that holder, token and
    /// expiry). Returns the new token, or none if another host changed the
    /// item first. A takeover raises the token; taking back one's own
    /// released lease does too, so every holding has its own token.
    pub async fn acquire(
        &self,
        service: &str,
        me: &str,
        seen: Option<&LeaseItem>,
        expires_ms: u64,
    ) -> Result<Option<u64>, TableError> {
        let (group, id) = key(service);
        let token = seen.map_or(1, |s| s.token + 1);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(attr::GROUP, s(&group))
            .item(attr::ID, s(&id))
            .item(attr::HOLDER, s(me))
            .item(attr::TOKEN, n(token))
            .item(attr::EXPIRES_MS, n(expires_ms));
        let put = match seen {
            None => put
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", attr::ID),
            Some(item) => put
                .condition_expression("#t = :t AND #e = :e AND #h = :h")
                .expression_attribute_names("#t", attr::TOKEN)
                .expression_attribute_names("#e", attr::EXPIRES_MS)
                .expression_attribute_names("#h", attr::HOLDER)
                .expression_attribute_values(":t", n(item.token))
                .expression_attribute_values(":e", n(item.expires_ms))
                .expression_attribute_values(":h", s(&item.holder)),
        };
        match put.send().await {
            Ok(_) => Ok(Some(token)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.err("PutItem", &id, e)),
        }
    }

    /// Sets the expiry of `me`'s lease with `token` on `service`: to
    /// `expires_ms` to renew, to 0 to release. False if this host no longer
    /// holds it with that token.
    pub async fn extend(
        &self,
        service: &str,
        me: &str,
        token: u64,
        expires_ms: u64,
    ) -> Result<bool, TableError> {
        let (group, id) = key(service);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::GROUP, s(&group))
            .key(attr::ID, s(&id))
            .update_expression("SET #e = :e")
            .condition_expression("#h = :h AND #t = :t")
            .expression_attribute_names("#e", attr::EXPIRES_MS)
            .expression_attribute_names("#h", attr::HOLDER)
            .expression_attribute_names("#t", attr::TOKEN)
            .expression_attribute_values(":e", n(expires_ms))
            .expression_attribute_values(":h", s(me))
            .expression_attribute_values(":t", n(token))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.err("UpdateItem", &id, e)),
        }
    }

    /// Writes `me`'s heartbeat: live until `expires_ms`.
    pub async fn heartbeat(&self, me: &str, expires_ms: u64) -> Result<(), TableError> {
        let id = format!("host#{me}");
        self.client
            .put_item()
            .table_name(&self.table)
            .item(attr::GROUP, s(GROUP))
            .item(attr::ID, s(&id))
            .item(attr::EXPIRES_MS, n(expires_ms))
            .item(attr::EXPIRES_AT, n(expires_ms / 1000 + 86_400))
            .send()
            .await
            .map_err(|e| self.err("PutItem", &id, e))?;
        Ok(())
    }

    /// Deletes `me`'s heartbeat (on a graceful stop), so the others count one host less at once.
    pub async fn leave(&self, me: &str) -> Result<(), TableError> {
        let id = format!("host#{me}");
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(attr::GROUP, s(GROUP))
            .key(attr::ID, s(&id))
            .send()
            .await
            .map_err(|e| self.err("DeleteItem", &id, e))?;
        Ok(())
    }
}
