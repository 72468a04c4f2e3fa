//! Fault plans through the provider: what each kind of fault does to a call,
//! that draws reproduce, that rates match the plan, lagging reads, late
//! sessions, and the plan's validation and TOML form.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;
use crate::model::TargetHealth;
use crate::providers::sim::{SimOp, SimProvider};
use crate::providers::{Cluster, LoadBalancer, ProviderError, Sessions};
use crate::sim::{FaultKind, FaultPlan, OpFaults};

/// Runs a future that never waits (every sim call is ready at once).
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a sim call waited"),
    }
}

fn provider(tasks: u32, plan: FaultPlan) -> SimProvider {
    let p = SimProvider::from_world(world(&quiet(tasks)));
    p.set_fault_plan(Some(plan)).expect("a valid plan");
    p
}

fn only(op: SimOp, f: OpFaults) -> FaultPlan {
    let mut plan = FaultPlan {
        seed: 5,
        ..FaultPlan::default()
    };
    match op {
        SimOp::SetDesired => plan.set_desired = Some(f),
        SimOp::SetProtection => plan.set_protection = Some(f),
        SimOp::Service => plan.service = Some(f),
        SimOp::Targets => plan.targets = Some(f),
        SimOp::Tasks => plan.tasks = Some(f),
        other => panic!("not used here: {other:?}"),
    }
    plan
}

fn desired(p: &SimProvider) -> u32 {
    p.stats(&svc()).expect("service").desired
}

#[test]
fn throttling_and_5xx_fail_without_effect_and_a_timeout_fails_after_it() {
    let p = provider(
        3,
        only(
            SimOp::SetDesired,
            OpFaults {
                throttle: 1.0,
                ..OpFaults::default()
            },
        ),
    );
    let err = ready(p.set_desired(&svc(), 5)).expect_err("throttled");
    assert!(
        err.is_retryable() && err.to_string().contains("Throttling"),
        "{err}"
    );
    assert_eq!(desired(&p), 3, "a throttled call has no effect");

    p.set_fault_plan(Some(only(
        SimOp::SetDesired,
        OpFaults {
            server_error: 1.0,
            ..OpFaults::default()
        },
    )))
    .unwrap();
    assert!(ready(p.set_desired(&svc(), 5)).is_err());
    assert_eq!(desired(&p), 3, "a 5xx has no effect");

    p.set_fault_plan(Some(only(
        SimOp::SetDesired,
        OpFaults {
            timeout: 1.0,
            ..OpFaults::default()
        },
    )))
    .unwrap();
    let err = ready(p.set_desired(&svc(), 5)).expect_err("timed out");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(
        desired(&p),
        5,
        "the request landed before its response was lost"
    );
    let counts = p.fault_counts();
    assert_eq!(
        counts.get(&(SimOp::SetDesired, FaultKind::Timeout)),
        Some(&1)
    );
    assert_eq!(p.faults_served(), 3);
}

#[test]
fn a_partial_batch_applies_part_of_it_and_a_single_item_is_never_partial() {
    let p = provider(
        6,
        only(
            SimOp::SetProtection,
            OpFaults {
                partial: 1.0,
                ..OpFaults::default()
            },
        ),
    );
    let ids: Vec<String> = running_ids(&p.with_world(|w| w.clone()));
    assert_eq!(ids.len(), 6);
    let err = ready(p.set_protection(&svc(), &ids, true, 60)).expect_err("partial");
    assert!(err.to_string().contains("some items"), "{err}");
    let protected = p.stats(&svc()).unwrap().protected;
    assert!(
        (1..6).contains(&protected),
        "part of the batch applied: {protected} of 6"
    );
    // A retry of the whole batch completes it: protection is idempotent.
    p.set_fault_plan(None).unwrap();
    ready(p.set_protection(&svc(), &ids, true, 60)).expect("no faults now");
    assert_eq!(p.stats(&svc()).unwrap().protected, 6);

    p.set_fault_plan(Some(only(
        SimOp::SetProtection,
        OpFaults {
            partial: 1.0,
            ..OpFaults::default()
        },
    )))
    .unwrap();
    ready(p.set_protection(&svc(), &ids[..1], false, 60)).expect("one item cannot half-fail");
    assert_eq!(p.stats(&svc()).unwrap().protected, 5);
}

#[test]
fn reads_lag_writes_by_at_most_the_lag() {
    let lagging = OpFaults {
        stale: 1.0,
        lag: Duration::from_secs(30),
        ..OpFaults::default()
    };
    let mut plan = only(SimOp::Service, lagging);
    plan.targets = Some(lagging);
    plan.tasks = Some(lagging);
    let p = provider(3, plan);
    p.advance(100);
    assert_eq!(ready(p.service(&svc())).unwrap().desired, 3, "no write yet");
    ready(p.set_desired(&svc(), 5)).unwrap();
    p.advance(29);
    assert_eq!(
        ready(p.service(&svc())).unwrap().desired,
        3,
        "29 s after the write, the read still lags"
    );
    assert_eq!(
        ready(p.tasks(&svc())).unwrap().len(),
        3,
        "the new tasks are not listed yet"
    );
    p.advance(1);
    assert_eq!(ready(p.service(&svc())).unwrap().desired, 5, "caught up");
    assert_eq!(ready(p.tasks(&svc())).unwrap().len(), 5);

    let target = ready(p.targets("rdp-tg")).unwrap()[0].target.clone();
    ready(p.deregister("rdp-tg", std::slice::from_ref(&target))).unwrap();
    let seen = |p: &SimProvider| {
        ready(p.targets("rdp-tg"))
            .unwrap()
            .into_iter()
            .find(|t| t.target == target)
            .map(|t| t.health)
    };
    assert_eq!(seen(&p), Some(TargetHealth::Healthy), "a stale read");
    p.advance(30);
    assert_eq!(seen(&p), Some(TargetHealth::Draining));
    assert!(p.fault_counts()[&(SimOp::Service, FaultKind::Stale)] >= 1);
}

#[test]
fn the_same_plan_and_calls_fail_the_same_way_and_rates_follow_the_plan() {
    let plan = FaultPlan {
        seed: 9,
        all: OpFaults {
            throttle: 0.2,
            server_error: 0.1,
            timeout: 0.05,
            ..OpFaults::default()
        },
        ..FaultPlan::default()
    };
    let run = |plan: FaultPlan| {
        let p = provider(2, plan);
        (0..4000)
            .map(|_| match ready(p.service(&svc())) {
                Ok(_) => 'o',
                Err(e) if e.to_string().contains("Throttling") => 't',
                Err(e) if e.to_string().contains("503") => 's',
                Err(_) => 'x',
            })
            .collect::<String>()
    };
    let a = run(plan.clone());
    assert_eq!(
        a,
        run(plan.clone()),
        "seeded: the same faults in the same order"
    );
    assert_ne!(
        a,
        run(FaultPlan {
            seed: 10,
            ..plan.clone()
        })
    );
    let share = |c: char| a.chars().filter(|&x| x == c).count() as f64 / 4000.0;
    // 4,000 draws: each share lies within about 4 standard deviations of its probability.
    assert!((share('t') - 0.2).abs() < 0.03, "{}", share('t'));
    assert!((share('s') - 0.1).abs() < 0.02, "{}", share('s'));
    assert!((share('x') - 0.05).abs() < 0.015, "{}", share('x'));
}

#[test]
fn scripted_faults_come_before_the_plan() {
    let p = provider(2, FaultPlan::default());
    p.inject_fault(
        SimOp::SetDesired,
        1,
        ProviderError::Permanent {
            service: "sim-ecs",
            message: "scripted".into(),
        },
    );
    assert!(ready(p.set_desired(&svc(), 4)).is_err());
    ready(p.set_desired(&svc(), 4)).expect("an empty plan injects nothing");
    assert_eq!(desired(&p), 4);
}

#[test]
fn a_session_placed_late_is_reported_and_refused_on_a_task_that_is_not_running() {
    let p = SimProvider::from_world(world(&quiet(2)));
    let ids = running_ids(&p.with_world(|w| w.clone()));
    p.open_session(&svc(), &ids[1], Duration::from_secs(600))
        .expect("a running task");
    let by_task = ready(p.sessions_by_task(&svc(), 0)).unwrap();
    assert_eq!(by_task.get(&ids[1]), Some(&1));
    assert_eq!(by_task.get(&ids[0]), None);
    p.advance(601);
    assert!(
        ready(p.sessions_by_task(&svc(), 0)).unwrap().is_empty(),
        "it ended"
    );
    assert_eq!(p.stats(&svc()).unwrap().sessions_ended, 1);

    p.stop_task(&svc(), &ids[0]).unwrap();
    p.advance(1);
    let err = p
        .open_session(&svc(), &ids[0], Duration::from_secs(60))
        .expect_err("a stopping task takes no session");
    assert!(err.to_string().contains("not running"), "{err}");
    assert!(
        p.open_session(&svc(), "nope", Duration::from_secs(60))
            .is_err()
    );
}

#[test]
fn plans_are_checked_field_by_field() {
    let bad = |plan: FaultPlan, field: &str| {
        let err = plan.validate().expect_err(field).to_string();
        assert!(err.contains(&format!("`{field}`")), "{field}: {err}");
    };
    let p = |f: OpFaults| FaultPlan {
        all: f,
        ..FaultPlan::default()
    };
    bad(
        p(OpFaults {
            throttle: 1.5,
            ..OpFaults::default()
        }),
        "faults.all.throttle",
    );
    bad(
        p(OpFaults {
            timeout: f64::NAN,
            ..OpFaults::default()
        }),
        "faults.all.timeout",
    );
    bad(
        p(OpFaults {
            throttle: 0.6,
            server_error: 0.6,
            ..OpFaults::default()
        }),
        "faults.all",
    );
    bad(
        p(OpFaults {
            stale: 0.5,
            ..OpFaults::default()
        }),
        "faults.all.lag",
    );
    bad(
        FaultPlan {
            set_desired: Some(OpFaults {
                partial: 0.1,
                ..OpFaults::default()
            }),
            ..FaultPlan::default()
        },
        "faults.set_desired.partial",
    );
    bad(
        FaultPlan {
            sessions: Some(OpFaults {
                stale: 0.1,
                lag: Duration::from_secs(5),
                ..OpFaults::default()
            }),
            ..FaultPlan::default()
        },
        "faults.sessions.stale",
    );
    // `all` may carry `partial`, `stale` and `lag`: they apply where they mean something.
    p(OpFaults {
        partial: 0.1,
        stale: 0.1,
        lag: Duration::from_secs(5),
        ..OpFaults::default()
    })
    .validate()
    .expect("valid");
}

#[test]
fn the_documented_toml_table_parses_and_unknown_fields_are_refused() {
    let text = r#"
        seed = 7
        [all]
        throttle = 0.02
        server_error = 0.01
        [set_desired]
        timeout = 0.1
        [targets]
        stale = 0.5
        lag = "20s"
    "#;
    let plan: FaultPlan = toml::from_str(text).expect("parses");
    plan.validate().expect("valid");
    assert_eq!(plan.for_op(SimOp::Service).throttle, 0.02);
    assert_eq!(
        plan.for_op(SimOp::SetDesired).throttle,
        0.0,
        "its own entry replaces `all`"
    );
    assert_eq!(plan.for_op(SimOp::SetDesired).timeout, 0.1);
    assert_eq!(plan.for_op(SimOp::Targets).lag, Duration::from_secs(20));
    for bad in [
        "[set_desird]\ntimeout = 0.1",
        "[all]\nthrotle = 0.1",
        "sead = 1",
    ] {
        let err = toml::from_str::<FaultPlan>(bad).expect_err(bad).to_string();
        assert!(err.contains("unknown field"), "{bad}: {err}");
    }
}
