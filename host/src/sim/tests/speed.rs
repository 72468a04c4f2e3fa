//! A speed check, not a timed test: `cargo test --release -p autoscaler --lib
//! sim::tests::speed -- --ignored --nocapture` prints how long 30 days of a
//! 100-task, ~2000-session service take in 60-second steps.

use std::time::Instant;

use super::*;

fn big_service() -> SimServiceConfig {
    SimServiceConfig {
        initial_tasks: 100,
        session_capacity: 40,
        session_mean: Duration::from_secs(1800),
        // About 67 arrivals a minute on average: ~2000 concurrent sessions.
        workload: Workload::Diurnal {
            peak_per_min: 100.0,
            trough_per_min: 33.0,
            peak_at: Duration::from_secs(14 * 3600),
        },
        ..SimServiceConfig::default()
    }
}

#[test]
#[ignore = "a speed check; run it in release and read its output"]
fn thirty_days_of_a_hundred_task_service_in_minute_steps() {
    const DAY: u64 = 24 * 60;
    const TICKS: u64 = 30 * DAY;
    let mut w = world(&big_service());
    let started = Instant::now();
    let mut best_day = f64::INFINITY;
    for day in 0..TICKS / DAY {
        let day_started = Instant::now();
        for m in 1..=DAY {
            w.advance_to((day * DAY + m) * 60);
        }
        best_day = best_day.min(day_started.elapsed().as_secs_f64());
    }
    let advance = started.elapsed();
    let s = w.stats(&svc()).expect("stats");
    println!(
        "advance only: {TICKS} ticks in {:.3} s = {:.2} µs per 60 s step on average, {:.2} µs in the fastest day; \
         {} sessions started, {} active at the end, peak {}",
        advance.as_secs_f64(),
        advance.as_secs_f64() * 1e6 / TICKS as f64,
        best_day * 1e6 / DAY as f64,
        s.sessions_started,
        s.sessions_active,
        s.peak_sessions_active,
    );
    assert!(s.peak_sessions_active > 1500, "the load is as described");

    // The same, with what a tick's gather reads from the sim each minute.
    let mut w = world(&big_service());
    let target_group = svc().target_group;
    let started = Instant::now();
    let mut best_day = f64::INFINITY;
    let mut checksum = 0usize;
    for day in 0..TICKS / DAY {
        let day_started = Instant::now();
        for m in 1..=DAY {
            w.advance_to((day * DAY + m) * 60);
            checksum += w.service_counts(&svc()).expect("counts").running as usize;
            checksum += w.tasks(&svc()).expect("tasks").len();
            checksum += w.targets(&target_group).expect("targets").len();
            checksum += w.sessions_by_task(&svc()).expect("sessions").len();
            checksum += w.utilization(std::slice::from_ref(&svc())).len();
        }
        best_day = best_day.min(day_started.elapsed().as_secs_f64());
    }
    let with_reads = started.elapsed();
    println!(
        "advance plus gather reads: {:.3} s = {:.2} µs per tick on average, {:.2} µs in the fastest day \
         (checksum {checksum})",
        with_reads.as_secs_f64(),
        with_reads.as_secs_f64() * 1e6 / TICKS as f64,
        best_day * 1e6 / DAY as f64,
    );
}
