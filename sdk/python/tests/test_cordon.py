"""Contract 0.2.0 in the Python SDK: cordoned tasks, cordon decisions, declared parameters."""

import unittest

from autoscaler_sdk import (
    DrainStep,
    ParamKind,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    PolicyError,
    cordoned_tasks,
    effective_desired,
    export_policy,
    flag_param,
    hold,
    is_cordoned,
    is_serving,
    least_loaded_tasks,
    number_param,
    param_bool,
    param_f64,
    param_str,
    scale_to,
    serving_capacity,
    serving_tasks,
    sessions_per_task,
    text_param,
    with_cordon,
    with_uncordon,
)
from autoscaler_sdk.testing import SnapshotBuilder
from autoscaler_sdk.types import from_wire, to_wire


def five_tasks():
    return (
        SnapshotBuilder()
        .task(lambda t: t.sessions(5))
        .task(lambda t: t.sessions(2))
        .task(lambda t: t.sessions(7).cordoned(1_699_999_000))
        .task(lambda t: t.sessions(2))
        .task(lambda t: t.sessions(0).starting())
        .task(lambda t: t.sessions(9))
        .build()
    )


class CordonHelpers(unittest.TestCase):
    def test_the_same_answers_as_the_rust_sdk(self):
        # sdk/src/helpers.rs: cordoned_tasks_do_not_serve_and_least_loaded_sorts_by_sessions_then_handle
        s = five_tasks()
        c = s.tasks[2]
        self.assertTrue(is_cordoned(c) and c.draining and not is_serving(c))
        self.assertEqual(c.cordoned_since, 1_699_999_000)
        self.assertEqual([t.handle for t in least_loaded_tasks(s)], [1, 3, 0, 5])
        self.assertEqual([t.handle for t in serving_tasks(s)], [0, 1, 3, 5])
        self.assertEqual([t.handle for t in cordoned_tasks(s)], [2])
        self.assertEqual(serving_capacity(s, 8), 15)
        self.assertEqual(serving_capacity(s, 0), 0)
        self.assertEqual([d.step for d in s.drains], [DrainStep.CORDONED])
        self.assertEqual(s.drains[0].elapsed_seconds, s.now - 1_699_999_000)
        self.assertEqual(effective_desired(s), 5)
        self.assertEqual(sessions_per_task(s), 18 / 4)

    def test_the_cordon_crosses_the_wire_in_its_column_and_mark(self):
        s = five_tasks()
        w = to_wire(s)
        self.assertEqual(w.tasks.marks[2], 2 | 4)
        self.assertEqual(w.tasks.cordoned_since, [0, 0, 1_699_999_000, 0, 0, 0])
        self.assertEqual(from_wire(w), s)
        # The column counts only under the mark.
        w.tasks.cordoned_since[0] = 55
        self.assertIsNone(from_wire(w).tasks[0].cordoned_since)

    def test_decision_builders(self):
        d = with_uncordon(with_cordon(scale_to(3, "consolidate"), [1, 2]), iter([4]))
        self.assertEqual((d.desired, d.cordon, d.uncordon, d.reason), (3, [1, 2], [4], "consolidate"))
        h = hold("x")
        self.assertEqual((h.drain, h.cordon, h.uncordon), ([], [], []))

    def test_the_export_checks_cordon_handles(self):
        p = export_policy(lambda s: with_cordon(hold("x"), [-1]), name="t", version="1")()
        with self.assertRaisesRegex(PolicyError, "decision.cordon must hold task handles"):
            p.decide(SnapshotBuilder().build())
        q = export_policy(lambda s: with_uncordon(hold("x"), ["a"]), name="t", version="1")()
        with self.assertRaisesRegex(PolicyError, "decision.uncordon must hold task handles"):
            q.decide(SnapshotBuilder().build())


class DeclaredParams(unittest.TestCase):
    specs = [
        number_param("buffer-slots", 10, min=0, max=500, doc="Free slots."),
        flag_param("phases", False),
        text_param("mode", "fast", doc="How."),
        number_param("utc-offset", None, min=-12),
    ]

    def test_info_carries_the_declarations(self):
        p = export_policy(lambda s: hold("x"), name="t", version="1", params=self.specs)()
        info = p.info()
        self.assertEqual([s.name for s in info.params], ["buffer-slots", "phases", "mode", "utc-offset"])
        b = info.params[0]
        self.assertEqual((b.kind, b.default, b.min, b.max, b.doc),
                         (ParamKind.NUMBER, ParamValue_Number(10.0), 0.0, 500.0, "Free slots."))
        self.assertEqual(info.params[1].default, ParamValue_Flag(False))
        self.assertEqual(info.params[2].default, ParamValue_Text("fast"))
        self.assertEqual((info.params[3].default, info.params[3].min, info.params[3].max), (None, -12.0, None))

    def test_the_builder_fills_defaults_like_the_host(self):
        s = SnapshotBuilder().param("buffer-slots", 25).declared(self.specs).build()
        self.assertEqual(param_f64(s, "buffer-slots"), 25.0)
        self.assertEqual(param_bool(s, "phases"), False)
        self.assertEqual(param_str(s, "mode"), "fast")
        self.assertIsNone(param_f64(s, "utc-offset"))
        self.assertEqual(len(s.params), 3)


if __name__ == "__main__":
    unittest.main()
