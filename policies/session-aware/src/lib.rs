//! The session-aware policy of the original system (see the seed article):
//! scale out on CPU, memory or sessions; scale in only through idle tasks,
//! and only after utilization has stayed low for a while.
//!
//! Parameters (all optional):
//! - `cpu-high` (75), `cpu-low` (30): CPU band in percent;
//! - `memory-high` (80), `memory-low` (40): memory band in percent;
//! - `session-capacity` (20): sessions one task can carry;
//! - `session-headroom` (0.8): fraction of capacity to fill before adding tasks;
//! - `scale-in-window` (600): seconds utilization must stay under the low marks.

use autoscaler_sdk::{Decision, Snapshot, export_policy, log};

struct Params {
    cpu_high: f64,
    cpu_low: f64,
    memory_high: f64,
    memory_low: f64,
    capacity: f64,
    headroom: f64,
    window: u64,
}

impl Params {
    fn read(s: &Snapshot) -> Result<Params, String> {
        let p = Params {
            cpu_high: s.param_f64("cpu-high").unwrap_or(75.0),
            cpu_low: s.param_f64("cpu-low").unwrap_or(30.0),
            memory_high: s.param_f64("memory-high").unwrap_or(80.0),
            memory_low: s.param_f64("memory-low").unwrap_or(40.0),
            capacity: s.param_f64("session-capacity").unwrap_or(20.0),
            headroom: s.param_f64("session-headroom").unwrap_or(0.8),
            window: s.param_f64("scale-in-window").unwrap_or(600.0).max(0.0) as u64,
        };
        if p.cpu_low >= p.cpu_high || p.memory_low >= p.memory_high {
            return Err("parameters cpu-low/memory-low must be below cpu-high/memory-high".into());
        }
        if p.capacity < 1.0 || !(0.1..=1.0).contains(&p.headroom) {
            return Err(
                "parameter session-capacity must be >= 1 and session-headroom within 0.1..=1"
                    .into(),
            );
        }
        Ok(p)
    }
}

/// Decides from CPU, memory and sessions, as the original Lambda did.
pub fn decide(s: &Snapshot) -> Result<Decision, String> {
    let p = Params::read(s)?;
    let current = s.effective_desired();
    let sessions = s.total_sessions();
    // Tasks needed to keep every task under its session headroom.
    let for_sessions = if s.sessions_known {
        (f64::from(sessions) / (p.capacity * p.headroom)).ceil() as u32
    } else {
        0
    };

    let hot_cpu = s.cpu.filter(|&c| c > p.cpu_high);
    let hot_memory = s.memory.filter(|&m| m > p.memory_high);
    if hot_cpu.is_some() || hot_memory.is_some() || for_sessions > current {
        let mid_cpu = (p.cpu_high + p.cpu_low) / 2.0;
        let mid_memory = (p.memory_high + p.memory_low) / 2.0;
        let by = |util: Option<f64>, mid: f64| {
            util.map_or(0, |u| (f64::from(current.max(1)) * u / mid).ceil() as u32)
        };
        let wanted = (current + 1)
            .max(by(hot_cpu, mid_cpu))
            .max(by(hot_memory, mid_memory))
            .max(for_sessions);
        let why = match (hot_cpu, hot_memory) {
            (Some(c), _) => format!("CPU {c:.1}% is over {:.0}%", p.cpu_high),
            (_, Some(m)) => format!("memory {m:.1}% is over {:.0}%", p.memory_high),
            _ => format!(
                "{sessions} sessions need {for_sessions} tasks at {:.0} per task",
                p.capacity * p.headroom
            ),
        };
        return Ok(Decision::scale_to(
            wanted,
            format!("Scale out: {why}; {current} -> {wanted} tasks."),
        ));
    }

    if !s.sessions_known {
        return Ok(Decision::hold(
            "Session counts are unknown; not scaling in.",
        ));
    }
    let quiet_cpu = s.cpu_below_for(p.cpu_low, p.window);
    let quiet_memory = s.memory.is_none_or(|m| m < p.memory_low)
        && s.memory_window(p.window)
            .iter()
            .all(|&(_, m)| m < p.memory_low);
    if !(quiet_cpu && quiet_memory) {
        return Ok(Decision::hold("Utilization is within its band."));
    }
    let idle: Vec<u32> = s.idle_tasks().map(|t| t.handle).collect();
    let floor = for_sessions.max(s.min).max(1);
    let wanted = current.saturating_sub(idle.len() as u32).max(floor);
    if wanted >= current {
        return Ok(Decision::hold(format!(
            "Utilization is low, but no idle task can go ({} idle, {sessions} sessions).",
            idle.len()
        )));
    }
    let going = (current - wanted) as usize;
    let names: Vec<String> = idle
        .iter()
        .take(going.min(5))
        .map(|&h| autoscaler_sdk::task_id(h).unwrap_or_else(|| format!("handle {h}")))
        .collect();
    let more = if going > names.len() { ", ..." } else { "" };
    log::info(&format!(
        "draining {going} idle tasks: {}{more}",
        names.join(", ")
    ));
    Ok(Decision::scale_to(
        wanted,
        format!(
            "Scale in: utilization under {:.0}% CPU for {}s; {current} -> {wanted} tasks through idle tasks.",
            p.cpu_low, p.window
        ),
    )
    .with_drain(idle))
}

export_policy!(decide);

#[cfg(test)]
mod tests {
    use super::*;
    use autoscaler_sdk::testing::SnapshotBuilder;

    fn quiet_history(b: SnapshotBuilder) -> SnapshotBuilder {
        b.now(2000)
            .history_cpu(&[(1300, 10.0), (1500, 12.0), (1800, 11.0)])
            .cpu(10.0)
            .memory(20.0)
    }

    #[test]
    fn scales_out_on_cpu() {
        let s = SnapshotBuilder::new().running_tasks(4).cpu(95.0).build();
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, Some(8), "{}", d.reason);
        assert!(d.reason.contains("CPU"));
    }

    #[test]
    fn scales_out_on_memory() {
        let s = SnapshotBuilder::new()
            .running_tasks(2)
            .cpu(20.0)
            .memory(90.0)
            .build();
        assert_eq!(decide(&s).unwrap().desired, Some(3));
    }

    #[test]
    fn scales_out_when_sessions_exceed_capacity() {
        let s = SnapshotBuilder::new()
            .task(|t| t.sessions(18))
            .task(|t| t.sessions(17))
            .cpu(40.0)
            .param("session-capacity", 20.0)
            .build();
        // 35 sessions at 16 per task need 3 tasks.
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, Some(3));
        assert!(d.reason.contains("35 sessions"));
    }

    #[test]
    fn scales_in_only_through_idle_tasks() {
        let s = quiet_history(
            SnapshotBuilder::new()
                .task(|t| t.sessions(3))
                .task(|t| t.sessions(0))
                .task(|t| t.sessions(1))
                .task(|t| t.sessions(0)),
        )
        .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, Some(2));
        assert_eq!(d.drain.len(), 2);
        for h in &d.drain {
            assert_eq!(s.tasks[*h as usize].sessions, 0);
        }
    }

    #[test]
    fn does_not_scale_in_without_a_quiet_window() {
        let s = SnapshotBuilder::new()
            .now(2000)
            .history_cpu(&[(1300, 10.0), (1500, 50.0)])
            .cpu(10.0)
            .memory(20.0)
            .running_tasks(3)
            .build();
        assert_eq!(decide(&s).unwrap().desired, None);
    }

    #[test]
    fn does_not_scale_in_on_unknown_sessions() {
        let s = quiet_history(SnapshotBuilder::new().running_tasks(3))
            .sessions_unknown()
            .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, None);
        assert!(d.reason.contains("unknown"));
    }

    #[test]
    fn keeps_the_floor_and_session_needs() {
        let s = quiet_history(
            SnapshotBuilder::new()
                .min(2)
                .task(|t| t.sessions(0))
                .task(|t| t.sessions(0)),
        )
        .build();
        assert_eq!(decide(&s).unwrap().desired, None);
    }

    #[test]
    fn rejects_inverted_bands() {
        let s = SnapshotBuilder::new()
            .running_tasks(1)
            .param("cpu-low", 90.0)
            .build();
        assert!(decide(&s).is_err());
    }
}
