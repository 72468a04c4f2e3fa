//! A drain against moto, whose UpdateTaskProtection answers HTTP 500 for
//! good: the drain rolls back after its protect step's attempts, and its
//! roll-back sends nothing to undo (no RegisterTargets for a target it never
//! deregistered) and ends. The bounds and the freed slots are proven through
//! the daemon on the sim (`reliability::roll_back`).

use autoscaler::model::TaskStatus;
use autoscaler::providers::{Cluster, Target};
use autoscaler::workflow::{DrainConfig, DrainWorkflow, MemoryJournal, Outcome, Step, advance};

use super::seed::{PORT, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_drain_whose_protection_answers_500_rolls_back_without_touching_its_target() {
    let world = World::start().await;
    let svc = world.service("prod", "web", 3).await;
    let tasks = world.run_tasks(&svc, 3).await;
    world.register(&svc, &tasks).await;
    let provider = world.provider("sessions");
    let (victim, ip) = tasks[0].clone();
    // moto moves a task's status one step per DescribeTasks: list until the victim runs.
    let mut running = false;
    for _ in 0..10 {
        let listed = provider.tasks(&svc).await.unwrap();
        running = listed
            .iter()
            .any(|t| t.id == victim && t.status == TaskStatus::Running);
        if running {
            break;
        }
    }
    assert!(running, "moto's task reaches RUNNING");
    let target = Target {
        ip: ip.parse().expect("an IP"),
        port: PORT,
    };
    let cfg = DrainConfig {
        max_attempts: 2,
        ..DrainConfig::default()
    };
    let journal = MemoryJournal::default();
    let mut wf = DrainWorkflow::new(&svc.key(), &victim, Some(target.clone()), 0, &cfg);
    provider.calls().take();
    let mut now = 0;
    while !wf.is_done() {
        now = wf.wake_at().expect("in flight").max(now);
        advance(&provider, &svc, &mut wf, &cfg, &[], &journal, now)
            .await
            .unwrap();
        assert!(now < 3600, "the drain ends: {:?}", wf.step);
    }
    let Step::Done {
        outcome: Outcome::RolledBack { reason },
    } = &wf.step
    else {
        panic!("rolled back: {:?}", wf.step)
    };
    assert!(
        reason.starts_with("step protect failed 3 times")
            && reason.contains("UpdateTaskProtection"),
        "{reason}"
    );
    let calls = provider.calls().take();
    assert_eq!(
        (
            calls.calls("UpdateTaskProtection"),
            calls.calls("DeregisterTargets"),
            calls.calls("RegisterTargets")
        ),
        (3, 0, 0),
        "the protect step's three tries, nothing to undo: {calls}"
    );
    assert!(
        world.registered(&svc.target_group).await.contains(&target),
        "the target was never touched"
    );
}
