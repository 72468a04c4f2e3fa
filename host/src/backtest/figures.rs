//! The figures of a run, and exactly what each one means.
//!
//! - **task-hours**: billed task time, from each task's launch
//!   (PROVISIONING) to STOPPED, as Fargate bills; **cost** is task-hours
//!   times the task-hour price, `task_vcpu × vcpu_hour + task_memory_gb ×
//!   gb_hour` (defaults: 1 vCPU and 2 GB at $0.04048 and $0.004445, so
//!   $0.04937 per task-hour); **vs oracle** is task-hours over the oracle's
//!   (see [`super::oracle`]), **vs packing** over the packing reference's
//!   (see [`super::packing`]; a reference, not a bound).
//! - **sessions killed**: sessions still active when their task reached
//!   STOPPING (a scale-in or a stop took the task from under them); **cut by
//!   the load balancer**: sessions still on a RUNNING task when its
//!   deregistered target's delay ended behind an ALB (or an NLB with
//!   connection termination). Both are safety figures: a shipped policy
//!   keeps them at 0. **Refused**: arrivals that found no healthy, accepting
//!   task with room. **Redirected**: sessions a cordoned task's application
//!   refused that landed on another task.
//! - **cordons / uncordons**: tasks cordoned and uncordoned, from the
//!   decision records (`TickRecord::cordoned`, `::uncordoned`); **task-hours
//!   cordoned**: the tasks cordoned at each tick (`TickState::cordoned`) times
//!   the time to the next tick (the last one: to the run's end).
//! - **minutes CPU over target**: minutes whose service CPU, as the metrics
//!   published it (the average over the tasks up in that minute), was over
//!   the target (default 75 %).
//! - **scale-outs / scale-ins**: ticks whose guarded action was executed: a
//!   raised desired count; drains started (or, for the session-unaware
//!   reference, a lowered desired count).
//! - **drains**: workflows started, and finished as stopped (the task left),
//!   aborted (a session appeared; the task rejoined the pool) or rolled back
//!   (an error or the deadline; undone).
//! - **reaction time**: the service is *overloaded* in a minute when its
//!   published CPU for that minute is over the target or a session was
//!   refused in it. An *episode* starts at the first overloaded minute after
//!   one that was not (or at the start of the run), at that minute's start.
//!   Its reaction time runs from there to the first executed scale-out at or
//!   after it; an overloaded minute that comes back before that scale-out
//!   belongs to the same episode. p50 and p95 are nearest-rank percentiles
//!   over the answered episodes; an episode with no scale-out after it is
//!   counted as unanswered. The figure includes the metrics' publication
//!   delay, as it would live; a policy that scales out before any overload
//!   has no episode to answer.
//! - **policy faults**: ticks whose live policy call faulted (the tick held).
//! - **policy call time** (wall clock, so not reproducible): the live
//!   `decide` call's mean and p95, snapshot conversion included.

use std::time::Duration;

use serde::Serialize;

use super::oracle::OracleFigures;
use super::packing::PackingFigures;
use super::ratio;
pub use super::round;
use super::scenario::Scenario;
pub use super::scenario::{Pricing, PricingOverrides};
use super::series::{Series, TickLog};
use crate::sim::SimStats;
use crate::tick::outcome::DrainEnd;

/// Session counts over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SessionFigures {
    /// Sessions that arrived (started plus refused).
    pub arrived: u64,
    /// Sessions that landed on a task.
    pub started: u64,
    /// Sessions refused for lack of capacity.
    pub refused: u64,
    /// Sessions killed when their task stopped: a safety figure.
    pub killed: u64,
    /// Sessions cut by the load balancer at the end of a deregistration
    /// delay while their task ran: the other safety figure.
    pub cut: u64,
    /// Sessions a cordoned task's application refused that landed on another task.
    pub redirected: u64,
    /// Sessions that ended normally.
    pub ended: u64,
    /// Sessions still active at the end.
    pub active_at_end: u64,
}

/// Drain workflows over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DrainFigures {
    /// Started.
    pub started: u64,
    /// Finished with the task stopped.
    pub stopped: u64,
    /// Aborted because a session appeared.
    pub aborted: u64,
    /// Rolled back after an error or the deadline (roll-backs that failed included).
    pub rolled_back: u64,
}

/// Cordons over a run, from the decision records.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CordonFigures {
    /// Tasks cordoned.
    pub cordons: u64,
    /// Tasks uncordoned (serving again).
    pub uncordons: u64,
    /// Task-hours spent cordoned.
    pub cordoned_task_hours: f64,
}

/// Reaction to overload (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reaction {
    /// Overload episodes.
    pub episodes: u64,
    /// Episodes a scale-out answered.
    pub answered: u64,
    /// Median reaction time, in seconds.
    pub p50_s: Option<u64>,
    /// 95th-percentile reaction time, in seconds.
    pub p95_s: Option<u64>,
}

/// A run's figures: all of them reproducible from the scenario and seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Ticks run.
    pub ticks: u64,
    /// Billed task-hours.
    pub task_hours: f64,
    /// Their cost in USD.
    pub cost_usd: f64,
    /// Task-hours over the oracle's.
    pub vs_oracle: f64,
    /// Task-hours over the packing reference's.
    pub vs_packing: f64,
    /// Task-hours over the online packing reference's.
    pub vs_online_packing: f64,
    /// The most tasks alive at once.
    pub peak_tasks: u32,
    /// Sessions.
    pub sessions: SessionFigures,
    /// Minutes whose published CPU was over the target.
    pub cpu_over_target_minutes: u64,
    /// Executed scale-outs.
    pub scale_outs: u64,
    /// Executed scale-ins.
    pub scale_ins: u64,
    /// Drain workflows.
    pub drains: DrainFigures,
    /// Cordons.
    pub cordons: CordonFigures,
    /// Reaction to overload.
    pub reaction: Reaction,
    /// Ticks whose live policy faulted.
    pub policy_faults: u64,
    /// Ticks whose gather failed.
    pub gather_failures: u64,
    /// A digest of every session arrival (time and drawn length): equal
    /// digests mean the runs faced the same users.
    pub arrivals_digest: String,
}

/// What [`Figures::compute`] reads.
pub struct Inputs<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The sim's totals at the end.
    pub stats: &'a SimStats,
    /// What the ticks recorded.
    pub ticks: &'a TickLog,
    /// Minute by minute.
    pub series: &'a Series,
    /// The oracle over the run.
    pub oracle: &'a OracleFigures,
    /// The packing reference over the run.
    pub packing: &'a PackingFigures,
    /// The online packing reference over the run.
    pub online_packing: &'a PackingFigures,
    /// Arrivals counted from the sim's log.
    pub arrivals: u64,
    /// Their digest.
    pub arrivals_digest: String,
    /// The CPU target, in percent.
    pub cpu_target: f64,
    /// When the run started.
    pub start: u64,
    /// When the run ended.
    pub end: u64,
}

impl Figures {
    /// The figures of a finished run.
    pub fn compute(i: &Inputs<'_>) -> Figures {
        let task_hours = i.stats.task_seconds as f64 / 3600.0;
        let finished = |end: DrainEnd| {
            i.ticks
                .drains_finished
                .iter()
                .filter(|(_, e)| *e == end)
                .count() as u64
        };
        Figures {
            ticks: i.ticks.ticks,
            task_hours: round(task_hours, 4),
            cost_usd: round(task_hours * i.scenario.cost.task_hour_usd(), 4),
            vs_oracle: ratio(task_hours, i.oracle.task_hours),
            vs_packing: ratio(task_hours, i.packing.task_hours),
            vs_online_packing: ratio(task_hours, i.online_packing.task_hours),
            peak_tasks: i.stats.peak_tasks,
            sessions: SessionFigures {
                arrived: i.arrivals,
                started: i.stats.sessions_started,
                refused: i.stats.sessions_refused,
                killed: i.stats.sessions_killed,
                cut: i.stats.sessions_cut,
                redirected: i.stats.sessions_redirected,
                ended: i.stats.sessions_ended,
                active_at_end: i.stats.sessions_active,
            },
            cpu_over_target_minutes: i
                .series
                .cpu
                .iter()
                .filter(|c| c.is_some_and(|c| f64::from(c) > i.cpu_target))
                .count() as u64,
            scale_outs: i.ticks.scale_outs.len() as u64,
            scale_ins: i.ticks.scale_ins.len() as u64,
            drains: DrainFigures {
                started: i.ticks.drains_started.len() as u64,
                stopped: finished(DrainEnd::Stopped),
                aborted: finished(DrainEnd::Aborted),
                rolled_back: finished(DrainEnd::RolledBack) + finished(DrainEnd::RollBackFailed),
            },
            cordons: CordonFigures {
                cordons: i.ticks.cordons.len() as u64,
                uncordons: i.ticks.uncordons.len() as u64,
                cordoned_task_hours: round(
                    cordoned_task_seconds(&i.ticks.cordoned, i.end) as f64 / 3600.0,
                    4,
                ),
            },
            reaction: reaction(i.series, i.cpu_target, &i.ticks.scale_outs, i.start),
            policy_faults: i.ticks.faults.values().sum(),
            gather_failures: i.ticks.gather_failures,
            arrivals_digest: i.arrivals_digest.clone(),
        }
    }
}

/// Reaction times to overload episodes (see the module docs). `scale_outs`
/// are executed scale-out times, in order.
pub fn reaction(series: &Series, cpu_target: f64, scale_outs: &[u64], start: u64) -> Reaction {
    let minutes = series.refused.len().min(series.cpu.len());
    let overloaded = |m: usize| {
        series.cpu[m].is_some_and(|c| f64::from(c) > cpu_target) || series.refused[m] > 0
    };
    let (mut episodes, mut times) = (0u64, Vec::new());
    // Overloads before this time belong to the episode already open.
    let mut open_until = 0u64;
    for m in 0..minutes {
        if !overloaded(m) || (m > 0 && overloaded(m - 1)) {
            continue;
        }
        let onset = start + 60 * m as u64;
        if onset < open_until {
            continue;
        }
        episodes += 1;
        let i = scale_outs.partition_point(|&t| t < onset);
        match scale_outs.get(i) {
            Some(&answer) => {
                times.push(answer - onset);
                open_until = answer;
            }
            None => open_until = u64::MAX,
        }
    }
    times.sort_unstable();
    Reaction {
        episodes,
        answered: times.len() as u64,
        p50_s: percentile(&times, 50.0),
        p95_s: percentile(&times, 95.0),
    }
}

/// The nearest-rank percentile of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Task-seconds spent cordoned: each tick's cordoned count (`(time,
/// count)`, in time order) until the next tick, the last until `end`.
pub fn cordoned_task_seconds(states: &[(u64, u32)], end: u64) -> u64 {
    states
        .iter()
        .enumerate()
        .map(|(i, &(at, n))| {
            let until = states.get(i + 1).map_or(end, |s| s.0).max(at);
            u64::from(n) * (until.min(end.max(at)) - at)
        })
        .sum()
}

/// The cordoned and serving task counts at each minute's end: the last
/// tick before the minute's end says how many tasks were cordoned; serving
/// tasks are the running ones less those.
pub fn cordoned_per_minute(ticks: &TickLog, start: u64, series: &mut Series) {
    let states = &ticks.cordoned;
    series.cordoned = (0..series.running.len())
        .map(|m| {
            let boundary = start + 60 * (m as u64 + 1);
            let i = states.partition_point(|s| s.0 < boundary);
            i.checked_sub(1).map_or(0, |i| states[i].1)
        })
        .collect();
    series.serving = series
        .running
        .iter()
        .zip(&series.cordoned)
        .map(|(r, c)| r.saturating_sub(*c))
        .collect();
}

/// Counts drains per minute into the series, and the cordoned and serving tasks.
pub fn bucket_ticks(ticks: &TickLog, start: u64, series: &mut Series) {
    cordoned_per_minute(ticks, start, series);
    let minute = |t: u64| ((t - start) / 60) as usize;
    for &t in &ticks.drains_started {
        if let Some(n) = series.drains_started.get_mut(minute(t)) {
            *n += 1;
        }
    }
    for (t, end) in &ticks.drains_finished {
        let column = if *end == DrainEnd::Stopped {
            &mut series.drains_stopped
        } else {
            &mut series.drains_aborted
        };
        if let Some(n) = column.get_mut(minute(*t)) {
            *n += 1;
        }
    }
}

/// Wall-clock figures: they vary from machine to machine and run to run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timing {
    /// Mean live policy call time, in microseconds.
    pub call_mean_us: f64,
    /// 95th-percentile live policy call time, in microseconds.
    pub call_p95_us: u32,
    /// Wall time of the run, in seconds.
    pub wall_seconds: f64,
    /// Ticks per wall-clock second.
    pub ticks_per_second: f64,
}

impl Timing {
    /// The timing of a run that took `wall`.
    pub fn compute(ticks: &TickLog, wall: Duration) -> Timing {
        let mut calls = ticks.call_micros.clone();
        calls.sort_unstable();
        let mean = if calls.is_empty() {
            0.0
        } else {
            calls.iter().map(|&c| f64::from(c)).sum::<f64>() / calls.len() as f64
        };
        let secs = wall.as_secs_f64();
        Timing {
            call_mean_us: round(mean, 1),
            call_p95_us: percentile(&calls, 95.0).unwrap_or(0),
            wall_seconds: round(secs, 3),
            ticks_per_second: if secs > 0.0 {
                round(ticks.ticks as f64 / secs, 0)
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests;
