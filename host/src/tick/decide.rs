//! decide: the live policy and every shadow policy, called on the same snapshot.
//! Shadow decisions are recorded beside the live one and never executed.

use std::collections::VecDeque;

use crate::events::{Event, Events};
use crate::model::{Decision, Snapshot};
use crate::runtime::{CallReport, Policy};

use super::record::{FaultRecord, ShadowDecision};

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

/// Asks the fallback policy, on a tick the live one is not trusted: its
/// decision, or its fault. Either is logged (`FallbackDecided` with the
/// live policy's recent faults in `faults`, or `PolicyFaulted`).
pub fn by_fallback(
    fallback: &mut Policy,
    faults: &FaultWindow,
    key: &str,
    snapshot: &Snapshot,
    events: &Events,
) -> Result<Decision, FaultRecord> {
    let c = fallback.component().clone();
    let report = fallback.decide(snapshot);
    match report.result {
        Ok(d) => {
            events.emit(Event::FallbackDecided {
                service: key,
                policy: &c.name,
                faults: faults.recent_faults(),
                window: faults.window(),
            });
            Ok(d)
        }
        Err(f) => {
            let message = f.to_string();
            events.emit(Event::PolicyFaulted {
                service: key,
                policy: &c.name,
                kind: f.kind(),
                message: &message,
                shadow: false,
            });
            Err(FaultRecord::from(&f))
        }
    }
}

/// The live policy's recent faults, and the rule that hands its ticks to the
/// fallback policy: at least `after` faults among the last `window` ticks.
/// A policy that faults every other tick trips it as surely as one that
/// faults `after` times in a row; it decides again once its faults in the
/// window drop below `after`, or at once when a new live policy is loaded.
#[derive(Debug, Clone)]
pub struct FaultWindow {
    after: u32,
    window: u32,
    /// Fault flags of the last `window` ticks, oldest first.
    recent: VecDeque<bool>,
    consecutive: u32,
    /// The live policy the flags belong to (sha256).
    policy: String,
}

impl Default for FaultWindow {
    fn default() -> Self {
        FaultWindow::new(3, 6)
    }
}

impl FaultWindow {
    /// Trips at `after` faults within the last `window` ticks (`after` at
    /// least 1, `window` at least `after`).
    pub fn new(after: u32, window: u32) -> Self {
        let after = after.max(1);
        FaultWindow {
            after,
            window: window.max(after),
            recent: VecDeque::new(),
            consecutive: 0,
            policy: String::new(),
        }
    }

    /// Notes a tick of the live policy `sha256`: whether it faulted. A
    /// different policy than the last one noted starts a clean window.
    pub fn note(&mut self, sha256: &str, faulted: bool) {
        if self.policy != sha256 {
            self.policy = sha256.to_string();
            self.recent.clear();
            self.consecutive = 0;
        }
        if self.recent.len() == self.window as usize {
            self.recent.pop_front();
        }
        self.recent.push_back(faulted);
        self.consecutive = if faulted { self.consecutive + 1 } else { 0 };
    }

    /// Faults among the last `window` ticks.
    pub fn recent_faults(&self) -> u32 {
        self.recent.iter().filter(|f| **f).count() as u32
    }

    /// Faults in a row, up to the last tick noted.
    pub fn consecutive(&self) -> u32 {
        self.consecutive
    }

    /// The window, in ticks.
    pub fn window(&self) -> u32 {
        self.window
    }

    /// Whether the fallback decides: `after` or more faults in the window.
    pub fn tripped(&self) -> bool {
        self.recent_faults() >= self.after
    }
}

#[cfg(test)]
mod tests {
    use super::FaultWindow;

    fn run(w: &mut FaultWindow, faults: &str) -> String {
        faults
            .chars()
            .map(|c| {
                w.note("p", c == 'F');
                if w.tripped() { 'T' } else { '.' }
            })
            .collect()
    }

    #[test]
    fn faults_in_a_row_trip_it_and_it_stays_until_the_window_clears() {
        let mut w = FaultWindow::new(3, 6);
        assert_eq!(run(&mut w, "FFFOOOOO"), "..TTTT..");
        assert_eq!(w.consecutive(), 0);
    }

    #[test]
    fn a_policy_that_faults_every_other_tick_trips_it() {
        let mut w = FaultWindow::new(3, 6);
        assert_eq!(run(&mut w, "FOFOFOFO"), "....TTTT");
        assert_eq!(w.recent_faults(), 3);
        // Rare faults never do.
        let mut w = FaultWindow::new(3, 6);
        assert_eq!(run(&mut w, "FOOOFOOOFOOOF"), ".............");
    }

    #[test]
    fn a_new_live_policy_starts_a_clean_window() {
        let mut w = FaultWindow::new(2, 4);
        assert_eq!(run(&mut w, "FF"), ".T");
        w.note("another", false);
        assert!(!w.tripped());
        assert_eq!(w.recent_faults(), 0);
    }

    #[test]
    fn the_window_is_never_narrower_than_the_threshold() {
        let mut w = FaultWindow::new(3, 1);
        assert_eq!(w.window(), 3);
        assert_eq!(run(&mut w, "FFF"), "..T");
    }
}
