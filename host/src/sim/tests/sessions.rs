//! Sessions: arrivals, lengths, capacity, and sessions killed when a busy
//! task is stopped.

use super::*;
use crate::sim::SessionLength;

#[test]
fn a_busy_task_stopped_by_a_desired_count_decrease_kills_its_sessions_after_draining() {
    // Ten-hour sessions: nobody leaves during the test.
    let mut w = world(&busy(3, 30.0, Duration::from_secs(36_000), 1000));
    w.advance_to(600);
    let before = tasks(&w);
    assert!(before.iter().all(|t| t.sessions > 0), "every task is busy");
    w.set_desired(&svc(), 2).expect("scale in");
    let victim = ids_where(&w, |t| t.status == TaskStatus::Deactivating)
        .pop()
        .expect("a victim");
    let held = task(&tasks(&w), &victim).sessions;
    w.advance_to(600 + 299);
    let s = w.stats(&svc()).expect("stats");
    assert_eq!(s.sessions_killed, 0, "draining does not end sessions");
    assert_eq!(
        task(&tasks(&w), &victim).sessions,
        held,
        "and no new session lands on it"
    );
    w.advance_to(600 + 300);
    let s = w.stats(&svc()).expect("stats");
    assert_eq!(s.sessions_killed, u64::from(held));
    assert_eq!(s.tasks_stopped_with_sessions, 1);
    assert_eq!(s.killed_by_task.get(&victim), Some(&held));
    let v = task(&tasks(&w), &victim).clone();
    assert_eq!(
        (v.sessions, v.sessions_killed, v.status),
        (0, held, TaskStatus::Stopping)
    );
    assert_eq!(
        w.sessions_by_task(&svc()).expect("sessions").get(&victim),
        None
    );
    assert_eq!(
        s.sessions_active + s.sessions_killed + s.sessions_ended,
        s.sessions_started
    );
}

#[test]
fn a_drained_idle_victim_stops_without_killing_anything() {
    let mut w = world(&busy(2, 10.0, Duration::from_secs(30), 1000));
    let ids = running_ids(&w);
    w.set_protection(&svc(), &ids[..1], true, 60)
        .expect("protect the keeper");
    let victim_target = task(&tasks(&w), &ids[1]).target.clone();
    w.advance_to(600);
    w.deregister(&svc().target_group, &[victim_target])
        .expect("deregister the victim");
    // Sessions last about 30 s: by the end of the delay the victim is idle.
    w.advance_to(600 + 300);
    assert_eq!(
        w.sessions_by_task(&svc()).expect("sessions").get(&ids[1]),
        None
    );
    w.set_desired(&svc(), 1).expect("scale in");
    assert_eq!(
        status_of(&w, &ids[1]),
        TaskStatus::Stopping,
        "already drained: no DEACTIVATING wait"
    );
    w.advance_to(2000);
    let s = w.stats(&svc()).expect("stats");
    assert_eq!(s.sessions_killed, 0);
    assert_eq!(status_of(&w, &ids[0]), TaskStatus::Running);
}

#[test]
fn a_full_service_refuses_sessions_and_counts_them() {
    let mut w = world(&busy(2, 30.0, Duration::from_secs(36_000), 3));
    w.advance_to(600);
    let s = w.stats(&svc()).expect("stats");
    assert_eq!(s.sessions_started, 6, "two tasks of three sessions");
    assert_eq!(s.sessions_active, 6);
    assert!(
        s.sessions_refused > 250,
        "about 300 arrivals: {}",
        s.sessions_refused
    );
    let per_task = w.sessions_by_task(&svc()).expect("sessions");
    assert_eq!(per_task.len(), 2);
    assert!(per_task.values().all(|&n| n == 3));
}

#[test]
fn arrivals_follow_the_rate_and_lengths_the_mean() {
    for length in [
        SessionLength::Exponential,
        SessionLength::Lognormal { sigma: 1.0 },
    ] {
        // 20 arrivals a minute of 10-minute sessions: about 200 active (Little's law).
        let cfg = SimServiceConfig {
            session_length: length,
            ..busy(4, 20.0, Duration::from_secs(600), 10_000)
        };
        let mut w = world(&cfg);
        w.advance_to(3600);
        let minutes = 3000u64;
        let mut active = 0u64;
        for m in 1..=minutes {
            w.advance_to(3600 + m * 60);
            active += w.stats(&svc()).expect("stats").sessions_active;
        }
        let s = w.stats(&svc()).expect("stats");
        let expected = 20.0 * (3600 + minutes * 60) as f64 / 60.0;
        let got = (s.sessions_started + s.sessions_refused) as f64;
        assert!(
            (got - expected).abs() < 0.02 * expected,
            "{length:?}: {got} arrivals, expected {expected}"
        );
        let mean_active = active as f64 / minutes as f64;
        assert!(
            (mean_active - 200.0).abs() < 12.0,
            "{length:?}: {mean_active} active on average"
        );
        assert_eq!(
            s.sessions_active + s.sessions_ended + s.sessions_killed,
            s.sessions_started
        );
    }
}

#[test]
fn a_trace_can_set_the_session_length() {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    for m in 0..60 {
        writeln!(
            f,
            "{{\"t\": {}, \"arrivals_per_min\": 30, \"mean_session_s\": 60}}",
            m * 60
        )
        .expect("write");
    }
    let cfg = SimServiceConfig {
        workload: Workload::Trace {
            path: f.path().to_path_buf(),
            repeat: true,
        },
        session_mean: Duration::from_secs(36_000),
        ..busy(2, 0.0, Duration::from_secs(36_000), 10_000)
    };
    let mut w = world(&cfg);
    w.advance_to(7200);
    let s = w.stats(&svc()).expect("stats");
    assert!(
        s.sessions_started > 3000,
        "the trace repeats: {}",
        s.sessions_started
    );
    assert!(
        s.sessions_active < 80,
        "one-minute sessions, not ten-hour ones: {}",
        s.sessions_active
    );
}
