"""The contract's types as they cross the boundary (`wit/0.2.0/policy.wit`, package
`autoscaler:policy@0.2.0`): tasks and history arrive as columns of plain
numbers (`TaskColumns`, `HistoryColumns`). Policies see records instead
(`autoscaler_sdk.types`), rebuilt from the columns by the export glue.

Inside a component built by componentize-py these are the generated bindings'
own classes (`wit_world.imports.types`), so a policy compares
`task.status == TaskStatus.RUNNING` against exactly what the host sent.

Outside a component (plain `python3 -m unittest`) the bindings cannot be
imported, so this module defines the same classes: the same names, fields
(`list<u8>` as `bytes`, as componentize-py maps it), enum members and values,
and the same variant case classes. The test `tests/test_types.py` checks them
against the WIT file and the generated bindings, so they cannot drift.
"""

from __future__ import annotations

try:  # Only a componentize-py build has this module.
    import componentize_py_runtime  # noqa: F401

    IN_COMPONENT = True
except ImportError:
    IN_COMPONENT = False

if IN_COMPONENT:
    from wit_world.imports.types import (  # type: ignore[import-not-found]  # noqa: F401
        Decision,
        Drain,
        DrainStep,
        HistoryColumns,
        Param,
        ParamValue,
        ParamValue_Flag,
        ParamValue_Number,
        ParamValue_Text,
        Snapshot,
        TargetHealth,
        TaskColumns,
        TaskStatus,
    )
    from wit_world.exports.policy import ParamKind, ParamSpec, PolicyInfo  # type: ignore[import-not-found]  # noqa: F401
else:
    from dataclasses import dataclass
    from enum import Enum
    from typing import List, Optional, Union

    class TaskStatus(Enum):
        """The lifecycle of an ECS task, as ECS reports its last status."""

        PROVISIONING = 0
        PENDING = 1
        ACTIVATING = 2
        RUNNING = 3
        DEACTIVATING = 4
        STOPPING = 5
        DEPROVISIONING = 6
        STOPPED = 7

    class TargetHealth(Enum):
        """The health of a task's target in the service's load balancer target group."""

        UNREGISTERED = 0
        INITIAL = 1
        HEALTHY = 2
        UNHEALTHY = 3
        DRAINING = 4
        UNKNOWN = 5

    @dataclass
    class TaskColumns:
        """The service's tasks, as columns: element `i` of every list describes the task whose handle is `i`."""

        status: bytes
        health: bytes
        age_seconds: List[int]
        sessions: List[int]
        marks: bytes
        cordoned_since: List[int]
        cpu: List[float]
        memory: List[float]

    class DrainStep(Enum):
        """The steps of the host's drain workflow for one task."""

        PROTECTING = 0
        DEREGISTERING = 1
        WAITING = 2
        RECHECKING = 3
        SCALING_IN = 4
        CONFIRMING = 5
        CORDONED = 6

    @dataclass
    class Drain:
        """A drain workflow in flight."""

        handle: int
        step: DrainStep
        elapsed_seconds: int

    @dataclass
    class HistoryColumns:
        """Summaries of earlier ticks, as columns: element `i` of every list describes the `i`-th, oldest first."""

        at: List[int]
        desired: List[int]
        running: List[int]
        cpu: List[float]
        memory: List[float]
        sessions: List[int]

    @dataclass
    class ParamValue_Number:  # noqa: N801 (the bindings' name)
        """A number."""

        value: float

    @dataclass
    class ParamValue_Flag:  # noqa: N801
        """A true/false switch."""

        value: bool

    @dataclass
    class ParamValue_Text:  # noqa: N801
        """Free text."""

        value: str

    ParamValue = Union[ParamValue_Number, ParamValue_Flag, ParamValue_Text]

    @dataclass
    class Param:
        """One policy parameter from the host's config."""

        name: str
        value: ParamValue

    @dataclass
    class Snapshot:
        """Everything the host knows about one service at one tick."""

        cluster: str
        service: str
        now: int
        desired: int
        running: int
        pending: int
        min: int
        max: int
        cpu: Optional[float]
        memory: Optional[float]
        sessions_known: bool
        tasks: TaskColumns
        drains: List[Drain]
        history: HistoryColumns
        params: List[Param]

    @dataclass
    class Decision:
        """What the policy wants done."""

        desired: Optional[int]
        drain: List[int]
        cordon: List[int]
        uncordon: List[int]
        reason: str

    class ParamKind(Enum):
        """The type of a declared parameter."""

        NUMBER = 0
        FLAG = 1
        TEXT = 2

    @dataclass
    class ParamSpec:
        """One parameter the policy reads from the service's `[params]`."""

        name: str
        kind: ParamKind
        default: Optional[ParamValue]
        min: Optional[float]
        max: Optional[float]
        doc: str

    @dataclass
    class PolicyInfo:
        """A policy's name and version, shown in logs and decision records, and the parameters it reads."""

        name: str
        version: str
        params: List[ParamSpec]
