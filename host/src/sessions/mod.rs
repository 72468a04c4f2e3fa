//! Active user sessions, stored per task in DynamoDB: the schema, the writing
//! side ([`SessionStore`], fed by the [`ingest`] HTTP API on its own listener, [`server`]), and the listing
//! behind `autoscaler sessions list` ([`list`]). The tick's reading side is the
//! AWS provider's [`Sessions`](crate::providers::Sessions) implementation,
//! which uses the same store.
//!
//! # Table schema
//!
//! One item per active session, in one table (default name
//! `autoscaler-sessions`, see [`DEFAULT_TABLE`]):
//!
//! | attribute | type | key | meaning |
//! |---|---|---|---|
//! | `service` | S | partition | `cluster/service`, with the cluster's *name* (never its ARN) |
//! | `task_session` | S | sort | `task_id#session_id`; the task ID is the last part of the task ARN and holds no `#` |
//! | `started_at` | N | | when the session started, Unix seconds |
//! | `expires_at` | N | | optional heartbeat deadline, Unix seconds |
//!
//! Create it with on-demand capacity and turn on DynamoDB TTL on `expires_at`
//! so stale items are eventually removed (see `deploy/README.md`). TTL
//! deletion lags by hours, so readers never rely on it: an item whose
//! `expires_at` lies before *now* is ignored (an item with no `expires_at`
//! lives until its session ends). Counting sessions per task is one paginated,
//! strongly consistent Query on the partition key.
//!
//! # Writes
//!
//! - *start*: a conditional put (`attribute_not_exists`), so a retried start
//!   leaves the first item (and its `started_at`) untouched and still succeeds;
//! - *heartbeat*: a conditional update of `expires_at` (`attribute_exists`):
//!   a heartbeat for a session that has no item is refused (HTTP 404), so a
//!   late heartbeat can never resurrect a session that has ended; the
//!   application answers a 404 by sending *start* again;
//! - *end*: a delete, which succeeds whether or not the item still exists.
//!
//! One limit: a *start* retried after its own *end* recreates the session,
//! with its deadline. The ingest API requires `ttl_seconds` on every start
//! (at most `ingest.max_ttl`, default 1 h), so such an item expires on its
//! own; only items written by other tools can lack a deadline.
//!
//! Who may write is decided before the store is reached: the ingest API runs
//! on its own listener ([`server`]) with bearer tokens, accepts events only
//! for current tasks of configured services ([`tasks`]), and caps sessions
//! per task and per service. SECURITY.md at the repository root has the
//! threat model.

mod config;
mod handlers;
pub mod ingest;
pub mod list;
mod request;
mod schema;
pub mod server;
mod store;
pub mod tasks;
pub mod tokens;

pub use config::IngestConfig;

pub use schema::{DEFAULT_TABLE, SessionKey, SessionRecord, attr, cluster_name, partition_key};
pub use store::{EndOutcome, HeartbeatOutcome, SessionStore, StartOutcome};
