//! Recording live traffic as a trace the sim can replay (the format of
//! [`crate::sim`]'s `trace` workload): one line per minute with the
//! arrivals seen in that minute and an estimate of the mean session length.
//!
//! The recorder reads only the [`Sessions`] trait (active sessions per task,
//! the daemon's own view), so it works the same against the simulated
//! cluster and against AWS's session store. Sessions carry no ID through
//! that trait, so arrivals and lengths are derived from counts:
//!
//! - **arrivals**: every `sample` seconds (default 10 s) the per-task counts
//!   are read, and each task's increase since the last read counts as
//!   arrivals (a task seen for the first time contributes all its sessions;
//!   sessions active when recording starts are not arrivals). A session that
//!   starts while another ends on the same task between two reads cancels
//!   out. With arrivals spread over the tasks (as a load balancer does),
//!   each of an interval's `n` observed increases hid about `c / W` more,
//!   where `c = s̄ × dt` (`s̄` the mean sessions per busy task, `dt` the
//!   interval) and `W` the mean session length: 11 % for 20 sessions of 30
//!   minutes read every 10 s. So a minute's arrivals are `n + C / W`, with
//!   `C = Σ n × c` over its intervals. Reading more often shrinks `C`.
//! - **mean session length**: Little's law, `L = λ W`, over a trailing window
//!   (default 1 hour): the window's session-seconds `S` (active sessions
//!   integrated over time, trapezoid rule between reads) equal `W` times its
//!   arrivals `N + C / W`, so `W = (S − C) / N`. The first estimate needs a
//!   full window and at least 10 observed arrivals; the lines before it are
//!   written once it exists, with it (a recording shorter than the window
//!   uses its best partial estimate, or none: then the lines carry no
//!   `mean_session_s`, no correction is made, and the replay's
//!   `session_mean` applies). After a quiet window the previous estimate
//!   stands. It is exact for steady traffic and lags where the rate changes
//!   quickly.
//! - **refused sessions are invisible**: they never reach the session store,
//!   so a trace recorded from an under-provisioned service understates its
//!   demand.
//!
//! A read that fails leaves a gap: the next good read counts the increases
//! since the last good one.
//!
//! # Exact sessions
//!
//! [`SessionsRecorder`] writes the exact-sessions format instead (CSV, one
//! session per line: `start_s,duration_s,task_hint`, see [`crate::sim`]),
//! from the session store's **items**: every `sample` seconds it lists the
//! service's items. A session's start is its item's stored start time; its
//! end is its heartbeat deadline once that has passed, or else the first
//! read that no longer lists the item (so an end is late by at most one
//! sampling interval). `start_s` counts from the first read; a session
//! already active then is written as starting at 0 with what remained of
//! it, and a session still active when recording stops is written as
//! ending then, so a replay carries exactly the load seen while recording.
//! `task_hint` is the item's task ID (left empty when it is not a plain
//! ID). A read that fails ends nothing; the next good one catches up.

use std::collections::VecDeque;
use std::io::Write;

use tokio::sync::watch;

use super::BacktestError;
use crate::daemon::Daemon;
use crate::providers::{Provider, ProviderResult, ServiceRef, SessionCounts, Sessions};
use crate::sessions::SessionRecord;
use crate::sim::session_trace::{MAX_HINT_CHARS, MAX_SESSIONS};

/// The fewest arrivals in the window for a mean-length estimate.
pub const MIN_ARRIVALS_FOR_MEAN: f64 = 10.0;

/// Sampling intervals that divide a minute evenly, in seconds.
pub const VALID_SAMPLES: [u64; 12] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/// One minute's tallies.
#[derive(Debug, Clone, Copy, Default)]
struct Minute {
    /// Arrivals seen as increases.
    seen: f64,
    /// `Σ n × c` over the minute's intervals: `hidden / W` arrivals were missed.
    hidden: f64,
    /// Session-seconds.
    area: f64,
}

/// One read of the session store.
#[derive(Debug)]
struct Read {
    at: u64,
    counts: SessionCounts,
    total: u64,
    busy: u64,
}

/// Turns per-task session counts into trace lines.
#[derive(Debug)]
pub struct TraceRecorder<W: Write> {
    svc: ServiceRef,
    sample: u64,
    window_minutes: usize,
    out: W,
    /// The first minute boundary recorded; lines' `t` counts from it.
    origin: u64,
    last: Option<Read>,
    minute_start: u64,
    /// This minute so far.
    minute: Minute,
    window: VecDeque<Minute>,
    mean: Option<f64>,
    /// Closed minutes waiting for the first estimate, with their `t`.
    pending: Vec<(u64, Minute)>,
    /// Lines written.
    pub lines: u64,
    /// Arrivals in the lines written.
    pub total_arrivals: f64,
    /// Reads that failed.
    pub failed_reads: u64,
}

impl<W: Write> TraceRecorder<W> {
    /// A recorder of `svc`, reading every `sample` seconds (one of
    /// [`VALID_SAMPLES`]), with a Little's-law window of `window` seconds.
    pub fn new(svc: ServiceRef, sample: u64, window: u64, out: W) -> Result<Self, String> {
        if !VALID_SAMPLES.contains(&sample) {
            return Err(format!(
                "the sampling interval must divide a minute evenly (one of {VALID_SAMPLES:?} seconds), found {sample}s"
            ));
        }
        if window < 60 {
            return Err(format!("the window must be at least 60s, found {window}s"));
        }
        Ok(TraceRecorder {
            svc,
            sample,
            window_minutes: (window / 60) as usize,
            out,
            origin: 0,
            last: None,
            minute_start: 0,
            minute: Minute::default(),
            window: VecDeque::new(),
            mean: None,
            pending: Vec::new(),
            lines: 0,
            total_arrivals: 0.0,
            failed_reads: 0,
        })
    }

    /// Seconds between reads.
    pub fn sample(&self) -> u64 {
        self.sample
    }

    /// The current mean session length estimate, in seconds.
    pub fn mean_session(&self) -> Option<f64> {
        self.mean
    }

    /// Reads the service's sessions at `now` (a multiple of the sampling
    /// interval) and writes the lines of the minutes that ended.
    pub async fn observe<P: Sessions + ?Sized>(&mut self, p: &P, now: u64) -> std::io::Result<()> {
        match p.sessions_by_task(&self.svc, now).await {
            Ok(counts) => self.record(now, counts),
            Err(e) => {
                self.failed_reads += 1;
                tracing::warn!(service = %self.svc.key(), error = %e, "Could not read the session counts; this interval's arrivals are counted at the next good read.");
                Ok(())
            }
        }
    }

    /// Takes one read of per-task counts at `now`.
    pub fn record(&mut self, now: u64, counts: SessionCounts) -> std::io::Result<()> {
        let total: u64 = counts.values().map(|&c| u64::from(c)).sum();
        let busy = counts.values().filter(|&&c| c > 0).count() as u64;
        let read = Read {
            at: now,
            counts,
            total,
            busy,
        };
        let Some(before) = self.last.replace(read) else {
            // The first read: a baseline, not arrivals.
            self.origin = now.div_ceil(60) * 60;
            self.minute_start = self.origin;
            return Ok(());
        };
        let after = self.last.as_ref().expect("just stored");
        if now > before.at && before.at >= self.minute_start {
            let dt = (now - before.at) as f64;
            let increases: u64 = after
                .counts
                .iter()
                .map(|(task, &c)| {
                    u64::from(c.saturating_sub(before.counts.get(task).copied().unwrap_or(0)))
                })
                .sum();
            let per_task =
                (before.total + after.total) as f64 / (before.busy + after.busy).max(1) as f64;
            self.minute.seen += increases as f64;
            self.minute.hidden += increases as f64 * per_task * dt;
            self.minute.area += (before.total + after.total) as f64 / 2.0 * dt;
        }
        while now >= self.minute_start + 60 {
            self.close_minute()?;
        }
        Ok(())
    }

    fn close_minute(&mut self) -> std::io::Result<()> {
        let minute = std::mem::take(&mut self.minute);
        self.window.push_back(minute);
        while self.window.len() > self.window_minutes {
            self.window.pop_front();
        }
        if self.window.len() == self.window_minutes || self.mean.is_some() {
            self.estimate();
        }
        self.pending.push((self.minute_start - self.origin, minute));
        if self.mean.is_some() {
            self.flush_pending()?;
        }
        self.minute_start += 60;
        Ok(())
    }

    /// Little's law over the window, with the hidden arrivals added back.
    fn estimate(&mut self) {
        let w = self.window.iter().fold(Minute::default(), |a, m| Minute {
            seen: a.seen + m.seen,
            hidden: a.hidden + m.hidden,
            area: a.area + m.area,
        });
        if w.seen >= MIN_ARRIVALS_FOR_MEAN {
            self.mean = Some(((w.area - w.hidden) / w.seen).max(1.0));
        }
    }

    fn flush_pending(&mut self) -> std::io::Result<()> {
        let mean = self.mean;
        for (t, minute) in std::mem::take(&mut self.pending) {
            let arrivals = minute.seen + mean.map_or(0.0, |w| minute.hidden / w);
            let rate = (arrivals * 100.0).round() / 100.0;
            let mean = mean.map(f64::round);
            match mean {
                Some(m) => writeln!(
                    self.out,
                    "{{\"t\": {t}, \"arrivals_per_min\": {rate}, \"mean_session_s\": {m}}}"
                )?,
                None => writeln!(self.out, "{{\"t\": {t}, \"arrivals_per_min\": {rate}}}")?,
            }
            self.lines += 1;
            self.total_arrivals += rate;
        }
        Ok(())
    }

    /// Writes what is still pending (with the best estimate there is),
    /// flushes the output and returns it.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.mean.is_none() {
            self.estimate();
        }
        self.flush_pending()?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Runs `daemon` (autoscaling as configured) and reads sessions every
/// sampling interval, until `until` (virtual or Unix time) or `stop` turns
/// true. Works over any provider: the sim moves its clock, AWS waits for it.
pub async fn record<P: Provider, W: Write>(
    daemon: &mut Daemon<P>,
    recorder: &mut TraceRecorder<W>,
    until: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), BacktestError> {
    let sample = recorder.sample();
    let write_err = |source| BacktestError::Io {
        what: "cannot write the trace",
        path: std::path::PathBuf::from("(the --out file)"),
        source,
    };
    drive_sampling(
        daemon,
        sample,
        until,
        &mut stop,
        async |d: &Daemon<P>, now| recorder.observe(&d.provider, now).await.map_err(write_err),
    )
    .await?;
    Ok(())
}

/// Runs `daemon` and calls `observe` every `sample` seconds (once at the
/// start, and once more as it stops, so the last interval closes), until
/// `until` (virtual or Unix time) or `stop` turns true. Saves the daemon's
/// state at the end and returns the time it stopped.
async fn drive_sampling<P: Provider>(
    daemon: &mut Daemon<P>,
    sample: u64,
    until: Option<u64>,
    stop: &mut watch::Receiver<bool>,
    mut observe: impl AsyncFnMut(&Daemon<P>, u64) -> Result<(), BacktestError>,
) -> Result<u64, BacktestError> {
    let mut next_sample = daemon.pacer.now();
    loop {
        let now = daemon.pacer.now();
        if now >= next_sample {
            observe(daemon, now).await?;
            next_sample = (now / sample + 1) * sample;
        }
        if *stop.borrow() || until.is_some_and(|u| now >= u) {
            break;
        }
        daemon.step().await?;
        let next = daemon
            .next_wake()
            .min(next_sample)
            .min(until.unwrap_or(u64::MAX))
            .max(now + 1);
        let pacer = daemon.pacer.clone();
        tokio::select! {
            _ = pacer.wait_until(next) => {}
            _ = stop.changed() => {}
        }
    }
    daemon.save_state();
    let _ = daemon.sink.flush();
    Ok(daemon.pacer.now())
}

/// What a sessions recording knows of one active session.
#[derive(Debug, Clone)]
struct Open {
    started_at: u64,
    expires_at: Option<u64>,
    hint: String,
}

/// Turns session store item lists into exact sessions (see the module docs).
#[derive(Debug)]
pub struct SessionsRecorder<W: Write> {
    out: W,
    /// The first read's time: `start_s` counts from it.
    origin: Option<u64>,
    /// Active sessions by (task, session ID).
    open: std::collections::HashMap<(String, String), Open>,
    /// Sessions written.
    pub written: u64,
    /// Sessions not followed because [`MAX_SESSIONS`] were active at once.
    pub dropped: u64,
    /// Reads that failed.
    pub failed_reads: u64,
}

impl<W: Write> SessionsRecorder<W> {
    /// A recorder writing to `out`; the header goes out at once.
    pub fn new(mut out: W) -> std::io::Result<Self> {
        writeln!(out, "start_s,duration_s,task_hint")?;
        Ok(SessionsRecorder {
            out,
            origin: None,
            open: std::collections::HashMap::new(),
            written: 0,
            dropped: 0,
            failed_reads: 0,
        })
    }

    /// Takes one read of the store's items at `now`; `Err` is a failed read.
    pub fn observe(
        &mut self,
        now: u64,
        items: ProviderResult<Vec<SessionRecord>>,
    ) -> std::io::Result<()> {
        let items = match items {
            Ok(items) => items,
            Err(e) => {
                self.failed_reads += 1;
                tracing::warn!(error = %e, "Could not list the session store's items; sessions that ended meanwhile are written at the next good read.");
                return Ok(());
            }
        };
        let origin = *self.origin.get_or_insert(now);
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        for r in items {
            if !r.is_active(now) {
                // Expired but not yet deleted: ended at its deadline, if we followed it.
                continue;
            }
            let key = (r.task_id, r.session_id);
            let full = self.open.len() >= MAX_SESSIONS;
            match self.open.get_mut(&key) {
                Some(o) => o.expires_at = r.expires_at,
                None if full => {
                    self.dropped += 1;
                    continue;
                }
                None => {
                    let hint = if key.0.len() <= MAX_HINT_CHARS
                        && key
                            .0
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.:/".contains(c))
                    {
                        key.0.clone()
                    } else {
                        String::new()
                    };
                    self.open.insert(
                        key.clone(),
                        Open {
                            started_at: r.started_at.max(origin),
                            expires_at: r.expires_at,
                            hint,
                        },
                    );
                }
            }
            seen.insert(key);
        }
        let mut ended: Vec<(String, String)> = self
            .open
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        // Written in a stable order.
        ended.sort();
        for key in ended {
            if let Some(o) = self.open.remove(&key) {
                let end = o.expires_at.filter(|&d| d < now).unwrap_or(now);
                self.write(origin, &o, end)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, origin: u64, o: &Open, end: u64) -> std::io::Result<()> {
        let start = o.started_at.max(origin);
        let duration = end.saturating_sub(start).max(1);
        writeln!(self.out, "{},{},{}", start - origin, duration, o.hint)?;
        self.written += 1;
        Ok(())
    }

    /// Writes the sessions still active as ending at `now`, flushes the
    /// output and returns it.
    pub fn finish(mut self, now: u64) -> std::io::Result<W> {
        if let Some(origin) = self.origin {
            let mut open: Vec<_> = std::mem::take(&mut self.open).into_iter().collect();
            open.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, o) in open {
                let end = o.expires_at.filter(|&d| d < now).unwrap_or(now);
                self.write(origin, &o, end)?;
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Runs `daemon` on the simulated cluster and records its service's exact
/// sessions every `sample` seconds, until `until` or `stop`. Returns the
/// time recording stopped.
pub async fn record_sessions<W: Write>(
    daemon: &mut Daemon<crate::providers::sim::SimProvider>,
    svc: &ServiceRef,
    recorder: &mut SessionsRecorder<W>,
    sample: u64,
    until: Option<u64>,
    mut stop: watch::Receiver<bool>,
) -> Result<u64, BacktestError> {
    let write_err = |source| BacktestError::Io {
        what: "cannot write the sessions",
        path: std::path::PathBuf::from("(the --out file)"),
        source,
    };
    daemon
        .provider
        .track_session_items(svc)
        .map_err(|e| BacktestError::Io {
            what: "cannot follow the service's sessions",
            path: std::path::PathBuf::new(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let sample = sample.max(1);
    drive_sampling(
        daemon,
        sample,
        until,
        &mut stop,
        async |d: &Daemon<_>, now| {
            recorder
                .observe(now, d.provider.session_items(svc))
                .map_err(write_err)
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
