//! The domain types every stage shares: a service's [`Snapshot`] and a policy's [`Decision`],
//! with the JSON forms that `policy eval`, `policy test` and the decision log use.

mod decision;
mod digest;
mod snapshot;

pub use decision::Decision;
pub use snapshot::{
    DrainInfo, DrainStep, ParamValue, Snapshot, TargetHealth, TaskInfo, TaskStatus, TickSummary,
};
