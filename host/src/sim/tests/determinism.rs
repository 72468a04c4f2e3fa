//! Determinism: the same seed and calls give the same run; another seed, another run.

use super::*;

/// A day of diurnal load with a crude policy acting every minute.
fn run(seed: u64, policy_scale: f64) -> (String, String) {
    let cfg = SimServiceConfig {
        workload: Workload::Diurnal {
            peak_per_min: 30.0,
            trough_per_min: 3.0,
            peak_at: Duration::from_secs(14 * 3600),
        },
        session_capacity: 20,
        ..quiet(3)
    };
    let mut w = world_with(
        seed,
        &SimServiceConfig {
            usage: Usage::default(),
            ..cfg
        },
    );
    for m in 1..=24 * 60u64 {
        w.advance_to(m * 60);
        let sessions: u32 = w.sessions_by_task(&svc()).expect("sessions").values().sum();
        let want = ((f64::from(sessions) * policy_scale / 15.0).ceil() as u32).max(1);
        if m % 5 == 0 {
            w.set_desired(&svc(), want).expect("desired");
        }
        if m == 600 {
            let id = running_ids(&w)[0].clone();
            w.stop_task(&svc(), &id).expect("stop");
        }
    }
    let stats = serde_json::to_string(&w.stats(&svc()).expect("stats")).expect("json");
    let tasks = serde_json::to_string(&tasks(&w)).expect("json");
    (stats, tasks)
}

#[test]
fn the_same_seed_gives_identical_runs_and_another_seed_differs() {
    let a = run(7, 1.0);
    let b = run(7, 1.0);
    assert_eq!(a, b);
    let c = run(8, 1.0);
    assert_ne!(a.0, c.0);
    assert_ne!(a.1, c.1);
    assert!(a.0.contains("\"sessions_killed\""), "{}", a.0);
}

#[test]
fn what_the_policy_does_does_not_change_the_arrivals() {
    let arrivals = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        v["sessions_started"].as_u64().expect("started")
            + v["sessions_refused"].as_u64().expect("refused")
    };
    let eager = run(11, 1.5);
    let stingy = run(11, 0.5);
    assert_ne!(eager.0, stingy.0, "the policies differ in outcome");
    assert_eq!(
        arrivals(&eager.0),
        arrivals(&stingy.0),
        "but face the same users"
    );
}

#[test]
fn services_are_independent_of_each_other() {
    let cfg = busy(3, 10.0, Duration::from_secs(600), 100);
    let alone = {
        let mut w = world(&cfg);
        w.advance_to(7200);
        serde_json::to_string(&w.stats(&svc())).expect("json")
    };
    let mut w = SimWorld::new(SimConfig::default()).expect("world");
    let other = ServiceRef {
        cluster: "prod".into(),
        service: "other".into(),
        target_group: "other-tg".into(),
    };
    w.add_service(other.clone(), &busy(5, 50.0, Duration::from_secs(60), 10))
        .expect("other");
    w.add_service(svc(), &cfg).expect("service");
    w.advance_to(3600);
    w.set_desired(&other, 9).expect("other scales");
    w.advance_to(7200);
    assert_eq!(
        serde_json::to_string(&w.stats(&svc())).expect("json"),
        alone
    );
    assert!(
        w.tasks(&other).expect("tasks")[0]
            .target
            .as_ref()
            .expect("ip")
            .ip
            .to_string()
            .starts_with("10.0.")
    );
    assert!(
        w.tasks(&svc()).expect("tasks")[0]
            .target
            .as_ref()
            .expect("ip")
            .ip
            .to_string()
            .starts_with("10.1.")
    );
    assert!(matches!(
        w.add_service(svc(), &cfg),
        Err(crate::sim::SimError::DuplicateService { .. })
    ));
}
