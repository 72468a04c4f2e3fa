"""Snapshots for unit tests, built in plain Python (no WebAssembly involved).

The same builder as the Rust SDK's `testing::SnapshotBuilder`, with the same
defaults, so a test ported from Rust builds the same snapshot:

    s = (SnapshotBuilder()
         .cpu(82.5)
         .task(lambda t: t.sessions(4))
         .task(lambda t: t.sessions(0).id("idle-task"))
         .param("cpu-high", 75.0)
         .build())

`build()` gives the snapshot as a policy sees it (tasks and history as
records); `build_wire()` gives it as the host sends it (as columns), for
tests of an exported policy through the export glue.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

from . import host, wire
from .types import (
    Drain,
    DrainStep,
    Param,
    ParamSpec,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    Snapshot,
    TargetHealth,
    Task,
    TaskStatus,
    TickSummary,
    to_wire,
)


class TaskBuilder:
    """Builds one task of a snapshot; see `SnapshotBuilder.task`."""

    def __init__(self, handle: int) -> None:
        self._task = Task(
            handle=handle,
            status=TaskStatus.RUNNING,
            health=TargetHealth.HEALTHY,
            age_seconds=3600,
            protected=False,
            sessions=0,
            cpu=None,
            memory=None,
            draining=False,
        )
        self._id: Optional[str] = None

    def sessions(self, n: int) -> "TaskBuilder":
        """Sets the active session count (default 0)."""
        self._task.sessions = n
        return self

    def age_seconds(self, s: int) -> "TaskBuilder":
        """Sets the age in seconds (default 3600)."""
        self._task.age_seconds = s
        return self

    def id(self, task_id: str) -> "TaskBuilder":
        """Sets the ECS task ID (default `task-N`)."""
        self._id = task_id
        return self

    def status(self, status: TaskStatus) -> "TaskBuilder":
        """Sets the status (default running)."""
        self._task.status = status
        return self

    def starting(self) -> "TaskBuilder":
        """Marks the task as still starting: pending, target initial, age 30 s."""
        self._task.status = TaskStatus.PENDING
        self._task.health = TargetHealth.INITIAL
        self._task.age_seconds = 30
        return self

    def health(self, health: TargetHealth) -> "TaskBuilder":
        """Sets the target health (default healthy)."""
        self._task.health = health
        return self

    def protected(self) -> "TaskBuilder":
        """Turns scale-in protection on."""
        self._task.protected = True
        return self

    def draining(self) -> "TaskBuilder":
        """Marks the task as being drained; the snapshot gets a matching drain in flight."""
        self._task.draining = True
        self._task.health = TargetHealth.DRAINING
        return self

    def cordoned(self, since: int) -> "TaskBuilder":
        """Marks the task as cordoned since `since` (seconds): it is draining too, and the
        snapshot gets a matching drain in flight at step CORDONED. The target health is
        left as set (an app-level cordon keeps the target healthy)."""
        self._task.draining = True
        self._task.cordoned_since = since
        return self

    def cpu(self, cpu: float) -> "TaskBuilder":
        """Sets the task's CPU utilization."""
        self._task.cpu = cpu
        return self

    def memory(self, memory: float) -> "TaskBuilder":
        """Sets the task's memory utilization."""
        self._task.memory = memory
        return self


_STARTING = (TaskStatus.PROVISIONING, TaskStatus.PENDING, TaskStatus.ACTIVATING)


class SnapshotBuilder:
    """Builds a Snapshot with the Rust builder's defaults.

    Cluster `test`, service `svc`, now 1_700_000_000, min 1, max 10, CPU 50 %,
    memory 40 %, session data fresh, and the desired and running counts
    derived from the tasks added.
    """

    def __init__(self) -> None:
        self._s = Snapshot(
            cluster="test",
            service="svc",
            now=1_700_000_000,
            desired=0,
            running=0,
            pending=0,
            min=1,
            max=10,
            cpu=50.0,
            memory=40.0,
            sessions_known=True,
            tasks=[],
            drains=[],
            history=[],
            params=[],
        )
        self._ids: List[str] = []
        self._desired: Optional[int] = None

    def service(self, name: str) -> "SnapshotBuilder":
        """Sets the service name."""
        self._s.service = name
        return self

    def now(self, now: int) -> "SnapshotBuilder":
        """Sets the tick's time in seconds."""
        self._s.now = now
        return self

    def min(self, n: int) -> "SnapshotBuilder":
        """Sets the minimum task count."""
        self._s.min = n
        return self

    def max(self, n: int) -> "SnapshotBuilder":
        """Sets the maximum task count."""
        self._s.max = n
        return self

    def desired(self, n: int) -> "SnapshotBuilder":
        """Overrides the desired count (by default, the number of tasks added)."""
        self._desired = n
        return self

    def cpu(self, cpu: float) -> "SnapshotBuilder":
        """Sets the service CPU utilization."""
        self._s.cpu = cpu
        return self

    def memory(self, memory: float) -> "SnapshotBuilder":
        """Sets the service memory utilization."""
        self._s.memory = memory
        return self

    def no_metrics(self) -> "SnapshotBuilder":
        """Removes both service metrics, as when CloudWatch has no datapoint."""
        self._s.cpu = None
        self._s.memory = None
        return self

    def sessions_unknown(self) -> "SnapshotBuilder":
        """Marks the session counts as unknown (the session store could not be read)."""
        self._s.sessions_known = False
        return self

    def task(self, shape: Callable[[TaskBuilder], TaskBuilder] = lambda t: t) -> "SnapshotBuilder":
        """Adds a task shaped by `shape`, starting from a running, healthy, idle task."""
        handle = len(self._s.tasks)
        built = shape(TaskBuilder(handle))
        self._ids.append(built._id if built._id is not None else f"task-{handle}")
        self._s.tasks.append(built._task)
        return self

    def running_tasks(self, n: int) -> "SnapshotBuilder":
        """Adds `n` running, healthy, idle tasks."""
        for _ in range(n):
            self.task()
        return self

    def history_cpu(self, samples: Sequence[Tuple[int, float]]) -> "SnapshotBuilder":
        """Adds earlier ticks with the given `(at, cpu)` pairs; counts copy the current ones."""
        for at, cpu in samples:
            self._s.history.append(
                TickSummary(at=at, desired=0, running=0, cpu=cpu, memory=None, sessions=None)
            )
        return self

    def history(self, tick: TickSummary) -> "SnapshotBuilder":
        """Adds an earlier tick."""
        self._s.history.append(tick)
        return self

    def param(self, name: str, value: Union[float, int, bool, str]) -> "SnapshotBuilder":
        """Sets a policy parameter: a number, a bool or a string."""
        if isinstance(value, bool):
            v = ParamValue_Flag(value)
        elif isinstance(value, (int, float)):
            v = ParamValue_Number(float(value))
        elif isinstance(value, str):
            v = ParamValue_Text(value)
        else:
            raise TypeError(f"a parameter is a number, a bool or a str, not {type(value).__name__}")
        self._s.params.append(Param(name=name, value=v))
        return self

    def declared(self, specs: Sequence[ParamSpec]) -> "SnapshotBuilder":
        """Adds the defaults of the declared parameters not set yet, as the host does
        when it loads a policy. Call it after `param`."""
        for spec in specs:
            if spec.default is not None and not any(p.name == spec.name for p in self._s.params):
                self._s.params.append(Param(name=spec.name, value=spec.default))
        return self

    def build(self) -> Snapshot:
        """Finishes the snapshot and registers its task IDs for `host.task_id`."""
        s = self._s
        s.running = sum(1 for t in s.tasks if t.status == TaskStatus.RUNNING)
        s.pending = sum(1 for t in s.tasks if t.status in _STARTING)
        s.desired = self._desired if self._desired is not None else len(s.tasks)
        for t in s.tasks:
            if t.cordoned_since is not None:
                elapsed = min(max(s.now - t.cordoned_since, 0), 0xFFFFFFFF)
                s.drains.append(Drain(handle=t.handle, step=DrainStep.CORDONED, elapsed_seconds=elapsed))
            elif t.draining:
                s.drains.append(Drain(handle=t.handle, step=DrainStep.WAITING, elapsed_seconds=60))
        for h in s.history:
            if h.desired == 0:
                h.desired = s.desired
                h.running = s.running
        host._native_task_ids.clear()
        host._native_task_ids.update(enumerate(self._ids))
        return s

    def build_wire(self) -> wire.Snapshot:
        """Finishes the snapshot as the host sends it: tasks and history as columns."""
        return to_wire(self.build())
