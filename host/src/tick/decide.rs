//! decide: the live policy and every shadow policy, called on the same snapshot.
//! Shadow decisions are recorded beside the live one and never executed.

use serde::Serialize;

use crate::model::{Decision, Snapshot};
use crate::runtime::{CallReport, Policy, PolicyFault};

/// A shadow policy's answer, for the record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowDecision {
    /// The shadow's name.
    pub policy: String,
    /// sha256 of its component.
    pub sha256: String,
    /// Its decision, when it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Its fault kind and message, when it faulted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultRecord>,
    /// How long its call took, in microseconds.
    pub call_micros: u64,
}

/// A fault, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FaultRecord {
    /// The fault kind (`timeout`, `trap`, ...).
    pub kind: String,
    /// The fault's message.
    pub message: String,
}

impl From<&PolicyFault> for FaultRecord {
    fn from(f: &PolicyFault) -> Self {
        FaultRecord {
            kind: f.kind().to_string(),
            message: f.to_string(),
        }
    }
}

/// The live policy's report and the shadows' decisions.
#[derive(Debug)]
pub struct Decided {
    /// The live policy's call.
    pub live: CallReport,
    /// Each shadow's decision.
    pub shadows: Vec<ShadowDecision>,
}

/// Calls the live policy, then each shadow, on `snapshot`.
pub fn decide(live: &mut Policy, shadows: &mut [Policy], snapshot: &Snapshot) -> Decided {
    let live_report = live.decide(snapshot);
    let shadows = shadows
        .iter_mut()
        .map(|p| {
            let r = p.decide(snapshot);
            ShadowDecision {
                policy: p.component().name.clone(),
                sha256: p.component().sha256.clone(),
                decision: r.result.as_ref().ok().cloned(),
                fault: r.result.as_ref().err().map(FaultRecord::from),
                call_micros: r.elapsed.as_micros() as u64,
            }
        })
        .collect();
    Decided {
        live: live_report,
        shadows,
    }
}
