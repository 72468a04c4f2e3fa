//! The event queue: future state changes ordered by time, then by the order
//! they were scheduled in, so that equal times always replay identically.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::task::TaskKey;

/// A future state change of one task or its target. Session ends, far more
/// numerous, have their own queue ([`super::ends::SessionEnds`]).
///
/// Events that a later change made moot (a start-up step of a task already
/// stopping, a health check of a target re-registered since) are recognised
/// when they fire, by the task's status or the generation they carry, and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// PROVISIONING -> PENDING.
    Pending(TaskKey),
    /// PENDING -> RUNNING, and the target registers.
    Running(TaskKey),
    /// DEACTIVATING -> STOPPING: the target finished draining.
    Deactivated(TaskKey),
    /// STOPPING -> DEPROVISIONING.
    Deprovisioning(TaskKey),
    /// DEPROVISIONING -> STOPPED.
    Stopped(TaskKey),
    /// A stopped task stops being listed.
    Purge(TaskKey),
    /// A target's health checks pass: initial -> healthy.
    TargetHealthy { task: TaskKey, generation: u32 },
    /// A target's deregistration delay ends: draining -> unregistered.
    TargetDrained { task: TaskKey, generation: u32 },
    /// A task's scale-in protection expires.
    ProtectionExpired { task: TaskKey, generation: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    at: u64,
    seq: u64,
    event: Event,
}

impl Ord for Entry {
    // Reversed, so that the max-heap pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Events by time, first in first out among equal times.
#[derive(Debug, Default, Clone)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl EventQueue {
    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            event,
        });
    }

    /// The time of the next event.
    pub fn next_time(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.at)
    }

    /// Takes the next event.
    pub fn pop(&mut self) -> Option<(u64, Event)> {
        self.heap.pop().map(|e| (e.at, e.event))
    }

    /// Events waiting.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_scheduling_order() {
        let mut q = EventQueue::default();
        q.push(10, Event::Pending(1));
        q.push(5, Event::Pending(2));
        q.push(10, Event::Pending(3));
        q.push(5, Event::Running(4));
        assert_eq!(q.next_time(), Some(5));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (5, Event::Pending(2)),
                (5, Event::Running(4)),
                (10, Event::Pending(1)),
                (10, Event::Pending(3)),
            ]
        );
        assert_eq!(q.len(), 0);
    }
}
