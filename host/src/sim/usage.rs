//! Usage and CloudWatch-like metrics: each task's CPU and memory follow its
//! sessions, are averaged per minute, and the service's figures are published
//! after a delay.

use std::collections::VecDeque;

use super::random;
use super::service::ServiceSim;
use crate::providers::Utilization;

/// One published minute of the service's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Datapoint {
    /// The minute's start.
    pub start: u64,
    /// When it can be read.
    pub visible_at: u64,
    /// Average CPU and memory over the tasks up in the minute; none when no
    /// task was (CloudWatch then has no datapoint).
    pub figures: Option<(f64, f64)>,
}

/// The service's recent minutes, oldest first.
#[derive(Debug, Clone)]
pub(crate) struct MetricSeries {
    points: VecDeque<Datapoint>,
    delay: u64,
    lookback: u64,
    keep: usize,
}

impl MetricSeries {
    pub fn new(delay: u64, lookback: u64) -> MetricSeries {
        let keep = ((delay + lookback) / 60 + 2) as usize;
        MetricSeries {
            points: VecDeque::with_capacity(keep + 1),
            delay,
            lookback,
            keep,
        }
    }

    fn push(&mut self, start: u64, end: u64, figures: Option<(f64, f64)>) {
        self.points.push_back(Datapoint {
            start,
            visible_at: end + self.delay,
            figures,
        });
        while self.points.len() > self.keep {
            self.points.pop_front();
        }
    }

    /// The latest minute published by `now` that has figures, if it started
    /// within the lookback window.
    pub fn latest(&self, now: u64) -> Utilization {
        let oldest = now.saturating_sub(self.lookback);
        self.points
            .iter()
            .rev()
            .filter(|p| p.visible_at <= now)
            .take_while(|p| p.start >= oldest)
            .find_map(|p| p.figures.map(|(cpu, memory)| (p.start, cpu, memory)))
            .map_or_else(Utilization::default, |(at, cpu, memory)| Utilization {
                cpu: Some(cpu),
                memory: Some(memory),
                at: Some(at),
            })
    }
}

impl ServiceSim {
    /// Closes the minute ending at `end`: each task up during it gets its
    /// average CPU and memory (base plus per-session cost times its average
    /// sessions, plus noise, within 0..=100); the service's figure is their
    /// average weighted by time up.
    pub(crate) fn close_minute(&mut self, end: u64) {
        let u = self.p.usage;
        let (mut cpu_sum, mut mem_sum, mut weight) = (0.0, 0.0, 0.0);
        let Self {
            live, slab, rng, ..
        } = self;
        for &k in live.iter() {
            let Some(t) = slab[k as usize].as_mut() else {
                continue;
            };
            t.flush(end);
            if t.up_secs == 0 {
                continue;
            }
            let up = t.up_secs as f64;
            let avg_sessions = t.session_secs as f64 / up;
            let (z1, z2) = (
                random::standard_normal(&mut rng.usage),
                random::standard_normal(&mut rng.usage),
            );
            let cpu = (u.cpu_base + u.cpu_per_session * avg_sessions + u.cpu_noise * z1)
                .clamp(0.0, 100.0);
            let memory =
                (u.memory_base + u.memory_per_session * avg_sessions + u.memory_noise * z2)
                    .clamp(0.0, 100.0);
            if t.is_up() {
                t.cpu = Some(cpu);
                t.memory = Some(memory);
            }
            cpu_sum += cpu * up;
            mem_sum += memory * up;
            weight += up;
            t.up_secs = 0;
            t.session_secs = 0;
        }
        let figures = (weight > 0.0).then(|| (cpu_sum / weight, mem_sum / weight));
        self.metrics.push(end.saturating_sub(60), end, figures);
    }

    /// The latest complete published minute, as a metrics read at `now` sees it.
    pub(crate) fn utilization(&self, now: u64) -> Utilization {
        self.metrics.latest(now)
    }
}
