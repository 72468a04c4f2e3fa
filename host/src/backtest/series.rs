//! What a run collects: its per-minute series and its tick log. Plain data
//! that the run fills and the figures, table and report read.

use std::collections::BTreeMap;

use crate::runtime::FaultKind;
use crate::tick::outcome::DrainEnd;

/// What a run measured, minute by minute: entry `i` is the minute `[60 i, 60 i + 60)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// The desired count at the minute's end.
    pub desired: Vec<u32>,
    /// Tasks running at the minute's end.
    pub running: Vec<u32>,
    /// Tasks billed (launched and not yet stopped) at the minute's end.
    pub billed: Vec<u32>,
    /// Active sessions at the minute's end.
    pub sessions: Vec<u32>,
    /// Sessions that arrived in the minute.
    pub arrivals: Vec<u32>,
    /// Sessions refused in the minute.
    pub refused: Vec<u32>,
    /// Sessions killed in the minute.
    pub killed: Vec<u32>,
    /// Sessions cut by the load balancer in the minute.
    pub cut: Vec<u32>,
    /// Tasks cordoned at the minute's end, as the last tick recorded it.
    pub cordoned: Vec<u32>,
    /// Tasks running and not cordoned at the minute's end: the serving tasks.
    pub serving: Vec<u32>,
    /// The service CPU of the minute as CloudWatch-like metrics published it, if any.
    pub cpu: Vec<Option<f32>>,
    /// The oracle's tasks, averaged over the minute.
    pub oracle_tasks: Vec<f32>,
    /// The packing reference's tasks, averaged over the minute.
    pub packing_tasks: Vec<f32>,
    /// Drain workflows started in the minute.
    pub drains_started: Vec<u32>,
    /// Drains that stopped their task in the minute.
    pub drains_stopped: Vec<u32>,
    /// Drains aborted (a session appeared) or rolled back in the minute.
    pub drains_aborted: Vec<u32>,
}

/// What a run's ticks recorded.
#[derive(Debug, Clone, Default)]
pub struct TickLog {
    /// Ticks run.
    pub ticks: u64,
    /// Ticks whose live policy faulted, by fault kind.
    pub faults: BTreeMap<FaultKind, u64>,
    /// Ticks whose gather failed.
    pub gather_failures: u64,
    /// Each tick's live policy call time, in microseconds.
    pub call_micros: Vec<u32>,
    /// Times of executed scale-outs.
    pub scale_outs: Vec<u64>,
    /// Times of executed scale-ins (drains started, or a lowered desired count).
    pub scale_ins: Vec<u64>,
    /// Times drain workflows started.
    pub drains_started: Vec<u64>,
    /// Times and ends of finished drains.
    pub drains_finished: Vec<(u64, DrainEnd)>,
    /// Tasks cordoned, one entry per task per tick (`TickRecord::cordoned`).
    pub cordons: Vec<u64>,
    /// Tasks uncordoned, one entry per task per tick (`TickRecord::uncordoned`).
    pub uncordons: Vec<u64>,
    /// Each gathered tick's time and the tasks cordoned at it (`TickState::cordoned`).
    pub cordoned: Vec<(u64, u32)>,
}
