//! The one integration-test binary of the project: a module per area.

mod aws;
mod backtest;
mod e2e;
mod golden;
mod http;
mod ingest_tasks;
mod polyglot;
mod reliability;
mod reload;
mod runtime;
mod sim_run;
mod support;
