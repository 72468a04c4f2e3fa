//! The one place `bindgen!` runs; the rest of the host sees domain types.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "scaling-policy",
});

pub use self::autoscaler::policy::host::Level;
pub use self::autoscaler::policy::types as wit;
pub use exports::autoscaler::policy::policy::PolicyInfo;
