//! Faults on every other tick (odd minutes), and writes terminal control
//! characters into everything it says: a clear-screen escape, a carriage
//! return that would overwrite the line, a NUL and a bidi override. The host
//! must trip its fallback on the fault rate, and escape all of this before it
//! reaches a terminal or a log line.
use autoscaler_sdk::{Decision, Snapshot, export_policy, log};

/// Text that would forge a log line if printed raw.
const FORGED: &str = "\x1b[2J\x1b[H\rINFO all is well\0 \u{202e}txt.exe";

fn decide(s: &Snapshot) -> Result<Decision, String> {
    log::warn(&format!("policy log {FORGED}"));
    if (s.now / 60) % 2 == 1 {
        return Err(format!("odd minute {FORGED}"));
    }
    Ok(Decision::hold(format!("even minute {FORGED}")))
}
export_policy!(decide);
