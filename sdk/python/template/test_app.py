"""Unit tests for the policy, in plain Python, with the SDK installed: python3 -m unittest"""

import unittest

from app import decide
from autoscaler_sdk import PolicyError
from autoscaler_sdk.testing import SnapshotBuilder


class PolicyTest(unittest.TestCase):
    def test_scales_out_when_hot(self):
        d = decide(SnapshotBuilder().running_tasks(3).cpu(90.0).build())
        self.assertEqual(d.desired, 4)
        self.assertEqual(d.reason, "CPU 90.0% is over 75%; 3 -> 4 tasks.")

    def test_scales_in_through_an_idle_task_after_a_quiet_window(self):
        s = (
            SnapshotBuilder()
            .now(1000)
            .history_cpu([(600, 12.0), (800, 15.0)])
            .cpu(10.0)
            .task(lambda t: t.sessions(4))
            .task(lambda t: t.sessions(0).age_seconds(120))
            .build()
        )
        d = decide(s)
        self.assertEqual(d.desired, 1)
        self.assertEqual(d.drain, [1])

    def test_holds_without_a_quiet_window(self):
        s = SnapshotBuilder().now(1000).history_cpu([(900, 12.0)]).cpu(10.0).running_tasks(2).build()
        self.assertIsNone(decide(s).desired)

    def test_holds_when_sessions_are_unknown(self):
        s = SnapshotBuilder().now(1000).history_cpu([(600, 12.0)]).cpu(10.0).running_tasks(2).sessions_unknown().build()
        self.assertIsNone(decide(s).desired)

    def test_never_drains_a_busy_task(self):
        s = SnapshotBuilder().now(1000).history_cpu([(600, 12.0)]).cpu(10.0).task(lambda t: t.sessions(1)).task(lambda t: t.sessions(2)).build()
        self.assertIsNone(decide(s).desired)

    def test_refuses_an_inverted_band(self):
        with self.assertRaises(PolicyError):
            decide(SnapshotBuilder().param("cpu-low", 80.0).build())


if __name__ == "__main__":
    unittest.main()
