use super::*;
use crate::providers::{ServiceRef, SessionCounts};
use crate::sessions::SessionRecord;

fn svc() -> ServiceRef {
    ServiceRef {
        cluster: "c".into(),
        service: "s".into(),
        target_group: "tg".into(),
    }
}

fn counts(pairs: &[(&str, u32)]) -> SessionCounts {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[test]
fn counts_per_task_increases_as_arrivals_from_the_first_minute_boundary() {
    let mut r = TraceRecorder::new(svc(), 30, 60, Vec::new()).unwrap();
    // Baseline at 50: the sessions already there are not arrivals.
    r.record(50, counts(&[("a", 5)])).unwrap();
    r.record(60, counts(&[("a", 6)])).unwrap(); // before the origin: not counted
    r.record(90, counts(&[("a", 4), ("b", 3)])).unwrap(); // +3 on a new task
    r.record(120, counts(&[("a", 6), ("b", 2)])).unwrap(); // +2 on a
    r.record(150, counts(&[("a", 6), ("b", 2)])).unwrap();
    r.record(180, counts(&[("b", 1), ("c", 1)])).unwrap(); // a gone: no arrival; +1 on c
    let out = r.finish().unwrap();
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["t"], 0);
    assert_eq!(l[0]["arrivals_per_min"], 5);
    assert_eq!(l[1]["t"], 60);
    assert_eq!(l[1]["arrivals_per_min"], 1);
    assert!(l[0].get("mean_session_s").is_none(), "too few arrivals yet");
}

/// Steady traffic as a load balancer spreads it: Poisson arrivals at
/// `per_min`, round-robin over `tasks`, exponential lengths of mean `w`
/// seconds, simulated second by second; per-task counts at each second.
fn steady_traffic(per_min: f64, w: f64, tasks: usize, seconds: u64) -> Vec<SessionCounts> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut ends: Vec<Vec<u64>> = vec![Vec::new(); tasks];
    let (mut next_task, mut out) = (0, Vec::new());
    for t in 0..seconds {
        for e in ends.iter_mut() {
            e.retain(|&end| end > t);
        }
        // Poisson arrivals in this second, by inversion.
        let (mut k, mut p, u) = (0, (-per_min / 60.0f64).exp(), rng.random::<f64>());
        let mut cdf = p;
        while u > cdf {
            k += 1;
            p *= per_min / 60.0 / f64::from(k);
            cdf += p;
        }
        for _ in 0..k {
            let len = -w * (1.0 - rng.random::<f64>()).ln();
            ends[next_task].push(t + len.ceil() as u64);
            next_task = (next_task + 1) % tasks;
        }
        out.push(
            ends.iter()
                .enumerate()
                .map(|(i, e)| (format!("task{i}"), e.len() as u32))
                .collect(),
        );
    }
    out
}

#[test]
fn arrivals_and_mean_length_are_recovered_from_counts_alone() {
    // 20 a minute, 30-minute sessions, 30 tasks: 600 active, 20 per task.
    let counts = steady_traffic(20.0, 1800.0, 30, 11 * 3600);
    let mut r = TraceRecorder::new(svc(), 10, 3600, Vec::new()).unwrap();
    let (mut raw, mut prev): (u64, Option<&SessionCounts>) = (0, None);
    // Start recording in the steady state, three hours in.
    for t in (3 * 3600..11 * 3600).step_by(10) {
        let now = &counts[t];
        if let Some(p) = prev {
            raw += now
                .iter()
                .map(|(k, &c)| u64::from(c.saturating_sub(p.get(k).copied().unwrap_or(0))))
                .sum::<u64>();
        }
        prev = Some(now);
        r.record(t as u64, now.clone()).unwrap();
    }
    let l = lines(&r.finish().unwrap());
    assert_eq!(l.len(), 8 * 60 - 1);
    let per_min: f64 = l
        .iter()
        .map(|x| x["arrivals_per_min"].as_f64().unwrap())
        .sum::<f64>()
        / l.len() as f64;
    assert!(
        (per_min - 20.0).abs() < 0.5,
        "20 a minute offered, {per_min:.2} recovered"
    );
    let raw_per_min = raw as f64 / l.len() as f64;
    assert!(
        raw_per_min < 19.0,
        "uncorrected increases undercount ({raw_per_min:.2}): the correction matters"
    );
    let mean = l.last().unwrap()["mean_session_s"].as_f64().unwrap();
    assert!(
        (mean - 1800.0).abs() < 90.0,
        "30-minute sessions, estimated {mean}"
    );
    assert!(
        l.iter().all(|x| x["mean_session_s"].as_f64().is_some()),
        "lines before the first full window carry its estimate"
    );
    for x in &l {
        crate::sim::Trace::parse(std::path::Path::new("t"), &x.to_string(), false)
            .expect("each line is valid trace syntax");
    }
}

fn item(task: &str, id: &str, started_at: u64, expires_at: Option<u64>) -> SessionRecord {
    SessionRecord {
        task_id: task.into(),
        session_id: id.into(),
        started_at,
        expires_at,
    }
}

#[test]
fn sessions_are_written_from_item_starts_and_disappearances() {
    let mut r = SessionsRecorder::new(Vec::new()).unwrap();
    // First read at 1000: "old" began before recording.
    r.observe(1000, Ok(vec![item("t1", "old", 400, None)]))
        .unwrap();
    r.observe(
        1010,
        Ok(vec![
            item("t1", "old", 400, None),
            item("t2", "a", 1003, Some(2000)),
            item("bad task!", "b", 1005, None),
        ]),
    )
    .unwrap();
    // A failed read ends nothing.
    r.observe(
        1020,
        Err(crate::providers::ProviderError::Transient {
            service: "dynamodb",
            message: "throttled".into(),
        }),
    )
    .unwrap();
    // "old" disappears by 1030; "a" is listed past its deadline: it ended at 2000.
    r.observe(
        2050,
        Ok(vec![
            item("t2", "a", 1003, Some(2000)),
            item("bad task!", "b", 1005, None),
        ]),
    )
    .unwrap();
    assert_eq!((r.written, r.failed_reads), (2, 1));
    let out = String::from_utf8(r.finish(3000).unwrap()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "start_s,duration_s,task_hint",
            "0,1050,t1",
            "3,997,t2",
            "5,1995,",
        ]
    );
    let trace = crate::sim::SessionTrace::parse(std::path::Path::new("out.csv"), &out)
        .expect("the output parses as a sessions trace");
    assert_eq!(trace.sessions().len(), 3);
}

#[test]
fn the_sim_lists_its_sessions_as_items_and_a_recording_replays_them() {
    use crate::sim::{SimConfig, SimServiceConfig, SimWorld, Workload};
    let config = SimServiceConfig {
        initial_tasks: 3,
        session_capacity: 50,
        workload: Workload::Steady { per_min: 6.0 },
        session_mean: std::time::Duration::from_secs(600),
        ..SimServiceConfig::default()
    };
    let mut w = SimWorld::new(SimConfig::default()).unwrap();
    w.add_service(svc(), &config).unwrap();
    w.track_session_items(&svc()).unwrap();
    w.log_arrivals(&svc()).unwrap();
    let mut r = SessionsRecorder::new(Vec::new()).unwrap();
    // Read every second, so even a one-second session is seen.
    for t in 0..7200 {
        w.advance_to(t);
        r.observe(t, w.session_items(&svc())).unwrap();
    }
    let mut log = Vec::new();
    w.drain_arrivals(&svc(), &mut log).unwrap();
    log.sort_by_key(|a| (a.at, a.duration.min(7200 - a.at)));
    let out = String::from_utf8(r.finish(7200).unwrap()).unwrap();
    let trace = crate::sim::SessionTrace::parse(std::path::Path::new("rec.csv"), &out).unwrap();
    assert_eq!(
        trace.sessions().len(),
        log.len(),
        "every session, none refused"
    );
    for (got, want) in trace.sessions().iter().zip(&log) {
        assert_eq!(got.at, want.at, "exact starts");
        let end = (want.at + want.duration).min(7200);
        assert_eq!(
            got.at + got.duration,
            end,
            "exact ends: {got:?} vs {want:?}"
        );
    }
}

#[test]
fn refuses_a_sampling_interval_that_does_not_divide_a_minute() {
    let e = TraceRecorder::new(svc(), 7, 3600, Vec::new()).unwrap_err();
    assert!(e.contains("7s"), "{e}");
    assert!(TraceRecorder::new(svc(), 10, 30, Vec::new()).is_err());
}
