//! The daemon shares each service's current tasks (IDs and private IPs, as of
//! its last gather) with the session ingest API, which accepts events only
//! for them.

use autoscaler::artifacts::SESSION_AWARE;
use autoscaler::sessions::tasks::{CurrentTasks, Lookup};

use crate::sim_run::{SimRun, config};

#[tokio::test]
async fn the_daemon_publishes_each_services_current_tasks_and_their_ips_after_a_gather() {
    let toml = config(
        SESSION_AWARE,
        "[service.sim]\ninitial_tasks = 3\nworkload = { kind = \"steady\", per_min = 2.0 }\n",
    );
    let mut run = SimRun::new(&toml);
    let tasks = CurrentTasks::new(["e2e/web"]);
    run.daemon.current_tasks = Some(tasks.clone());
    assert_eq!(tasks.lookup("e2e/web", "any"), Lookup::NotGathered);

    run.run_until(600).await;
    let svc = &run.daemon.services[0];
    let snap = svc.last_snapshot.as_ref().expect("gathered");
    assert_eq!(tasks.published_at("e2e/web"), Some(snap.now));
    assert!(!snap.tasks.is_empty());
    for (task, target) in snap.tasks.iter().zip(&svc.last_targets) {
        assert_eq!(
            tasks.lookup("e2e/web", &task.id),
            Lookup::Task(target.as_ref().map(|t| t.ip)),
            "{}",
            task.id
        );
    }
    assert!(
        svc.last_targets.iter().any(Option::is_some),
        "registered tasks carry their private IP"
    );
    assert_eq!(tasks.lookup("e2e/web", "not-a-task"), Lookup::UnknownTask);
    assert_eq!(tasks.lookup("e2e/api", "any"), Lookup::UnknownService);
}
