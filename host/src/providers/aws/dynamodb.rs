//! DynamoDB: active sessions per task, one paginated Query per service, through
//! the [`SessionStore`] that also serves the ingest API.

use std::collections::HashMap;

use crate::providers::{ProviderResult, ServiceRef};
use crate::sessions::SessionStore;

/// Counts the active sessions of each task of the service at `now`.
pub(super) async fn sessions_by_task(
    store: &SessionStore,
    svc: &ServiceRef,
    now: u64,
) -> ProviderResult<HashMap<String, u32>> {
    let mut counts: HashMap<String, u32> = HashMap::new();
    for record in store.active(&svc.cluster, &svc.service, now).await? {
        *counts.entry(record.task_id).or_default() += 1;
    }
    Ok(counts)
}
