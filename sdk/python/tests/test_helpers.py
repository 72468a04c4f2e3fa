"""The helpers, with the Rust SDK's own tests (sdk/src/helpers.rs) ported one for one."""

import unittest

from autoscaler_sdk import (
    Decision,
    Param,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    TaskStatus,
    cpu_below_for,
    cpu_trend,
    cpu_window,
    effective_desired,
    hold,
    idle_tasks,
    memory_window,
    param_bool,
    param_f64,
    param_str,
    scale_to,
    serving_tasks,
    sessions_per_task,
    task_id,
    total_sessions,
    trend,
    utilization,
    with_drain,
)
from autoscaler_sdk.testing import SnapshotBuilder
from autoscaler_sdk.types import TickSummary


class RustSdkTests(unittest.TestCase):
    """The tests of sdk/src/helpers.rs, ported."""

    def test_idle_tasks_skip_busy_draining_and_starting_tasks(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.sessions(2))
            .task(lambda t: t.sessions(0).age_seconds(500))
            .task(lambda t: t.sessions(0).age_seconds(100))
            .task(lambda t: t.sessions(0).draining())
            .task(lambda t: t.sessions(0).starting())
            .build()
        )
        self.assertEqual([t.handle for t in idle_tasks(s)], [s.tasks[2].handle, s.tasks[1].handle])
        self.assertEqual(total_sessions(s), 2)
        self.assertEqual(sessions_per_task(s), 2.0 / 3.0)

    def test_trend_fits_a_line_through_history(self):
        s = SnapshotBuilder().now(600).history_cpu([(0, 10.0), (60, 20.0), (120, 30.0)]).cpu(40.0).build()
        # Only the last three minutes (from t=420) count: none of history, so one sample.
        self.assertIsNone(cpu_trend(s, 180))
        t = cpu_trend(s, 600)
        self.assertEqual(t.samples, 4)
        self.assertGreater(t.per_minute, 0.0)

    def test_cpu_below_for_needs_a_covered_window(self):
        quiet = SnapshotBuilder().now(300).history_cpu([(0, 10.0), (120, 12.0), (240, 11.0)]).cpu(9.0).build()
        self.assertTrue(cpu_below_for(quiet, 20.0, 300))
        self.assertFalse(cpu_below_for(quiet, 20.0, 400), "history does not reach back 400 s")
        self.assertFalse(cpu_below_for(quiet, 11.5, 300), "one sample is above 11.5")

    def test_utilization_is_the_higher_of_cpu_and_memory(self):
        s = SnapshotBuilder().cpu(30.0).memory(55.0).build()
        self.assertEqual(utilization(s), 55.0)
        self.assertIsNone(utilization(SnapshotBuilder().no_metrics().build()))


class MoreHelperTests(unittest.TestCase):
    def test_idle_tasks_sort_is_stable(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.age_seconds(100))
            .task(lambda t: t.age_seconds(50))
            .task(lambda t: t.age_seconds(100))
            .task(lambda t: t.age_seconds(50))
            .task(lambda t: t.age_seconds(100))
            .build()
        )
        self.assertEqual([t.handle for t in idle_tasks(s)], [1, 3, 0, 2, 4])

    def test_serving_and_effective_desired(self):
        s = (
            SnapshotBuilder()
            .task(lambda t: t.sessions(1))
            .task(lambda t: t.draining())
            .task(lambda t: t.status(TaskStatus.STOPPING))
            .build()
        )
        self.assertEqual([t.handle for t in serving_tasks(s)], [0])
        self.assertEqual(s.desired, 3)
        self.assertEqual(effective_desired(s), 2)
        self.assertEqual(effective_desired(SnapshotBuilder().desired(0).task(lambda t: t.draining()).build()), 0)
        self.assertIsNone(sessions_per_task(SnapshotBuilder().task(lambda t: t.draining()).build()))

    def test_params_take_the_first_of_a_name(self):
        s = SnapshotBuilder().param("a", 2).param("a", 3.0).param("b", True).param("c", "x").build()
        self.assertEqual(s.params[0], Param("a", ParamValue_Number(2.0)))
        self.assertEqual(param_f64(s, "a"), 2.0)
        self.assertEqual(param_bool(s, "b"), True)
        self.assertEqual(param_str(s, "c"), "x")
        self.assertIsNone(param_f64(s, "b"), "a flag is not a number")
        self.assertIsNone(param_str(s, "missing"))
        s.params.insert(0, Param("a", ParamValue_Text("2")))
        self.assertIsNone(param_f64(s, "a"), "the first 'a' is text")
        self.assertIsInstance(s.params[2].value, ParamValue_Number)
        self.assertIsInstance(SnapshotBuilder().param("f", False).build().params[0].value, ParamValue_Flag)

    def test_windows_skip_missing_samples_and_include_now(self):
        s = (
            SnapshotBuilder()
            .now(1000)
            .history(TickSummary(at=100, desired=1, running=1, cpu=5.0, memory=1.0, sessions=None))
            .history(TickSummary(at=500, desired=1, running=1, cpu=None, memory=2.0, sessions=None))
            .history(TickSummary(at=900, desired=1, running=1, cpu=7.0, memory=None, sessions=None))
            .cpu(8.0)
            .memory(3.0)
            .build()
        )
        self.assertEqual(cpu_window(s, 600), [(900, 7.0), (1000, 8.0)])
        self.assertEqual(cpu_window(s, 900), [(100, 5.0), (900, 7.0), (1000, 8.0)])
        self.assertEqual(memory_window(s, 5000), [(100, 1.0), (500, 2.0), (1000, 3.0)])
        self.assertEqual(cpu_window(SnapshotBuilder().now(10).no_metrics().build(), 60), [])

    def test_cpu_below_for_without_history_or_cpu(self):
        self.assertFalse(cpu_below_for(SnapshotBuilder().cpu(1.0).build(), 50.0, 0))
        no_cpu = SnapshotBuilder().now(300).history_cpu([(0, 1.0)]).no_metrics().build()
        self.assertFalse(cpu_below_for(no_cpu, 50.0, 200), "the window holds no sample")

    def test_trend_values(self):
        t = trend([(0, 10.0), (60, 20.0), (120, 30.0)])
        self.assertEqual(t.per_minute, 10.0)
        self.assertEqual(t.samples, 3)
        self.assertIsNone(trend([(5, 1.0), (5, 2.0)]), "no spread in time")
        self.assertIsNone(trend([(5, 1.0)]))

    def test_decision_constructors(self):
        self.assertEqual(hold("why"), Decision(desired=None, drain=[], cordon=[], uncordon=[], reason="why"))
        d = scale_to(3, "up")
        self.assertEqual((d.desired, d.drain, d.reason), (3, [], "up"))
        d = with_drain(scale_to(1, "down"), iter([4, 2]))
        self.assertEqual(d.drain, [4, 2])
        self.assertEqual(scale_to(1, "x", drain=(7,)).drain, [7])

    def test_task_ids_come_from_the_builder(self):
        s = SnapshotBuilder().task(lambda t: t.id("abc")).task().build()
        self.assertEqual(task_id(s.tasks[0].handle), "abc")
        self.assertEqual(task_id(1), "task-1")
        self.assertIsNone(task_id(99))

    def test_builder_counts(self):
        s = (
            SnapshotBuilder()
            .running_tasks(2)
            .task(lambda t: t.starting())
            .task(lambda t: t.draining())
            .history_cpu([(1, 2.0)])
            .build()
        )
        self.assertEqual((s.desired, s.running, s.pending), (4, 3, 1))
        self.assertEqual([d.handle for d in s.drains], [3])
        self.assertEqual((s.history[0].desired, s.history[0].running), (4, 3))


if __name__ == "__main__":
    unittest.main()
