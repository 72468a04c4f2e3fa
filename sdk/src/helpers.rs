//! Helpers on the contract's types: idle, serving, least-loaded and cordoned
//! tasks, serving capacity, sessions, utilization, trends.

use crate::{Decision, ParamValue, Snapshot, Task, TaskStatus};

impl Task {
    /// Whether the task is running, not being drained and not cordoned: it
    /// takes new sessions.
    pub fn is_serving(&self) -> bool {
        self.status == TaskStatus::Running && !self.draining && !self.is_cordoned()
    }

    /// Whether the task is cordoned: it takes no new sessions, keeps its own,
    /// and is stopped when the last one ends (unless it is uncordoned first).
    pub fn is_cordoned(&self) -> bool {
        self.cordoned_since.is_some()
    }

    /// Whether the task is serving and has no active session: a candidate to drain.
    pub fn is_idle(&self) -> bool {
        self.is_serving() && self.sessions == 0
    }
}

/// The direction of a metric over the history window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Change per minute, from a least-squares line through the samples.
    pub per_minute: f64,
    /// How many samples the line was fitted to.
    pub samples: usize,
}

impl Snapshot {
    /// Tasks that are running, not draining, and carry no session, youngest first
    /// (the youngest has warmed the fewest caches, so it is the cheapest to drop).
    pub fn idle_tasks(&self) -> impl Iterator<Item = &Task> {
        let mut idle: Vec<&Task> = self.tasks.iter().filter(|t| t.is_idle()).collect();
        idle.sort_by_key(|t| t.age_seconds);
        idle.into_iter()
    }

    /// Tasks that take new sessions: running, not draining, not cordoned; in handle order.
    pub fn serving_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.is_serving())
    }

    /// The serving tasks, fewest sessions first, ties by handle: the cheapest
    /// to cordon first when consolidating.
    pub fn least_loaded_tasks(&self) -> impl Iterator<Item = &Task> {
        let mut tasks: Vec<&Task> = self.serving_tasks().collect();
        tasks.sort_by_key(|t| (t.sessions, t.handle));
        tasks.into_iter()
    }

    /// The cordoned tasks, in handle order.
    pub fn cordoned_tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.iter().filter(|t| t.is_cordoned())
    }

    /// Free session slots on the serving tasks, each holding `per_task`
    /// sessions at most: the sum of `per_task - sessions` (0 for a task at
    /// or over it). Cordoned and draining tasks offer none.
    pub fn serving_capacity(&self, per_task: u32) -> u32 {
        self.serving_tasks()
            .map(|t| per_task.saturating_sub(t.sessions))
            .fold(0u32, u32::saturating_add)
    }

    /// All active sessions on the service.
    pub fn total_sessions(&self) -> u32 {
        self.tasks.iter().map(|t| t.sessions).sum()
    }

    /// Average sessions per serving task (cordoned tasks excluded); none when no task serves.
    pub fn sessions_per_task(&self) -> Option<f64> {
        let serving = self.serving_tasks().count();
        (serving > 0).then(|| {
            let sessions: u32 = self.serving_tasks().map(|t| t.sessions).sum();
            f64::from(sessions) / serving as f64
        })
    }

    /// The higher of service CPU and memory utilization, in percent; none when both are missing.
    pub fn utilization(&self) -> Option<f64> {
        match (self.cpu, self.memory) {
            (Some(c), Some(m)) => Some(c.max(m)),
            (c, m) => c.or(m),
        }
    }

    /// The task count once the drains in flight finish: the base for a new
    /// target. Cordoned tasks are drains in flight, so they do not count: a
    /// policy's `desired` means serving tasks wanted.
    pub fn effective_desired(&self) -> u32 {
        self.desired.saturating_sub(self.drains.len() as u32)
    }

    /// A numeric parameter from the config, if set to a number.
    pub fn param_f64(&self, name: &str) -> Option<f64> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| match p.value {
                ParamValue::Number(n) => Some(n),
                _ => None,
            })
    }

    /// A true/false parameter from the config, if set to one.
    pub fn param_bool(&self, name: &str) -> Option<bool> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| match p.value {
                ParamValue::Flag(b) => Some(b),
                _ => None,
            })
    }

    /// A text parameter from the config, if set to text.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| match &p.value {
                ParamValue::Text(s) => Some(s.as_str()),
                _ => None,
            })
    }

    /// Service CPU samples from the last `window_seconds` of history plus now, oldest first.
    /// Ticks with no CPU figure are skipped.
    pub fn cpu_window(&self, window_seconds: u64) -> Vec<(u64, f64)> {
        self.window(window_seconds, |h| h.cpu, self.cpu)
    }

    /// Like [`Snapshot::cpu_window`], for memory.
    pub fn memory_window(&self, window_seconds: u64) -> Vec<(u64, f64)> {
        self.window(window_seconds, |h| h.memory, self.memory)
    }

    /// Whether the history covers at least `window_seconds` and service CPU
    /// stayed below `threshold` in every sample of that window, this tick
    /// included. This is the hysteresis a scale-in wants.
    pub fn cpu_below_for(&self, threshold: f64, window_seconds: u64) -> bool {
        let covered = self
            .history
            .first()
            .is_some_and(|h| self.now.saturating_sub(h.at) >= window_seconds);
        let samples = self.cpu_window(window_seconds);
        covered && !samples.is_empty() && samples.iter().all(|&(_, c)| c < threshold)
    }

    /// The CPU trend over the last `window_seconds`; none with fewer than two samples.
    pub fn cpu_trend(&self, window_seconds: u64) -> Option<Trend> {
        trend(&self.cpu_window(window_seconds))
    }

    fn window(
        &self,
        window_seconds: u64,
        pick: impl Fn(&crate::TickSummary) -> Option<f64>,
        current: Option<f64>,
    ) -> Vec<(u64, f64)> {
        let since = self.now.saturating_sub(window_seconds);
        self.history
            .iter()
            .filter(|h| h.at >= since)
            .filter_map(|h| pick(h).map(|v| (h.at, v)))
            .chain(current.map(|v| (self.now, v)))
            .collect()
    }
}

fn trend(samples: &[(u64, f64)]) -> Option<Trend> {
    if samples.len() < 2 {
        return None;
    }
    let n = samples.len() as f64;
    let t0 = samples[0].0;
    let xs = samples.iter().map(|&(t, _)| (t - t0) as f64 / 60.0);
    let mean_x = xs.clone().sum::<f64>() / n;
    let mean_y = samples.iter().map(|&(_, v)| v).sum::<f64>() / n;
    let (mut cov, mut var) = (0.0, 0.0);
    for (x, &(_, y)) in xs.zip(samples) {
        cov += (x - mean_x) * (y - mean_y);
        var += (x - mean_x) * (x - mean_x);
    }
    (var > 0.0).then(|| Trend {
        per_minute: cov / var,
        samples: samples.len(),
    })
}

impl Decision {
    /// No change to the task count.
    pub fn hold(reason: impl Into<String>) -> Self {
        Decision {
            desired: None,
            drain: Vec::new(),
            cordon: Vec::new(),
            uncordon: Vec::new(),
            reason: reason.into(),
        }
    }

    /// An absolute target task count.
    pub fn scale_to(desired: u32, reason: impl Into<String>) -> Self {
        Decision {
            desired: Some(desired),
            drain: Vec::new(),
            cordon: Vec::new(),
            uncordon: Vec::new(),
            reason: reason.into(),
        }
    }

    /// Names the tasks to drain on scale-in, best first.
    pub fn with_drain(mut self, handles: impl IntoIterator<Item = u32>) -> Self {
        self.drain = handles.into_iter().collect();
        self
    }

    /// Names busy tasks to cordon (no new sessions; stopped when their last
    /// session ends). Independent of `desired`.
    pub fn with_cordon(mut self, handles: impl IntoIterator<Item = u32>) -> Self {
        self.cordon = handles.into_iter().collect();
        self
    }

    /// Names cordoned tasks to serve again.
    pub fn with_uncordon(mut self, handles: impl IntoIterator<Item = u32>) -> Self {
        self.uncordon = handles.into_iter().collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::SnapshotBuilder;

    #[test]
    fn idle_tasks_skip_busy_draining_and_starting_tasks() {
        let s = SnapshotBuilder::new()
            .task(|t| t.sessions(2))
            .task(|t| t.sessions(0).age_seconds(500))
            .task(|t| t.sessions(0).age_seconds(100))
            .task(|t| t.sessions(0).draining())
            .task(|t| t.sessions(0).starting())
            .build();
        let idle: Vec<u32> = s.idle_tasks().map(|t| t.handle).collect();
        assert_eq!(idle, vec![s.tasks[2].handle, s.tasks[1].handle]);
        assert_eq!(s.total_sessions(), 2);
        assert_eq!(s.sessions_per_task(), Some(2.0 / 3.0));
    }

    #[test]
    fn cordoned_tasks_do_not_serve_and_least_loaded_sorts_by_sessions_then_handle() {
        let s = SnapshotBuilder::new()
            .task(|t| t.sessions(5))
            .task(|t| t.sessions(2))
            .task(|t| t.sessions(7).cordoned(1_699_999_000))
            .task(|t| t.sessions(2))
            .task(|t| t.sessions(0).starting())
            .task(|t| t.sessions(9))
            .build();
        assert!(s.tasks[2].is_cordoned() && s.tasks[2].draining);
        assert_eq!(s.tasks[2].cordoned_since, Some(1_699_999_000));
        assert!(!s.tasks[2].is_serving());
        let least: Vec<u32> = s.least_loaded_tasks().map(|t| t.handle).collect();
        assert_eq!(least, vec![1, 3, 0, 5]);
        let serving: Vec<u32> = s.serving_tasks().map(|t| t.handle).collect();
        assert_eq!(serving, vec![0, 1, 3, 5]);
        let cordoned: Vec<u32> = s.cordoned_tasks().map(|t| t.handle).collect();
        assert_eq!(cordoned, vec![2]);
        // Slots of 8: 3 + 6 + 6 + 0 (9 sessions is over, counts 0); the cordoned task offers none.
        assert_eq!(s.serving_capacity(8), 15);
        assert_eq!(s.serving_capacity(0), 0);
        // The cordoned task is a drain in flight: it is not serving capacity.
        assert_eq!(s.drains.len(), 1);
        assert_eq!(s.drains[0].step, crate::DrainStep::Cordoned);
        assert_eq!(s.effective_desired(), 5);
        assert_eq!(s.sessions_per_task(), Some(18.0 / 4.0));
    }

    #[test]
    fn decision_builders_set_cordon_and_uncordon() {
        let d = crate::Decision::scale_to(3, "consolidate")
            .with_cordon([1, 2])
            .with_uncordon([4]);
        assert_eq!(
            (d.cordon.as_slice(), d.uncordon.as_slice()),
            (&[1, 2][..], &[4][..])
        );
        let h = crate::Decision::hold("x");
        assert!(h.cordon.is_empty() && h.uncordon.is_empty() && h.drain.is_empty());
    }

    #[test]
    fn trend_fits_a_line_through_history() {
        let s = SnapshotBuilder::new()
            .now(600)
            .history_cpu(&[(0, 10.0), (60, 20.0), (120, 30.0)])
            .cpu(40.0)
            .build();
        // Only the last three minutes (from t=420) count: none of history, so one sample.
        assert_eq!(s.cpu_trend(180), None);
        let t = s.cpu_trend(600).unwrap();
        assert_eq!(t.samples, 4);
        assert!(t.per_minute > 0.0);
    }

    #[test]
    fn cpu_below_for_needs_a_covered_window() {
        let quiet = SnapshotBuilder::new()
            .now(300)
            .history_cpu(&[(0, 10.0), (120, 12.0), (240, 11.0)])
            .cpu(9.0)
            .build();
        assert!(quiet.cpu_below_for(20.0, 300));
        assert!(
            !quiet.cpu_below_for(20.0, 400),
            "history does not reach back 400 s"
        );
        assert!(!quiet.cpu_below_for(11.5, 300), "one sample is above 11.5");
    }

    #[test]
    fn utilization_is_the_higher_of_cpu_and_memory() {
        let s = SnapshotBuilder::new().cpu(30.0).memory(55.0).build();
        assert_eq!(s.utilization(), Some(55.0));
        let none = SnapshotBuilder::new().no_metrics().build();
        assert_eq!(none.utilization(), None);
    }
}
