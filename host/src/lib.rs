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
//! - [`ha`]: several hosts sharing the services through DynamoDB leases,
//!   with fencing tokens on the journal and a lease check before each write;
//! - [`backtest`]: policies run through the daemon on the simulated cluster,
//!   compared side by side and against an offline oracle, with a report;
//! - [`config`]: the TOML config;
//! - [`remote`]: policies and the config kept in S3, polled for changes;
//! - [`model`]: the snapshot and decision types every stage shares.

pub mod backtest;
pub mod config;
pub mod daemon;
pub mod escape;
pub mod events;
pub mod golden;
pub mod ha;
pub mod model;
pub mod providers;
pub mod remote;
pub mod rotate;
pub mod runtime;
pub mod sessions;
pub mod sim;
pub mod tick;
pub mod workflow;

/// Paths of the example policy components built with the host (by `host/build.rs`), for tests, benches and the demo.
/// The adversarial test policies are not here: they are the `test-policy-artifacts` dev-dependency.
pub mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/policy_artifacts.rs"));

    #[cfg(test)]
    mod tests {
        use std::path::Path;

        #[test]
        fn production_artifacts_are_the_example_policies_and_no_test_policy() {
            assert!(!super::ALL.is_empty(), "no example policy was built");
            let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
            for (package, path) in super::ALL {
                for (test_package, test_path) in test_policy_artifacts::ALL {
                    assert!(
                        package != test_package && path != test_path,
                        "the test policy {test_package} ({test_path}) is in the production artifacts"
                    );
                }
                assert!(
                    !package.starts_with("adversarial-"),
                    "the adversarial policy {package} is in the production artifacts"
                );
                assert!(
                    examples.join(package).join("Cargo.toml").is_file(),
                    "{package} is not an example policy under policies/"
                );
                assert!(Path::new(path).is_file(), "{path} was not built");
            }
        }
    }
}
