"""Tasks and history cross the boundary as columns; a policy sees the same records as before."""

import math
import unittest

from autoscaler_sdk import Decision, TargetHealth, TaskStatus, export_policy, scale_to
from autoscaler_sdk.testing import SnapshotBuilder
from autoscaler_sdk.types import Snapshot, Task, TickSummary, from_wire, to_wire
from autoscaler_sdk.wire import HistoryColumns, TaskColumns


def varied() -> SnapshotBuilder:
    """Every task status and target health, marks, known and unknown figures, and history."""
    b = SnapshotBuilder().now(5000)
    for i, status in enumerate(TaskStatus):
        b.task(lambda t, i=i, status=status: t.status(status).age_seconds(60 * i + 1).sessions(i))
    for health in TargetHealth:
        b.task(lambda t, health=health: t.health(health).cpu(12.5).memory(0.0))
    b.task(lambda t: t.protected().cpu(99.75))
    b.task(lambda t: t.draining().memory(-0.0))
    b.task(lambda t: t.protected().draining().sessions(2**32 - 1).age_seconds(2**32 - 1))
    b.history_cpu([(4000, 10.0), (4500, 0.0)])
    b.history(TickSummary(at=4600, desired=3, running=2, cpu=None, memory=55.5, sessions=0))
    b.history(TickSummary(at=2**63, desired=2**32 - 1, running=0, cpu=1e300, memory=None, sessions=2**32 - 1))
    return b


class WireTest(unittest.TestCase):
    def test_round_trip(self):
        s = varied().build()
        w = to_wire(s)
        self.assertIsInstance(w.tasks, TaskColumns)
        self.assertIsInstance(w.history, HistoryColumns)
        self.assertEqual(from_wire(w), s)

    def test_the_columns_hold_case_indices_marks_nan_and_minus_one(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.starting())
            .task(lambda t: t.protected().cpu(40.0))
            .task(lambda t: t.draining())
            .task(lambda t: t.protected().draining())
            .history(TickSummary(at=1, desired=2, running=3, cpu=None, memory=7.0, sessions=None))
            .history(TickSummary(at=2, desired=2, running=3, cpu=8.0, memory=None, sessions=9))
            .build()
        )
        w = to_wire(s)
        self.assertEqual(w.tasks.status, bytes([1, 3, 3, 3]))  # pending, running
        self.assertEqual(w.tasks.health, bytes([1, 2, 4, 4]))  # initial, healthy, draining
        self.assertEqual(w.tasks.marks, bytes([0, 1, 2, 3]))
        self.assertEqual(w.tasks.age_seconds, [30, 3600, 3600, 3600])
        self.assertTrue(math.isnan(w.tasks.cpu[0]))
        self.assertEqual(w.tasks.cpu[1], 40.0)
        self.assertEqual(w.history.sessions, [-1, 9])
        self.assertTrue(math.isnan(w.history.cpu[0]) and math.isnan(w.history.memory[1]))
        self.assertEqual(w.history.at, [1, 2])

    def test_a_handle_is_an_index(self):
        s = SnapshotBuilder().running_tasks(3).build()
        self.assertEqual([t.handle for t in from_wire(to_wire(s)).tasks], [0, 1, 2])
        s.tasks.reverse()
        with self.assertRaisesRegex(ValueError, "handle is its index"):
            to_wire(s)

    def test_nan_and_out_of_range_sessions_read_as_unknown(self):
        w = to_wire(SnapshotBuilder().task().history_cpu([(1, 5.0), (2, 6.0), (3, 7.0)]).build())
        w.tasks.cpu = [math.nan]
        w.history.memory = [math.nan, -math.nan, 1.0]
        w.history.sessions = [-1, -7, 2**32]
        s = from_wire(w)
        self.assertIsNone(s.tasks[0].cpu)
        self.assertEqual([h.memory for h in s.history], [None, None, 1.0])
        self.assertEqual([h.sessions for h in s.history], [None, None, None])

    def test_unknown_cases_and_short_columns_read_as_the_rust_sdk_reads_them(self):
        w = to_wire(SnapshotBuilder().running_tasks(3).history_cpu([(1, 5.0), (2, 6.0)]).build())
        w.tasks.status = bytes([8, 255, 3])
        w.tasks.health = bytes([6])
        w.tasks.age_seconds = [1]
        w.tasks.sessions = []
        w.tasks.marks = bytes([3, 2])
        w.tasks.cpu = [1.0, 2.0, 3.0, 4.0]  # longer than the status column: the extra is ignored
        w.tasks.memory = []
        w.history.desired = [4]
        w.history.cpu = []
        w.history.sessions = []
        s = from_wire(w)
        P, U = TaskStatus.PROVISIONING, TargetHealth.UNKNOWN
        self.assertEqual(
            s.tasks,
            [
                Task(0, P, U, 1, True, 0, 1.0, None, True),
                Task(1, P, U, 0, False, 0, 2.0, None, True),
                Task(2, TaskStatus.RUNNING, U, 0, False, 0, 3.0, None, False),
            ],
        )
        self.assertEqual(
            s.history,
            [TickSummary(1, 4, 3, None, None, None), TickSummary(2, 0, 3, None, None, None)],
        )

    def test_the_exported_policy_rebuilds_the_records(self):
        seen = []

        def decide(s):
            seen.append(s)
            return scale_to(len(s.tasks), "n", drain=[t.handle for t in s.tasks if t.draining])

        p = export_policy(decide, name="t", version="1")()
        b = varied()
        d = p.decide(b.build_wire())
        self.assertIsInstance(seen[0], Snapshot)
        self.assertEqual(seen[0], varied().build())
        self.assertEqual(d, Decision(desired=len(seen[0].tasks), drain=[15, 16], cordon=[], uncordon=[], reason="n"))
        # A snapshot of records (what `build()` gives) is passed on as it is.
        s = varied().build()
        p.decide(s)
        self.assertIs(seen[1], s)


if __name__ == "__main__":
    unittest.main()
