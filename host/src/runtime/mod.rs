//! The policy runtime: wasmtime with the component model, one sandbox per policy.
//!
//! - [`engine`]: the shared [`PolicyEngine`] (wasmtime `Engine`, epoch ticker, limits);
//! - [`load`]: reading, checking and compiling a component into a [`PolicyComponent`];
//! - `scan`: the checks on a component's bytes before it is compiled (world, imports, code sizes);
//! - [`cache`]: compiled artifacts cached on disk by content hash, each under an HMAC tag;
//! - `limiter`: one memory cap over all of an instance's memories and tables;
//! - `log`: the `log` import, which copies only what it keeps;
//! - [`call`]: a [`Policy`] instance and its `decide` call under limits;
//! - [`fault`]: the typed ways a policy can fail;
//! - [`reload`]: watching policy files and swapping them in between ticks.

mod bindings;
pub mod cache;
mod cache_dir;
pub mod call;
mod convert;
pub mod engine;
pub mod fault;
mod limiter;
pub mod load;
mod log;
pub mod reload;
mod scan;
mod state;
mod text;

pub use call::{CallReport, Policy, PolicyLog};
pub use convert::{MAX_SANE_DESIRED, RawDecision, validate_decision};
pub use engine::{Limits, PolicyEngine};
pub use fault::{LoadError, PolicyFault};
pub use load::PolicyComponent;

/// The contract version this host speaks: the version of the `autoscaler:policy` WIT package.
pub const CONTRACT_VERSION: &str = "0.1.0";
/// The interface every policy component must export.
pub const POLICY_EXPORT: &str = "autoscaler:policy/policy@0.1.0";
/// The interfaces a policy component may import and get real functions for.
pub const HOST_IMPORTS: [&str; 2] = [
    "autoscaler:policy/host@0.1.0",
    "autoscaler:policy/types@0.1.0",
];
