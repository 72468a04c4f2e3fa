//! Both cordon mechanisms: connections cut (or kept) when a deregistered
//! target's delay ends, app-level refusal moving sessions to another task,
//! the routing modes, and the target group's settings as the host reads them.

use std::time::Duration;

use super::*;
use crate::providers::{LoadBalancerKind, Target};
use crate::sim::{SessionLength, SimLoadBalancer, SimRouting};

fn target_of(w: &SimWorld, id: &str) -> Target {
    task(&tasks(w), id).target.clone()
}

/// Two tasks, each given `n` sessions of an hour by hand, then `id`'s target deregistered at 100.
fn deregistered_with_sessions(config: &SimServiceConfig, n: u32) -> (SimWorld, String, String) {
    let mut w = world(config);
    let ids = running_ids(&w);
    for id in &ids {
        for _ in 0..n {
            w.open_session(&svc(), id, Duration::from_secs(3600))
                .expect("session");
        }
    }
    w.advance_to(100);
    let target = target_of(&w, &ids[0]);
    w.deregister(&svc().target_group, &[target])
        .expect("deregister");
    (w, ids[0].clone(), ids[1].clone())
}

#[test]
fn an_alb_cuts_the_sessions_of_a_running_task_when_its_deregistration_delay_ends() {
    let config = SimServiceConfig {
        load_balancer: SimLoadBalancer::Application,
        ..quiet(2)
    };
    let (mut w, a, b) = deregistered_with_sessions(&config, 3);
    w.advance_to(399);
    assert_eq!(task(&tasks(&w), &a).sessions, 3, "kept while draining");
    w.advance_to(400);
    let all = tasks(&w);
    assert_eq!(task(&all, &a).sessions, 0);
    assert_eq!(task(&all, &a).sessions_cut, 3);
    assert_eq!(
        task(&all, &a).status,
        TaskStatus::Running,
        "the task lives on"
    );
    assert_eq!(task(&all, &b).sessions, 3, "the other task is untouched");
    let st = w.stats(&svc()).expect("stats");
    assert_eq!((st.sessions_cut, st.sessions_killed), (3, 0));
    assert_eq!(st.sessions_active, 3);
    assert_eq!(st.cut_by_task.get(&a), Some(&3));
    // The cut sessions' ends, due at 3600, are stale: a session started
    // since (after re-registration) is not ended by them.
    w.register(&svc().target_group, &[target_of(&w, &a)])
        .expect("register again");
    w.advance_to(500);
    w.open_session(&svc(), &a, Duration::from_secs(7200))
        .expect("new session");
    w.advance_to(3700);
    let st = w.stats(&svc()).expect("stats");
    assert_eq!(task(&tasks(&w), &a).sessions, 1, "the new session lives on");
    assert_eq!(st.sessions_ended, 3, "only b's three ended normally");
    assert_eq!(st.sessions_active, 1);
}

#[test]
fn an_nlb_keeps_the_connections_unless_connection_termination_is_on() {
    let (mut w, a, _) = deregistered_with_sessions(&quiet(2), 2);
    w.advance_to(1000);
    assert_eq!(
        task(&tasks(&w), &a).sessions,
        2,
        "NLB default: connections live on"
    );
    assert_eq!(health_of(&w, &a), TargetHealth::Unregistered);
    w.advance_to(3700);
    let st = w.stats(&svc()).expect("stats");
    assert_eq!((st.sessions_cut, st.sessions_ended), (0, 4));

    let terminating = SimServiceConfig {
        connection_termination: true,
        ..quiet(2)
    };
    let (mut w, a, _) = deregistered_with_sessions(&terminating, 2);
    w.advance_to(400);
    assert_eq!(task(&tasks(&w), &a).sessions_cut, 2);
}

#[test]
fn sessions_of_a_task_being_stopped_are_killed_not_cut() {
    let config = SimServiceConfig {
        load_balancer: SimLoadBalancer::Application,
        ..quiet(2)
    };
    let mut w = world(&config);
    let a = running_ids(&w)[0].clone();
    w.open_session(&svc(), &a, Duration::from_secs(3600))
        .expect("session");
    w.stop_task(&svc(), &a).expect("stop");
    w.advance_to(400);
    let st = w.stats(&svc()).expect("stats");
    assert_eq!((st.sessions_killed, st.sessions_cut), (1, 0));
}

#[test]
fn a_re_registered_target_keeps_its_sessions_behind_an_alb() {
    let config = SimServiceConfig {
        load_balancer: SimLoadBalancer::Application,
        ..quiet(2)
    };
    let (mut w, a, _) = deregistered_with_sessions(&config, 2);
    w.advance_to(300);
    w.register(&svc().target_group, &[target_of(&w, &a)])
        .expect("uncordon before the delay ends");
    w.advance_to(1000);
    assert_eq!(task(&tasks(&w), &a).sessions, 2);
    assert_eq!(w.stats(&svc()).expect("stats").sessions_cut, 0);
}

#[test]
fn a_cordoned_application_refuses_new_sessions_which_land_on_another_task() {
    let config = busy(3, 30.0, Duration::from_secs(3600), 1000);
    let mut w = world(&config);
    let ids = running_ids(&w);
    w.set_cordon(&svc(), &ids[0], Some(0)).expect("cordon");
    w.advance_to(1800);
    let all = tasks(&w);
    assert_eq!(task(&all, &ids[0]).sessions_served, 0, "no new session");
    assert_eq!(task(&all, &ids[0]).cordoned_since, Some(0));
    let st = w.stats(&svc()).expect("stats");
    assert_eq!(st.sessions_refused, 0, "moved to another task, not refused");
    assert!(st.sessions_redirected > 200, "{}", st.sessions_redirected);
    assert_eq!(st.app_cordoned, 1);
    // Uncordoned, it serves again.
    w.set_cordon(&svc(), &ids[0], None).expect("uncordon");
    w.advance_to(2400);
    assert!(task(&tasks(&w), &ids[0]).sessions_served > 0);
    assert_eq!(w.stats(&svc()).expect("stats").app_cordoned, 0);
    // Unknown tasks are left alone, as a store item for them would be.
    w.set_cordon(&svc(), "no-such-task", Some(5))
        .expect("idempotent");
}

#[test]
fn a_cordoned_task_keeps_its_sessions_and_refusal_happens_only_when_no_accepting_task_has_room() {
    let config = busy(2, 20.0, Duration::from_secs(36_000), 5);
    let mut w = world(&config);
    let ids = running_ids(&w);
    w.advance_to(60);
    let before = task(&tasks(&w), &ids[0]).sessions;
    assert!(before > 0);
    w.set_cordon(&svc(), &ids[0], Some(60)).expect("cordon");
    w.advance_to(600);
    let all = tasks(&w);
    assert_eq!(task(&all, &ids[0]).sessions, before, "keeps its own");
    assert_eq!(task(&all, &ids[1]).sessions, 5, "the other fills up");
    let st = w.stats(&svc()).expect("stats");
    assert!(
        st.sessions_refused > 0,
        "refused once no accepting task has room"
    );
}

#[test]
fn least_outstanding_routing_evens_out_sessions_and_skips_cordoned_tasks() {
    let config = SimServiceConfig {
        routing: SimRouting::LeastOutstanding,
        ..busy(3, 12.0, Duration::from_secs(36_000), 50)
    };
    let mut w = world(&config);
    let ids = running_ids(&w);
    for _ in 0..4 {
        w.open_session(&svc(), &ids[0], Duration::from_secs(36_000))
            .expect("session");
    }
    w.set_cordon(&svc(), &ids[2], Some(0)).expect("cordon");
    w.advance_to(120);
    let all = tasks(&w);
    let served: Vec<u64> = ids
        .iter()
        .map(|id| task(&all, id).sessions_served)
        .collect();
    let active: Vec<u32> = ids.iter().map(|id| task(&all, id).sessions).collect();
    assert_eq!(served[2], 0, "cordoned: nothing new");
    assert!(
        served[1] >= 4,
        "the empty accepting task catches up: {served:?}"
    );
    assert!(
        active[0].abs_diff(active[1]) <= 1,
        "then they stay even: {active:?}"
    );
    let st = w.stats(&svc()).expect("stats");
    assert!(
        st.sessions_redirected > 0,
        "the cordoned, emptiest target was the balancer's pick"
    );
}

#[test]
fn the_target_group_info_answers_the_scenario_settings() {
    let w = world(&quiet(1));
    let info = w.target_group_info(&svc().target_group).expect("info");
    assert_eq!(info.kind, LoadBalancerKind::Network);
    assert_eq!(info.deregistration_delay_s, 300);
    assert!(info.keeps_connections());
    let w = world(&SimServiceConfig {
        load_balancer: SimLoadBalancer::Application,
        deregistration_delay: Duration::from_secs(900),
        ..quiet(1)
    });
    let info = w.target_group_info(&svc().target_group).expect("info");
    assert_eq!(
        (
            info.kind,
            info.deregistration_delay_s,
            info.keeps_connections()
        ),
        (LoadBalancerKind::Application, 900, false)
    );
    let w = world(&SimServiceConfig {
        connection_termination: true,
        ..quiet(1)
    });
    assert!(
        !w.target_group_info("rdp-tg")
            .expect("info")
            .keeps_connections()
    );
    assert!(w.target_group_info("other-tg").is_err());
}

#[test]
fn mixture_lengths_fall_in_their_ranges_with_the_long_share() {
    let config = SimServiceConfig {
        session_length: SessionLength::Mixture {
            typical_min: Duration::from_secs(20 * 60),
            typical_max: Duration::from_secs(90 * 60),
            long_min: Duration::from_secs(6 * 3600),
            long_max: Duration::from_secs(10 * 3600),
            long_share: 0.05,
        },
        ..busy(10, 20.0, Duration::from_secs(60), 1000)
    };
    let mut w = world(&config);
    w.log_arrivals(&svc()).expect("log");
    w.advance_to(24 * 3600);
    let mut log = Vec::new();
    w.drain_arrivals(&svc(), &mut log).expect("drain");
    assert!(log.len() > 20_000);
    let long = log.iter().filter(|a| a.duration >= 6 * 3600).count();
    assert!(
        log.iter()
            .all(|a| (1200..=5400).contains(&a.duration)
                || (6 * 3600..=10 * 3600).contains(&a.duration)),
        "every length is in one of the ranges"
    );
    let share = long as f64 / log.len() as f64;
    assert!((0.04..0.06).contains(&share), "long share {share}");
    let bad = SimServiceConfig {
        session_length: SessionLength::Mixture {
            typical_min: Duration::from_secs(600),
            typical_max: Duration::from_secs(60),
            long_min: Duration::from_secs(6 * 3600),
            long_max: Duration::from_secs(10 * 3600),
            long_share: 0.05,
        },
        ..quiet(1)
    };
    let e = bad.validate().expect_err("max below min").to_string();
    assert!(e.contains("`session_length.typical_max`"), "{e}");
}

#[test]
fn an_exact_sessions_trace_replays_every_session_as_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("day.csv");
    std::fs::write(
        &path,
        "start_s,duration_s,task_hint\n5,100,a\n5,50,b\n61,3000,\n7200,10,a\n",
    )
    .expect("write");
    let config = SimServiceConfig {
        workload: Workload::Sessions { path },
        ..quiet(2)
    };
    let mut w = world(&config);
    w.log_arrivals(&svc()).expect("log");
    w.advance_to(3 * 3600);
    let mut log = Vec::new();
    w.drain_arrivals(&svc(), &mut log).expect("drain");
    let got: Vec<(u64, u64)> = log.iter().map(|a| (a.at, a.duration)).collect();
    assert_eq!(got, vec![(5, 50), (5, 100), (61, 3000), (7200, 10)]);
    let st = w.stats(&svc()).expect("stats");
    assert_eq!((st.sessions_started, st.sessions_ended), (4, 4));
    assert_eq!(w.arrival_rate(&svc()), Some(0.0));
}
