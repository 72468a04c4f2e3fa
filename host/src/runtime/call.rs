//! A policy instance and its `decide` call, under a memory cap, fuel and a deadline.
//!
//! One instance is reused across calls (a fresh one costs tens of microseconds);
//! after a trap the instance is dropped, because wasmtime cannot enter it
//! again, and the next call makes a new one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::PolicyEngine;
use super::bindings::{v1, v2};
use super::convert::{to_v1, to_v2, validate_decision};
use super::fault::PolicyFault;
use super::load::{PolicyComponent, Pre};
use super::state::HostState;
pub use super::state::PolicyLog;
use super::text;
use crate::escape::escape;
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

struct Live {
    store: Store<HostState>,
    bindings: Bindings,
}

/// An instance's exports, in the bindings of its contract.
enum Bindings {
    V0_1(v1::ScalingPolicy),
    V0_2(v2::ScalingPolicy),
}

/// What a policy's `info` says, in either contract.
pub(crate) struct ProbedInfo {
    pub name: String,
    pub version: String,
    /// The declared parameters, unchecked (contract 0.2.0; empty for 0.1.0).
    pub params: Vec<v2::ParamSpec>,
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
            match instantiate(&self.engine, &self.component) {
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

/// Sets the per-call budgets: fuel and the epoch deadline both start at zero and trap at once.
fn arm(store: &mut Store<HostState>, engine: &PolicyEngine) {
    store
        .set_fuel(engine.limits().fuel)
        .expect("fuel is enabled on the engine");
    store.set_epoch_deadline(engine.deadline_ticks());
}

/// A store for one policy instance, with the memory cap and the call budgets set.
pub(crate) fn new_store(engine: &PolicyEngine) -> Store<HostState> {
    let mut store = Store::new(engine.engine(), HostState::new(engine.limits()));
    store.limiter(|s| &mut s.limiter);
    arm(&mut store, engine);
    store
}

fn instantiate(engine: &PolicyEngine, component: &PolicyComponent) -> Result<Live, PolicyFault> {
    let mut store = new_store(engine);
    let made = match &component.pre {
        Pre::V0_1(pre) => pre.instantiate(&mut store).map(Bindings::V0_1),
        Pre::V0_2(pre) => pre.instantiate(&mut store).map(Bindings::V0_2),
    };
    match made {
        Ok(bindings) => Ok(Live { store, bindings }),
        Err(e) => Err(match classify(e, store.data(), engine) {
            PolicyFault::Trap { message } => PolicyFault::Instantiate { message },
            other => other,
        }),
    }
}

/// Calls `info` on a fresh instance: the probe every load runs.
pub(crate) fn probe_info(
    engine: &PolicyEngine,
    component: &PolicyComponent,
) -> Result<ProbedInfo, PolicyFault> {
    let mut live = instantiate(engine, component)?;
    arm(&mut live.store, engine);
    let info = match &live.bindings {
        Bindings::V0_1(b) => b
            .autoscaler_policy_policy()
            .call_info(&mut live.store)
            .map(|i| ProbedInfo {
                name: i.name,
                version: i.version,
                params: Vec::new(),
            }),
        Bindings::V0_2(b) => b
            .autoscaler_policy_policy()
            .call_info(&mut live.store)
            .map(|i| ProbedInfo {
                name: i.name,
                version: i.version,
                params: i.params,
            }),
    }
    .map_err(|e| classify(e, live.store.data(), engine))?;
    let limit = engine.limits().max_reason_bytes;
    Ok(ProbedInfo {
        name: text::cap(info.name, limit),
        version: text::cap(info.version, limit),
        params: info.params,
    })
}

fn classify(e: wasmtime::Error, state: &HostState, engine: &PolicyEngine) -> PolicyFault {
    let limits = engine.limits();
    if state.limiter.denied {
        return PolicyFault::OutOfMemory {
            limit_bytes: limits.memory_bytes,
        };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            return PolicyFault::Timeout {
                what: format!("used up its fuel ({} units)", limits.fuel),
            };
        }
        Some(Trap::Interrupt) => {
            return PolicyFault::Timeout {
                what: format!("ran past its {} ms deadline", limits.timeout.as_millis()),
            };
        }
        _ => {}
    }
    // The outer error carries wasmtime's wasm backtrace; the root cause says what happened.
    let mut message = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => escape(&e.root_cause().to_string()).into_owned(),
    };
    // The policy's own text is escaped: the fault ends up in load errors and
    // on stderr, where a raw newline would let the policy forge a line.
    if let Some(last) = state.logs.iter().rev().find(|l| l.level == "error") {
        message = format!(
            "{message} (the policy's last error log: {})",
            escape(&last.message)
        );
    }
    PolicyFault::Trap { message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Limits;

    #[test]
    fn runtime_trap_message_escapes_the_policys_error_log() {
        let engine = PolicyEngine::new(Limits::default(), None).unwrap();
        let mut state = HostState::new(engine.limits());
        state.logs.push(PolicyLog {
            level: "error",
            message: "boom\nerror: forged\r\u{1b}[2K".into(),
        });
        let fault = classify(
            wasmtime::Error::msg("host said\nerror: forged too"),
            &state,
            &engine,
        );
        let message = fault.to_string();
        assert!(
            !message.contains('\n') && !message.contains('\r') && !message.contains('\u{1b}'),
            "{message:?}"
        );
        assert_eq!(
            message,
            "trap: host said\\nerror: forged too (the policy's last error log: boom\\nerror: forged\\r\\u{1b}[2K)"
        );
    }
}
