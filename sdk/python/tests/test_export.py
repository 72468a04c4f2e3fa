"""The export glue: the exported class checks decisions and turns failures into policy faults."""

import unittest

from autoscaler_sdk import Decision, PolicyError, export_policy, hold, scale_to
from autoscaler_sdk.testing import SnapshotBuilder


class ExportTest(unittest.TestCase):
    def export(self, decide):
        return export_policy(decide, name="t", version="1.2.3")()

    def test_info_and_a_good_decision(self):
        p = self.export(lambda s: scale_to(s.desired + 1, "up", drain=[0]))
        self.assertEqual((p.info().name, p.info().version), ("t", "1.2.3"))
        d = p.decide(SnapshotBuilder().running_tasks(2).build())
        self.assertEqual(d, Decision(desired=3, drain=[0], cordon=[], uncordon=[], reason="up"))
        q = self.export(lambda s: hold("steady"))
        self.assertEqual(q.decide(SnapshotBuilder().build()), Decision(desired=None, drain=[], cordon=[], uncordon=[], reason="steady"))

    def test_policy_error_is_a_fault_with_its_message(self):
        def refuse(s):
            raise PolicyError("bad parameter x")

        with self.assertRaisesRegex(PolicyError, "^bad parameter x$"):
            self.export(refuse).decide(SnapshotBuilder().build())

    def test_any_exception_is_a_fault_naming_its_type(self):
        with self.assertRaisesRegex(PolicyError, "^ZeroDivisionError: "):
            self.export(lambda s: 1 / 0).decide(SnapshotBuilder().build())

    def test_malformed_decisions_are_refused(self):
        cases = [
            (lambda s: None, "not a Decision"),
            (lambda s: scale_to(2.5, "x"), "round it"),
            (lambda s: scale_to(-1, "x"), "desired"),
            (lambda s: scale_to(2**32, "x"), "desired"),
            (lambda s: scale_to(True, "x"), "desired"),
            (lambda s: scale_to(1, "x", drain=["task-1"]), "drain"),
            (lambda s: scale_to(1, None), "reason"),
        ]
        for decide, message in cases:
            with self.subTest(message=message):
                with self.assertRaisesRegex(PolicyError, message):
                    self.export(decide).decide(SnapshotBuilder().build())


if __name__ == "__main__":
    unittest.main()
