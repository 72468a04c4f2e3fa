//! The guard's rules, one by one.

use super::*;
use crate::model::{DrainInfo, DrainStep};

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
    g.adjustments.iter().map(|a| a.rule.as_str()).collect()
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
