//! A policy on contract 0.1.0, built from wit/0.1.0 with wit-bindgen alone
//! (no SDK, which speaks 0.2.0): the host must load and run it unchanged.
//!
//! It drains its idle tasks (running, no mark, no session) one below the
//! desired count per idle task, and says in its reason what it saw: the
//! marks of every task, the drain steps and the params, so the tests can
//! check the 0.1.0 view of a cordoned task (draining, step `waiting`, no
//! cordon bit).
#![allow(missing_docs, unsafe_code)]
wit_bindgen::generate!({ path: "../../../wit/0.1.0", world: "scaling-policy" });

use autoscaler::policy::types::{Decision, DrainStep, ParamValue, Snapshot};
use exports::autoscaler::policy::policy::{Guest, PolicyInfo};

struct Old;
impl Guest for Old {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "contract-0-1".into(),
            version: "0.1.0".into(),
        }
    }
    fn decide(s: Snapshot) -> Result<Decision, String> {
        let t = &s.tasks;
        let idle: Vec<u32> = (0..t.status.len())
            .filter(|&i| t.status[i] == 3 && t.marks[i] == 0 && t.sessions[i] == 0)
            .map(|i| i as u32)
            .collect();
        let steps: Vec<&str> = s
            .drains
            .iter()
            .map(|d| match d.step {
                DrainStep::Protecting => "protecting",
                DrainStep::Deregistering => "deregistering",
                DrainStep::Waiting => "waiting",
                DrainStep::Rechecking => "rechecking",
                DrainStep::ScalingIn => "scaling-in",
                DrainStep::Confirming => "confirming",
            })
            .collect();
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| match &p.value {
                ParamValue::Number(n) => format!("{}={n}", p.name),
                ParamValue::Flag(b) => format!("{}={b}", p.name),
                ParamValue::Text(x) => format!("{}={x}", p.name),
            })
            .collect();
        let reason = format!(
            "marks={:?} steps={steps:?} params={params:?}",
            t.marks
        );
        if idle.is_empty() {
            return Ok(Decision {
                desired: None,
                drain: vec![],
                reason,
            });
        }
        Ok(Decision {
            desired: Some(s.desired.saturating_sub(idle.len() as u32).max(s.min)),
            drain: idle,
            reason,
        })
    }
}
export!(Old);
