//! The policy runtime: wasmtime with the component model, one sandbox per policy.
//!
//! - [`engine`]: the shared [`PolicyEngine`] (wasmtime `Engine`, epoch ticker, limits);
//! - [`load`]: reading, checking and compiling a component into a [`PolicyComponent`];
//! - `scan`: the checks on a component's bytes before it is compiled (world, imports, code sizes);
//! - [`cache`]: compiled artifacts cached on disk by content hash, each under an HMAC tag;
//! - `limiter`: one memory cap over all of an instance's memories and tables;
//! - `log`: the `log` import, which copies only what it keeps;
//! - `instance`: a store under limits, instantiation, the `info` probe and fault classification;
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
mod instance;
mod limiter;
pub mod load;
mod log;
pub mod params;
pub mod reload;
mod scan;
mod state;
mod text;

pub use call::{CallReport, Policy, PolicyLog};
pub use convert::{MAX_SANE_DESIRED, RawDecision, validate_decision};
pub use engine::{Limits, PolicyEngine};
pub use fault::{FaultKind, LoadError, PolicyFault};
pub use load::PolicyComponent;
pub use params::{ParamError, ParamKind, ParamSpec};

/// The newest contract version this host speaks (the version of the
/// `autoscaler:policy` WIT package new policies build against).
pub const CONTRACT_VERSION: &str = "0.2.0";
/// Every contract version this host accepts, oldest first.
pub const CONTRACT_VERSIONS: [&str; 2] = ["0.1.0", "0.2.0"];
/// The interfaces a policy component may import and get real functions for
/// (each version's; a component must import those of the version it exports).
pub const HOST_IMPORTS: [&str; 4] = [
    "autoscaler:policy/host@0.1.0",
    "autoscaler:policy/types@0.1.0",
    "autoscaler:policy/host@0.2.0",
    "autoscaler:policy/types@0.2.0",
];

/// A contract version the host accepts, told by the interface a component
/// exports; shown as its package version, such as "0.2.0".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::Display, strum::IntoStaticStr,
)]
pub enum Contract {
    /// `autoscaler:policy@0.1.0`: no cordons, no declared parameters.
    #[strum(serialize = "0.1.0")]
    V0_1,
    /// `autoscaler:policy@0.2.0`: cordons and declared parameters.
    #[strum(serialize = "0.2.0")]
    V0_2,
}

impl Contract {
    /// Every contract the host accepts, oldest first.
    pub const ALL: [Contract; 2] = [Contract::V0_1, Contract::V0_2];

    /// The package version, such as "0.2.0".
    pub fn version(self) -> &'static str {
        self.into()
    }

    /// The interface a component of this contract exports.
    pub fn policy_export(self) -> &'static str {
        match self {
            Contract::V0_1 => "autoscaler:policy/policy@0.1.0",
            Contract::V0_2 => "autoscaler:policy/policy@0.2.0",
        }
    }

    /// The host interface a component of this contract imports.
    pub fn host_import(self) -> &'static str {
        match self {
            Contract::V0_1 => HOST_IMPORTS[0],
            Contract::V0_2 => HOST_IMPORTS[2],
        }
    }

    /// The contract whose policy interface is `export`, if the host accepts it.
    pub fn from_export(export: &str) -> Option<Contract> {
        Contract::ALL
            .into_iter()
            .find(|c| c.policy_export() == export)
    }
}
