//! Usage and CloudWatch-like metrics: each task's CPU and memory follow its
//! sessions, are averaged per minute, and the service's figures are published
//! after a delay.

use super::random;
use super::state::ServiceSim;
use crate::providers::Utilization;

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
