//! What a run did, counted per service for the summary at its end.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::tick::guard::Action;
use crate::tick::outcome::{DrainEnd, OutcomeKind};
use crate::tick::record::TickRecord;

/// Counts of what a run did, per service.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceTotals {
    /// Ticks run.
    pub ticks: u64,
    /// Scale-outs carried out (the desired count was raised).
    pub scale_outs: u64,
    /// Scale-ins carried out (drains started, or the desired count lowered).
    pub scale_ins: u64,
    /// Scale-outs a dry run decided and did not carry out.
    pub dry_run_scale_outs: u64,
    /// Scale-ins a dry run decided and did not carry out.
    pub dry_run_scale_ins: u64,
    /// Scale-outs and scale-ins whose execution failed.
    pub failed_actions: u64,
    /// Ticks on which the live policy faulted.
    pub faults: u64,
    /// Drains by outcome.
    pub drains: BTreeMap<DrainEnd, u64>,
    /// Policy reloads swapped in.
    pub reloads: u64,
}

impl ServiceTotals {
    /// Adds a record of this service: actions by what came of them, drains
    /// by how they ended.
    pub fn count(&mut self, record: &TickRecord) {
        let totals = self;
        totals.ticks += u64::from(!record.shutdown);
        totals.faults += u64::from(record.fault.is_some());
        // The set-desired failed, or a drain started this tick ended at once
        // without stopping its task (a retry is still under way).
        let failed = record
            .outcomes
            .iter()
            .any(|o| !o.ok && o.what == OutcomeKind::SetDesired)
            || crate::tick::failed_drain_start(record).is_some();
        let started = record
            .outcomes
            .iter()
            .any(|o| o.ok && matches!(o.what, OutcomeKind::SetDesired | OutcomeKind::DrainStart));
        match (&record.action, record.dry_run) {
            (Action::Hold, _) => {}
            (Action::ScaleOut { .. }, true) => totals.dry_run_scale_outs += 1,
            (Action::ScaleIn { .. }, true) => totals.dry_run_scale_ins += 1,
            _ if failed || !started => totals.failed_actions += 1,
            (Action::ScaleOut { .. }, false) => totals.scale_outs += 1,
            (Action::ScaleIn { .. }, false) => totals.scale_ins += 1,
        }
        for o in &record.outcomes {
            if let Some(end) = o.outcome {
                *totals.drains.entry(end).or_default() += 1;
            }
        }
    }
}
