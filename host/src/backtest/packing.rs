//! The packing references: placements without migration, one clairvoyant
//! and one online.
//!
//! The oracle ([`super::oracle`]) moves sessions between tasks freely, which
//! no load balancer does, so no real placement reaches it. The packing
//! reference places each session once, for good, knowing every session's
//! end time: **best fit by departure**. An arriving session goes to the open
//! task with room whose latest session end is closest to the new session's
//! end, preferring one that ends at or after it (the session then extends
//! nothing); when every open task with room ends before it, the one ending
//! latest (it extends least). Ties go to the task opened first. When no open
//! task has room, a task opens. A task is open from its first session to its
//! last session's end: no start-up delay, no buffer, no drain, and it stops
//! the moment its last session ends. At every moment at least `floor` tasks
//! are billed (the guard's `min`, as for the oracle).
//!
//! It runs on a run's own sessions: every arrival, refused ones included,
//! with its drawn length, and the sim's capacity. It is a **reference, not
//! a bound**: the heuristic is not optimal (a cleverer placement could do
//! better), and a policy that refuses or kills sessions can cost less.
//! Placement that knows the future and ignores start-up is still far from
//! what any autoscaler can do; it shows how much of the gap to the oracle is
//! the price of not migrating sessions.
//!
//! The **online packing reference** ([`Placement::Fullest`]) knows no
//! session's length: an arriving session goes to the fullest open task with
//! room (best fit, the depth-first placement of Agones' Packed strategy and
//! Azure Virtual Desktop), ties to the lowest task index. It has the same
//! ideal conditions otherwise (no start-up delay, no buffer, a task stops the
//! moment it empties), and each session is placed by the reference itself,
//! where a policy can only steer a load balancer by cordoning. It shows how
//! much of the gap is the price of not knowing how long sessions last: with
//! heavy-tailed lengths, every task that takes sessions in the afternoon is
//! likely to keep one of the long ones into the evening. It is a reference,
//! not a bound, either.

use serde::Serialize;

use crate::sim::SessionArrival;
use crate::sim::ends::SessionEnds;

/// One task of the placement.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Sessions on it now.
    sessions: u32,
    /// The latest end of its sessions.
    last_end: u64,
}

/// How a packing reference places an arriving session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Clairvoyant: best fit by departure (the packing reference).
    ByDeparture,
    /// Online: the fullest open task with room (the online packing reference).
    Fullest,
}

/// A packing reference, fed arrivals in time order.
///
/// Built for a backtest's hot loop: the open tasks with room are a vector
/// sorted by (key, index), searched by bisection (a run keeps tens to
/// hundreds open), and session ends wait in the sim's minute wheel. The key
/// is the latest end ([`Placement::ByDeparture`]) or the free slots
/// ([`Placement::Fullest`]).
#[derive(Debug, Clone)]
pub struct Packing {
    placement: Placement,
    capacity: u32,
    floor: u64,
    /// Every task opened, by index; closed ones have no sessions.
    slots: Vec<Slot>,
    /// Open tasks with room, sorted by (key, index).
    room: Vec<(u64, usize)>,
    /// Session ends to come, by task index.
    ends: SessionEnds,
    /// The start of the minute the ends' wheel stands at.
    minute: u64,
    open: u64,
    /// Integrated up to here.
    now: u64,
    task_seconds: u128,
    peak_tasks: u64,
    tasks_opened: u64,
    /// Closed task indexes, reused so the table stays the size of the peak.
    free: Vec<usize>,
}

/// What the packing reference found over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PackingFigures {
    /// Its task-hours.
    pub task_hours: f64,
    /// Its cost at the scenario's prices.
    pub cost_usd: f64,
    /// Its task-hours over the oracle's.
    pub vs_oracle: f64,
    /// The most tasks open at once (the floor included).
    pub peak_tasks: u64,
    /// Tasks it opened.
    pub tasks_opened: u64,
}

impl Packing {
    /// The clairvoyant placement starting at `start`, `capacity` sessions
    /// per task, never below `floor` tasks billed.
    pub fn new(capacity: u32, floor: u32, start: u64) -> Packing {
        Packing::with(Placement::ByDeparture, capacity, floor, start)
    }

    /// A placement of this kind starting at `start`, `capacity` sessions per
    /// task, never below `floor` tasks billed.
    pub fn with(placement: Placement, capacity: u32, floor: u32, start: u64) -> Packing {
        Packing {
            placement,
            capacity: capacity.max(1),
            floor: u64::from(floor),
            slots: Vec::new(),
            room: Vec::new(),
            ends: SessionEnds::new(start),
            minute: start - start % 60,
            open: 0,
            now: start,
            task_seconds: 0,
            peak_tasks: u64::from(floor),
            tasks_opened: 0,
            free: Vec::new(),
        }
    }

    fn billed(&self) -> u64 {
        self.open.max(self.floor)
    }

    fn integrate(&mut self, t: u64) {
        if t > self.now {
            self.task_seconds += u128::from(self.billed()) * u128::from(t - self.now);
            self.now = t;
        }
    }

    /// Where a task sorts among those with room.
    fn key(&self, slot: Slot) -> u64 {
        match self.placement {
            Placement::ByDeparture => slot.last_end,
            Placement::Fullest => u64::from(self.capacity - slot.sessions),
        }
    }

    fn room_insert(&mut self, key: (u64, usize)) {
        let at = self.room.partition_point(|&k| k < key);
        self.room.insert(at, key);
    }

    fn room_remove(&mut self, key: (u64, usize)) {
        let at = self.room.partition_point(|&k| k < key);
        if self.room.get(at) == Some(&key) {
            self.room.remove(at);
        }
    }

    /// Ends the sessions due at or before `t`, integrating up to `t`.
    pub fn advance_to(&mut self, t: u64) {
        loop {
            while let Some(end) = self.ends.next_time()
                && end <= t
            {
                let Some((end, i, _)) = self.ends.pop() else {
                    break;
                };
                self.end_session(end, i as usize);
            }
            // Every end of the wheel's minute is taken once the next minute starts by `t`.
            let next = self.minute + 60;
            if next > t {
                break;
            }
            self.ends.start_minute(next);
            self.minute = next;
        }
        self.integrate(t);
    }

    fn end_session(&mut self, end: u64, i: usize) {
        self.integrate(end);
        let before = self.slots[i];
        self.slots[i].sessions -= 1;
        let after = self.slots[i];
        let (had_room, old) = (before.sessions < self.capacity, (self.key(before), i));
        if after.sessions == 0 {
            // Its last session ended (it was its latest end): it stops.
            if had_room {
                self.room_remove(old);
            }
            self.open -= 1;
            self.free.push(i);
        } else if !had_room {
            self.room_insert((self.key(after), i));
        } else if self.key(after) != old.0 {
            self.room_remove(old);
            self.room_insert((self.key(after), i));
        }
    }

    /// A session arrives (arrivals must come in time order; one arriving at
    /// the second another ends takes its place).
    pub fn arrive(&mut self, a: SessionArrival) {
        self.advance_to(a.at);
        let end = a.at.max(self.now).saturating_add(a.duration.max(1));
        let pick = match self.placement {
            // The first task ending at or after the session, else the last one before it.
            Placement::ByDeparture => {
                let at = self.room.partition_point(|&(e, _)| e < end);
                if at < self.room.len() {
                    Some(at)
                } else {
                    at.checked_sub(1)
                }
            }
            // The fewest free slots come first.
            Placement::Fullest => (!self.room.is_empty()).then_some(0),
        };
        let i = match pick {
            Some(at) => self.room.remove(at).1,
            None => {
                self.open += 1;
                self.tasks_opened += 1;
                let slot = Slot {
                    sessions: 0,
                    last_end: 0,
                };
                match self.free.pop() {
                    Some(i) => {
                        self.slots[i] = slot;
                        i
                    }
                    None => {
                        self.slots.push(slot);
                        self.slots.len() - 1
                    }
                }
            }
        };
        let slot = &mut self.slots[i];
        slot.sessions += 1;
        slot.last_end = slot.last_end.max(end);
        let slot = *slot;
        if slot.sessions < self.capacity {
            self.room_insert((self.key(slot), i));
        }
        self.ends.push(end, i as u32, 0);
        self.peak_tasks = self.peak_tasks.max(self.billed());
    }

    /// Task-seconds so far.
    pub fn task_seconds(&self) -> u128 {
        self.task_seconds
    }

    /// The figures so far, at `task_hour_usd` per task-hour, against the oracle's task-hours.
    pub fn figures(&self, task_hour_usd: f64, oracle_task_hours: f64) -> PackingFigures {
        let task_hours = self.task_seconds as f64 / 3600.0;
        PackingFigures {
            task_hours: super::round(task_hours, 4),
            cost_usd: super::round(task_hours * task_hour_usd, 4),
            vs_oracle: super::ratio(task_hours, oracle_task_hours),
            peak_tasks: self.peak_tasks,
            tasks_opened: self.tasks_opened,
        }
    }
}

#[cfg(test)]
mod tests;
