//! Integration tests of the AWS provider and the session ingest API against
//! `moto_server` on 127.0.0.1 (one fresh server per test, killed on drop).
//!
//! # Which layer proves what
//!
//! These tests prove the *AWS layer*: that the provider issues the right SDK
//! calls, batches and paginates them, reads the answers correctly (counts,
//! tasks with their ENI IP and container port, target health, the latest
//! complete CloudWatch datapoint, session counts that skip expired items),
//! that its actions change the server's state (desired count, target
//! registration), that errors are mapped to the right kind, and how many calls
//! a tick costs. They also prove the ingest API end to end against DynamoDB,
//! and that `deploy/iam-policy.json` lists exactly the calls the code makes.
//!
//! The DynamoDB drain journal is proven here too (`journal`): its items,
//! conditional writes against a stale host, and read-back per service. And
//! `restart` runs the real `autoscaler` binary through a whole drain,
//! killed with SIGKILL mid-drain and restarted: for that, a proxy in front of
//! moto (`proxy`) answers task protection calls in ECS's wire format, and the
//! test plays the ECS scheduler, stopping an unprotected task when the
//! desired count falls below the running tasks.
//!
//! moto cannot show, so the simulated cluster (`providers::sim`, tested by the
//! end-to-end scenarios) proves instead:
//! - scheduling: moto starts no task for a desired count; tests seed tasks
//!   with `run_task(group = "service:NAME")`;
//! - scale-in protection against a real scheduler: moto answers every task
//!   protection call with HTTP 500, so without the proxy protection reads as
//!   unknown (unprotected) and setting it fails with a transient error (which
//!   the `ecs` tests assert);
//! - deregistration delay and draining: moto's targets are healthy at once
//!   and leave the target group the moment they are deregistered;
//! - task start-up and stopping: ECS task state transitions are frozen here.

mod moto;
mod process;
mod proxy;
mod scheduler;
mod seed;

mod calls;
mod cloudformation;
mod cloudwatch;
mod cordon;
mod ecs;
mod elb;
mod ha;
mod iam;
mod ingest;
mod ingest_attacks;
mod journal;
mod metrics;
mod publish;
mod restart;
mod roll_back;
mod s3_policies;
mod sessions;
mod setup;
