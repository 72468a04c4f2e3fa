//! The trace recorder: per-task session counts, read every sampling
//! interval, turned into one trace line per minute (see [`super`]).

use std::collections::VecDeque;
use std::io::Write;

use tokio::sync::watch;

use super::{MIN_ARRIVALS_FOR_MEAN, VALID_SAMPLES, drive_sampling};
use crate::backtest::BacktestError;
use crate::daemon::Daemon;
use crate::providers::{Provider, ServiceRef, SessionCounts, Sessions};

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
