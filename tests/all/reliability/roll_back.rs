//! A call that fails for good, end to end through the daemon: with every
//! UpdateTaskProtection answering HTTP 500 (as moto does), each drain fails at
//! its protect step and rolls back. Its roll-back undoes nothing it did not do
//! (no RegisterTargets, no DeregisterTargets), ends within its bound and frees
//! its slot; new drains wait `pause_after_roll_back` (`drain-backoff`) instead
//! of failing again every tick; and once the call works a drain stops a task.

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::providers::sim::SimOp;
use autoscaler::providers::{Clock, ProviderError};
use autoscaler::tick::guard::GuardRule;
use autoscaler::tick::outcome::OutcomeKind;
use autoscaler::tick::record::TickRecord;

use crate::sim_run::{SimRun, config};

const MIN: u64 = 60;

fn quiet_service() -> String {
    config(
        SESSION_AWARE,
        r#"
[service.params]
cpu-high = 70
cpu-low = 30
session-capacity = 10
scale-in-window = 300
[service.guard]
min = 1
max = 12
scale_in_cooldown = "2m"
scale_in_stabilization = "2m"
[service.drain]
deregistration_delay = "60s"
max_attempts = 3
pause_after_roll_back = "15m"
[service.sim]
initial_tasks = 8
session_mean = "5m"
session_capacity = 10
deregistration_delay = "60s"
workload = { kind = "steady", per_min = 0.2 }
"#,
    )
}

/// (time, task, detail) of every outcome named `what` in `records`.
fn outcomes(records: &[TickRecord], what: OutcomeKind) -> Vec<(u64, String, String)> {
    records
        .iter()
        .flat_map(|r| {
            r.outcomes
                .iter()
                .filter(|o| o.what == what)
                .map(|o| (r.at, o.task.clone().unwrap_or_default(), o.detail.clone()))
        })
        .collect()
}

#[tokio::test]
async fn a_protection_call_that_fails_for_good_frees_every_slot_and_pauses_new_drains() {
    let mut run = SimRun::new(&quiet_service());
    run.sim.inject_fault(
        SimOp::SetProtection,
        u32::MAX,
        ProviderError::Transient {
            service: "sim-ecs",
            message: "HTTP 500 (injected: UpdateTaskProtection fails for good)".into(),
        },
    );
    let outage = 120 * MIN;
    run.run_until(outage).await;
    let records = run.records();

    let started = outcomes(&records, OutcomeKind::DrainStart);
    let finished = outcomes(&records, OutcomeKind::DrainFinished);
    assert!(!started.is_empty(), "a quiet service starts drains");
    // Every drain ended (its slot freed), rolled back at its protect step.
    let settled: Vec<_> = started.iter().filter(|s| s.0 + 10 * MIN < outage).collect();
    for (at, task, _) in &settled {
        let end = finished
            .iter()
            .find(|f| f.1 == *task && f.0 >= *at)
            .unwrap_or_else(|| panic!("the drain of {task} started at {at}s ended: {finished:?}"));
        assert!(
            end.2.starts_with("rolled-back: step protect failed"),
            "{end:?}"
        );
        assert!(end.0 - at <= 5 * MIN, "{task}: {at}s -> {}s", end.0);
    }
    assert!(run.daemon.services[0].drains.len() <= 2, "slots are free");
    // The roll-backs undid nothing they had not done.
    let stats = run.stats();
    assert_eq!(
        (
            stats.register_calls,
            stats.deregister_calls,
            stats.scale_ins
        ),
        (0, 0, 0),
        "no target touched, nothing scaled in"
    );
    // Paused, not retried every tick: at most two drains (max_step_down) per 15-minute pause.
    assert!(
        started.len() <= 2 * (120 / 15 + 1),
        "{} drains in two hours (about 114 without the pause)",
        started.len()
    );
    eprintln!(
        "roll_back: {} drains started in two hours of failing protection, {} finished",
        started.len(),
        finished.len()
    );
    let paused = records
        .iter()
        .filter(|r| {
            r.adjustments
                .iter()
                .any(|a| a.rule == GuardRule::DrainBackoff)
        })
        .count();
    assert!(paused > 0, "the pause is recorded as a guard adjustment");

    // Once the call works, the next drain (after the pause) stops a task.
    run.sim.inject_fault(
        SimOp::SetProtection,
        0,
        ProviderError::Transient {
            service: "sim-ecs",
            message: String::new(),
        },
    );
    run.run_until(outage + 45 * MIN).await;
    let stopped = outcomes(&run.records(), OutcomeKind::DrainFinished)
        .into_iter()
        .filter(|f| f.0 >= outage && f.2 == "stopped")
        .count();
    assert!(stopped > 0, "scale-in resumes once protection works");
    assert_eq!(run.stats().sessions_killed, 0);
    assert!(run.sim.now() >= outage + 45 * MIN);
}
