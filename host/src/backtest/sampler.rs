//! Reads the simulated service between a run's steps: the arrivals for the
//! oracle, the packing reference and the digest, and a sample of the
//! service at every minute boundary.

use sha2::{Digest, Sha256};

use super::oracle::Oracle;
use super::packing::{Packing, Placement};
use super::scenario::Scenario;
use super::series::Series;
use crate::providers::sim::SimProvider;
use crate::providers::{Clock, ServiceRef};
use crate::sim::SessionArrival;

/// Reads the sim between steps: arrivals for the oracle and the digest, and
/// a sample at every minute boundary.
pub(super) struct Sampler {
    start: u64,
    pub next_minute: u64,
    /// Minutes sampled so far.
    pub minute: usize,
    pub oracle: Oracle,
    pub packing: Packing,
    /// The online packing reference over the same arrivals.
    pub online: Packing,
    pub digest: Sha256,
    pub arrivals: u64,
    buf: Vec<SessionArrival>,
    pub series: Series,
    oracle_before: u128,
    packing_before: u128,
    refused_before: u64,
    killed_before: u64,
    cut_before: u64,
}

impl Sampler {
    pub fn new(scenario: &Scenario, start: u64, minutes: usize) -> Sampler {
        let floor = scenario.guard.min.min(scenario.sim.initial_tasks);
        let zeros = vec![0u32; minutes];
        Sampler {
            start,
            next_minute: start + 60,
            minute: 0,
            oracle: Oracle::new(scenario.capacity(), floor, start),
            packing: Packing::new(scenario.capacity(), floor, start),
            online: Packing::with(Placement::Fullest, scenario.capacity(), floor, start),
            digest: Sha256::new(),
            arrivals: 0,
            buf: Vec::new(),
            series: Series {
                desired: Vec::with_capacity(minutes),
                running: Vec::with_capacity(minutes),
                billed: Vec::with_capacity(minutes),
                sessions: Vec::with_capacity(minutes),
                arrivals: zeros.clone(),
                refused: Vec::with_capacity(minutes),
                killed: Vec::with_capacity(minutes),
                cut: Vec::with_capacity(minutes),
                cordoned: Vec::new(),
                serving: Vec::new(),
                cpu: vec![None; minutes],
                oracle_tasks: Vec::with_capacity(minutes),
                packing_tasks: Vec::with_capacity(minutes),
                drains_started: zeros.clone(),
                drains_stopped: zeros.clone(),
                drains_aborted: zeros,
            },
            oracle_before: 0,
            packing_before: 0,
            refused_before: 0,
            killed_before: 0,
            cut_before: 0,
        }
    }

    pub fn observe(&mut self, sim: &SimProvider, svc: &ServiceRef) {
        let now = sim.now();
        let at_minute = now >= self.next_minute;
        let (stats, util) = sim.with_world(|w| {
            w.drain_arrivals(svc, &mut self.buf)
                .expect("the service is in the sim");
            if at_minute {
                let util = w.utilization(std::slice::from_ref(svc)).remove(&svc.key());
                (w.stats(svc), util)
            } else {
                (None, None)
            }
        });
        for a in self.buf.drain(..) {
            self.digest.update(a.at.to_le_bytes());
            self.digest.update(a.duration.to_le_bytes());
            self.arrivals += 1;
            if let Some(n) = self
                .series
                .arrivals
                .get_mut(((a.at - self.start) / 60) as usize)
            {
                *n += 1;
            }
            self.oracle.arrive(a);
            self.packing.arrive(a);
            self.online.arrive(a);
        }
        self.oracle.advance_to(now);
        self.packing.advance_to(now);
        self.online.advance_to(now);
        let Some(stats) = stats else { return };
        let s = &mut self.series;
        if s.desired.len() < s.arrivals.len() {
            s.desired.push(stats.desired);
            s.running.push(stats.running);
            s.billed
                .push(stats.running + stats.pending + stats.stopping);
            s.sessions
                .push(u32::try_from(stats.sessions_active).unwrap_or(u32::MAX));
            s.refused
                .push((stats.sessions_refused - self.refused_before) as u32);
            s.killed
                .push((stats.sessions_killed - self.killed_before) as u32);
            s.cut.push((stats.sessions_cut - self.cut_before) as u32);
            let oracle_now = self.oracle.task_seconds();
            s.oracle_tasks
                .push(((oracle_now - self.oracle_before) as f64 / 60.0) as f32);
            self.oracle_before = oracle_now;
            let packing_now = self.packing.task_seconds();
            s.packing_tasks
                .push(((packing_now - self.packing_before) as f64 / 60.0) as f32);
            self.packing_before = packing_now;
        }
        self.refused_before = stats.sessions_refused;
        self.killed_before = stats.sessions_killed;
        self.cut_before = stats.sessions_cut;
        if let Some(u) = util
            && let (Some(cpu), Some(at)) = (u.cpu, u.at)
            && let Some(slot) = s.cpu.get_mut((at.saturating_sub(self.start) / 60) as usize)
        {
            *slot = Some(cpu as f32);
        }
        self.minute += 1;
        self.next_minute += 60;
    }
}
