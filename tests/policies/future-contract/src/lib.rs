//! Implements contract 9.0.0: the host (0.1.0 and 0.2.0) must refuse it, naming both versions.
#![allow(missing_docs, unsafe_code)]
wit_bindgen::generate!({ path: "wit", world: "scaling-policy" });

use exports::autoscaler::policy::policy::{Decision, Guest, PolicyInfo, Snapshot};

struct Future;
impl Guest for Future {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "future".into(),
            version: "2.0.0".into(),
        }
    }
    fn decide(_: Snapshot) -> Result<Decision, String> {
        Ok(Decision {
            desired: None,
            drain: vec![],
            reason: "from the future".into(),
        })
    }
}
export!(Future);
