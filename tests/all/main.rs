//! The one integration-test binary of the project: a module per area.

mod aws;
mod backtest;
mod console;
mod contract;
mod deploy;
mod dry_run;
mod e2e;
mod golden;
mod health;
mod http;
mod hygiene;
mod ingest_tasks;
mod polyglot;
mod records;
mod records_golden;
mod reliability;
mod reload;
mod runtime;
mod runtime_sandbox;
mod scaffold;
mod sim_run;
mod startup;
mod support;
