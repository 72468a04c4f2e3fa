//! Task start-up, the stop sequence, reconciliation and scale-in protection.

use super::*;

#[test]
fn initial_tasks_run_healthy_with_ecs_like_ids_and_private_ips() {
    let w = world(&SimServiceConfig {
        container_port: 3389,
        ..quiet(3)
    });
    let all = tasks(&w);
    assert_eq!(all.len(), 3);
    for t in &all {
        assert_eq!(t.status, TaskStatus::Running);
        assert_eq!(t.health, TargetHealth::Healthy);
        assert_eq!(t.id.len(), 32);
        assert!(t.id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(
            t.target.ip.to_string().starts_with("10.0."),
            "{}",
            t.target.ip
        );
        assert_eq!(t.target.port, 3389);
    }
    let mut ips: Vec<_> = all.iter().map(|t| t.target.ip).collect();
    ips.dedup();
    assert_eq!(ips.len(), 3, "distinct IPs");
    let cluster = w.tasks(&svc()).expect("tasks");
    assert!(
        cluster
            .iter()
            .all(|t| t.target.is_some() && t.started_at == Some(0))
    );
}

#[test]
fn a_new_task_goes_through_provisioning_and_pending_before_running_then_turns_healthy() {
    let mut w = world(&quiet(1));
    w.advance_to(100);
    w.set_desired(&svc(), 2).expect("scale out");
    let new = ids_where(&w, |t| t.status == TaskStatus::Provisioning);
    assert_eq!(new.len(), 1);
    let id = &new[0];
    let counts = w.service_counts(&svc()).expect("counts");
    assert_eq!((counts.desired, counts.running, counts.pending), (2, 1, 1));
    let listed = w.tasks(&svc()).expect("tasks");
    let t = listed.iter().find(|t| &t.id == id).expect("listed");
    assert_eq!(
        (t.created_at, t.started_at, t.target.is_none()),
        (100, None, true)
    );

    w.advance_to(119);
    assert_eq!(status_of(&w, id), TaskStatus::Provisioning);
    w.advance_to(120);
    assert_eq!(status_of(&w, id), TaskStatus::Pending);
    assert!(
        w.tasks(&svc())
            .expect("tasks")
            .iter()
            .any(|t| &t.id == id && t.target.is_some())
    );
    w.advance_to(159);
    assert_eq!(status_of(&w, id), TaskStatus::Pending);
    assert_eq!(health_of(&w, id), TargetHealth::Unregistered);
    w.advance_to(160);
    assert_eq!(status_of(&w, id), TaskStatus::Running);
    assert_eq!(health_of(&w, id), TargetHealth::Initial);
    w.advance_to(189);
    assert_eq!(health_of(&w, id), TargetHealth::Initial);
    w.advance_to(190);
    assert_eq!(health_of(&w, id), TargetHealth::Healthy);
    let counts = w.service_counts(&svc()).expect("counts");
    assert_eq!((counts.running, counts.pending), (2, 0));
    assert_eq!(task(&tasks(&w), id).started_at, Some(160));
}

#[test]
fn scale_in_stops_a_task_through_deactivating_stopping_and_deprovisioning() {
    let mut w = world(&quiet(2));
    w.set_desired(&svc(), 1).expect("scale in");
    let victim = ids_where(&w, |t| t.status == TaskStatus::Deactivating);
    assert_eq!(victim.len(), 1, "exactly one victim");
    let id = &victim[0];
    assert_eq!(health_of(&w, id), TargetHealth::Draining);
    w.advance_to(299);
    assert_eq!(status_of(&w, id), TaskStatus::Deactivating);
    w.advance_to(300);
    assert_eq!(status_of(&w, id), TaskStatus::Stopping);
    w.advance_to(315);
    assert_eq!(status_of(&w, id), TaskStatus::Deprovisioning);
    w.advance_to(335);
    assert_eq!(status_of(&w, id), TaskStatus::Stopped);
    assert_eq!(task(&tasks(&w), id).stopped_at, Some(335));
    let stats = w.stats(&svc()).expect("stats");
    assert_eq!(
        (
            stats.tasks_stopped,
            stats.running,
            stats.scale_ins,
            stats.tasks_launched
        ),
        (1, 1, 1, 2)
    );

    // Stopped tasks stay listed for the retention period, then are forgotten.
    w.advance_to(335 + 3599);
    assert_eq!(
        w.task_status(&svc(), std::slice::from_ref(id))
            .expect("status"),
        vec![(id.clone(), TaskStatus::Stopped)]
    );
    w.advance_to(335 + 3600);
    assert!(
        w.task_status(&svc(), std::slice::from_ref(id))
            .expect("status")
            .is_empty()
    );
    assert_eq!(tasks(&w).len(), 1);
}

#[test]
fn reconciliation_never_stops_a_protected_task_and_waits_for_protection_to_end() {
    let mut w = world(&quiet(4));
    let all = running_ids(&w);
    let (kept, free) = (&all[..3], &all[3]);
    w.set_protection(&svc(), kept, true, 60).expect("protect");
    assert_eq!(w.stats(&svc()).expect("stats").protection_calls, 1);

    w.set_desired(&svc(), 0).expect("scale in to zero");
    assert_eq!(
        status_of(&w, free),
        TaskStatus::Deactivating,
        "the unprotected task goes"
    );
    w.advance_to(59 * 60);
    for id in kept {
        assert_eq!(
            status_of(&w, id),
            TaskStatus::Running,
            "protected task {id} kept"
        );
        assert_eq!(health_of(&w, id), TargetHealth::Healthy);
    }
    assert_eq!(status_of(&w, free), TaskStatus::Stopped);

    // Turning protection off releases that task at once.
    w.set_protection(&svc(), &kept[..1], false, 0)
        .expect("unprotect");
    assert_eq!(status_of(&w, &kept[0]), TaskStatus::Deactivating);
    assert_eq!(status_of(&w, &kept[1]), TaskStatus::Running);

    // Protection expiring releases the rest.
    w.advance_to(60 * 60 - 1);
    assert_eq!(status_of(&w, &kept[1]), TaskStatus::Running);
    w.advance_to(60 * 60);
    assert_eq!(status_of(&w, &kept[1]), TaskStatus::Deactivating);
    assert_eq!(status_of(&w, &kept[2]), TaskStatus::Deactivating);
    w.advance_to(3 * 3600);
    assert_eq!(w.service_counts(&svc()).expect("counts").running, 0);
}

#[test]
fn renewed_protection_outlives_the_first_expiry() {
    let mut w = world(&quiet(2));
    let ids = running_ids(&w);
    w.set_protection(&svc(), &ids, true, 10).expect("protect");
    w.advance_to(300);
    w.set_protection(&svc(), &ids, true, 30).expect("renew");
    w.set_desired(&svc(), 0).expect("scale in");
    w.advance_to(300 + 29 * 60);
    assert_eq!(
        running_ids(&w).len(),
        2,
        "the first 10-minute expiry is superseded"
    );
    w.advance_to(300 + 30 * 60);
    assert!(running_ids(&w).is_empty());
}

#[test]
fn scale_in_prefers_tasks_not_yet_running_and_otherwise_picks_by_seed() {
    let mut w = world(&quiet(3));
    let old = running_ids(&w);
    w.set_desired(&svc(), 5).expect("out");
    w.advance_to(10);
    w.set_desired(&svc(), 3).expect("in");
    for id in &old {
        assert_eq!(
            status_of(&w, id),
            TaskStatus::Running,
            "running tasks spared"
        );
    }
    assert_eq!(ids_where(&w, |t| t.status == TaskStatus::Stopping).len(), 2);
    assert_eq!(w.service_counts(&svc()).expect("counts").pending, 0);

    // Among running tasks, the victim depends on the seed.
    let victims: std::collections::BTreeSet<usize> = (1..=12)
        .map(|seed| {
            let mut w = world_with(seed, &quiet(6));
            let before = running_ids(&w);
            w.set_desired(&svc(), 5).expect("in");
            let after = running_ids(&w);
            before
                .iter()
                .position(|id| !after.contains(id))
                .expect("one victim")
        })
        .collect();
    assert!(
        victims.len() >= 3,
        "victims by position over 12 seeds: {victims:?}"
    );
}

#[test]
fn stop_task_keeps_the_desired_count_and_brings_a_replacement() {
    let mut w = world(&quiet(2));
    let ids = running_ids(&w);
    w.advance_to(50);
    w.stop_task(&svc(), &ids[0]).expect("stop");
    let counts = w.service_counts(&svc()).expect("counts");
    assert_eq!((counts.desired, counts.running, counts.pending), (2, 1, 1));
    assert_eq!(status_of(&w, &ids[0]), TaskStatus::Deactivating);
    assert_eq!(health_of(&w, &ids[0]), TargetHealth::Draining);
    w.advance_to(50 + 60 + 30);
    let running = running_ids(&w);
    assert_eq!(running.len(), 2);
    assert!(running.contains(&ids[1]) && !running.contains(&ids[0]));
    let all = tasks(&w);
    let replacement = all
        .iter()
        .find(|t| !ids.contains(&t.id))
        .expect("a replacement");
    assert_eq!(replacement.health, TargetHealth::Healthy);
    w.advance_to(50 + 300);
    assert_eq!(status_of(&w, &ids[0]), TaskStatus::Stopping);
    let stats = w.stats(&svc()).expect("stats");
    assert_eq!(
        (
            stats.stop_task_calls,
            stats.tasks_launched,
            stats.scale_ins,
            stats.desired
        ),
        (1, 3, 0, 2)
    );
    assert_eq!(
        task(&all, &ids[0]).stop_cause,
        Some(crate::sim::StopCause::StopTask)
    );
    assert!(
        w.stop_task(&svc(), "0123").is_err(),
        "an unknown task is not found"
    );
}

#[test]
fn a_failed_task_stops_at_once_and_is_replaced() {
    let mut w = world(&quiet(2));
    let ids = running_ids(&w);
    w.fail_task(&svc(), &ids[1]).expect("fail");
    assert_eq!(status_of(&w, &ids[1]), TaskStatus::Stopping);
    assert_eq!(health_of(&w, &ids[1]), TargetHealth::Draining);
    assert_eq!(w.service_counts(&svc()).expect("counts").pending, 1);
    w.advance_to(35);
    assert_eq!(status_of(&w, &ids[1]), TaskStatus::Stopped);
}

#[test]
fn task_seconds_count_every_unstopped_task_and_running_seconds_only_running_ones() {
    let mut w = world(&quiet(2));
    w.advance_to(100);
    w.set_desired(&svc(), 3).expect("out");
    w.advance_to(200);
    let s = w.stats(&svc()).expect("stats");
    // Two tasks for 200 s, plus the new one for 100 s, of which 40 s running.
    assert_eq!(s.task_seconds, 2 * 200 + 100);
    assert_eq!(s.running_task_seconds, 2 * 200 + 40);
    assert_eq!(s.peak_tasks, 3);
}

#[test]
fn desired_counts_beyond_the_quota_are_refused() {
    let mut w = world(&quiet(1));
    assert!(
        w.set_desired(&svc(), crate::sim::MAX_TASKS_PER_SERVICE + 1)
            .is_err()
    );
    assert_eq!(w.service_counts(&svc()).expect("counts").desired, 1);
}
