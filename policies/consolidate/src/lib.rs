//! `consolidate`: keep just enough serving capacity for the sessions there
//! are and the ones about to arrive, and empty whole tasks by cordoning the
//! least-loaded ones (depth-first placement, as Azure Virtual Desktop's
//! scaling plans, Citrix Autoscale and Agones' Packed strategy do).
//!
//! Each tick:
//! 1. **Serving capacity** is the free session slots on the tasks that take
//!    new sessions (running, not draining, not cordoned), plus a whole task's
//!    slots for each task still starting.
//! 2. **Headroom** is what must stay free: `buffer-slots` (counted in session
//!    slots, not tasks) plus the net growth of the sessions over the last
//!    `trend-window` seconds, projected `lead-seconds` ahead (how long a new
//!    task takes to serve).
//! 3. **Short**: cordoned tasks are uncordoned first, fullest first (instant
//!    and free), then tasks are added for what is still missing. CPU or
//!    memory over their high marks add a task too.
//! 4. **Spare**: the least-loaded serving tasks go while the rest keep the
//!    headroom plus `hysteresis-slots`: idle ones are drained, busy ones
//!    (older than `min-cordon-age`) are cordoned, at most `cordons-per-tick`
//!    a tick. A cordoned task takes no new session and the host stops it
//!    once its last session has ended.
//!
//! Optional time-of-day phases (`phases = true`) give each of ramp-up,
//! peak, ramp-down and off-peak its own buffer and cordon rate; the phase
//! comes from the local hour at `utc-offset` hours from UTC.
//!
//! The policy cordons only when the service's config enables a cordon
//! mechanism (`cordon = "app"` or `"deregister"`); otherwise the host drops
//! the cordons and the policy still drains idle tasks. See
//! docs/consolidation.md.

use autoscaler_sdk::{Decision, ParamSpec, Snapshot, Task, TaskStatus, export_policy};

/// The phases of a day, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    RampUp,
    Peak,
    RampDown,
    OffPeak,
}

impl Phase {
    const ALL: [Phase; 4] = [Phase::RampUp, Phase::Peak, Phase::RampDown, Phase::OffPeak];

    fn name(self) -> &'static str {
        match self {
            Phase::RampUp => "ramp-up",
            Phase::Peak => "peak",
            Phase::RampDown => "ramp-down",
            Phase::OffPeak => "off-peak",
        }
    }

    /// Default local start hour, buffer factor and cordons per tick.
    fn defaults(self) -> (f64, f64, f64) {
        match self {
            Phase::RampUp => (7.0, 2.0, 0.0),
            Phase::Peak => (10.0, 1.0, 1.0),
            Phase::RampDown => (16.0, 1.0, 2.0),
            Phase::OffPeak => (20.0, 1.0, 2.0),
        }
    }
}

/// The declared parameters: the host checks the service's `[params]`
/// against them when it loads the policy.
pub fn params() -> Vec<ParamSpec> {
    let mut p = vec![
        ParamSpec::number("session-capacity", 20.0)
            .range(1.0, 100_000.0)
            .doc("Sessions one task carries at most (match the application's limit)."),
        ParamSpec::number("buffer-slots", 10.0)
            .range(0.0, 100_000.0)
            .doc("Free session slots to keep on serving tasks, beyond the expected arrivals."),
        ParamSpec::number("buffer-fraction", 0.05)
            .range(0.0, 1.0)
            .doc("The buffer is at least this fraction of the sessions on the service."),
        ParamSpec::number("lead-seconds", 300.0)
            .range(0.0, 3_600.0)
            .doc("How far ahead to cover the session growth: a new task's start-up and a tick or two."),
        ParamSpec::number("trend-window", 900.0)
            .range(60.0, 86_400.0)
            .doc("Seconds of history the session growth is measured over."),
        ParamSpec::number("hysteresis-slots", 5.0)
            .range(0.0, 100_000.0)
            .doc("Extra free slots a task's removal must leave, so a cordon is not undone at once."),
        ParamSpec::number("cordons-per-tick", 2.0)
            .range(0.0, 100.0)
            .doc("The most busy tasks cordoned in one tick (without phases)."),
        ParamSpec::number("min-cordon-age", 600.0)
            .range(0.0, 86_400.0)
            .doc("Seconds a task must have run before it may be cordoned."),
        ParamSpec::number("cpu-high", 80.0)
            .range(1.0, 100.0)
            .doc("Service CPU in percent over which a task is added whatever the sessions say."),
        ParamSpec::number("memory-high", 85.0)
            .range(1.0, 100.0)
            .doc("Service memory in percent over which a task is added."),
        ParamSpec::flag("phases", false)
            .doc("Use the time-of-day phases (ramp-up, peak, ramp-down, off-peak)."),
        ParamSpec::number("utc-offset", 0.0)
            .range(-14.0, 14.0)
            .doc("Hours from UTC of the users' local time, for the phases."),
    ];
    for phase in Phase::ALL {
        let (start, buffer, rate) = phase.defaults();
        let n = phase.name();
        p.push(
            ParamSpec::number(&format!("{n}-start"), start)
                .range(0.0, 24.0)
                .doc(&format!("Local hour the {n} phase starts.")),
        );
        p.push(
            ParamSpec::number(&format!("{n}-buffer"), buffer)
                .range(0.0, 100.0)
                .doc(&format!("Factor on buffer-slots during {n}.")),
        );
        p.push(
            ParamSpec::number(&format!("{n}-cordons"), rate)
                .range(0.0, 100.0)
                .doc(&format!(
                    "The most busy tasks cordoned per tick during {n}."
                )),
        );
    }
    p
}

/// The parameters, read once per call.
#[derive(Debug, Clone)]
struct Params {
    capacity: u32,
    buffer: f64,
    buffer_fraction: f64,
    lead: f64,
    trend_window: u64,
    hysteresis: f64,
    cordons_per_tick: u32,
    min_age: u32,
    cpu_high: f64,
    memory_high: f64,
    phase: Option<Phase>,
}

impl Params {
    fn read(s: &Snapshot) -> Result<Params, String> {
        let num = |name: &str, default: f64| s.param_f64(name).unwrap_or(default);
        let capacity = num("session-capacity", 20.0);
        if capacity.is_nan() || capacity < 1.0 {
            return Err(format!(
                "parameter session-capacity must be at least 1, found {capacity}"
            ));
        }
        let mut p = Params {
            capacity: capacity.min(f64::from(u32::MAX)) as u32,
            buffer: num("buffer-slots", 10.0).max(0.0),
            buffer_fraction: num("buffer-fraction", 0.05).max(0.0),
            lead: num("lead-seconds", 300.0).max(0.0),
            trend_window: num("trend-window", 900.0).max(60.0) as u64,
            hysteresis: num("hysteresis-slots", 5.0).max(0.0),
            cordons_per_tick: num("cordons-per-tick", 2.0).max(0.0) as u32,
            min_age: num("min-cordon-age", 600.0).max(0.0) as u32,
            cpu_high: num("cpu-high", 80.0),
            memory_high: num("memory-high", 85.0),
            phase: None,
        };
        if s.param_bool("phases").unwrap_or(false) {
            let offset = (num("utc-offset", 0.0) * 3600.0) as i64;
            let local = (s.now as i64 + offset).rem_euclid(86_400) as f64 / 3600.0;
            let phase = current_phase(local, |ph| {
                num(&format!("{}-start", ph.name()), ph.defaults().0)
            });
            let (_, buffer, rate) = phase.defaults();
            let factor = num(&format!("{}-buffer", phase.name()), buffer).max(0.0);
            p.buffer *= factor;
            p.buffer_fraction *= factor;
            p.cordons_per_tick = num(&format!("{}-cordons", phase.name()), rate).max(0.0) as u32;
            p.phase = Some(phase);
        }
        Ok(p)
    }
}

/// The phase whose start is the latest one at or before `hour` (wrapping
/// around midnight to the latest start of the day).
fn current_phase(hour: f64, start: impl Fn(Phase) -> f64) -> Phase {
    let starts: Vec<(f64, Phase)> = Phase::ALL.iter().map(|&p| (start(p), p)).collect();
    let before = starts
        .iter()
        .filter(|(h, _)| *h <= hour)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let latest = starts.iter().max_by(|a, b| a.0.total_cmp(&b.0));
    before.or(latest).map_or(Phase::Peak, |&(_, p)| p)
}

/// Whether a task takes new sessions.
fn serving(t: &Task) -> bool {
    t.status == TaskStatus::Running && !t.draining && t.cordoned_since.is_none()
}

fn starting(t: &Task) -> bool {
    matches!(
        t.status,
        TaskStatus::Provisioning | TaskStatus::Pending | TaskStatus::Activating
    ) && !t.draining
}

/// Sessions per second the service grew by over the window (0 when shrinking
/// or unknown): from the oldest tick in the window to now, so one noisy
/// minute of arrivals does not swing it.
fn growth_per_second(s: &Snapshot, window: u64) -> f64 {
    let since = s.now.saturating_sub(window);
    let Some((at, then)) = s
        .history
        .iter()
        .filter(|h| h.at >= since && h.at < s.now)
        .find_map(|h| h.sessions.map(|n| (h.at, f64::from(n))))
    else {
        return 0.0;
    };
    ((f64::from(s.total_sessions()) - then) / (s.now - at) as f64).max(0.0)
}

/// Decides the serving capacity, what to cordon and uncordon, and what to drain.
pub fn decide(s: &Snapshot) -> Result<Decision, String> {
    let p = Params::read(s)?;
    let cap = p.capacity;
    let effective = s.effective_desired();
    let phase = p
        .phase
        .map_or(String::new(), |ph| format!(" ({})", ph.name()));

    let hot = s.cpu.is_some_and(|c| c > p.cpu_high) || s.memory.is_some_and(|m| m > p.memory_high);
    if !s.sessions_known {
        return Ok(if hot {
            Decision::scale_to(
                effective + 1,
                "Scale out: utilization is high; session counts are unknown.",
            )
        } else {
            Decision::hold("Session counts are unknown: no cordon and no scale-in.")
        });
    }

    let free: f64 = s
        .tasks
        .iter()
        .map(|t| {
            if serving(t) {
                f64::from(cap.saturating_sub(t.sessions))
            } else if starting(t) {
                f64::from(cap)
            } else {
                0.0
            }
        })
        .sum();
    let growth = growth_per_second(s, p.trend_window) * p.lead;
    // The buffer grows with the load: arrivals come in bursts, and the more
    // there are, the more land while a new task starts.
    let buffer = p
        .buffer
        .max(p.buffer_fraction * f64::from(s.total_sessions()));
    let headroom = buffer + growth;

    if free < headroom || hot {
        let mut missing = (headroom - free).max(0.0);
        // Uncordon first, fullest first: instant and free.
        let mut cordoned: Vec<&Task> = s
            .tasks
            .iter()
            .filter(|t| t.cordoned_since.is_some() && t.status == TaskStatus::Running)
            .collect();
        cordoned.sort_by(|a, b| b.sessions.cmp(&a.sessions).then(a.handle.cmp(&b.handle)));
        let mut uncordon = Vec::new();
        for t in cordoned {
            if missing <= 0.0 {
                break;
            }
            missing -= f64::from(cap.saturating_sub(t.sessions));
            uncordon.push(t.handle);
        }
        let mut add = (missing.max(0.0) / f64::from(cap)).ceil() as u32;
        if hot {
            add = add.max(1);
        }
        let serving_now = effective + uncordon.len() as u32;
        let desired = serving_now + add;
        let reason = format!(
            "Scale out{phase}: {free:.0} free slots for a headroom of {headroom:.0} \
             ({buffer:.0} buffer, {growth:.0} growth); uncordon {}, add {add}{}.",
            uncordon.len(),
            if hot { " (utilization high)" } else { "" }
        );
        return Ok(Decision::scale_to(desired, reason).with_uncordon(uncordon));
    }

    // Spare capacity: the least-loaded serving tasks go while the rest keep
    // the headroom (plus hysteresis). Idle ones drain, busy ones are cordoned.
    let mut candidates: Vec<&Task> = s.tasks.iter().filter(|t| serving(t)).collect();
    candidates.sort_by(|a, b| {
        a.sessions
            .cmp(&b.sessions)
            .then(a.age_seconds.cmp(&b.age_seconds))
            .then(a.handle.cmp(&b.handle))
    });
    let floor = s.min.max(1);
    let mut serving_left = candidates.len() as u32;
    let mut left_free = free;
    let (mut drain, mut cordon) = (Vec::new(), Vec::new());
    for t in candidates {
        if serving_left <= floor {
            break;
        }
        let gone = f64::from(cap.saturating_sub(t.sessions));
        if left_free - gone < headroom + p.hysteresis {
            break;
        }
        if t.sessions == 0 {
            drain.push(t.handle);
        } else if t.age_seconds >= p.min_age && (cordon.len() as u32) < p.cordons_per_tick {
            cordon.push(t.handle);
        } else {
            continue;
        }
        left_free -= gone;
        serving_left -= 1;
    }
    if drain.is_empty() && cordon.is_empty() {
        return Ok(Decision::hold(format!(
            "Hold{phase}: {free:.0} free slots for a headroom of {headroom:.0}."
        )));
    }
    let desired = effective.saturating_sub((drain.len() + cordon.len()) as u32);
    let reason = format!(
        "Consolidate{phase}: {free:.0} free slots for a headroom of {headroom:.0}; \
         drain {} idle, cordon {} busy.",
        drain.len(),
        cordon.len()
    );
    Ok(Decision::scale_to(desired, reason)
        .with_drain(drain)
        .with_cordon(cordon))
}

export_policy!(decide, params = params());

#[cfg(test)]
mod tests {
    use super::*;
    use autoscaler_sdk::TickSummary;
    use autoscaler_sdk::testing::SnapshotBuilder;

    fn old(
        b: autoscaler_sdk::testing::TaskBuilder,
        sessions: u32,
    ) -> autoscaler_sdk::testing::TaskBuilder {
        b.sessions(sessions).age_seconds(3_600)
    }

    #[test]
    fn cordons_the_least_loaded_busy_tasks_beyond_the_headroom() {
        // 4 tasks of 20 with 18, 15, 3 and 2 sessions: 42 free slots. A buffer
        // of 10 plus hysteresis 5 lets the 2-session task go (42 - 18 = 24),
        // not the 3-session one as well (24 - 17 = 7 < 15).
        let tasks = SnapshotBuilder::new()
            .task(|t| old(t, 18))
            .task(|t| old(t, 15))
            .task(|t| old(t, 3))
            .task(|t| old(t, 2))
            .min(1);
        let d = decide(&tasks.clone().build()).unwrap();
        assert_eq!(d.cordon, vec![3], "{}", d.reason);
        assert!(d.drain.is_empty());
        assert_eq!(d.desired, Some(3));
        // With no buffer and no hysteresis both go: 7 slots are left.
        let lean = tasks
            .param("buffer-slots", 0.0)
            .param("hysteresis-slots", 0.0)
            .build();
        let d = decide(&lean).unwrap();
        assert_eq!(d.cordon, vec![3, 2], "{}", d.reason);
        assert_eq!(d.desired, Some(2));
    }

    #[test]
    fn drains_idle_tasks_and_keeps_the_floor() {
        let s = SnapshotBuilder::new()
            .task(|t| old(t, 0))
            .task(|t| old(t, 0))
            .task(|t| old(t, 0))
            .min(2)
            .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.drain.len(), 1, "{}", d.reason);
        assert!(d.cordon.is_empty());
        assert_eq!(d.desired, Some(2));
    }

    #[test]
    fn young_tasks_are_not_cordoned() {
        let s = SnapshotBuilder::new()
            .task(|t| old(t, 18))
            .task(|t| t.sessions(2).age_seconds(60))
            .min(1)
            .build();
        let d = decide(&s).unwrap();
        assert!(d.cordon.is_empty(), "{}", d.reason);
    }

    #[test]
    fn uncordons_fullest_first_before_adding_tasks() {
        // Serving: one task with 19 of 20: 1 free, headroom 10 -> short 9.
        // The cordoned task with 15 sessions gives 5, then the one with 12 gives 8.
        let s = SnapshotBuilder::new()
            .task(|t| old(t, 19))
            .task(|t| old(t, 12).cordoned(100))
            .task(|t| old(t, 15).cordoned(100))
            .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.uncordon, vec![2, 1], "{}", d.reason);
        assert_eq!(d.desired, Some(3));
    }

    #[test]
    fn adds_tasks_when_uncordoning_is_not_enough() {
        let s = SnapshotBuilder::new()
            .task(|t| old(t, 20))
            .task(|t| old(t, 20))
            .param("buffer-slots", 30.0)
            .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, Some(4), "{}", d.reason);
        assert!(d.uncordon.is_empty());
    }

    #[test]
    fn growth_widens_the_headroom() {
        // 20 sessions more than 5 minutes ago: 1/15 per second, 300 s ahead = 20 slots.
        let s = SnapshotBuilder::new()
            .now(10_000)
            .task(|t| old(t, 10))
            .task(|t| old(t, 10))
            .history(TickSummary {
                at: 9_700,
                desired: 2,
                running: 2,
                cpu: None,
                memory: None,
                sessions: Some(0),
            })
            .build();
        let d = decide(&s).unwrap();
        // 20 free slots, headroom 10 + 20 = 30: short by 10, one task more.
        assert_eq!(d.desired, Some(3), "{}", d.reason);
    }

    #[test]
    fn holds_without_session_counts_unless_hot() {
        let s = SnapshotBuilder::new()
            .running_tasks(3)
            .sessions_unknown()
            .cpu(20.0)
            .build();
        assert_eq!(decide(&s).unwrap().desired, None);
        let hot = SnapshotBuilder::new()
            .running_tasks(3)
            .sessions_unknown()
            .cpu(95.0)
            .build();
        assert_eq!(decide(&hot).unwrap().desired, Some(4));
    }

    #[test]
    fn phases_pick_the_buffer_and_cordon_rate_by_local_hour() {
        let at = |h: u64| h * 3600;
        let ph = |hour: f64| current_phase(hour, |p| p.defaults().0);
        assert_eq!(ph(3.0), Phase::OffPeak);
        assert_eq!(ph(8.0), Phase::RampUp);
        assert_eq!(ph(12.0), Phase::Peak);
        assert_eq!(ph(17.0), Phase::RampDown);
        assert_eq!(ph(23.0), Phase::OffPeak);
        // UTC 06:00 at +2 h is 08:00 local: ramp-up, which cordons nothing.
        let s = SnapshotBuilder::new()
            .now(at(6))
            .task(|t| old(t, 18))
            .task(|t| old(t, 2))
            .task(|t| old(t, 2))
            .min(1)
            .param("phases", true)
            .param("utc-offset", 2.0)
            .build();
        let d = decide(&s).unwrap();
        assert!(d.cordon.is_empty(), "{}", d.reason);
        assert!(d.reason.contains("ramp-up"));
    }

    #[test]
    fn declares_every_parameter_it_reads() {
        let names: Vec<String> = params().iter().map(|p| p.name.clone()).collect();
        for n in [
            "session-capacity",
            "buffer-slots",
            "phases",
            "utc-offset",
            "peak-buffer",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} is not declared");
        }
    }
}
