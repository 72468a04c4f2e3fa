use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::providers::{Cluster, LoadBalancer, Metrics, Provider, ServiceCounts, Utilization};
use crate::sim::Workload;

/// Runs a future that never waits (every sim call is ready at once).
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a sim call waited"),
    }
}

fn svc() -> ServiceRef {
    ServiceRef {
        cluster: "c".into(),
        service: "s".into(),
        target_group: "tg".into(),
    }
}

fn provider() -> SimProvider {
    let p = SimProvider::new(SimConfig::default()).expect("config");
    let cfg = SimServiceConfig {
        initial_tasks: 3,
        workload: Workload::Steady { per_min: 6.0 },
        ..Default::default()
    };
    p.add_service(svc(), &cfg).expect("service");
    p
}

/// What a tick pipeline sees, through nothing but the traits.
fn observe<P: Provider>(p: &P) -> (u64, ServiceCounts, usize, usize, u32, Option<f64>) {
    let s = svc();
    let counts = ready(p.service(&s)).expect("service");
    let tasks = ready(p.tasks(&s)).expect("tasks");
    let targets = ready(p.targets(&s.target_group)).expect("targets");
    let sessions: u32 = ready(p.sessions_by_task(&s, p.now()))
        .expect("sessions")
        .values()
        .sum();
    let util = ready(p.utilization(std::slice::from_ref(&s), p.now())).expect("metrics");
    (
        p.now(),
        counts,
        tasks.len(),
        targets.len(),
        sessions,
        util[&s.key()].cpu,
    )
}

#[test]
fn clones_share_one_world_behind_the_traits() {
    let p = provider();
    let q = p.clone();
    q.advance(600);
    let (now, counts, tasks, targets, sessions, cpu) = observe(&p);
    assert_eq!(now, 600);
    assert_eq!(
        counts,
        ServiceCounts {
            desired: 3,
            running: 3,
            pending: 0
        }
    );
    assert_eq!((tasks, targets), (3, 3));
    assert!(sessions > 0, "sessions arrived at 6 a minute");
    assert!(cpu.is_some(), "minutes published by now");
    assert_eq!(
        p.stats(&svc()).expect("stats").sessions_active,
        u64::from(sessions)
    );

    ready(q.set_desired(&svc(), 5)).expect("scale out");
    assert_eq!(ready(p.service(&svc())).expect("counts").pending, 2);
    assert_eq!(p.stats(&svc()).expect("stats").scale_outs, 1);
}

#[test]
fn a_fork_continues_identically_but_independently() {
    let p = provider();
    p.advance(1800);
    let fork = p.fork();
    p.advance(1800);
    fork.advance(1800);
    assert_eq!(
        p.stats(&svc()),
        fork.stats(&svc()),
        "same seed streams, same calls"
    );
    ready(fork.set_desired(&svc(), 1)).expect("scale the fork in");
    assert_eq!(
        ready(p.service(&svc())).expect("counts").desired,
        3,
        "the original is untouched"
    );
}

#[test]
fn an_unknown_service_or_group_is_not_found_and_has_no_metrics() {
    let p = provider();
    let other = ServiceRef {
        cluster: "c".into(),
        service: "nope".into(),
        target_group: "nope".into(),
    };
    assert!(matches!(
        ready(p.service(&other)),
        Err(ProviderError::NotFound { .. })
    ));
    assert!(matches!(
        ready(p.targets("nope")),
        Err(ProviderError::NotFound { .. })
    ));
    let util = ready(p.utilization(std::slice::from_ref(&other), 0)).expect("metrics");
    assert_eq!(util[&other.key()], Utilization::default());
}

#[test]
fn injected_faults_fail_the_next_calls_then_clear() {
    let p = provider();
    let throttled = ProviderError::Transient {
        service: "sim-ecs",
        message: "throttled".into(),
    };
    p.inject_fault(SimOp::SetDesired, 2, throttled.clone());
    assert_eq!(ready(p.set_desired(&svc(), 4)), Err(throttled.clone()));
    assert_eq!(ready(p.set_desired(&svc(), 4)), Err(throttled.clone()));
    assert_eq!(
        ready(p.service(&svc()))
            .expect("other calls unaffected")
            .desired,
        3
    );
    ready(p.set_desired(&svc(), 4)).expect("third call goes through");
    assert_eq!(ready(p.service(&svc())).expect("counts").desired, 4);
    assert_eq!(p.faults_served(), 2);

    p.inject_fault_after_effect(SimOp::SetDesired, 1, throttled.clone());
    assert_eq!(ready(p.set_desired(&svc(), 6)), Err(throttled));
    assert_eq!(
        ready(p.service(&svc())).expect("counts").desired,
        6,
        "the lost response's call landed"
    );
}
