use super::*;

fn series(cpu: &[Option<f32>], refused: &[u32]) -> Series {
    Series {
        cpu: cpu.to_vec(),
        refused: refused.to_vec(),
        ..Series::default()
    }
}

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<u64> = (1..=20).collect();
    assert_eq!(percentile(&v, 50.0), Some(10));
    assert_eq!(percentile(&v, 95.0), Some(19));
    assert_eq!(percentile(&v, 100.0), Some(20));
    assert_eq!(percentile(&[7u64], 95.0), Some(7));
    assert_eq!(percentile::<u64>(&[], 50.0), None);
}

#[test]
fn reaction_runs_from_the_first_overloaded_minute_to_the_next_scale_out() {
    let hot = Some(90.0);
    let ok = Some(50.0);
    // Minutes 2-4 hot, answered at 400 s; minute 7 refuses, answered at 430.
    // Minute 9 hot again, never answered; minute 11 joins that open episode.
    let s = series(
        &[ok, ok, hot, hot, hot, ok, ok, ok, ok, hot, ok, hot, ok],
        &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    );
    let r = reaction(&s, 75.0, &[100, 400, 430], 0);
    assert_eq!(r.episodes, 3);
    assert_eq!(r.answered, 2);
    assert_eq!(r.p50_s, Some(10), "430 - 420");
    assert_eq!(r.p95_s, Some(280), "400 - 120");
}

#[test]
fn an_overload_returning_before_its_answer_is_the_same_episode() {
    let (hot, ok) = (Some(80.0), Some(10.0));
    let s = series(&[hot, ok, hot, ok], &[0; 4]);
    let r = reaction(&s, 75.0, &[300], 0);
    assert_eq!((r.episodes, r.answered, r.p50_s), (1, 1, Some(300)));
    let calm = series(&[ok, None, ok], &[0; 3]);
    let r = reaction(&calm, 75.0, &[60], 0);
    assert_eq!((r.episodes, r.p50_s), (0, None));
}

#[test]
fn cordon_figures_come_from_the_records() {
    use crate::tick::guard::Action;
    use crate::tick::record::{PolicyRef, TickRecord, TickState};
    let record = |at: u64, cordoned: u32, newly: &[&str], back: &[&str]| TickRecord {
        at,
        service: "c/s".into(),
        dry_run: false,
        snapshot_digest: None,
        state: Some(TickState {
            desired: 5,
            running: 5,
            pending: 0,
            draining: cordoned,
            cordoned,
            cpu: None,
            memory: None,
            sessions: None,
        }),
        problems: Vec::new(),
        policy: PolicyRef {
            name: "p".into(),
            version: "1".into(),
            sha256: "0".into(),
        },
        decision: None,
        fault: None,
        fallback: None,
        call_micros: 0,
        adjustments: Vec::new(),
        action: Action::Hold,
        outcomes: Vec::new(),
        cordoned: newly.iter().map(|s| s.to_string()).collect(),
        uncordoned: back.iter().map(|s| s.to_string()).collect(),
        paused_drains: Vec::new(),
        shutdown: false,
        shadows: Vec::new(),
    };
    let mut log = TickLog::default();
    // t=0: none; t=60: a and b cordoned; t=120: 2 cordoned; t=180: b
    // uncordoned, 1 cordoned; t=240: a done, 0.
    for r in [
        record(0, 0, &[], &[]),
        record(60, 2, &["a", "b"], &[]),
        record(120, 2, &[], &[]),
        record(180, 1, &[], &["b"]),
        record(240, 0, &[], &[]),
    ] {
        log.observe(&r);
    }
    assert_eq!(log.cordons, vec![60, 60]);
    assert_eq!(log.uncordons, vec![180]);
    // 2 × 60 + 2 × 60 + 1 × 60 task-seconds.
    assert_eq!(cordoned_task_seconds(&log.cordoned, 300), 300);
    assert_eq!(
        cordoned_task_seconds(&[(0, 3)], 100),
        300,
        "the last until the end"
    );
    assert_eq!(cordoned_task_seconds(&[], 100), 0);
    let mut s = Series {
        running: vec![5, 5, 5, 5, 4],
        ..Series::default()
    };
    cordoned_per_minute(&log, 0, &mut s);
    // Minute m ends at 60(m+1); the tick at that second runs after the sample.
    assert_eq!(s.cordoned, vec![0, 2, 2, 1, 0]);
    assert_eq!(s.serving, vec![5, 3, 3, 4, 4]);
}

#[test]
fn the_default_task_hour_costs_what_fargate_charges_for_1_vcpu_2_gb() {
    let p = Pricing::default();
    assert!((p.task_hour_usd() - 0.04937).abs() < 1e-12);
    let mut q = p;
    PricingOverrides {
        task_memory_gb: Some(4.0),
        ..Default::default()
    }
    .apply(&mut q);
    assert!((q.task_hour_usd() - (0.04048 + 4.0 * 0.004445)).abs() < 1e-12);
    q.vcpu_hour = -1.0;
    assert_eq!(q.validate().unwrap_err().0, "cost.vcpu_hour");
}
