//! A policy instance and its `decide` call, under a memory cap, fuel and a deadline.
//!
//! One instance is reused across calls (a fresh one costs tens of microseconds);
//! after a trap the instance is dropped, because wasmtime cannot enter it
//! again, and the next call makes a new one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PolicyEngine;
use super::convert::{to_v1, to_v2, validate_decision};
use super::fault::PolicyFault;
use super::instance::{Bindings, Live, arm, classify, instantiate};
use super::load::PolicyComponent;
pub use super::state::PolicyLog;
use super::text;
use crate::model::{Decision, Snapshot};

/// What one `decide` call produced, fault or not.
#[derive(Debug, Clone)]
pub struct CallReport {
    /// The checked decision, or the fault.
    pub result: Result<Decision, PolicyFault>,
    /// What the policy logged during the call.
    pub logs: Vec<PolicyLog>,
    /// Log lines dropped over the limit.
    pub logs_dropped: usize,
    /// Wall time of the call, conversions included.
    pub elapsed: Duration,
    /// Fuel the call consumed.
    pub fuel_used: u64,
    /// Whether the call had to make a new instance first.
    pub fresh_instance: bool,
}

/// A loaded policy with its (reused) instance.
pub struct Policy {
    engine: PolicyEngine,
    component: Arc<PolicyComponent>,
    live: Option<Live>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("component", &self.component)
            .finish_non_exhaustive()
    }
}

impl Policy {
    /// A policy ready to call; its instance is made on the first call.
    pub fn new(engine: PolicyEngine, component: Arc<PolicyComponent>) -> Self {
        Policy {
            engine,
            component,
            live: None,
        }
    }

    /// The component behind this policy.
    pub fn component(&self) -> &Arc<PolicyComponent> {
        &self.component
    }

    /// Drops the current instance, so the next call starts from a fresh one.
    pub fn reset(&mut self) {
        self.live = None;
    }

    /// Asks the policy for a decision on `snapshot`, under the engine's limits.
    pub fn decide(&mut self, snapshot: &Snapshot) -> CallReport {
        let started = Instant::now();
        let limits = self.engine.limits().clone();
        let fresh_instance = self.live.is_none();
        if self.live.is_none() {
            match instantiate(&self.engine, &self.component.pre) {
                Ok(live) => self.live = Some(live),
                Err(fault) => {
                    return CallReport {
                        result: Err(fault),
                        logs: Vec::new(),
                        logs_dropped: 0,
                        elapsed: started.elapsed(),
                        fuel_used: 0,
                        fresh_instance,
                    };
                }
            }
        }
        let live = self.live.as_mut().expect("instance was just made");
        live.store
            .data_mut()
            .begin_call(snapshot.tasks.iter().map(|t| t.id.as_str()));
        arm(&mut live.store, &self.engine);
        // Each contract sees the snapshot in its own types: the conversion
        // happens here, per call, in the contract's bindings.
        let outcome = match &live.bindings {
            Bindings::V0_1(b) => b
                .autoscaler_policy_policy()
                .call_decide(&mut live.store, &to_v1::snapshot(snapshot))
                .map(|r| r.map(to_v1::decision)),
            Bindings::V0_2(b) => b
                .autoscaler_policy_policy()
                .call_decide(
                    &mut live.store,
                    &to_v2::snapshot(snapshot, &self.component.params),
                )
                .map(|r| r.map(to_v2::decision)),
        };
        let fuel_used = limits.fuel - live.store.get_fuel().unwrap_or(0);
        let result = match outcome {
            Ok(Ok(d)) => validate_decision(d, snapshot, &limits),
            Ok(Err(message)) => Err(PolicyFault::PolicyError {
                message: text::cap(message, limits.max_reason_bytes),
            }),
            Err(e) => Err(classify(e, live.store.data(), &self.engine)),
        };
        let data = live.store.data_mut();
        let logs = std::mem::take(&mut data.logs);
        let logs_dropped = data.logs_dropped;
        if matches!(
            result,
            Err(PolicyFault::Timeout { .. }
                | PolicyFault::OutOfMemory { .. }
                | PolicyFault::Trap { .. })
        ) {
            self.live = None;
        }
        CallReport {
            result,
            logs,
            logs_dropped,
            elapsed: started.elapsed(),
            fuel_used,
            fresh_instance,
        }
    }
}
