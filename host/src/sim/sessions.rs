//! Sessions: arrivals as a Poisson process whose rate is constant within
//! each minute, session lengths, routing outcomes, and normal session ends.

use super::config::SessionLength;
use super::random;
use super::service::ServiceSim;
use super::task::TaskKey;

/// One session arrival as the workload produced it: when, and how long the
/// session was drawn to last, whether it then landed on a task or was refused.
/// Policy-independent: the backtester's oracle and its check that two runs
/// faced the same users read these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionArrival {
    /// The arrival time, in seconds.
    pub at: u64,
    /// The drawn session length, in seconds (at least 1).
    pub duration: u64,
}

/// The arrival process within the current minute.
#[derive(Debug, Clone, Default)]
pub(crate) struct Arrivals {
    /// Arrivals per second in this minute.
    rate: f64,
    /// The mean session length of sessions arriving in this minute.
    mean: f64,
    /// The end of this minute.
    segment_end: u64,
    /// The exact (fractional) time of the next arrival.
    x: f64,
    /// The second of the next arrival in this minute, if any.
    pub next: Option<u64>,
}

impl ServiceSim {
    /// Starts the minute that `from` falls in: the workload's rate at the
    /// minute's start holds until its end, and the next arrival is drawn.
    pub(crate) fn start_segment(&mut self, from: u64) {
        let minute = from - from % 60;
        let a = &mut self.arrivals;
        a.rate = self.workload.rate_per_min(minute) / 60.0;
        a.mean = self
            .workload
            .mean_session_secs(minute)
            .unwrap_or(self.p.session_mean);
        a.segment_end = minute + 60;
        a.x = from as f64;
        self.draw_next_arrival();
    }

    fn draw_next_arrival(&mut self) {
        let a = &mut self.arrivals;
        a.next = None;
        if a.rate > 0.0 {
            a.x += random::exponential(&mut self.rng.arrivals, 1.0 / a.rate);
            if a.x < a.segment_end as f64 {
                a.next = Some(a.x as u64);
            }
        }
    }

    /// A session length in whole seconds, at least one.
    fn draw_duration(&mut self) -> u64 {
        let mean = self.arrivals.mean;
        let d = match self.p.session_length {
            SessionLength::Exponential => random::exponential(&mut self.rng.durations, mean),
            SessionLength::Lognormal { sigma } => {
                random::lognormal(&mut self.rng.durations, mean, sigma)
            }
        };
        // Rounded to the nearest second (d is positive).
        ((d + 0.5) as u64).max(1)
    }

    /// A session arrives: its length is drawn (always, so refusals do not
    /// shift later draws), then it lands on a healthy task with room or is refused.
    pub(crate) fn on_arrival(&mut self, now: u64) {
        let duration = self.draw_duration();
        if let Some(log) = self.arrival_log.as_mut() {
            log.push(SessionArrival { at: now, duration });
        }
        match self.pick_target() {
            Some(k) => self.start_session(k, now, duration),
            None => self.counters.sessions_refused += 1,
        }
        self.draw_next_arrival();
    }

    pub(crate) fn start_session(&mut self, k: TaskKey, now: u64, duration: u64) {
        let Some(t) = self.task_mut(k) else { return };
        t.flush(now);
        t.sessions += 1;
        t.sessions_served += 1;
        self.counters.sessions_started += 1;
        self.active_sessions += 1;
        self.counters.peak_sessions_active =
            self.counters.peak_sessions_active.max(self.active_sessions);
        self.ends.push(now.saturating_add(duration), k);
    }

    /// A session ends normally, unless its task already reached STOPPING
    /// (then it was killed and counted then).
    pub(crate) fn on_session_end(&mut self, k: TaskKey, now: u64) {
        let Some(t) = self.task_mut(k) else { return };
        if t.is_stopping() || t.sessions == 0 {
            return;
        }
        t.flush(now);
        t.sessions -= 1;
        t.sessions_ended += 1;
        self.counters.sessions_ended += 1;
        self.active_sessions -= 1;
    }
}
