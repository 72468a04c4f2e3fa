//! One conditional write of a workflow's item: a PutItem, or with `[ha]` a
//! TransactWriteItems that also checks the service's lease (see the parent
//! module's doc).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use super::{DynamoJournal, FINISHED_RETENTION, SERVICE_NAME, attr};
use crate::ha::table::attr as lease_attr;
use crate::providers::aws::errors::from_sdk;
use crate::providers::{Clock, SystemClock};
use crate::workflow::{DrainWorkflow, JournalError};

impl DynamoJournal {
    /// Writes `wf` as `version`, on condition that the stored item is at
    /// `seen` (and, with a fence, that this host still holds the lease).
    pub(super) async fn write(
        &self,
        wf: &DrainWorkflow,
        state: &str,
        seen: Option<u64>,
        version: u64,
    ) -> Result<(), JournalError> {
        let now = SystemClock.now();
        let mut item = HashMap::from([
            (
                attr::SERVICE.to_string(),
                AttributeValue::S(wf.service.clone()),
            ),
            (
                attr::WORKFLOW_ID.to_string(),
                AttributeValue::S(wf.id.clone()),
            ),
            (
                attr::VERSION.to_string(),
                AttributeValue::N(version.to_string()),
            ),
            (
                attr::FINISHED.to_string(),
                AttributeValue::Bool(wf.is_done()),
            ),
            (
                attr::STEP.to_string(),
                AttributeValue::S(wf.step.name().to_string()),
            ),
            (
                attr::TASK_ID.to_string(),
                AttributeValue::S(wf.task_id.clone()),
            ),
            (
                attr::STATE.to_string(),
                AttributeValue::S(state.to_string()),
            ),
            (
                attr::UPDATED_AT.to_string(),
                AttributeValue::N(now.to_string()),
            ),
        ]);
        if wf.is_done() {
            let expires = now + FINISHED_RETENTION.as_secs();
            item.insert(
                attr::EXPIRES_AT.into(),
                AttributeValue::N(expires.to_string()),
            );
        }
        let (condition, names, values) = match seen {
            None => (
                "attribute_not_exists(#id)",
                HashMap::from([("#id".to_string(), attr::WORKFLOW_ID.to_string())]),
                None,
            ),
            Some(v) => (
                "#v = :seen",
                HashMap::from([("#v".to_string(), attr::VERSION.to_string())]),
                Some(HashMap::from([(
                    ":seen".to_string(),
                    AttributeValue::N(v.to_string()),
                )])),
            ),
        };
        match &self.fence {
            None => match self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values)
                .send()
                .await
            {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(e) => {
                    return Err(JournalError::Remote(
                        from_sdk(SERVICE_NAME, "PutItem", &self.resource(wf), e).to_string(),
                    ));
                }
            },
            Some(fence) => {
                let fenced = |reason: String| JournalError::Fenced {
                    service: wf.service.clone(),
                    reason,
                };
                let Some(lease) = fence.condition(&wf.service) else {
                    return Err(fenced("this host holds no lease on it".into()));
                };
                let build = |e: aws_smithy_types::error::operation::BuildError| {
                    JournalError::Remote(format!("cannot build a journal write: {e}"))
                };
                let check = ConditionCheck::builder()
                    .table_name(&lease.table)
                    .key(lease_attr::GROUP, AttributeValue::S(lease.key.0.clone()))
                    .key(lease_attr::ID, AttributeValue::S(lease.key.1.clone()))
                    .condition_expression("#h = :h AND #t = :t")
                    .expression_attribute_names("#h", lease_attr::HOLDER)
                    .expression_attribute_names("#t", lease_attr::TOKEN)
                    .expression_attribute_values(":h", AttributeValue::S(lease.holder.clone()))
                    .expression_attribute_values(":t", AttributeValue::N(lease.token.to_string()))
                    .build()
                    .map_err(build)?;
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(condition)
                    .set_expression_attribute_names(Some(names))
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(build)?;
                let out = self
                    .client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().condition_check(check).build())
                    .transact_items(TransactWriteItem::builder().put(put).build())
                    .send()
                    .await;
                match out {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        let failed = |i: usize| {
                            e.as_service_error()
                                .and_then(|se| match se {
                                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
                                        c.cancellation_reasons().get(i).and_then(|r| r.code()).map(|c| c == "ConditionalCheckFailed")
                                    }
                                    _ => None,
                                })
                                .unwrap_or(false)
                        };
                        if failed(0) {
                            return Err(fenced(format!(
                                "its lease in table {} no longer names this host ({}) with fencing token {}",
                                lease.table, lease.holder, lease.token
                            )));
                        }
                        if !failed(1) {
                            return Err(JournalError::Remote(
                                from_sdk(SERVICE_NAME, "TransactWriteItems", &self.resource(wf), e)
                                    .to_string(),
                            ));
                        }
                    }
                }
            }
        };
        // The version condition failed. An earlier attempt of this same
        // call may have landed with its answer lost.
        match self.stored(wf).await? {
            Some((v, s)) if v == version && s == state => Ok(()),
            stored => Err(JournalError::Conflict {
                id: wf.id.clone(),
                expected: seen,
                found: stored.map(|(v, _)| v),
            }),
        }
    }
}
