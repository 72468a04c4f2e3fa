//! Stale data, end to end through the daemon: with the session store down or
//! the metrics missing there is no scale-in (the records say why), while a
//! scale-out on fresh data still goes ahead; a drain whose re-check cannot
//! read the session store never scales in.

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::model::{TargetHealth, TaskStatus};
use autoscaler::providers::sim::SimOp;
use autoscaler::providers::{Clock, ProviderError};
use autoscaler::tick::guard::{Action, GuardRule};
use autoscaler::tick::outcome::OutcomeKind;
use autoscaler::tick::record::TickRecord;

use crate::sim_run::{SimRun, config};

const MIN: u64 = 60;

fn outage(service: &'static str) -> ProviderError {
    ProviderError::Transient {
        service,
        message: "service unavailable (injected outage)".into(),
    }
}

/// Records of ticks in `[from, to)`.
fn between(records: &[TickRecord], from: u64, to: u64) -> Vec<&TickRecord> {
    records
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .collect()
}

fn refused_by(r: &TickRecord, rule: GuardRule) -> bool {
    r.adjustments.iter().any(|a| a.rule == rule)
}

/// Quiet, a spike at 40 minutes, quiet again from about 70 minutes.
fn spiky(policy: &str, params: &str) -> String {
    config(
        policy,
        &format!(
            r#"
[service.params]
{params}
[service.guard]
min = 1
max = 12
scale_in_cooldown = "2m"
scale_in_stabilization = "2m"
[service.drain]
deregistration_delay = "60s"
[service.sim]
initial_tasks = 4
session_mean = "5m"
session_capacity = 10
deregistration_delay = "60s"
workload = {{ kind = "spike", base_per_min = 0.3, peak_per_min = 12.0, at = "40m", hold = "20m", decay = "2m" }}
"#
        ),
    )
}

#[tokio::test]
async fn with_the_session_store_down_nothing_scales_in_but_fresh_load_still_scales_out() {
    // Target tracking asks to scale in whenever CPU is low, sessions known or not.
    let mut run = SimRun::new(&spiky(
        TARGET_TRACKING,
        "target-cpu = 25\nscale-in-window = 300",
    ));
    run.sim
        .inject_fault(SimOp::Sessions, u32::MAX, outage("sim-dynamodb"));
    run.run_until(100 * MIN).await;
    run.sim
        .inject_fault(SimOp::Sessions, 0, outage("sim-dynamodb"));
    run.run_until(240 * MIN).await;
    let records = run.records();

    let down = between(&records, 0, 100 * MIN);
    assert!(
        down.iter()
            .all(|r| !matches!(r.action, Action::ScaleIn { .. }))
    );
    assert!(
        down.iter()
            .all(|r| r.problems.iter().any(|p| p.starts_with("sessions:"))),
        "every tick records the missing session counts"
    );
    let refused: Vec<_> = down
        .iter()
        .filter(|r| refused_by(r, GuardRule::SessionsUnknown))
        .collect();
    assert!(
        refused.len() >= 5,
        "the policy asked to scale in: {} refusals",
        refused.len()
    );
    let a = refused[0]
        .adjustments
        .iter()
        .find(|a| a.rule == GuardRule::SessionsUnknown)
        .unwrap();
    assert!(a.reason.contains("no task can be proven idle"), "{a:?}");
    assert!(a.original.parse::<u32>().unwrap() < a.adjusted.parse::<u32>().unwrap());
    assert!(
        down.iter()
            .any(|r| matches!(r.action, Action::ScaleOut { .. })),
        "the spike scaled out on fresh CPU while sessions were unknown"
    );

    // Once the store answers again, the quiet service scales in: the scenario could fail.
    let back = between(&records, 100 * MIN, 240 * MIN);
    assert!(
        back.iter()
            .any(|r| matches!(r.action, Action::ScaleIn { .. }))
    );
    assert_eq!(run.stats().sessions_killed, 0);
}

#[tokio::test]
async fn with_metrics_missing_nothing_scales_in_but_sessions_still_scale_out() {
    // Session-aware asks to scale in on its CPU history even while the current figure is missing.
    let mut run = SimRun::new(&spiky(
        SESSION_AWARE,
        "cpu-high = 70\ncpu-low = 30\nsession-capacity = 10\nscale-in-window = 300",
    ));
    run.run_until(5 * MIN).await;
    run.sim
        .inject_fault(SimOp::Utilization, u32::MAX, outage("sim-cloudwatch"));
    run.run_until(70 * MIN).await;
    run.sim
        .inject_fault(SimOp::Utilization, 0, outage("sim-cloudwatch"));
    run.run_until(240 * MIN).await;
    let records = run.records();

    let down = between(&records, 5 * MIN, 70 * MIN);
    assert!(
        down.iter()
            .all(|r| !matches!(r.action, Action::ScaleIn { .. }))
    );
    assert!(
        down.iter().all(|r| r.state.as_ref().unwrap().cpu.is_none()),
        "missing, never 0"
    );
    assert!(
        down.iter().any(|r| refused_by(r, GuardRule::MetricsStale)),
        "the guard refused a scale-in for missing metrics"
    );
    assert!(
        down.iter()
            .any(|r| matches!(r.action, Action::ScaleOut { .. })),
        "the spike's sessions scaled out without CPU figures"
    );
    let back = between(&records, 70 * MIN, 240 * MIN);
    assert!(
        back.iter()
            .any(|r| matches!(r.action, Action::ScaleIn { .. }))
    );
    assert_eq!(run.stats().sessions_killed, 0);
}

#[tokio::test]
async fn a_drain_that_cannot_recheck_sessions_rolls_back_and_never_scales_in() {
    let mut run = SimRun::new(&spiky(
        SESSION_AWARE,
        "cpu-high = 70\ncpu-low = 30\nsession-capacity = 10\nscale-in-window = 300",
    ));
    // Run until a drain waits for its deregistration; then the session store goes down.
    let mut victim = None;
    while victim.is_none() {
        let t = run.sim.now() + MIN;
        run.run_until(t).await;
        assert!(t < 40 * MIN, "a quiet service starts a drain");
        victim = run.daemon.services[0]
            .drains
            .iter()
            .find(|d| d.step.name() == "wait")
            .map(|d| d.task_id.clone());
    }
    let victim = victim.unwrap();
    let scale_ins = run.stats().scale_ins;
    crate::support::no_new_actions(&mut run.daemon.services[0], run.sim.now()); // no further drains
    run.sim
        .inject_fault(SimOp::Sessions, u32::MAX, outage("sim-dynamodb"));
    let t = run.sim.now() + 60 * MIN;
    run.run_until(t).await;

    let finished: Vec<String> = run
        .records()
        .iter()
        .flat_map(|r| r.outcomes.clone())
        .filter(|o| {
            o.what == OutcomeKind::DrainFinished && o.task.as_deref() == Some(victim.as_str())
        })
        .map(|o| o.detail)
        .collect();
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert!(
        finished[0].starts_with("rolled-back: step recheck failed"),
        "{finished:?}"
    );
    assert_eq!(
        run.stats().scale_ins,
        scale_ins,
        "no scale-in without the recheck"
    );
    let task = run
        .sim
        .sim_tasks(&run.svc)
        .unwrap()
        .into_iter()
        .find(|t| t.id == victim)
        .unwrap();
    assert_eq!(
        (task.status, task.health),
        (TaskStatus::Running, TargetHealth::Healthy)
    );
}
