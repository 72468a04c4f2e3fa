//! The records a service writes beside its ticks' own: the blank record a
//! tick fills in, the shutdown record, the fallback's part, and the finish
//! (status line and `TickFinished`).

use std::sync::Arc;

use crate::events::{Event, Events};
use crate::model::Snapshot;

use super::Service;
use super::decide;
use super::guard::Action;
use super::record::status::status_line;
use super::record::{FallbackRecord, PausedDrain, PolicyRef, TickRecord};

impl Service {
    /// A record of this service at `now` with nothing gathered, decided or done
    /// yet (a dry run's paused drains are listed).
    pub(super) fn blank_record(&self, now: u64) -> TickRecord {
        let component = self.policy.component();
        let paused_drains = if self.spec.dry_run {
            self.drains
                .iter()
                .map(|d| PausedDrain {
                    workflow: d.id.clone(),
                    task: d.task_id.clone(),
                    step: d.step.name().to_string(),
                })
                .collect()
        } else {
            Vec::new()
        };
        TickRecord {
            at: now,
            service: self.key(),
            dry_run: self.spec.dry_run,
            snapshot_digest: None,
            state: None,
            problems: Vec::new(),
            policy: PolicyRef::from(component.as_ref()),
            decision: None,
            fault: None,
            fallback: None,
            call_micros: 0,
            adjustments: Vec::new(),
            action: Action::Hold,
            outcomes: Vec::new(),
            cordoned: Vec::new(),
            uncordoned: Vec::new(),
            paused_drains,
            shutdown: false,
            shadows: Vec::new(),
        }
    }

    /// At shutdown: a record of the drain outcomes carried since the last
    /// tick (a drain that finished after it), so none is missing from the
    /// decision log; none when nothing is carried.
    pub fn shutdown_record(&mut self, now: u64) -> Option<Arc<TickRecord>> {
        if self.carried.is_empty() {
            return None;
        }
        let mut record = self.blank_record(now);
        record.shutdown = true;
        record.outcomes = std::mem::take(&mut self.carried);
        Some(Arc::new(record))
    }

    /// Asks the fallback policy, if there is one, and notes it in the record.
    pub(super) fn decide_by_fallback(
        &mut self,
        snapshot: &Snapshot,
        record: &mut TickRecord,
        events: &Events,
    ) -> Option<crate::model::Decision> {
        let key = self.key();
        let fallback = self.fallback.as_mut()?;
        let policy = PolicyRef::from(fallback.component().as_ref());
        let result = decide::by_fallback(fallback, &self.faults, &key, snapshot, events);
        if let Ok(d) = &result {
            record.decision = Some(d.clone());
        }
        let (decision, fault) = match result {
            Ok(d) => (Some(d), None),
            Err(f) => (None, Some(f)),
        };
        record.fallback = Some(FallbackRecord {
            policy,
            after_faults: self.faults.consecutive(),
            recent_faults: self.faults.recent_faults(),
            window: self.faults.window(),
            overruled: None,
            fault,
        });
        decision
    }

    pub(super) fn finish(&mut self, record: TickRecord, events: &Events) -> Arc<TickRecord> {
        // Only logged: a quiet run (a backtest) skips the formatting.
        let summary = if events.is_quiet() {
            String::new()
        } else {
            status_line(&record)
        };
        events.emit(Event::TickFinished {
            service: &record.service,
            action: &record.action,
            summary: &summary,
        });
        let record = Arc::new(record);
        self.last_record = Some(record.clone());
        record
    }
}
