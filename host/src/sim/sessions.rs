//! Sessions: arrivals as a Poisson process whose rate is constant within
//! each minute, session lengths, routing outcomes, and normal session ends.

use rand::Rng;

use super::random;
use super::session_length::SessionLength;
use super::session_trace::SessionArrival;
use super::state::ServiceSim;
use super::task::TaskKey;

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
        if let Some(list) = self.workload.sessions() {
            // Sessions listed before the service existed never arrive.
            while a.exact < list.len() && list[a.exact].at < from {
                a.exact += 1;
            }
        }
        self.draw_next_arrival();
    }

    fn draw_next_arrival(&mut self) {
        let a = &mut self.arrivals;
        a.next = None;
        if let Some(list) = self.workload.sessions() {
            a.next = list
                .get(a.exact)
                .map(|s| s.at)
                .filter(|&at| at < a.segment_end);
            return;
        }
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
        let rng = &mut self.rng.durations;
        let d = match self.p.session_length {
            SessionLength::Exponential => random::exponential(rng, mean),
            SessionLength::Lognormal { sigma } => random::lognormal(rng, mean, sigma),
            SessionLength::Mixture {
                typical_min,
                typical_max,
                long_min,
                long_max,
                long_share,
            } => {
                // Two draws always, so the stream advances the same whichever part is chosen.
                let (pick, x) = (rng.random::<f64>(), rng.random::<f64>());
                let (lo, hi) = if pick < long_share {
                    (long_min, long_max)
                } else {
                    (typical_min, typical_max)
                };
                let (lo, hi) = (lo.as_secs_f64(), hi.as_secs_f64());
                lo + (hi - lo) * x
            }
        };
        // Rounded to the nearest second (d is positive).
        ((d + 0.5) as u64).max(1)
    }

    /// A session arrives: its length is drawn (always, so refusals do not
    /// shift later draws) or, with an exact-sessions workload, read from the
    /// list; then it lands on a healthy task with room or is refused.
    pub(crate) fn on_arrival(&mut self, now: u64) {
        let duration = match self.workload.sessions() {
            Some(list) => {
                let i = self.arrivals.exact;
                self.arrivals.exact += 1;
                list.get(i).map_or(1, |s| s.duration)
            }
            None => self.draw_duration(),
        };
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
        let epoch = t.epoch;
        self.counters.sessions_started += 1;
        self.active_sessions += 1;
        self.counters.peak_sessions_active =
            self.counters.peak_sessions_active.max(self.active_sessions);
        self.ends.push(now.saturating_add(duration), k, epoch);
        if let Some(items) = self.items.as_mut() {
            items.start(k, now, now.saturating_add(duration));
        }
    }

    /// A session ends normally, unless its task already reached STOPPING
    /// (then it was killed and counted then) or the load balancer cut it
    /// (its epoch is past).
    pub(crate) fn on_session_end(&mut self, k: TaskKey, epoch: u32, now: u64) {
        let Some(t) = self.task_mut(k) else { return };
        if t.is_stopping() || t.sessions == 0 || t.epoch != epoch {
            return;
        }
        if let Some(items) = self.items.as_mut() {
            items.end(k, now);
        }
        let Some(t) = self.task_mut(k) else { return };
        t.flush(now);
        t.sessions -= 1;
        t.sessions_ended += 1;
        self.counters.sessions_ended += 1;
        self.active_sessions -= 1;
    }
}
