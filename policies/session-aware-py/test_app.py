"""The session-aware policy's tests: those of the Rust policy, ported one for one,
with its exact reasons, plus cases for ordering, drains in flight and parameters.

Run with: python3 -m unittest (with the SDK installed: pip install -r requirements.txt)
"""

import contextlib
import io
import unittest

from app import Policy, decide
from autoscaler_sdk import PolicyError, TaskStatus
from autoscaler_sdk.testing import SnapshotBuilder


def quiet_history(b: SnapshotBuilder) -> SnapshotBuilder:
    return b.now(2000).history_cpu([(1300, 10.0), (1500, 12.0), (1800, 11.0)]).cpu(10.0).memory(20.0)


class RustPolicyTests(unittest.TestCase):
    """The tests of policies/session-aware/src/lib.rs, ported, with exact reasons."""

    def test_scales_out_on_cpu(self):
        d = decide(SnapshotBuilder().running_tasks(4).cpu(95.0).build())
        self.assertEqual(d.desired, 8, d.reason)
        self.assertEqual(d.reason, "Scale out: CPU 95.0% is over 75%; 4 -> 8 tasks.")
        self.assertEqual(d.drain, [])

    def test_scales_out_on_memory(self):
        d = decide(SnapshotBuilder().running_tasks(2).cpu(20.0).memory(90.0).build())
        self.assertEqual(d.desired, 3)
        self.assertEqual(d.reason, "Scale out: memory 90.0% is over 80%; 2 -> 3 tasks.")

    def test_scales_out_when_sessions_exceed_capacity(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.sessions(18))
            .task(lambda t: t.sessions(17))
            .cpu(40.0)
            .param("session-capacity", 20.0)
            .build()
        )
        # 35 sessions at 16 per task need 3 tasks.
        d = decide(s)
        self.assertEqual(d.desired, 3)
        self.assertEqual(d.reason, "Scale out: 35 sessions need 3 tasks at 16 per task; 2 -> 3 tasks.")

    def test_scales_in_only_through_idle_tasks(self):
        s = quiet_history(
            SnapshotBuilder()
            .task(lambda t: t.sessions(3))
            .task(lambda t: t.sessions(0))
            .task(lambda t: t.sessions(1))
            .task(lambda t: t.sessions(0))
        ).build()
        d = decide(s)
        self.assertEqual(d.desired, 2)
        self.assertEqual(d.drain, [1, 3])
        for h in d.drain:
            self.assertEqual(s.tasks[h].sessions, 0)
        self.assertEqual(
            d.reason, "Scale in: utilization under 30% CPU for 600s; 4 -> 2 tasks through idle tasks."
        )

    def test_does_not_scale_in_without_a_quiet_window(self):
        s = (
            SnapshotBuilder()
            .now(2000)
            .history_cpu([(1300, 10.0), (1500, 50.0)])
            .cpu(10.0)
            .memory(20.0)
            .running_tasks(3)
            .build()
        )
        d = decide(s)
        self.assertIsNone(d.desired)
        self.assertEqual(d.reason, "Utilization is within its band.")

    def test_does_not_scale_in_on_unknown_sessions(self):
        d = decide(quiet_history(SnapshotBuilder().running_tasks(3)).sessions_unknown().build())
        self.assertIsNone(d.desired)
        self.assertEqual(d.reason, "Session counts are unknown; not scaling in.")

    def test_keeps_the_floor_and_session_needs(self):
        s = quiet_history(SnapshotBuilder().min(2).task(lambda t: t.sessions(0)).task(lambda t: t.sessions(0))).build()
        d = decide(s)
        self.assertIsNone(d.desired)
        self.assertEqual(d.reason, "Utilization is low, but no idle task can go (2 idle, 0 sessions).")

    def test_rejects_inverted_bands(self):
        with self.assertRaisesRegex(PolicyError, "^parameters cpu-low/memory-low must be below cpu-high/memory-high$"):
            decide(SnapshotBuilder().running_tasks(1).param("cpu-low", 90.0).build())


class MorePolicyTests(unittest.TestCase):
    def test_drains_youngest_first_and_ties_keep_snapshot_order(self):
        s = quiet_history(
            SnapshotBuilder()
            .task(lambda t: t.age_seconds(900))
            .task(lambda t: t.age_seconds(300))
            .task(lambda t: t.age_seconds(900))
            .task(lambda t: t.age_seconds(300).sessions(2))
            .task(lambda t: t.age_seconds(300))
        ).build()
        d = decide(s)
        self.assertEqual(d.drain, [1, 4, 0, 2])
        self.assertEqual(d.desired, 1)

    def test_drains_in_flight_lower_the_base(self):
        s = quiet_history(
            SnapshotBuilder().running_tasks(3).task(lambda t: t.draining()).task(lambda t: t.sessions(5))
        ).build()
        d = decide(s)
        # desired 5, one drain in flight: current 4; three idle tasks; floor 1 (5 sessions need 1).
        self.assertEqual(d.desired, 1)
        self.assertEqual(d.drain, [0, 1, 2])
        self.assertIn("4 -> 1 tasks", d.reason)

    def test_scale_out_formats_like_rust(self):
        d = decide(SnapshotBuilder().running_tasks(3).cpu(80.25).param("cpu-high", 72.5).build())
        # 80.25 rounds half to even: 80.2. 72.5 rounds to 72. ceil(3 * 80.25 / 51.25) = 5.
        self.assertEqual(d.reason, "Scale out: CPU 80.2% is over 72%; 3 -> 5 tasks.")
        self.assertEqual(d.desired, 5)

    def test_session_capacity_per_task_is_rounded_in_the_reason(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.sessions(30))
            .cpu(10.0)
            .param("session-capacity", 12.5)
            .param("session-headroom", 0.9)
            .build()
        )
        d = decide(s)
        self.assertEqual(d.reason, "Scale out: 30 sessions need 3 tasks at 11 per task; 1 -> 3 tasks.")

    def test_cpu_wins_over_memory_in_the_reason_and_both_size_the_target(self):
        d = decide(SnapshotBuilder().running_tasks(2).cpu(76.0).memory(200.0).build())
        self.assertEqual(d.desired, 7)  # memory: ceil(2 * 200 / 60) = 7
        self.assertTrue(d.reason.startswith("Scale out: CPU 76.0% is over 75%"))

    def test_missing_metrics_do_not_block_a_scale_in(self):
        s = (
            SnapshotBuilder()
            .now(2000)
            .history_cpu([(1300, 10.0), (1800, 11.0)])
            .cpu(10.0)
            .running_tasks(2)
            .build()
        )
        s.memory = None
        self.assertEqual(decide(s).desired, 1)
        s.cpu = None
        self.assertEqual(decide(s).desired, 1, "history alone is below cpu-low")

    def test_window_parameter(self):
        b = quiet_history(SnapshotBuilder().running_tasks(2)).param("scale-in-window", 900.4)
        d = decide(b.build())
        self.assertIsNone(d.desired, "history reaches back only 700 s")
        d = decide(quiet_history(SnapshotBuilder().running_tasks(2)).param("scale-in-window", -5.0).build())
        self.assertEqual(d.reason, "Scale in: utilization under 30% CPU for 0s; 2 -> 1 tasks through idle tasks.")
        huge = decide(quiet_history(SnapshotBuilder().running_tasks(2)).param("scale-in-window", 1e30).build())
        self.assertEqual(huge.reason, "Utilization is within its band.")

    def test_parameter_checks(self):
        for name, value in [("session-capacity", 0.5), ("session-headroom", 0.05), ("session-headroom", 1.5), ("session-headroom", float("nan"))]:
            with self.subTest(name=name, value=value):
                with self.assertRaisesRegex(PolicyError, "session-capacity must be >= 1"):
                    decide(SnapshotBuilder().running_tasks(1).param(name, value).build())
        # A parameter of the wrong kind falls back to its default.
        self.assertEqual(decide(SnapshotBuilder().running_tasks(1).param("cpu-high", "high").cpu(80.0).build()).desired, 2)

    def test_starting_tasks_are_not_drained(self):
        s = quiet_history(SnapshotBuilder().task(lambda t: t.starting()).task(lambda t: t.status(TaskStatus.RUNNING)).task()).build()
        self.assertEqual(decide(s).drain, [1, 2])

    def test_logs_the_tasks_it_drains_as_rust_does(self):
        def logged(b: SnapshotBuilder) -> str:
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                decide(quiet_history(b).build())
            return err.getvalue()

        two = SnapshotBuilder().task(lambda t: t.id("a1")).task(lambda t: t.sessions(1)).task(lambda t: t.id("c3").age_seconds(60))
        self.assertEqual(logged(two), "[policy info] draining 2 idle tasks: c3, a1\n")
        self.assertEqual(
            logged(SnapshotBuilder().running_tasks(8)),
            "[policy info] draining 7 idle tasks: task-0, task-1, task-2, task-3, task-4, ...\n",
        )

    def test_the_exported_policy(self):
        p = Policy()
        self.assertEqual((p.info().name, p.info().version), ("session-aware-py", "0.1.0"))
        self.assertEqual(p.decide(SnapshotBuilder().running_tasks(4).cpu(95.0).build()).desired, 8)
        # As the host calls it: tasks and history as columns, rebuilt by the export glue.
        s = quiet_history(SnapshotBuilder().task(lambda t: t.sessions(2)).running_tasks(2).task(lambda t: t.age_seconds(60)))
        self.assertEqual(p.decide(s.build_wire()), decide(s.build()))
        self.assertEqual(p.decide(s.build_wire()).drain, [3, 1, 2])
        with self.assertRaises(PolicyError):
            p.decide(SnapshotBuilder().param("memory-low", 95.0).build())


if __name__ == "__main__":
    unittest.main()
