//! A session-unaware baseline that behaves like AWS target tracking on CPU.
//!
//! It sizes the service so that average CPU lands on `target-cpu` (default
//! 60 %), scaling out at once and in only after `scale-in-window` seconds
//! (default 300) of CPU below target. On scale-in it names tasks to drain
//! oldest first, whatever their sessions, as AWS would; the host's guard then
//! refuses the busy ones. It exists to be compared against.
//!
//! Parameters: `target-cpu` (percent), `scale-in-window` (seconds).

use autoscaler_sdk::{Decision, Snapshot, export_policy};

/// Decides a target count from service CPU alone.
pub fn decide(s: &Snapshot) -> Result<Decision, String> {
    let target = s.param_f64("target-cpu").unwrap_or(60.0);
    if !(1.0..=100.0).contains(&target) {
        return Err(format!(
            "parameter target-cpu must be within 1..=100, got {target}"
        ));
    }
    let window = s.param_f64("scale-in-window").unwrap_or(300.0).max(0.0) as u64;
    let Some(cpu) = s.cpu else {
        return Ok(Decision::hold("No CPU datapoint yet; holding."));
    };
    let current = s.effective_desired().max(1);
    let wanted = ((f64::from(current) * cpu / target).ceil() as u32).max(1);
    if wanted > current {
        return Ok(Decision::scale_to(
            wanted,
            format!("CPU {cpu:.1}% is above the {target:.0}% target; {current} -> {wanted} tasks."),
        ));
    }
    if wanted < current && s.cpu_below_for(target, window) {
        let mut oldest_first: Vec<_> = s.serving_tasks().collect();
        oldest_first.sort_by_key(|t| std::cmp::Reverse(t.age_seconds));
        return Ok(Decision::scale_to(
            wanted,
            format!("CPU {cpu:.1}% has stayed under the {target:.0}% target for {window}s; {current} -> {wanted} tasks."),
        )
        .with_drain(oldest_first.into_iter().map(|t| t.handle)));
    }
    Ok(Decision::hold(format!("CPU {cpu:.1}% is on target.")))
}

export_policy!(decide);

#[cfg(test)]
mod tests {
    use super::*;
    use autoscaler_sdk::testing::SnapshotBuilder;

    #[test]
    fn scales_out_proportionally_to_cpu() {
        let s = SnapshotBuilder::new().running_tasks(4).cpu(90.0).build();
        assert_eq!(decide(&s).unwrap().desired, Some(6));
    }

    #[test]
    fn scales_in_after_the_window_and_ignores_sessions() {
        let s = SnapshotBuilder::new()
            .now(1000)
            .task(|t| t.sessions(5).age_seconds(9000))
            .task(|t| t.sessions(0).age_seconds(100))
            .task(|t| t.sessions(1).age_seconds(5000))
            .task(|t| t.sessions(0).age_seconds(10))
            .history_cpu(&[(600, 20.0), (700, 22.0), (800, 21.0), (900, 20.0)])
            .cpu(20.0)
            .build();
        let d = decide(&s).unwrap();
        assert_eq!(d.desired, Some(2));
        // Oldest first, busy or not: the session-unaware behaviour we compare against.
        assert_eq!(d.drain, vec![0, 2, 1, 3]);
    }

    #[test]
    fn holds_when_cpu_only_just_dropped() {
        let s = SnapshotBuilder::new()
            .now(1000)
            .running_tasks(4)
            .history_cpu(&[(900, 80.0)])
            .cpu(20.0)
            .build();
        assert_eq!(decide(&s).unwrap().desired, None);
    }

    #[test]
    fn holds_without_metrics_and_rejects_a_bad_target() {
        let s = SnapshotBuilder::new().running_tasks(2).no_metrics().build();
        assert_eq!(decide(&s).unwrap().desired, None);
        let bad = SnapshotBuilder::new()
            .running_tasks(2)
            .param("target-cpu", 0.0)
            .build();
        assert!(decide(&bad).unwrap_err().contains("target-cpu"));
    }
}
