//! DynamoDB: active sessions per task, one paginated Query per service, through
//! the [`SessionStore`] that also serves the ingest API.

use crate::providers::{ProviderResult, ServiceRef, SessionCounts};
use crate::sessions::SessionStore;

/// Counts the active sessions of each task of the service at `now`.
pub(super) async fn sessions_by_task(
    store: &SessionStore,
    svc: &ServiceRef,
    now: u64,
) -> ProviderResult<SessionCounts> {
    store.count_active(&svc.cluster, &svc.service, now).await
}
