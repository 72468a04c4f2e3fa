//! Usage and CloudWatch-like metrics: per-minute averages, published late.

use super::*;
use crate::providers::Utilization;

fn util(w: &SimWorld) -> Utilization {
    w.utilization(std::slice::from_ref(&svc()))[&svc().key()]
}

fn usage(cpu_base: f64, cpu_per_session: f64) -> Usage {
    Usage {
        cpu_base,
        cpu_per_session,
        cpu_noise: 0.0,
        memory_base: 20.0,
        memory_per_session: 1.0,
        memory_noise: 0.0,
    }
}

#[test]
fn service_cpu_is_the_per_minute_average_of_load_and_is_published_late() {
    let cfg = SimServiceConfig {
        usage: usage(10.0, 2.0),
        ..busy(2, 12.0, Duration::from_secs(300), 1000)
    };
    let mut w = world(&cfg); // metrics_delay 90 s by default
    // Follow the sessions second by second through minute [600, 660).
    w.advance_to(599);
    let mut session_secs = 0u64;
    for t in 600..660 {
        w.advance_to(t);
        session_secs += w.stats(&svc()).expect("stats").sessions_active;
    }
    let avg_per_task = session_secs as f64 / (60.0 * 2.0);
    assert!(avg_per_task > 1.0, "the minute has load: {avg_per_task}");
    w.advance_to(660 + 89);
    assert_eq!(
        util(&w).at,
        Some(540),
        "minute 600 is not published before 750"
    );
    w.advance_to(660 + 90);
    let u = util(&w);
    assert_eq!(u.at, Some(600));
    let cpu = u.cpu.expect("cpu");
    assert!(
        (cpu - (10.0 + 2.0 * avg_per_task)).abs() < 1e-9,
        "cpu {cpu} for {avg_per_task} sessions per task"
    );
    let memory = u.memory.expect("memory");
    assert!(
        (memory - (20.0 + avg_per_task)).abs() < 1e-9,
        "memory {memory}"
    );
}

#[test]
fn nothing_is_published_before_the_first_minute_plus_the_delay() {
    let mut w = world(&quiet(2));
    w.advance_to(60 + 89);
    assert_eq!(util(&w), Utilization::default());
    w.advance_to(60 + 90);
    let u = util(&w);
    assert_eq!((u.at, u.cpu, u.memory), (Some(0), Some(5.0), Some(25.0)));
}

#[test]
fn tasks_report_their_last_minute_and_old_figures_expire() {
    let mut w = world(&quiet(1));
    w.advance_to(3600);
    // With the only task gone, minutes have no figure: the read falls back to
    // the last minute that had one, until it is older than the lookback.
    let id = running_ids(&w)[0].clone();
    let listed = w.tasks(&svc()).expect("tasks");
    assert_eq!(listed[0].cpu, Some(5.0));
    assert_eq!(listed[0].memory, Some(25.0));
    w.fail_task(&svc(), &id).expect("fail");
    w.set_desired(&svc(), 0).expect("no replacement wanted");
    w.advance_to(3600 + 30);
    let listed = w.tasks(&svc()).expect("tasks");
    assert!(
        listed.iter().all(|t| t.cpu.is_none()),
        "no figures for tasks that are down"
    );
    w.advance_to(3600 + 60 + 90);
    assert_eq!(util(&w).at, Some(3540), "the last minute with a task up");
    w.advance_to(3540 + 600);
    assert_eq!(util(&w).at, Some(3540), "still within the lookback window");
    w.advance_to(3540 + 601);
    assert_eq!(
        util(&w),
        Utilization::default(),
        "too old: missing, never 0"
    );
}

#[test]
fn noise_varies_task_figures_around_the_model() {
    let cfg = SimServiceConfig {
        usage: Usage {
            cpu_noise: 3.0,
            ..usage(50.0, 0.0)
        },
        ..quiet(20)
    };
    let mut w = world(&cfg);
    w.advance_to(120);
    let cpus: Vec<f64> = w
        .tasks(&svc())
        .expect("tasks")
        .iter()
        .map(|t| t.cpu.expect("cpu"))
        .collect();
    let mean = cpus.iter().sum::<f64>() / cpus.len() as f64;
    let spread = cpus.iter().map(|c| (c - mean).abs()).fold(0.0, f64::max);
    assert!((mean - 50.0).abs() < 3.0, "mean {mean}");
    assert!(spread > 1.0 && spread < 15.0, "spread {spread}");
}
