//! End-to-end scenarios in the simulated cluster, through the real pipeline
//! (gather, decide, guard, execute, record) and the real daemon loop.
//! Layer: sim. These prove scheduling, protection and draining behaviour,
//! which the local AWS server cannot model.

use autoscaler::artifacts::{SESSION_AWARE, TARGET_TRACKING};
use autoscaler::runtime::FaultKind;
use autoscaler::tick::guard::Action;
use autoscaler::tick::outcome::OutcomeKind;
use test_policy_artifacts::ADVERSARIAL_ENDLESS_LOOP;

use crate::sim_run::{SimRun, config, step_up};

const HOUR: u64 = 3600;

#[tokio::test]
async fn load_rises_scale_out_on_the_first_tick_the_metric_shows_it() {
    let mut run = SimRun::new(&step_up(SESSION_AWARE, ""));
    run.run_until(3 * HOUR).await;
    let records = run.records();
    let first_hot = records
        .iter()
        .position(|r| {
            r.state
                .as_ref()
                .and_then(|s| s.cpu)
                .is_some_and(|c| c > 70.0)
        })
        .expect("the step makes CPU cross 70%");
    assert!(
        records[first_hot].at > 30 * 60,
        "nothing is hot before the step"
    );
    assert!(
        matches!(records[first_hot].action, Action::ScaleOut { .. }),
        "first hot tick at {}: {:?}",
        records[first_hot].at,
        records[first_hot].action
    );
    assert!(
        records[..first_hot]
            .iter()
            .all(|r| r.action == Action::Hold)
    );
    assert!(run.stats().desired > 2);
}

/// Busy, then quiet: sessions (long-tailed) pin some tasks while the load falls.
fn rise_and_fall(policy: &str, params: &str) -> String {
    config(
        policy,
        &format!(
            r#"
[service.params]
{params}
[service.guard]
min = 1
max = 20
scale_in_cooldown = "2m"
scale_in_stabilization = "2m"
[service.drain]
deregistration_delay = "60s"
[service.sim]
initial_tasks = 2
session_mean = "20m"
session_length = {{ kind = "lognormal", sigma = 1.2 }}
deregistration_delay = "60s"
workload = {{ kind = "step", before_per_min = 10.0, after_per_min = 0.3, at = "2h" }}
"#
        ),
    )
}

#[tokio::test]
async fn load_falls_only_idle_tasks_are_drained_and_no_session_is_killed() {
    let mut run = SimRun::new(&rise_and_fall(
        SESSION_AWARE,
        "cpu-high = 70\ncpu-low = 30\nsession-capacity = 20\nscale-in-window = 300",
    ));
    run.run_until(8 * HOUR).await;
    let stats = run.stats();
    let records = run.records();
    let stopped = records
        .iter()
        .flat_map(|r| &r.outcomes)
        .filter(|o| o.what == OutcomeKind::DrainFinished && o.detail == "stopped")
        .count();
    assert!(
        stats.peak_tasks >= 6,
        "the busy phase grew the service: {stats:?}"
    );
    assert!(stopped >= 3, "the quiet phase drained tasks: {stopped}");
    assert!(stats.desired < stats.peak_tasks);
    assert_eq!(stats.sessions_killed, 0, "{stats:?}");
    assert_eq!(stats.tasks_stopped_with_sessions, 0);
}

#[tokio::test]
async fn the_session_unaware_reference_does_kill_sessions_in_the_same_scenario() {
    // Proves the scenario above can fail: AWS-style scale-in stops busy tasks.
    let mut run = SimRun::new(&rise_and_fall(
        TARGET_TRACKING,
        "target-cpu = 50\nscale-in-window = 300",
    ));
    run.daemon.services[0].spec.guard.session_unaware_reference = true;
    run.run_until(8 * HOUR).await;
    assert!(run.stats().sessions_killed > 0, "{:?}", run.stats());
}

#[tokio::test]
async fn a_policy_fault_makes_the_tick_hold() {
    let mut run = SimRun::new(&step_up(ADVERSARIAL_ENDLESS_LOOP, ""));
    run.run_until(HOUR).await;
    let records = run.records();
    assert_eq!(records.len(), 60);
    for r in &records {
        assert_eq!(r.action, Action::Hold);
        assert_eq!(r.fault.as_ref().map(|f| f.kind), Some(FaultKind::Timeout));
    }
    assert_eq!(run.stats().set_desired_calls, 0);
    assert_eq!(
        run.daemon
            .events
            .counter("autoscaler_ticks_total", &[("service", "e2e/web")]),
        60
    );
}

#[tokio::test]
async fn shadow_decisions_are_recorded_but_never_executed() {
    // The live policy holds (thresholds out of reach); the shadow wants more tasks.
    let toml = config(
        SESSION_AWARE,
        &format!(
            r#"shadows = ["{TARGET_TRACKING}"]
[service.params]
cpu-high = 99
cpu-low = 1
memory-high = 99
memory-low = 1
session-capacity = 1000
target-cpu = 5
[service.sim]
initial_tasks = 2
workload = {{ kind = "steady", per_min = 4.0 }}
"#
        ),
    );
    let mut run = SimRun::new(&toml);
    run.run_until(HOUR).await;
    let records = run.records();
    let eager = records
        .iter()
        .filter(|r| {
            let want = r.shadows[0].decision.as_ref().and_then(|d| d.desired);
            want.is_some_and(|w| w > r.state.as_ref().unwrap().desired)
        })
        .count();
    assert!(
        eager > 10,
        "the shadow asked for more tasks on {eager} ticks"
    );
    assert!(records.iter().all(|r| r.action == Action::Hold));
    assert_eq!(run.stats().set_desired_calls, 0);
    assert_eq!(run.stats().desired, 2);
}

#[tokio::test]
async fn dry_run_decides_and_records_but_executes_nothing() {
    let mut run = SimRun::new(&step_up(SESSION_AWARE, "dry_run = true"));
    run.run_until(2 * HOUR).await;
    let records = run.records();
    assert!(
        records
            .iter()
            .any(|r| matches!(r.action, Action::ScaleOut { .. }) && r.dry_run)
    );
    assert!(records.iter().all(|r| r.outcomes.is_empty()));
    let stats = run.stats();
    assert_eq!((stats.set_desired_calls, stats.desired), (0, 2));
}
