//! The drain journal of a backtest: in memory, and keeping only the latest
//! state of each unfinished workflow, so a month-long run with thousands of
//! drains does not hold every step it ever journaled.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::workflow::{DrainWorkflow, Journal, JournalError};

/// The latest state of each workflow still running; finished ones are dropped.
#[derive(Debug, Default)]
pub struct LatestJournal {
    open: Mutex<BTreeMap<String, DrainWorkflow>>,
}

impl Journal for LatestJournal {
    fn record(&self, wf: &DrainWorkflow) -> Result<(), JournalError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if wf.is_done() {
            open.remove(&wf.id);
        } else {
            open.insert(wf.id.clone(), wf.clone());
        }
        Ok(())
    }

    fn unfinished(&self) -> Result<Vec<DrainWorkflow>, JournalError> {
        Ok(self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{DrainConfig, Outcome, Step};

    #[test]
    fn keeps_the_latest_unfinished_state_only() {
        let j = LatestJournal::default();
        let mut a = DrainWorkflow::new("c/s", "a", None, 0, &DrainConfig::default());
        let b = DrainWorkflow::new("c/s", "b", None, 0, &DrainConfig::default());
        j.record(&a).unwrap();
        j.record(&b).unwrap();
        a.step = Step::Recheck;
        j.record(&a).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 2);
        assert_eq!(
            open.iter().find(|w| w.task_id == "a").unwrap().step,
            Step::Recheck
        );
        a.step = Step::Done {
            outcome: Outcome::Stopped,
        };
        j.record(&a).unwrap();
        let open = j.unfinished().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].task_id, "b");
    }
}
