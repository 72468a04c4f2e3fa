//! A session lands on a task during its drain, routed just before the
//! deregistration and reported late by the session store: the re-check sees
//! it, the drain aborts, the target is registered again and the task serves on.

use std::time::Duration;

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::model::{TargetHealth, TaskStatus};
use autoscaler::providers::Clock;
use autoscaler::tick::outcome::OutcomeKind;
use autoscaler::workflow::Step;

use crate::sim_run::{SimRun, config};

#[tokio::test]
async fn a_session_reported_late_aborts_the_drain_and_the_task_serves_again() {
    let mut run = SimRun::new(&config(
        SESSION_AWARE,
        r#"
[service.params]
scale-in-window = 300
[service.guard]
min = 2
max = 3
[service.drain]
deregistration_delay = "120s"
[service.sim]
initial_tasks = 3
deregistration_delay = "120s"
workload = { kind = "steady", per_min = 0.0 }
"#,
    ));
    // Until a drain has deregistered its victim and waits.
    let victim = loop {
        let t = run.sim.now() + 15;
        run.run_until(t).await;
        assert!(t < 3600, "the idle service starts a drain");
        let waiting = run.daemon.services[0]
            .drains
            .iter()
            .find(|d| matches!(d.step, Step::Wait { .. }))
            .map(|d| d.task_id.clone());
        if let Some(id) = waiting {
            break id;
        }
    };
    let health = |run: &SimRun| {
        let t = run.sim.sim_tasks(&run.svc).unwrap();
        let t = t.into_iter().find(|t| t.id == victim).unwrap();
        (t.status, t.health, t.sessions)
    };
    assert_eq!(
        health(&run),
        (TaskStatus::Running, TargetHealth::Draining, 0)
    );
    run.sim
        .open_session(&run.svc, &victim, Duration::from_secs(2 * 3600))
        .unwrap();

    let t = run.sim.now() + 1800;
    run.run_until(t).await;
    let outcomes: Vec<_> = run
        .records()
        .into_iter()
        .flat_map(|r| r.outcomes)
        .filter(|o| o.task.as_deref() == Some(victim.as_str()))
        .collect();
    let finished: Vec<_> = outcomes
        .iter()
        .filter(|o| o.what == OutcomeKind::DrainFinished)
        .collect();
    assert_eq!(finished.len(), 1, "{outcomes:?}");
    assert_eq!(
        finished[0].detail,
        "aborted: 1 session(s) appeared on the task during its drain"
    );
    assert!(
        !outcomes
            .iter()
            .any(|o| o.what == OutcomeKind::DrainScaledIn)
    );
    // Registered again, healthy, serving its session; nothing lost.
    assert_eq!(
        health(&run),
        (TaskStatus::Running, TargetHealth::Healthy, 1)
    );
    let stats = run.stats();
    assert_eq!(stats.sessions_killed, 0);
    assert!(stats.register_calls >= 1);
    // The policy may drain another idle task instead, never this one while it has a session.
    assert!(
        run.daemon.services[0]
            .drains
            .iter()
            .all(|d| d.task_id != victim),
        "the busy task is not drained again"
    );
}
