"""The plain-Python types must be the bindings componentize-py generates from wit/.

Reads wit/policy.wit and checks every record, enum and variant of the types
interface (and `policy-info`) against autoscaler_sdk.wire: names, field order,
field types, enum members and their values. Then checks that the records a
policy sees (autoscaler_sdk.types: Task, TickSummary, Snapshot) are those the
columns describe, with the fields the contract's records had before it
switched to columns.
"""

import dataclasses
import re
import typing
import unittest
from enum import Enum
from pathlib import Path

from autoscaler_sdk import build, types, wire

WIT = Path(__file__).resolve().parents[3] / "wit" / "0.2.0" / "policy.wit"


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def snake(name: str) -> str:
    return name.replace("-", "_")


def parse_wit(text: str):
    """Records, enums and variants of a WIT file, as {kind: {name: [(item, type)]}}."""
    text = re.sub(r"//[^\n]*", "", text)
    found = {"record": {}, "enum": {}, "variant": {}}
    for kind, name, body in re.findall(r"\b(record|enum|variant)\s+([\w-]+)\s*\{([^}]*)\}", text):
        items = []
        for item in filter(None, (i.strip() for i in body.split(","))):
            if kind == "record":
                field, ty = (x.strip() for x in item.split(":", 1))
                items.append((field, ty))
            elif kind == "variant":
                m = re.fullmatch(r"([\w-]+)\s*(?:\((.*)\))?", item)
                items.append((m.group(1), m.group(2)))
            else:
                items.append((item, None))
        found[kind][name] = items
    return found


def python_type(wit_type: str) -> str:
    wit_type = wit_type.replace(" ", "")
    if wit_type == "list<u8>":
        return "bytes"  # componentize-py's mapping
    m = re.fullmatch(r"(option|list)<(.+)>", wit_type)
    if m:
        return f"{'Optional' if m.group(1) == 'option' else 'List'}[{python_type(m.group(2))}]"
    return {"u8": "int", "u32": "int", "u64": "int", "s64": "int", "f64": "float", "bool": "bool", "string": "str"}.get(
        wit_type, pascal(wit_type)
    )


class TypesMatchWit(unittest.TestCase):
    wit = parse_wit(WIT.read_text())

    def test_the_wit_was_parsed(self):
        self.assertIn("snapshot", self.wit["record"])
        self.assertIn("task-status", self.wit["enum"])
        self.assertIn("param-value", self.wit["variant"])

    def test_records(self):
        for name, fields in self.wit["record"].items():
            with self.subTest(record=name):
                cls = getattr(wire, pascal(name))
                ours = [(f.name, f.type) for f in dataclasses.fields(cls)]
                self.assertEqual(ours, [(snake(f), python_type(t)) for f, t in fields])

    def test_enums(self):
        for name, cases in self.wit["enum"].items():
            if name == "level":  # the host interface's log level: only the log functions use it
                continue
            with self.subTest(enum=name):
                cls = getattr(wire, pascal(name))
                self.assertIs(cls, getattr(types, pascal(name)))
                self.assertTrue(issubclass(cls, Enum))
                self.assertEqual(
                    [(m.name, m.value) for m in cls],
                    [(snake(c).upper(), i) for i, (c, _) in enumerate(cases)],
                )

    def test_variants(self):
        for name, cases in self.wit["variant"].items():
            with self.subTest(variant=name):
                members = typing.get_args(getattr(wire, pascal(name)))
                self.assertEqual(
                    [m.__name__ for m in members], [f"{pascal(name)}_{pascal(c)}" for c, _ in cases]
                )
                for member, (_, payload) in zip(members, cases):
                    (field,) = dataclasses.fields(member)
                    self.assertEqual((field.name, field.type), ("value", python_type(payload)))


class PolicyViewMatchesColumns(unittest.TestCase):
    """Task, TickSummary and Snapshot: what a policy sees, rebuilt from the columns."""

    wit = parse_wit(WIT.read_text())

    def fields(self, cls):
        return [(f.name, f.type) for f in dataclasses.fields(cls)]

    def test_task_is_the_former_task_record(self):
        self.assertEqual(
            self.fields(types.Task),
            [
                ("handle", "int"),
                ("status", "TaskStatus"),
                ("health", "TargetHealth"),
                ("age_seconds", "int"),
                ("protected", "bool"),
                ("sessions", "int"),
                ("cpu", "Optional[float]"),
                ("memory", "Optional[float]"),
                ("draining", "bool"),
                ("cordoned_since", "Optional[int]"),
            ],
        )
        # Every column but the marks (protected, draining) is a field of the same name.
        columns = [snake(f) for f, _ in self.wit["record"]["task-columns"]]
        self.assertEqual(sorted(set(columns) - {"marks"} | {"handle", "protected", "draining"}),
                         sorted(f for f, _ in self.fields(types.Task)))

    def test_tick_summary_has_one_field_per_column(self):
        self.assertEqual(
            self.fields(types.TickSummary),
            [
                ("at", "int"),
                ("desired", "int"),
                ("running", "int"),
                ("cpu", "Optional[float]"),
                ("memory", "Optional[float]"),
                ("sessions", "Optional[int]"),
            ],
        )
        self.assertEqual([snake(f) for f, _ in self.wit["record"]["history-columns"]],
                         [f for f, _ in self.fields(types.TickSummary)])

    def test_snapshot_is_the_wire_snapshot_with_records(self):
        expected = [
            (f, {"TaskColumns": "List[Task]", "HistoryColumns": "List[TickSummary]"}.get(t, t))
            for f, t in self.fields(wire.Snapshot)
        ]
        self.assertEqual(self.fields(types.Snapshot), expected)

    def test_every_other_type_is_the_contracts_own(self):
        for name in ["Decision", "Drain", "DrainStep", "Param", "ParamValue_Number", "PolicyInfo", "TaskStatus",
                     "ParamKind", "ParamSpec"]:
            with self.subTest(name=name):
                self.assertIs(getattr(types, name), getattr(wire, name))


BINDINGS = Path(__file__).resolve().parents[3] / "target" / "polyglot" / "bindings" / "python"


@unittest.skipUnless((BINDINGS / "wit_world").is_dir(), "no generated bindings (scripts/build-polyglot makes them)")
class TypesMatchGeneratedBindings(unittest.TestCase):
    """When scripts/build-polyglot has generated the bindings, compare with them directly."""

    def test_same_classes_fields_and_members(self):
        import importlib.util
        import sys

        sys.path.insert(0, str(BINDINGS))
        try:
            spec = importlib.util.spec_from_file_location("_generated_types", BINDINGS / "wit_world" / "imports" / "types.py")
            generated = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(generated)
        finally:
            sys.path.remove(str(BINDINGS))
        names = [n for n, v in vars(generated).items() if isinstance(v, type) and v.__module__ == generated.__name__]
        self.assertIn("Snapshot", names)
        for name in names:
            with self.subTest(name=name):
                ours, theirs = getattr(wire, name), getattr(generated, name)
                if issubclass(theirs, Enum):
                    self.assertEqual([(m.name, m.value) for m in ours], [(m.name, m.value) for m in theirs])
                else:
                    self.assertEqual(
                        [(n, render(t)) for n, t in typing.get_type_hints(ours).items()],
                        [(n, render(t)) for n, t in typing.get_type_hints(theirs).items()],
                    )


def render(t) -> str:
    """A type annotation as text, without module paths, e.g. `Optional[List[Task]]`."""
    args = typing.get_args(t)
    origin = typing.get_origin(t)
    if origin is typing.Union and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return f"Optional[{render(inner)}]"
    if origin is typing.Union:
        return f"Union[{', '.join(render(a) for a in args)}]"
    if origin is list:
        return f"List[{render(args[0])}]"
    return t.__name__


class PackagedContractTest(unittest.TestCase):
    def test_the_packages_copy_of_the_contract_is_wit_0_2_0(self):
        """autoscaler_sdk/wit is what `python -m autoscaler_sdk.build` builds against."""
        self.assertEqual((build.wit_dir() / "policy.wit").read_text(), WIT.read_text())


if __name__ == "__main__":
    unittest.main()
