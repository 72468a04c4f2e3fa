//! The board: each service's current state, as `/v1/services` and the
//! health checks show it.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use crate::tick::record::{PolicyRef, TickRecord};
use crate::workflow::DrainWorkflow;

/// What `/v1/services` shows for one service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// The service key.
    pub service: String,
    /// The live policy.
    pub policy: PolicyRef,
    /// The shadow policies' names.
    pub shadows: Vec<String>,
    /// When the next tick is due.
    pub next_tick: u64,
    /// Drains in flight.
    pub drains: Vec<DrainWorkflow>,
    /// Whether those drains are paused (`--dry-run`): shown, never advanced.
    pub drains_paused: bool,
    /// The last tick's record.
    pub last: Option<Arc<TickRecord>>,
    /// Seconds between ticks.
    pub interval: u64,
    /// Ticks in a row, up to the last, whose gather failed (`/readyz`).
    pub gather_failures: u32,
    /// With `[ha]`: the host that holds the service's lease, as far as this
    /// host knows (none: free, or not read yet). Without `[ha]`: none.
    pub holder: Option<String>,
    /// Whether this host runs the service (always, without `[ha]`).
    pub held_here: bool,
}

/// The services' current state, shared with the HTTP endpoint.
pub type Board = Arc<Mutex<BTreeMap<String, ServiceStatus>>>;

/// Gathers failed in a row as of `last`: unchanged when `last` is the record
/// `previous` already showed, else one more (its gather failed: it has no
/// state) or zero.
pub(super) fn gather_failures(
    previous: Option<&ServiceStatus>,
    last: Option<&Arc<TickRecord>>,
) -> u32 {
    let Some(last) = last else { return 0 };
    let before = previous.map_or(0, |p| p.gather_failures);
    match previous.and_then(|p| p.last.as_ref()) {
        Some(shown) if Arc::ptr_eq(shown, last) => before,
        _ if last.state.is_none() => before + 1,
        _ => 0,
    }
}
