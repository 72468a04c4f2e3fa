//! The oracle: the fewest task-hours that could carry a run's sessions.
//!
//! It knows the whole trace in hindsight: every session's arrival and
//! length, as the sim drew them (the same for every policy on the same
//! scenario and seed). At each second it has exactly
//!
//! ```text
//! needed(t) = max(floor, ceil(active(t) / capacity))
//! ```
//!
//! tasks, where `active(t)` counts the sessions that arrived at or before
//! `t` and have not ended (a session lasts `[arrival, arrival + length)`),
//! `capacity` is the sim's sessions per task, and `floor` is the guard's
//! `min` (at most the initial task count), which every policy must keep too.
//! Its task-seconds are the integral of `needed`, computed exactly (the
//! function is piecewise constant between arrivals and ends).
//!
//! Assumptions, all in the oracle's favour, so it is a **lower bound**:
//! tasks start and stop instantly (no start-up, no deregistration delay, no
//! drain), sessions can be packed onto any task at any moment (it repacks
//! freely, which no router does), and CPU does not matter (a task is full
//! only at `capacity` sessions). In a run, every session that is active at
//! `t` sits on a task that exists (is billed) at `t`, at most `capacity` per
//! task, and the guard keeps at least `min` tasks; so a run that carries
//! every session to its end (refuses none, kills none) is billed at least the
//! oracle's task-hours. A run that refuses or kills sessions carried less
//! than the oracle did, and may come in under it: its refused and killed
//! counts say what that saving cost its users.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::Serialize;

use crate::sim::SessionArrival;

/// Session ends within this many seconds of now are counted per second in a
/// ring (about 36 hours); later ones wait in a heap.
const HORIZON: u64 = 1 << 17;

/// The oracle, fed arrivals in time order. It steps through time a second
/// at a time (a month is 2.6 million cheap steps), which costs far less
/// than ordering every session's end.
#[derive(Debug, Clone)]
pub struct Oracle {
    capacity: u64,
    floor: u64,
    /// Sessions active now.
    active: u64,
    /// `ring[e % HORIZON]`: sessions ending at second `e`, for `now <= e < now + HORIZON`.
    ring: Vec<u32>,
    /// Ends at or after `now + HORIZON`, earliest first.
    far: BinaryHeap<Reverse<u64>>,
    /// Integrated up to here; the ends at `now` are not yet taken off.
    now: u64,
    task_seconds: u128,
    peak_tasks: u64,
}

/// What the oracle found over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OracleFigures {
    /// Its task-hours: the lower bound.
    pub task_hours: f64,
    /// Its cost at the scenario's prices.
    pub cost_usd: f64,
    /// The most tasks it needed at once.
    pub peak_tasks: u64,
    /// The fewest tasks it ever keeps (the guard's min).
    pub floor_tasks: u64,
}

impl Oracle {
    /// An oracle starting at `start`, `capacity` sessions per task, never below `floor` tasks.
    pub fn new(capacity: u32, floor: u32, start: u64) -> Oracle {
        Oracle {
            capacity: u64::from(capacity.max(1)),
            floor: u64::from(floor),
            active: 0,
            ring: vec![0; HORIZON as usize],
            far: BinaryHeap::new(),
            now: start,
            task_seconds: 0,
            peak_tasks: u64::from(floor),
        }
    }

    fn needed(&self) -> u64 {
        self.active.div_ceil(self.capacity).max(self.floor)
    }

    /// Takes off the sessions ending at `now`.
    fn settle(&mut self) {
        let slot = &mut self.ring[(self.now % HORIZON) as usize];
        self.active -= u64::from(*slot);
        *slot = 0;
    }

    /// Integrates up to `t`, ending the sessions due by then. Times before
    /// the last one are ignored.
    pub fn advance_to(&mut self, t: u64) {
        while self.now < t {
            self.settle();
            let needed = u128::from(self.needed());
            self.task_seconds += needed;
            self.now += 1;
            while let Some(&Reverse(end)) = self.far.peek()
                && end < self.now + HORIZON
            {
                self.far.pop();
                self.ring[(end % HORIZON) as usize] += 1;
            }
        }
    }

    /// A session arrives (arrivals must come in time order).
    pub fn arrive(&mut self, a: SessionArrival) {
        self.advance_to(a.at);
        self.settle();
        let end = a.at.max(self.now).saturating_add(a.duration.max(1));
        if end < self.now + HORIZON {
            self.ring[(end % HORIZON) as usize] += 1;
        } else {
            self.far.push(Reverse(end));
        }
        self.active += 1;
        self.peak_tasks = self.peak_tasks.max(self.needed());
    }

    /// Task-seconds so far.
    pub fn task_seconds(&self) -> u128 {
        self.task_seconds
    }

    /// The figures so far, at `task_hour_usd` per task-hour.
    pub fn figures(&self, task_hour_usd: f64) -> OracleFigures {
        let task_hours = self.task_seconds as f64 / 3600.0;
        OracleFigures {
            task_hours: super::round(task_hours, 4),
            cost_usd: super::round(task_hours * task_hour_usd, 4),
            peak_tasks: self.peak_tasks,
            floor_tasks: self.floor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(at: u64, duration: u64) -> SessionArrival {
        SessionArrival { at, duration }
    }

    #[test]
    fn packs_sessions_per_task_exactly() {
        // Capacity 2, floor 0: three sessions over [0,100), [10,60), [20,40).
        let mut o = Oracle::new(2, 0, 0);
        o.arrive(arrival(0, 100));
        o.arrive(arrival(10, 50));
        o.arrive(arrival(20, 20));
        o.advance_to(200);
        // 1 task on [0,20), 2 on [20,40), 1 on [40,100), 0 after.
        assert_eq!(o.task_seconds(), 20 + 40 + 60);
        assert_eq!(o.figures(1.0).peak_tasks, 2);
    }

    #[test]
    fn keeps_the_floor_when_idle_and_counts_from_its_start() {
        let mut o = Oracle::new(10, 2, 1000);
        o.advance_to(1600);
        assert_eq!(o.task_seconds(), 2 * 600);
        o.arrive(arrival(1600, 30));
        o.advance_to(1700);
        assert_eq!(o.task_seconds(), 2 * 700, "one session fits in the floor");
        let f = o.figures(0.5);
        assert_eq!(f.task_hours, 0.3889, "1400 s, rounded to 4 places");
        assert_eq!(f.cost_usd, 0.1944);
    }

    #[test]
    fn sessions_longer_than_the_ring_end_on_time() {
        let mut o = Oracle::new(1, 0, 0);
        o.arrive(arrival(5, 3 * HORIZON));
        o.arrive(arrival(10, 20));
        o.advance_to(4 * HORIZON);
        assert_eq!(o.task_seconds(), u128::from(3 * HORIZON) + 20);
    }

    #[test]
    fn a_session_ending_as_another_arrives_frees_its_place() {
        let mut o = Oracle::new(1, 0, 0);
        o.arrive(arrival(0, 10));
        o.arrive(arrival(10, 10));
        o.advance_to(20);
        assert_eq!(o.task_seconds(), 20, "never two tasks at once");
        assert_eq!(o.figures(1.0).peak_tasks, 1);
    }
}
