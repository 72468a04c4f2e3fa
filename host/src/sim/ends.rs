//! Session ends, the bulk of the sim's events, kept in per-minute buckets
//! rather than in the event heap: a bucket is sorted once when its minute
//! starts, which costs far less than a heap operation per session.
//!
//! Only the current minute needs ordering, because a minute boundary is
//! itself an event: whatever ends later waits in its minute's bucket, or, past
//! the wheel's horizon, in a small heap. Ends at the same second come out
//! ordered by task, so the order never depends on how they were scheduled.
//!
//! Each end carries its task's session epoch at the session's start: when a
//! load balancer cuts a task's sessions, the task's epoch moves on, and the
//! ends of the cut sessions are recognised as stale when they come due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::task::TaskKey;

/// One scheduled end: its time, its task, and the task's session epoch.
pub(crate) type End = (u64, TaskKey, u32);

/// Minutes covered by the wheel (about 4 hours 16 minutes).
const WHEEL_MINUTES: u64 = 256;

#[derive(Debug, Clone)]
pub(crate) struct SessionEnds {
    /// Ends in the current minute, latest first (so the earliest pops off the back).
    current: Vec<End>,
    /// The current minute's index (its start divided by 60).
    minute: u64,
    /// Ends in the minutes after the current one, bucketed by minute index
    /// modulo the wheel size, unsorted.
    wheel: Vec<Vec<End>>,
    /// Ends beyond the wheel's horizon.
    far: BinaryHeap<Reverse<End>>,
}

impl SessionEnds {
    /// Empty, with `now` in the current minute.
    pub fn new(now: u64) -> SessionEnds {
        SessionEnds {
            current: Vec::new(),
            minute: now / 60,
            wheel: vec![Vec::new(); WHEEL_MINUTES as usize],
            far: BinaryHeap::new(),
        }
    }

    /// Schedules one session's end at `at`, which is not before the current minute.
    pub fn push(&mut self, at: u64, task: TaskKey, epoch: u32) {
        let m = at / 60;
        let entry = (at, task, epoch);
        if m <= self.minute {
            let i = self.current.partition_point(|&e| e > entry);
            self.current.insert(i, entry);
        } else if m < self.minute + WHEEL_MINUTES {
            self.wheel[(m % WHEEL_MINUTES) as usize].push(entry);
        } else {
            self.far.push(Reverse(entry));
        }
    }

    /// The time of the next end in the current minute.
    pub fn next_time(&self) -> Option<u64> {
        self.current.last().map(|e| e.0)
    }

    /// Takes the next end in the current minute.
    pub fn pop(&mut self) -> Option<End> {
        self.current.pop()
    }

    /// Moves to the minute starting at `start`, once every end before it has
    /// been taken: its bucket becomes the current, sorted list.
    pub fn start_minute(&mut self, start: u64) {
        debug_assert!(
            self.current.is_empty(),
            "ends before the minute were all taken"
        );
        self.minute = start / 60;
        let horizon = self.minute + WHEEL_MINUTES;
        while let Some(&Reverse(entry)) = self.far.peek() {
            if entry.0 / 60 >= horizon {
                break;
            }
            self.far.pop();
            let m = entry.0 / 60;
            self.wheel[(m % WHEEL_MINUTES) as usize].push(entry);
        }
        let bucket = &mut self.wheel[(self.minute % WHEEL_MINUTES) as usize];
        std::mem::swap(&mut self.current, bucket);
        self.current.sort_unstable_by(|a, b| b.cmp(a));
    }

    /// Ends scheduled in all.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.current.len() + self.wheel.iter().map(Vec::len).sum::<usize>() + self.far.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes every end up to the end of the minute starting at `start`, then
    /// moves on, like the event loop.
    fn drain_minute(e: &mut SessionEnds, start: u64) -> Vec<(u64, TaskKey)> {
        let mut out = Vec::new();
        while e.next_time().is_some_and(|t| t < start + 60) {
            out.extend(e.pop().map(|(at, task, _)| (at, task)));
        }
        e.start_minute(start + 60);
        out
    }

    #[test]
    fn ends_come_out_in_time_then_task_order_across_wheel_and_horizon() {
        let mut e = SessionEnds::new(0);
        let far = WHEEL_MINUTES * 60 * 3 + 7;
        for (at, task) in [
            (far, 1),
            (59, 9),
            (5, 3),
            (5, 1),
            (61, 2),
            (far, 0),
            (3600, 4),
            (60, 5),
        ] {
            e.push(at, task, 0);
        }
        assert_eq!(e.len(), 8);
        assert_eq!(drain_minute(&mut e, 0), vec![(5, 1), (5, 3), (59, 9)]);
        // Scheduled into the current minute after it started.
        e.push(100, 7, 0);
        assert_eq!(drain_minute(&mut e, 60), vec![(60, 5), (61, 2), (100, 7)]);
        let mut rest = Vec::new();
        let mut start = 120;
        while e.len() > 0 {
            rest.extend(drain_minute(&mut e, start));
            start += 60;
        }
        assert_eq!(rest, vec![(3600, 4), (far, 0), (far, 1)]);
    }
}
