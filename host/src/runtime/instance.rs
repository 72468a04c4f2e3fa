//! Making a policy instance: the store with its limits and budgets, the
//! instantiation, the `info` probe every load runs, and what a wasmtime error
//! means as a [`PolicyFault`]. Both loading (the probe) and calling use it.

use wasmtime::{Store, Trap};

use super::PolicyEngine;
use super::bindings::{v1, v2};
use super::fault::PolicyFault;
use super::state::HostState;
use super::text;
use crate::escape::escape;

/// A component ready to instantiate, in the bindings of the contract it implements.
pub(crate) enum Pre {
    /// Contract 0.1.0.
    V0_1(v1::ScalingPolicyPre<HostState>),
    /// Contract 0.2.0.
    V0_2(v2::ScalingPolicyPre<HostState>),
}

/// A live instance: its store and its exports.
pub(crate) struct Live {
    pub store: Store<HostState>,
    pub bindings: Bindings,
}

/// An instance's exports, in the bindings of its contract.
pub(crate) enum Bindings {
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

/// Sets the per-call budgets: fuel and the epoch deadline both start at zero and trap at once.
pub(crate) fn arm(store: &mut Store<HostState>, engine: &PolicyEngine) {
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

/// A fresh instance of `pre`, in a new store.
pub(crate) fn instantiate(engine: &PolicyEngine, pre: &Pre) -> Result<Live, PolicyFault> {
    let mut store = new_store(engine);
    let made = match pre {
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
pub(crate) fn probe_info(engine: &PolicyEngine, pre: &Pre) -> Result<ProbedInfo, PolicyFault> {
    let mut live = instantiate(engine, pre)?;
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

/// The fault a wasmtime error stands for, told by the limiter and the trap code.
pub(crate) fn classify(
    e: wasmtime::Error,
    state: &HostState,
    engine: &PolicyEngine,
) -> PolicyFault {
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
    use crate::runtime::PolicyLog;

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
