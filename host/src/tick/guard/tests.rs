//! The guard's rules, one by one.

use super::*;
use crate::model::{DrainInfo, DrainStep};
use std::time::Duration;

use crate::model::TaskStatus;
use crate::tick::gather::DataHealth;

const NOW: u64 = 10_000;

fn snap() -> Snapshot {
    // Four running tasks: 0 and 2 busy, 1 and 3 idle.
    let mut s = Snapshot::example();
    s.now = NOW;
    s
}

fn id(s: &Snapshot, i: usize) -> String {
    s.tasks[i].id.clone()
}

fn fresh() -> DataHealth {
    DataHealth {
        metrics_fresh: true,
    }
}

fn cfg() -> GuardConfig {
    GuardConfig {
        min: 1,
        max: 10,
        scale_in_stabilization: Duration::ZERO,
        ..GuardConfig::default()
    }
}

fn decide(desired: Option<u32>, drain: Vec<String>) -> Decision {
    Decision {
        desired,
        drain,
        reason: "test".into(),
        ..Decision::default()
    }
}

fn rules(g: &Guarded) -> Vec<&str> {
    g.adjustments.iter().map(|a| a.rule.name()).collect()
}

#[test]
fn a_fault_or_no_change_holds() {
    let s = snap();
    let mut st = GuardState::default();
    assert_eq!(
        guard(None, &s, fresh(), &cfg(), &mut st, NOW).action,
        Action::Hold
    );
    assert_eq!(
        guard(
            Some(&decide(None, vec![])),
            &s,
            fresh(),
            &cfg(),
            &mut st,
            NOW
        )
        .action,
        Action::Hold
    );
}

#[test]
fn clamps_to_max_and_caps_the_step_up() {
    let s = snap();
    let mut st = GuardState::default();
    let c = GuardConfig {
        max_step_up: 3,
        ..cfg()
    };
    let g = guard(
        Some(&decide(Some(50), vec![])),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW,
    );
    assert_eq!(g.action, Action::ScaleOut { from: 4, to: 7 });
    assert_eq!(rules(&g), vec!["max", "max-step-up"]);
    assert_eq!(g.adjustments[0].original, "50");
    assert_eq!(g.adjustments[0].adjusted, "10");
}

#[test]
fn tasks_still_draining_count_toward_max() {
    // Six desired, one of them draining: the policy may not go past five more,
    // or the desired count would exceed max if the drain aborted.
    let mut s = snap();
    s.desired = 6;
    s.drains = vec![DrainInfo {
        task_id: id(&s, 1),
        step: DrainStep::Waiting,
        elapsed_seconds: 30,
    }];
    let mut st = GuardState::default();
    let c = GuardConfig { max: 6, ..cfg() };
    let g = guard(
        Some(&decide(Some(6), vec![])),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW,
    );
    assert_eq!(g.action, Action::Hold, "{:?}", g.adjustments);
    assert_eq!(rules(&g), vec!["max"]);
    assert_eq!(g.adjustments[0].adjusted, "5");
    assert!(
        g.adjustments[0]
            .reason
            .contains("1 of its tasks are draining")
    );
}

#[test]
fn enforces_min_even_when_the_policy_holds() {
    let s = snap();
    let mut st = GuardState::default();
    let c = GuardConfig { min: 6, ..cfg() };
    let g = guard(Some(&decide(None, vec![])), &s, fresh(), &c, &mut st, NOW);
    assert_eq!(g.action, Action::ScaleOut { from: 4, to: 6 });
    assert_eq!(rules(&g), vec!["min"]);
}

#[test]
fn scale_out_cooldown_holds() {
    let s = snap();
    let mut st = GuardState {
        last_scale_out: Some(NOW - 30),
        ..GuardState::default()
    };
    let g = guard(
        Some(&decide(Some(6), vec![])),
        &s,
        fresh(),
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(g.action, Action::Hold);
    assert_eq!(rules(&g), vec!["scale-out-cooldown"]);
}

#[test]
fn scale_in_drains_only_idle_running_tasks_and_records_refusals() {
    let s = snap();
    let mut st = GuardState::default();
    let d = decide(
        Some(2),
        vec![id(&s, 0), id(&s, 1), "ghost".into(), id(&s, 3)],
    );
    let g = guard(Some(&d), &s, fresh(), &cfg(), &mut st, NOW);
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 4,
            to: 2,
            victims: vec![id(&s, 1), id(&s, 3)]
        }
    );
    assert_eq!(rules(&g), vec!["drain-candidate", "drain-candidate"]);
    assert!(g.adjustments[0].reason.contains("3 active session"));
    assert!(g.adjustments[1].reason.contains("not a task"));
}

#[test]
fn scale_in_shrinks_to_the_idle_candidates_named() {
    let s = snap();
    let mut st = GuardState::default();
    let g = guard(
        Some(&decide(Some(2), vec![id(&s, 0), id(&s, 3)])),
        &s,
        fresh(),
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 4,
            to: 3,
            victims: vec![id(&s, 3)]
        }
    );
    assert_eq!(rules(&g), vec!["drain-candidate", "idle-candidates"]);
    let none = guard(
        Some(&decide(Some(2), vec![id(&s, 0)])),
        &s,
        fresh(),
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(none.action, Action::Hold);
}

#[test]
fn no_scale_in_without_session_data_or_fresh_metrics() {
    let mut s = snap();
    let d = decide(Some(3), vec![id(&s, 1)]);
    let mut st = GuardState::default();
    let stale = guard(
        Some(&d),
        &s,
        DataHealth {
            metrics_fresh: false,
        },
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(
        (stale.action.clone(), rules(&stale)),
        (Action::Hold, vec!["metrics-stale"])
    );
    s.sessions_known = false;
    let unknown = guard(Some(&d), &s, fresh(), &cfg(), &mut st, NOW);
    assert_eq!(
        (unknown.action.clone(), rules(&unknown)),
        (Action::Hold, vec!["sessions-unknown"])
    );
    // Scale-out stays allowed on missing data.
    let out = guard(
        Some(&decide(Some(5), vec![])),
        &s,
        DataHealth {
            metrics_fresh: false,
        },
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(out.action, Action::ScaleOut { from: 4, to: 5 });
}

#[test]
fn scale_in_cooldown_counts_from_any_scaling() {
    let s = snap();
    let d = decide(Some(3), vec![id(&s, 1)]);
    let mut st = GuardState {
        last_scale_out: Some(NOW - 100),
        ..GuardState::default()
    };
    let g = guard(Some(&d), &s, fresh(), &cfg(), &mut st, NOW);
    assert_eq!(rules(&g), vec!["scale-in-cooldown"]);
    let mut st = GuardState {
        last_scale_in: Some(NOW - 301),
        ..GuardState::default()
    };
    assert!(matches!(
        guard(Some(&d), &s, fresh(), &cfg(), &mut st, NOW).action,
        Action::ScaleIn { .. }
    ));
}

#[test]
fn stabilization_window_uses_the_highest_recent_target() {
    let s = snap();
    let c = GuardConfig {
        scale_in_stabilization: Duration::from_secs(300),
        ..cfg()
    };
    let mut st = GuardState::default();
    let idle = vec![id(&s, 1), id(&s, 3)];
    // Earlier in the window the policy wanted 4, then 3.
    guard(
        Some(&decide(Some(4), vec![])),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW - 200,
    );
    guard(
        Some(&decide(Some(3), idle.clone())),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW - 100,
    );
    let g = guard(
        Some(&decide(Some(2), idle.clone())),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW,
    );
    assert_eq!(
        (g.action.clone(), rules(&g)),
        (Action::Hold, vec!["scale-in-stabilization"])
    );
    // Once the 4 leaves the window, the highest is 3.
    let g = guard(
        Some(&decide(Some(2), idle)),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW + 150,
    );
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 4,
            to: 3,
            victims: vec![id(&s, 1)]
        }
    );
}

#[test]
fn step_down_and_concurrent_drains_are_capped() {
    let mut s = snap();
    for t in &mut s.tasks {
        t.sessions = 0;
    }
    let all: Vec<String> = (0..4).map(|i| id(&s, i)).collect();
    let mut st = GuardState::default();
    let c = GuardConfig {
        max_step_down: 1,
        ..cfg()
    };
    let g = guard(
        Some(&decide(Some(1), all.clone())),
        &s,
        fresh(),
        &c,
        &mut st,
        NOW,
    );
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 4,
            to: 3,
            victims: vec![id(&s, 0)]
        }
    );

    // Two drains in flight, at most two at once: nothing more may start.
    s.desired = 6;
    s.drains = (0..2)
        .map(|i| DrainInfo {
            task_id: format!("gone-{i}"),
            step: DrainStep::Waiting,
            elapsed_seconds: 10,
        })
        .collect();
    let c = GuardConfig {
        max_concurrent_drains: 2,
        ..cfg()
    };
    let g = guard(Some(&decide(Some(2), all)), &s, fresh(), &c, &mut st, NOW);
    assert_eq!(
        (g.action.clone(), rules(&g)),
        (Action::Hold, vec!["max-concurrent-drains"])
    );
}

#[test]
fn draining_tasks_are_never_drained_twice() {
    let mut s = snap();
    s.tasks[1].draining = true;
    let mut st = GuardState::default();
    let g = guard(
        Some(&decide(Some(3), vec![id(&s, 1), id(&s, 3)])),
        &s,
        fresh(),
        &cfg(),
        &mut st,
        NOW,
    );
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 4,
            to: 3,
            victims: vec![id(&s, 3)]
        }
    );
    assert!(g.adjustments[0].reason.contains("already draining"));
}

// ---- cordons ----

fn cordoning() -> GuardConfig {
    GuardConfig {
        cordon: crate::workflow::CordonMode::Deregister,
        ..cfg()
    }
}

fn cordon_decision(desired: Option<u32>, cordon: Vec<String>, uncordon: Vec<String>) -> Decision {
    Decision {
        desired,
        cordon,
        uncordon,
        reason: "test".into(),
        ..Decision::default()
    }
}

/// Marks task `i` cordoned (a cordon workflow holding it).
fn cordoned(s: &mut Snapshot, i: usize) {
    s.tasks[i].cordoned_since = Some(NOW - 600);
    s.tasks[i].draining = true;
    s.drains.push(DrainInfo {
        task_id: id(s, i),
        step: DrainStep::Cordoned,
        elapsed_seconds: 600,
    });
}

#[test]
fn cordons_are_refused_when_off_or_when_sessions_are_unknown() {
    let s = snap();
    let d = Decision {
        drain: vec![id(&s, 1)],
        ..cordon_decision(Some(3), vec![id(&s, 0)], vec![])
    };
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cfg(),
        &mut GuardState::default(),
        NOW,
    );
    assert!(g.cordon.is_empty());
    assert_eq!(rules(&g)[0], "cordon-off");
    // Nothing cordoned: the effective count stays 4, and 3 drains an idle task.
    assert!(
        matches!(g.action, Action::ScaleIn { from: 4, to: 3, .. }),
        "{:?}",
        g.action
    );

    let mut unknown = snap();
    unknown.sessions_known = false;
    let d = cordon_decision(None, vec![id(&unknown, 0)], vec![]);
    let g = guard(
        Some(&d),
        &unknown,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert!(g.cordon.is_empty());
    assert_eq!(rules(&g), vec!["sessions-unknown"]);
    assert_eq!(g.action, Action::Hold);
}

#[test]
fn a_cordon_is_serving_capacity_gone_so_desired_counts_serving_tasks() {
    let s = snap();
    // Cordon the busy task 0 and keep 3 serving: nothing else to do.
    let d = cordon_decision(Some(3), vec![id(&s, 0)], vec![]);
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.cordon, vec![id(&s, 0)]);
    assert_eq!(g.action, Action::Hold, "{:?}", g.adjustments);
    assert!(g.adjustments.is_empty(), "{:?}", g.adjustments);
    // Cordon it and want 2 serving: one idle task drains too.
    let d = Decision {
        drain: vec![id(&s, 1)],
        ..cordon_decision(Some(2), vec![id(&s, 0)], vec![])
    };
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 3,
            to: 2,
            victims: vec![id(&s, 1)]
        }
    );
    // Cordon it and still want 4 serving: a task is launched.
    let d = cordon_decision(Some(4), vec![id(&s, 0)], vec![]);
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.action, Action::ScaleOut { from: 3, to: 4 });
}

#[test]
fn only_running_tasks_not_draining_may_be_cordoned_and_at_most_max_cordoned() {
    let mut s = snap();
    cordoned(&mut s, 3);
    s.tasks[1].status = TaskStatus::Pending;
    let c = GuardConfig {
        max_cordoned: 2,
        ..cordoning()
    };
    let d = cordon_decision(
        None,
        vec![
            "nope".into(),
            id(&s, 3),
            id(&s, 1),
            id(&s, 0),
            id(&s, 0),
            id(&s, 2),
        ],
        vec![],
    );
    let g = guard(Some(&d), &s, fresh(), &c, &mut GuardState::default(), NOW);
    // One already cordoned, at most two: one more, the first allowed in the policy's order.
    assert_eq!(g.cordon, vec![id(&s, 0)]);
    assert_eq!(
        rules(&g),
        vec![
            "cordon-candidate",
            "cordon-candidate",
            "cordon-candidate",
            "cordon-candidate",
            "max-cordoned"
        ]
    );
    assert_eq!(g.adjustments[4].original, id(&s, 2));
}

#[test]
fn cordons_keep_at_least_one_serving_task_and_enough_free_slots_for_arrivals() {
    let s = snap();
    let all: Vec<String> = (0..4).map(|i| id(&s, i)).collect();
    let d = cordon_decision(Some(1), all.clone(), vec![]);
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.cordon, all[..3].to_vec(), "the last one keeps serving");
    assert_eq!(rules(&g), vec!["serving-capacity"]);
    assert_eq!(g.adjustments[0].original, all[3]);

    // Sessions rose by 6 a minute lately; a new task takes 2 minutes: 12
    // sessions may arrive, so with 5 sessions a task the cordons must leave
    // at least 12 free slots (tasks 1 and 3 idle: 10; task 2 adds 4).
    let mut rising = snap();
    for (k, h) in rising.history.iter_mut().enumerate() {
        h.sessions = Some(k as u32 * 6);
    }
    rising.history.last_mut().unwrap().sessions = Some(54);
    rising.now = rising.history.last().unwrap().at + 60;
    let c = GuardConfig {
        session_capacity: Some(5),
        ..cordoning()
    };
    let d = cordon_decision(None, vec![id(&rising, 0), id(&rising, 2)], vec![]);
    let g = guard(
        Some(&d),
        &rising,
        fresh(),
        &c,
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.cordon, vec![id(&rising, 0)], "{:?}", g.adjustments);
    let a = &g.adjustments[0];
    assert_eq!(a.rule, GuardRule::ServingCapacity);
    assert!(
        a.reason.contains("leave 10 free session slot(s)"),
        "{}",
        a.reason
    );
}

#[test]
fn a_scale_out_first_uncordons_the_fullest_cordoned_tasks() {
    let mut s = snap();
    cordoned(&mut s, 0); // 3 sessions
    cordoned(&mut s, 2); // 1 session
    // Effective 2 (4 desired, 2 cordoned); the policy wants 3 serving.
    let d = cordon_decision(Some(3), vec![], vec![]);
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.uncordon, vec![id(&s, 0)], "the fullest first");
    assert_eq!(g.action, Action::Hold, "nothing left to launch");
    assert_eq!(rules(&g), vec!["uncordon-first"]);
    // Wanting 5: both uncordoned, one launched.
    let d = cordon_decision(Some(5), vec![], vec![]);
    let mut st = GuardState::default();
    let g = guard(Some(&d), &s, fresh(), &cordoning(), &mut st, NOW);
    assert_eq!(g.uncordon, vec![id(&s, 0), id(&s, 2)]);
    assert_eq!(g.action, Action::ScaleOut { from: 4, to: 5 });
    assert_eq!(
        g.adjustments[0].adjusted,
        format!("uncordon 2 ({}, {}), launch 1", id(&s, 0), id(&s, 2))
    );
    // Uncordons are free: a scale-out cooldown does not hold them back.
    st.last_scale_out = Some(NOW);
    let g = guard(Some(&d), &s, fresh(), &cordoning(), &mut st, NOW + 1);
    assert_eq!(g.uncordon.len(), 2);
    assert_eq!(g.action, Action::Hold);
    assert_eq!(rules(&g), vec!["uncordon-first", "scale-out-cooldown"]);
}

#[test]
fn explicit_uncordons_name_cordoned_tasks_and_raise_the_effective_count() {
    let mut s = snap();
    cordoned(&mut s, 0);
    let d = cordon_decision(None, vec![], vec![id(&s, 0), id(&s, 1), id(&s, 0)]);
    let g = guard(
        Some(&d),
        &s,
        fresh(),
        &cordoning(),
        &mut GuardState::default(),
        NOW,
    );
    assert_eq!(g.uncordon, vec![id(&s, 0)]);
    assert_eq!(rules(&g), vec!["uncordon-candidate", "uncordon-candidate"]);
    assert_eq!(g.action, Action::Hold);
    // Cordoned tasks holding do not take drain slots (max_cordoned bounds them).
    let c = GuardConfig {
        max_concurrent_drains: 1,
        ..cordoning()
    };
    let d = decide(Some(2), vec![id(&s, 1)]);
    let g = guard(Some(&d), &s, fresh(), &c, &mut GuardState::default(), NOW);
    assert_eq!(
        g.action,
        Action::ScaleIn {
            from: 3,
            to: 2,
            victims: vec![id(&s, 1)]
        }
    );
}

#[test]
fn max_leaves_room_to_serve_again_on_the_cordoned_tasks() {
    // At max (4), two cordoned: the policy may want all four serving again.
    let mut s = snap();
    cordoned(&mut s, 0);
    cordoned(&mut s, 2);
    let c = GuardConfig {
        max: 4,
        ..cordoning()
    };
    let d = cordon_decision(Some(6), vec![], vec![]);
    let g = guard(Some(&d), &s, fresh(), &c, &mut GuardState::default(), NOW);
    assert_eq!(g.uncordon.len(), 2, "{:?}", g.adjustments);
    assert_eq!(g.action, Action::Hold, "nothing launched past max");
    assert_eq!(rules(&g), vec!["max", "uncordon-first"]);
    assert_eq!(g.adjustments[0].adjusted, "4");
}

#[test]
fn cordons_never_need_launches_past_max_to_keep_min_serving() {
    // Four tasks, min 3, max 5: one cordon needs no launch, two need one (5),
    // three would need two (6 > max): the third is refused.
    let s = snap();
    let c = GuardConfig {
        min: 3,
        max: 5,
        ..cordoning()
    };
    let d = cordon_decision(None, vec![id(&s, 0), id(&s, 2), id(&s, 1)], vec![]);
    let g = guard(Some(&d), &s, fresh(), &c, &mut GuardState::default(), NOW);
    assert_eq!(g.cordon, vec![id(&s, 0), id(&s, 2)]);
    assert_eq!(rules(&g)[0], "serving-capacity");
    assert_eq!(g.adjustments[0].original, id(&s, 1));
    // Two serving, min 3: one launch, to a desired count of 5.
    assert_eq!(g.action, Action::ScaleOut { from: 2, to: 3 });
}
