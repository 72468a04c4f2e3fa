//! The service's published per-minute CPU and memory figures, as CloudWatch
//! keeps them: each minute readable only after the metrics delay, and a read
//! looking back no further than the lookback window.

use std::collections::VecDeque;

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

    pub fn push(&mut self, start: u64, end: u64, figures: Option<(f64, f64)>) {
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
