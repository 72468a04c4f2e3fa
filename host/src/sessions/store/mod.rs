//! [`SessionStore`]: conditional writes of session items and the per-service Query.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::schema::{CORDON_PREFIX, SessionKey, SessionRecord, attr, partition_key};
use crate::providers::aws::errors::from_sdk;
use crate::providers::{ProviderResult, SessionCounts};

mod cordon;

const SERVICE: &str = "DynamoDB";

/// The most expired items one count deletes; the rest wait for the next count.
pub const MAX_SWEEP: usize = 10_000;

/// Deletes of expired items in flight at once.
pub const SWEEP_CONCURRENCY: usize = 16;

/// What a start event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// The session item was created.
    Started,
    /// The item already existed (a retried start); it was left as it was.
    AlreadyStarted,
}

/// What a heartbeat did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// The deadline moved to the given time, Unix seconds.
    Refreshed {
        /// The new deadline.
        expires_at: u64,
    },
    /// No item exists for the session: it ended, or never started.
    UnknownSession,
}

/// What an end event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndOutcome {
    /// The session item was deleted.
    Ended,
    /// There was no item (a retried end); nothing changed.
    AlreadyEnded,
}

/// Reads and writes session items in one DynamoDB table (schema in [`crate::sessions`]).
#[derive(Debug, Clone)]
pub struct SessionStore {
    client: Client,
    table: String,
}

impl SessionStore {
    /// A store over `table`, using `client` (build it from an `SdkConfig`, with
    /// the provider's [`CallCounter`](crate::providers::aws::CallCounter) if calls should be counted).
    pub fn new(client: Client, table: impl Into<String>) -> SessionStore {
        SessionStore {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn resource(&self, key: &SessionKey) -> String {
        format!(
            "table {} item {}|{}",
            self.table,
            key.partition_key(),
            key.sort_key()
        )
    }

    /// Records a session start (conditional PutItem). `ttl_seconds`, when
    /// given, sets the first heartbeat deadline. A repeated start succeeds
    /// and changes nothing.
    pub async fn start(
        &self,
        key: &SessionKey,
        now: u64,
        ttl_seconds: Option<u32>,
    ) -> ProviderResult<StartOutcome> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key.item_key()))
            .item(attr::STARTED_AT, AttributeValue::N(now.to_string()))
            .condition_expression("attribute_not_exists(#sk)")
            .expression_attribute_names("#sk", attr::TASK_SESSION);
        if let Some(ttl) = ttl_seconds {
            put = put.item(
                attr::EXPIRES_AT,
                AttributeValue::N((now + u64::from(ttl)).to_string()),
            );
        }
        match put.send().await {
            Ok(_) => Ok(StartOutcome::Started),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(StartOutcome::AlreadyStarted)
            }
            Err(e) => Err(from_sdk(SERVICE, "PutItem", &self.resource(key), e)),
        }
    }

    /// Moves a session's heartbeat deadline to `now + ttl_seconds`
    /// (conditional UpdateItem). A session with no item is not recreated.
    pub async fn heartbeat(
        &self,
        key: &SessionKey,
        now: u64,
        ttl_seconds: u32,
    ) -> ProviderResult<HeartbeatOutcome> {
        let expires_at = now + u64::from(ttl_seconds);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.item_key()))
            .update_expression("SET #exp = :exp")
            .condition_expression("attribute_exists(#sk)")
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_names("#sk", attr::TASK_SESSION)
            .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(HeartbeatOutcome::Refreshed { expires_at }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(HeartbeatOutcome::UnknownSession)
            }
            Err(e) => Err(from_sdk(SERVICE, "UpdateItem", &self.resource(key), e)),
        }
    }

    /// Deletes a session's item (DeleteItem). Deleting a missing item succeeds.
    pub async fn end(&self, key: &SessionKey) -> ProviderResult<EndOutcome> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.item_key()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| from_sdk(SERVICE, "DeleteItem", &self.resource(key), e))?;
        Ok(if out.attributes().is_some_and(|a| !a.is_empty()) {
            EndOutcome::Ended
        } else {
            EndOutcome::AlreadyEnded
        })
    }

    /// Every stored session of a service, expired ones included (for
    /// listing): one paginated, strongly consistent Query.
    pub async fn list(&self, cluster: &str, service: &str) -> ProviderResult<Vec<SessionRecord>> {
        let mut records = Vec::new();
        self.query(cluster, service, None, |r| records.push(r))
            .await?;
        Ok(records)
    }

    /// The active sessions of each task of a service at `now`: one paginated,
    /// strongly consistent Query, counted per task page by page. Items whose
    /// deadline has passed are deleted (a DeleteItem conditioned on the
    /// deadline still being past, so a heartbeat in between wins), at most
    /// [`MAX_SWEEP`] a call: a flood of short-TTL starts leaves no item behind
    /// for DynamoDB's TTL sweep (which can take ~48 h), so the store holds at
    /// most the caps' worth of items plus those expired since the last count.
    pub async fn count_active(
        &self,
        cluster: &str,
        service: &str,
        now: u64,
    ) -> ProviderResult<SessionCounts> {
        let mut counts = SessionCounts::default();
        let mut expired = Vec::new();
        self.query(cluster, service, None, |r| {
            if r.is_active(now) {
                match counts.get_mut(&r.task_id) {
                    Some(n) => *n += 1,
                    None => {
                        counts.insert(r.task_id, 1);
                    }
                }
            } else if expired.len() < MAX_SWEEP {
                expired.push(SessionKey {
                    cluster: cluster.to_string(),
                    service: service.to_string(),
                    task_id: r.task_id,
                    session_id: r.session_id,
                });
            }
        })
        .await?;
        self.sweep(expired, now).await;
        Ok(counts)
    }

    /// Deletes the `expired` items, [`SWEEP_CONCURRENCY`] at a time; one WARN
    /// for the lot if any fails (DynamoDB's TTL still removes them later).
    async fn sweep(&self, expired: Vec<SessionKey>, now: u64) {
        let mut running = tokio::task::JoinSet::new();
        let mut failed = 0usize;
        let mut first_error = None;
        let mut note = |r: Result<ProviderResult<()>, tokio::task::JoinError>| {
            if let Ok(Err(e)) = r {
                failed += 1;
                first_error.get_or_insert(e);
            }
        };
        for key in expired {
            if running.len() >= SWEEP_CONCURRENCY
                && let Some(r) = running.join_next().await
            {
                note(r);
            }
            let store = self.clone();
            running.spawn(async move { store.delete_expired(&key, now).await });
        }
        while let Some(r) = running.join_next().await {
            note(r);
        }
        if let Some(e) = first_error {
            tracing::warn!(
                table = %self.table,
                "{failed} expired session items could not be deleted (DynamoDB's TTL will), the first: {}",
                crate::escape::Escaped(&e.to_string())
            );
        }
    }

    /// Deletes `key`'s item if its deadline is before `now`.
    async fn delete_expired(&self, key: &SessionKey, now: u64) -> ProviderResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.item_key()))
            .condition_expression("#exp < :now")
            .expression_attribute_names("#exp", attr::EXPIRES_AT)
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(from_sdk(SERVICE, "DeleteItem", &self.resource(key), e)),
        }
    }

    async fn query(
        &self,
        cluster: &str,
        service: &str,
        active_at: Option<u64>,
        mut each: impl FnMut(SessionRecord),
    ) -> ProviderResult<()> {
        let pk = partition_key(cluster, service);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::SERVICE)
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()));
        if let Some(now) = active_at {
            query = query
                .filter_expression("attribute_not_exists(#exp) OR #exp >= :now")
                .expression_attribute_names("#exp", attr::EXPIRES_AT)
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()));
        }
        let mut items = query.into_paginator().items().send();
        while let Some(item) = items.next().await {
            let item: HashMap<String, AttributeValue> = item.map_err(|e| {
                from_sdk(
                    SERVICE,
                    "Query",
                    &format!("table {} partition {pk}", self.table),
                    e,
                )
            })?;
            // A cordon item is no session (its sort key starts with `#`).
            if item
                .get(attr::TASK_SESSION)
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with(CORDON_PREFIX))
            {
                continue;
            }
            match SessionRecord::from_item(&item) {
                Ok(record) => each(record),
                Err(why) => tracing::warn!(
                    table = %self.table,
                    partition = %pk,
                    "A session item could not be read and is left out of the count: {why}."
                ),
            }
        }
        Ok(())
    }
}
