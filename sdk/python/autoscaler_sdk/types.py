"""The contract's types as a policy sees them.

Tasks and history cross the sandbox boundary as columns of plain numbers
(`autoscaler_sdk.wire`), which the host copies in bulk. A policy sees one
`Task` per task and one `TickSummary` per earlier tick instead, with the same
fields and values as the Rust SDK's: `from_wire` rebuilds them inside the
component, in the export glue. Every other type (enums, `Drain`, `Param`,
`Decision`, ...) is the contract's own, re-exported from `wire`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from . import rust, wire
from .wire import (  # noqa: F401: re-exported
    IN_COMPONENT,
    Decision,
    Drain,
    DrainStep,
    Param,
    ParamKind,
    ParamSpec,
    ParamValue,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    PolicyInfo,
    TargetHealth,
    TaskStatus,
)


@dataclass
class Task:
    """One task of the service."""

    handle: int
    """An opaque handle for this task, valid for this call only (its index in `Snapshot.tasks`)."""
    status: TaskStatus
    """The task's last known status."""
    health: TargetHealth
    """The health of the task's load balancer target."""
    age_seconds: int
    """Seconds since the task started, or since it was created if it has not started yet."""
    protected: bool
    """Whether ECS scale-in protection is on for the task."""
    sessions: int
    """Sessions active on the task. Meaningful only when the snapshot's `sessions_known` is true."""
    cpu: Optional[float]
    """The task's CPU utilization in percent of its reservation, when known."""
    memory: Optional[float]
    """The task's memory utilization in percent of its reservation, when known."""
    draining: bool
    """Whether the task is already being drained by the host (a cordoned task is too)."""
    cordoned_since: Optional[int] = None
    """When the task was cordoned, in seconds, if it is: it takes no new sessions, keeps its own, and is stopped when the last one ends."""


@dataclass
class TickSummary:
    """A summary of one earlier tick, for trends."""

    at: int
    """When the tick ran, in seconds since the Unix epoch (or since the simulation began)."""
    desired: int
    """The desired count at that tick."""
    running: int
    """The running count at that tick."""
    cpu: Optional[float]
    """Service CPU utilization in percent, when known."""
    memory: Optional[float]
    """Service memory utilization in percent, when known."""
    sessions: Optional[int]
    """Total active sessions, when known."""


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
    tasks: List[Task]
    """Every task of the service that has not stopped; `tasks[i].handle == i`."""
    drains: List[Drain]
    history: List[TickSummary]
    """Summaries of earlier ticks, oldest first."""
    params: List[Param]


# A byte to its enum case, for every byte: like the Rust SDK, a status the
# contract does not know reads as provisioning and a health as unknown.
_STATUS = tuple(TaskStatus) + (TaskStatus.PROVISIONING,) * (256 - len(TaskStatus))
_HEALTH = tuple(TargetHealth) + (TargetHealth.UNKNOWN,) * (256 - len(TargetHealth))
_HEALTH_UNKNOWN = TargetHealth.UNKNOWN.value
_NAN = float("nan")


def _padded(column, n: int, fill) -> list:
    """The column, padded with `fill` to `n` elements: a short column reads as defaults."""
    return column if len(column) >= n else list(column) + [fill] * (n - len(column))


# The snapshot's scalar fields, the same in both forms.
_SCALARS = (
    "cluster",
    "service",
    "now",
    "desired",
    "running",
    "pending",
    "min",
    "max",
    "cpu",
    "memory",
    "sessions_known",
)


def _with_scalars(cls, s, **columns):
    """A `cls` snapshot with `s`'s scalar fields and the given task, drain,
    history and param fields (which differ between the two forms)."""
    return cls(**{name: getattr(s, name) for name in _SCALARS}, **columns)


def from_wire(s: wire.Snapshot) -> Snapshot:
    """The policy's view of a snapshot that crossed the boundary as columns.

    A task's handle is its index. NaN (CPU, memory) and a negative or
    out-of-range session total read as None. The number of tasks is the
    length of the status column and the number of ticks that of `at`; a
    shorter column reads as zeros and None (the host never sends one).
    """
    t = s.tasks
    n = len(t.status)
    tasks = [
        # Positional: this runs once per task on every call.
        Task(
            handle,
            _STATUS[status],
            _HEALTH[health],
            age,
            marks & 1 != 0,
            sessions,
            None if cpu != cpu else cpu,
            None if memory != memory else memory,
            marks & 2 != 0,
            since if marks & 4 else None,
        )
        for handle, status, health, age, sessions, marks, since, cpu, memory in zip(
            range(n),
            t.status,
            _padded(t.health, n, _HEALTH_UNKNOWN),
            _padded(t.age_seconds, n, 0),
            _padded(t.sessions, n, 0),
            _padded(t.marks, n, 0),
            _padded(t.cordoned_since, n, 0),
            _padded(t.cpu, n, _NAN),
            _padded(t.memory, n, _NAN),
        )
    ]
    h = s.history
    m = len(h.at)
    history = [
        TickSummary(
            at,
            desired,
            running,
            None if cpu != cpu else cpu,
            None if memory != memory else memory,
            sessions if 0 <= sessions <= rust.U32_MAX else None,
        )
        for at, desired, running, cpu, memory, sessions in zip(
            h.at,
            _padded(h.desired, m, 0),
            _padded(h.running, m, 0),
            _padded(h.cpu, m, _NAN),
            _padded(h.memory, m, _NAN),
            _padded(h.sessions, m, -1),
        )
    ]
    return _with_scalars(Snapshot, s, tasks=tasks, drains=s.drains, history=history, params=s.params)


def to_wire(s: Snapshot) -> wire.Snapshot:
    """The snapshot as the host sends it: tasks and history as columns.

    For tests and tools; `from_wire(to_wire(s)) == s` for any snapshot whose
    task handles are their indices and whose figures are not NaN. Raises
    ValueError for a task whose handle is not its index.
    """
    for i, task in enumerate(s.tasks):
        if task.handle != i:
            raise ValueError(f"task {i} has handle {task.handle}: on the wire a task's handle is its index")

    def nan(v: Optional[float]) -> float:
        return _NAN if v is None else v

    tasks = wire.TaskColumns(
        status=bytes(t.status.value for t in s.tasks),
        health=bytes(t.health.value for t in s.tasks),
        age_seconds=[t.age_seconds for t in s.tasks],
        sessions=[t.sessions for t in s.tasks],
        marks=bytes(
            int(t.protected) | int(t.draining) << 1 | int(t.cordoned_since is not None) << 2 for t in s.tasks
        ),
        cordoned_since=[t.cordoned_since or 0 for t in s.tasks],
        cpu=[nan(t.cpu) for t in s.tasks],
        memory=[nan(t.memory) for t in s.tasks],
    )
    history = wire.HistoryColumns(
        at=[h.at for h in s.history],
        desired=[h.desired for h in s.history],
        running=[h.running for h in s.history],
        cpu=[nan(h.cpu) for h in s.history],
        memory=[nan(h.memory) for h in s.history],
        sessions=[-1 if h.sessions is None else h.sessions for h in s.history],
    )
    return _with_scalars(
        wire.Snapshot, s, tasks=tasks, drains=list(s.drains), history=history, params=list(s.params)
    )
