//! The one place `bindgen!` runs, once per contract version the host accepts;
//! the rest of the host sees domain types.
#![allow(missing_docs)]

/// Contract `autoscaler:policy@0.1.0` (wit/0.1.0), which the host keeps accepting unchanged.
pub mod v1 {
    wasmtime::component::bindgen!({
        path: "../wit/0.1.0",
        world: "scaling-policy",
    });

    pub use self::autoscaler::policy::host::Level;
    pub use self::autoscaler::policy::types as wit;
}

/// Contract `autoscaler:policy@0.2.0` (wit/0.2.0): cordons and declared parameters.
pub mod v2 {
    wasmtime::component::bindgen!({
        path: "../wit/0.2.0",
        world: "scaling-policy",
    });

    pub use self::autoscaler::policy::host::Level;
    pub use self::autoscaler::policy::types as wit;
    pub use exports::autoscaler::policy::policy::{ParamKind, ParamSpec};
}
