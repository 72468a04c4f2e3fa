//! # autoscaler
//!
//! A host that autoscales ECS Fargate services with policies written as
//! WebAssembly components, and never stops a task that carries a live session.
//!
//! # Layout
//!
//! One tick of one service flows through these modules, in this order:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | gather | [`tick::gather`] | builds a [`model::Snapshot`] from the providers |
//! | decide | [`tick::decide`] | calls the policy component in its sandbox ([`runtime`]) |
//! | guard | [`tick::guard`] | enforces limits, cooldowns and session safety |
//! | execute | [`tick::execute`] | scales out, or starts drain workflows ([`workflow`]) |
//! | record | [`tick::record`] | writes the decision record and emits [`events`] |
//!
//! Around the tick:
//! - [`providers`]: the traits through which the tick touches the world, with
//!   the AWS SDKs behind one implementation and the simulated cluster ([`sim`])
//!   behind the other;
//! - [`runtime`]: the wasmtime engine, the compiled-component cache and hot reload;
//! - [`workflow`]: the durable drain state machine and its journal;
//! - [`daemon`]: the long-running service loops and the HTTP endpoint;
//! - [`backtest`]: policies run through the daemon on the simulated cluster,
//!   compared side by side and against an offline oracle, with a report;
//! - [`config`]: the TOML config;
//! - [`model`]: the snapshot and decision types every stage shares.

pub mod backtest;
pub mod config;
pub mod daemon;
pub mod events;
pub mod golden;
pub mod model;
pub mod providers;
pub mod rotate;
pub mod runtime;
pub mod sessions;
pub mod sim;
pub mod tick;
pub mod workflow;

/// Paths of the policy components built with the host (by `host/build.rs`), for tests, benches and the demo.
pub mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/policy_artifacts.rs"));
}
