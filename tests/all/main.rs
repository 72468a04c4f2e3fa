//! The one integration-test binary of the project: a module per area.

mod golden;
mod runtime;
mod support;
