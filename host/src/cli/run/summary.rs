//! The summary `autoscaler run` prints when it stops.

use autoscaler::daemon::{Daemon, ServiceTotals};
use autoscaler::providers::Provider;

/// Prints each service's totals at the end of a run.
pub(super) fn print_summary<P: Provider>(daemon: &Daemon<P>) {
    println!("\nSummary:");
    for (service, t) in &daemon.totals {
        let (drains, paused) = daemon
            .services
            .iter()
            .find(|s| s.key() == *service)
            .map_or((0, false), |s| (s.drains.len(), s.spec.dry_run));
        println!("  {service}: {}", summary_line(t, drains, paused));
    }
}

/// One service's totals: actions carried out, dry-run actions apart, and
/// drains by how they ended plus the `unfinished` ones still in flight (or
/// paused, in a dry run).
fn summary_line(t: &ServiceTotals, unfinished: usize, dry_run: bool) -> String {
    let mut drains: Vec<String> = t.drains.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if unfinished > 0 {
        let state = if dry_run {
            "paused (dry run)"
        } else {
            "in flight"
        };
        drains.push(format!("{state} {unfinished}"));
    }
    let mut actions = format!("{} scale-outs, {} scale-ins", t.scale_outs, t.scale_ins);
    if t.failed_actions > 0 {
        actions.push_str(&format!(", {} failed", t.failed_actions));
    }
    if t.dry_run_scale_outs + t.dry_run_scale_ins > 0 {
        actions.push_str(&format!(
            ", would scale out {}, would scale in {} (dry run)",
            t.dry_run_scale_outs, t.dry_run_scale_ins
        ));
    }
    format!(
        "{} ticks, {actions}, drains [{}], {} policy faults, {} reloads",
        t.ticks,
        if drains.is_empty() {
            "none".to_string()
        } else {
            drains.join(", ")
        },
        t.faults,
        t.reloads
    )
}

#[cfg(test)]
mod tests {
    use autoscaler::tick::outcome::DrainEnd;

    use super::*;

    #[test]
    fn the_summary_counts_dry_run_actions_apart_and_shows_paused_drains() {
        let t = ServiceTotals {
            ticks: 60,
            dry_run_scale_outs: 3,
            dry_run_scale_ins: 1,
            ..ServiceTotals::default()
        };
        assert_eq!(
            summary_line(&t, 1, true),
            "60 ticks, 0 scale-outs, 0 scale-ins, would scale out 3, would scale in 1 (dry run), drains [paused (dry run) 1], 0 policy faults, 0 reloads"
        );
    }

    #[test]
    fn the_summary_counts_drains_by_outcome_and_those_in_flight_and_failed_actions() {
        let t = ServiceTotals {
            ticks: 10,
            scale_outs: 2,
            scale_ins: 1,
            failed_actions: 1,
            drains: [(DrainEnd::RolledBack, 1), (DrainEnd::Stopped, 2)].into(),
            ..ServiceTotals::default()
        };
        assert_eq!(
            summary_line(&t, 2, false),
            "10 ticks, 2 scale-outs, 1 scale-ins, 1 failed, drains [rolled-back 1, stopped 2, in flight 2], 0 policy faults, 0 reloads"
        );
        assert!(summary_line(&ServiceTotals::default(), 0, false).contains("drains [none]"));
    }
}
