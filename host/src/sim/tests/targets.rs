//! The target group: deregistration delay, re-registration, and routing only
//! to healthy targets.

use super::*;
use crate::providers::{ProviderError, Target};

fn target_of(w: &SimWorld, id: &str) -> Target {
    task(&tasks(w), id).target.clone()
}

fn listed_health(w: &SimWorld, target: &Target) -> Option<TargetHealth> {
    w.targets(&svc().target_group)
        .expect("group")
        .into_iter()
        .find(|s| &s.target == target)
        .map(|s| s.health)
}

#[test]
fn a_deregistered_target_drains_for_the_delay_then_leaves_the_group() {
    let mut w = world(&quiet(2));
    let id = running_ids(&w)[0].clone();
    let target = target_of(&w, &id);
    w.advance_to(1000);
    w.deregister(&svc().target_group, std::slice::from_ref(&target))
        .expect("deregister");
    assert_eq!(listed_health(&w, &target), Some(TargetHealth::Draining));
    w.advance_to(1299);
    assert_eq!(listed_health(&w, &target), Some(TargetHealth::Draining));
    // Deregistering again does not restart the delay.
    w.deregister(&svc().target_group, std::slice::from_ref(&target))
        .expect("again");
    w.advance_to(1300);
    assert_eq!(
        listed_health(&w, &target),
        None,
        "unregistered targets are not listed"
    );
    assert_eq!(health_of(&w, &id), TargetHealth::Unregistered);
    assert_eq!(
        status_of(&w, &id),
        TaskStatus::Running,
        "deregistration alone stops nothing"
    );
    assert_eq!(w.targets(&svc().target_group).expect("group").len(), 1);
}

#[test]
fn re_registering_a_draining_or_unregistered_target_makes_it_initial_then_healthy() {
    let mut w = world(&quiet(2));
    let ids = running_ids(&w);
    let (a, b) = (target_of(&w, &ids[0]), target_of(&w, &ids[1]));
    w.deregister(&svc().target_group, &[a.clone(), b.clone()])
        .expect("deregister");
    w.advance_to(100);
    w.register(&svc().target_group, std::slice::from_ref(&a))
        .expect("register a while draining");
    assert_eq!(listed_health(&w, &a), Some(TargetHealth::Initial));
    w.advance_to(129);
    assert_eq!(listed_health(&w, &a), Some(TargetHealth::Initial));
    w.advance_to(130);
    assert_eq!(listed_health(&w, &a), Some(TargetHealth::Healthy));
    w.advance_to(300);
    assert_eq!(
        listed_health(&w, &a),
        Some(TargetHealth::Healthy),
        "the old drain's end is stale"
    );
    assert_eq!(listed_health(&w, &b), None);
    w.register(&svc().target_group, std::slice::from_ref(&b))
        .expect("register b after it left");
    assert_eq!(listed_health(&w, &b), Some(TargetHealth::Initial));
    w.advance_to(330);
    assert_eq!(listed_health(&w, &b), Some(TargetHealth::Healthy));
    let stats = w.stats(&svc()).expect("stats");
    assert_eq!(
        (
            stats.register_calls,
            stats.deregister_calls,
            stats.healthy_targets
        ),
        (2, 1, 2)
    );
}

#[test]
fn a_target_whose_task_does_not_run_registers_unhealthy() {
    let mut w = world(&quiet(1));
    let id = running_ids(&w)[0].clone();
    let target = target_of(&w, &id);
    w.set_desired(&svc(), 0).expect("in");
    w.advance_to(400);
    assert_eq!(status_of(&w, &id), TaskStatus::Stopped);
    w.register(&svc().target_group, std::slice::from_ref(&target))
        .expect("register");
    assert_eq!(listed_health(&w, &target), Some(TargetHealth::Unhealthy));
    w.advance_to(1000);
    assert_eq!(listed_health(&w, &target), Some(TargetHealth::Unhealthy));
}

#[test]
fn unknown_targets_fail_the_whole_call() {
    let mut w = world(&quiet(1));
    let id = running_ids(&w)[0].clone();
    let good = target_of(&w, &id);
    let tg = svc().target_group;
    for bad in [
        Target {
            ip: [10, 9, 9, 9].into(),
            port: good.port,
        },
        Target {
            ip: good.ip,
            port: good.port + 1,
        },
        Target {
            ip: "fd00::1".parse().expect("an IPv6 address"),
            port: good.port,
        },
    ] {
        let err = w
            .deregister(&tg, &[good.clone(), bad.clone()])
            .expect_err("invalid target");
        assert!(
            matches!(&err, ProviderError::NotFound { message, .. } if message.contains(&bad.ip.to_string())),
            "{err}"
        );
        assert_eq!(
            listed_health(&w, &good),
            Some(TargetHealth::Healthy),
            "nothing changed"
        );
    }
    assert!(w.register("other-tg", std::slice::from_ref(&good)).is_err());
}

#[test]
fn sessions_reach_only_healthy_targets_in_round_robin() {
    let cfg = busy(3, 30.0, Duration::from_secs(36_000), 1000);
    let mut w = world(&cfg);
    let ids = running_ids(&w);
    w.deregister(
        &svc().target_group,
        std::slice::from_ref(&target_of(&w, &ids[0])),
    )
    .expect("deregister");
    w.set_desired(&svc(), 4).expect("a fourth task, starting");
    w.advance_to(89);
    let all = tasks(&w);
    assert_eq!(
        task(&all, &ids[0]).sessions_served,
        0,
        "draining target gets nothing"
    );
    let new = all.iter().find(|t| !ids.contains(&t.id)).expect("new task");
    assert_eq!(new.health, TargetHealth::Initial);
    assert_eq!(
        new.sessions_served, 0,
        "starting and initial targets get nothing"
    );
    let (b, c) = (
        task(&all, &ids[1]).sessions_served,
        task(&all, &ids[2]).sessions_served,
    );
    assert!(b + c > 20, "about 45 arrivals so far: {b} + {c}");
    assert!(b.abs_diff(c) <= 1, "round robin alternates: {b} vs {c}");

    w.advance_to(600);
    let all = tasks(&w);
    let new = all.iter().find(|t| !ids.contains(&t.id)).expect("new task");
    assert!(new.sessions_served > 0, "once healthy it gets its share");
    assert_eq!(task(&all, &ids[0]).sessions_served, 0);
    let stats = w.stats(&svc()).expect("stats");
    assert_eq!(stats.sessions_refused, 0);
    assert_eq!(
        stats.sessions_started,
        all.iter().map(|t| t.sessions_served).sum::<u64>()
    );
}

#[test]
fn with_no_healthy_target_every_session_is_refused() {
    let mut w = world(&busy(1, 20.0, Duration::from_secs(600), 100));
    let id = running_ids(&w)[0].clone();
    w.deregister(
        &svc().target_group,
        std::slice::from_ref(&target_of(&w, &id)),
    )
    .expect("deregister");
    w.advance_to(600);
    let s = w.stats(&svc()).expect("stats");
    assert_eq!(s.sessions_started, 0);
    assert!(
        s.sessions_refused > 150,
        "about 200 arrivals, all refused: {}",
        s.sessions_refused
    );
}
