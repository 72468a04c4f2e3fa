//! A task's app-level cordon item in the session table: `#cordon#TASK_ID` in
//! the service's partition, which session counts skip.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{SERVICE, SessionStore};
use crate::providers::ProviderResult;
use crate::providers::aws::errors::from_sdk;
use crate::sessions::schema::{CORDON_ITEM_TTL_S, attr, cordon_sort_key, partition_key};

impl SessionStore {
    /// Publishes (`Some(since)`) or lifts (`None`) a task's app-level
    /// cordon: one PutItem or DeleteItem of the item `#cordon#TASK_ID` in the
    /// service's partition, which session counts skip. Idempotent.
    pub async fn set_cordon(
        &self,
        cluster: &str,
        service: &str,
        task_id: &str,
        cordoned_since: Option<u64>,
    ) -> ProviderResult<()> {
        let key = HashMap::from([
            (
                attr::SERVICE.to_string(),
                AttributeValue::S(partition_key(cluster, service)),
            ),
            (
                attr::TASK_SESSION.to_string(),
                AttributeValue::S(cordon_sort_key(task_id)),
            ),
        ]);
        let resource = format!(
            "table {} item {}|{}",
            self.table,
            partition_key(cluster, service),
            cordon_sort_key(task_id)
        );
        match cordoned_since {
            Some(since) => {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(key))
                    .item(attr::CORDONED_SINCE, AttributeValue::N(since.to_string()))
                    .item(
                        attr::EXPIRES_AT,
                        AttributeValue::N((since + CORDON_ITEM_TTL_S).to_string()),
                    )
                    .send()
                    .await
                    .map_err(|e| from_sdk(SERVICE, "PutItem", &resource, e))?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key))
                    .send()
                    .await
                    .map_err(|e| from_sdk(SERVICE, "DeleteItem", &resource, e))?;
            }
        }
        Ok(())
    }

    /// Since when a task is cordoned at the application level, if it is
    /// (one strongly consistent GetItem): what the ingest API answers as
    /// `"accepting"`.
    pub async fn cordoned_since(
        &self,
        cluster: &str,
        service: &str,
        task_id: &str,
    ) -> ProviderResult<Option<u64>> {
        let pk = partition_key(cluster, service);
        let sk = cordon_sort_key(task_id);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .consistent_read(true)
            .key(attr::SERVICE, AttributeValue::S(pk.clone()))
            .key(attr::TASK_SESSION, AttributeValue::S(sk.clone()))
            .send()
            .await
            .map_err(|e| {
                from_sdk(
                    SERVICE,
                    "GetItem",
                    &format!("table {} item {pk}|{sk}", self.table),
                    e,
                )
            })?;
        Ok(out.item().map(|item| {
            item.get(attr::CORDONED_SINCE)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map_or(0, |n| n as u64)
        }))
    }
}
