//! # Writing autoscaler policies in Rust
//!
//! A policy is one plain function from a [`Snapshot`] of a service to a
//! [`Decision`]. [`export_policy!`] turns it into a WebAssembly component
//! that the autoscaler host loads, sandboxes and hot-swaps.
//!
//! ```
//! use autoscaler_sdk::{export_policy, Decision, Snapshot};
//!
//! /// Keep CPU near 60 %: one more task when hot, drain an idle one when cold.
//! fn decide(s: &Snapshot) -> Result<Decision, String> {
//!     let Some(cpu) = s.cpu else {
//!         return Ok(Decision::hold("CPU is not reported yet."));
//!     };
//!     let high = s.param_f64("cpu-high").unwrap_or(75.0);
//!     let low = s.param_f64("cpu-low").unwrap_or(30.0);
//!     let current = s.effective_desired();
//!     if cpu > high {
//!         return Ok(Decision::scale_to(current + 1, format!("CPU {cpu:.0}% is over {high}%.")));
//!     }
//!     if cpu < low && s.sessions_known {
//!         let idle: Vec<u32> = s.idle_tasks().map(|t| t.handle).collect();
//!         if !idle.is_empty() {
//!             return Ok(Decision::scale_to(current - 1, format!("CPU {cpu:.0}% is under {low}%."))
//!                 .with_drain(idle));
//!         }
//!     }
//!     Ok(Decision::hold("CPU is within its band."))
//! }
//!
//! export_policy!(decide);
//!
//! // Policies are unit-tested natively with the snapshot builder:
//! use autoscaler_sdk::testing::SnapshotBuilder;
//! let hot = SnapshotBuilder::new().running_tasks(2).cpu(90.0).build();
//! assert_eq!(decide(&hot).unwrap().desired, Some(3));
//!
//! let cold = SnapshotBuilder::new()
//!     .task(|t| t.sessions(3))
//!     .task(|t| t.sessions(0))
//!     .cpu(10.0)
//!     .build();
//! let decision = decide(&cold).unwrap();
//! assert_eq!(decision.desired, Some(1));
//! assert_eq!(decision.drain, vec![cold.tasks[1].handle]);
//! ```
//!
//! Build the component with `cargo build --release --target wasm32-wasip2`;
//! the `.wasm` lands in `target/wasm32-wasip2/release/`. Then check it with
//! `autoscaler policy check`, and run it against snapshots with
//! `autoscaler policy eval` and `autoscaler policy test`.

mod helpers;
pub mod log;
mod params;
pub mod testing;
mod types;

#[doc(hidden)]
pub mod bindings {
    //! Bindings generated from `wit/`, used by [`export_policy!`](crate::export_policy).
    #![allow(missing_docs, unsafe_code)]
    wit_bindgen::generate!({
        path: "../wit/0.2.0",
        world: "scaling-policy",
        pub_export_macro: true,
        export_macro_name: "export_raw",
        default_bindings_module: "autoscaler_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub use bindings::exports::autoscaler::policy::policy::{ParamKind, PolicyInfo};
pub use helpers::Trend;
pub use params::ParamSpec;
pub use types::{
    Decision, Drain, DrainStep, Param, ParamValue, Snapshot, TargetHealth, Task, TaskStatus,
    TickSummary,
};

/// The version of the policy contract (the WIT package) this SDK builds against.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The ECS task ID behind a handle from the current snapshot, for logs.
///
/// Inside the host this asks the host; in native tests it answers from the
/// IDs given to [`testing::SnapshotBuilder`].
pub fn task_id(handle: u32) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        bindings::autoscaler::policy::host::task_id(handle)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        testing::native_task_id(handle)
    }
}

/// Routes panic messages to the host's log (inside the sandbox there is no
/// stderr), so a panicking policy's fault names its message.
#[doc(hidden)]
pub fn __install_panic_hook() {
    #[cfg(target_arch = "wasm32")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| log::error(&format!("panic: {info}"))));
        });
    }
}

/// Exports a function `fn(&Snapshot) -> Result<Decision, String>` as the
/// policy of this crate's component.
///
/// The policy's name and version default to the crate's; name them
/// explicitly with `export_policy!(decide, name = "x", version = "1.0.0")`.
/// Declare the parameters the policy reads with `params = [...]` (after the
/// name and version, or alone), a list of [`ParamSpec`]s: the host then checks
/// the service's `[params]` against them when it loads the policy and fills
/// in the defaults.
///
/// ```
/// use autoscaler_sdk::{export_policy, Decision, ParamSpec, Snapshot};
/// fn decide(s: &Snapshot) -> Result<Decision, String> {
///     let buffer = s.param_f64("buffer-slots").unwrap_or(10.0);
///     Ok(Decision::hold(format!("buffer {buffer}")))
/// }
/// export_policy!(decide, params = [
///     ParamSpec::number("buffer-slots", 10.0)
///         .range(0.0, 500.0)
///         .doc("Free session slots kept on serving tasks."),
///     ParamSpec::flag("phases", false).doc("Use the time-of-day phases."),
/// ]);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($decide:path) => {
        $crate::export_policy!($decide, name = env!("CARGO_PKG_NAME"), version = env!("CARGO_PKG_VERSION"), params = []);
    };
    ($decide:path, params = [$($spec:expr),* $(,)?]) => {
        $crate::export_policy!($decide, name = env!("CARGO_PKG_NAME"), version = env!("CARGO_PKG_VERSION"), params = [$($spec),*]);
    };
    ($decide:path, name = $name:expr, version = $version:expr) => {
        $crate::export_policy!($decide, name = $name, version = $version, params = []);
    };
    ($decide:path, name = $name:expr, version = $version:expr, params = [$($spec:expr),* $(,)?]) => {
        $crate::export_policy!($decide, name = $name, version = $version, params = ::std::vec![$($spec),*]);
    };
    ($decide:path, params = $specs:expr) => {
        $crate::export_policy!($decide, name = env!("CARGO_PKG_NAME"), version = env!("CARGO_PKG_VERSION"), params = $specs);
    };
    ($decide:path, name = $name:expr, version = $version:expr, params = $specs:expr) => {
        #[doc(hidden)]
        pub struct __AutoscalerPolicy;
        impl __AutoscalerPolicy {
            /// The parameters this policy declares, for native tests
            /// (`SnapshotBuilder::declared`) and `info`.
            #[allow(dead_code)]
            pub fn declared_params() -> ::std::vec::Vec<$crate::ParamSpec> {
                ::std::iter::IntoIterator::into_iter($specs).collect()
            }
        }
        impl $crate::bindings::exports::autoscaler::policy::policy::Guest for __AutoscalerPolicy {
            fn info() -> $crate::PolicyInfo {
                $crate::PolicyInfo {
                    name: ($name).into(),
                    version: ($version).into(),
                    params: Self::declared_params().into_iter().map($crate::ParamSpec::into_wire).collect(),
                }
            }
            fn decide(
                snapshot: $crate::bindings::autoscaler::policy::types::Snapshot,
            ) -> ::core::result::Result<$crate::Decision, ::std::string::String> {
                $crate::__install_panic_hook();
                $decide(&$crate::Snapshot::from_wire(snapshot))
            }
        }
        // Native builds (unit tests) skip the export: its symbol names are not valid there.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export_raw!(__AutoscalerPolicy with_types_in $crate::bindings);
    };
}
