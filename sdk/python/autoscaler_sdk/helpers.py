"""Helpers on the contract's types, the same as the Rust SDK's (`sdk/src/helpers.rs`).

Each function follows its Rust namesake exactly (sort order, u32/u64
arithmetic, float summation order), so a Python port of a Rust policy decides
the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

from . import rust
from .types import (
    Decision,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    Snapshot,
    Task,
    TaskStatus,
    TickSummary,
)

Sample = Tuple[int, float]
"""One `(at, value)` point of a metric: seconds and percent."""


def is_serving(task: Task) -> bool:
    """Whether the task is running, not being drained and not cordoned: it takes new sessions."""
    return task.status == TaskStatus.RUNNING and not task.draining and task.cordoned_since is None


def is_cordoned(task: Task) -> bool:
    """Whether the task is cordoned: no new sessions, keeps its own, stopped when the last one ends."""
    return task.cordoned_since is not None


def is_idle(task: Task) -> bool:
    """Whether the task is serving and has no active session: a candidate to drain."""
    return is_serving(task) and task.sessions == 0


def idle_tasks(s: Snapshot) -> List[Task]:
    """Tasks that are running, not draining and carry no session, youngest first.

    The sort is stable: tasks of the same age keep their snapshot order.
    """
    return sorted((t for t in s.tasks if is_idle(t)), key=lambda t: t.age_seconds)


def serving_tasks(s: Snapshot) -> List[Task]:
    """Tasks that take new sessions (running, not draining, not cordoned), in snapshot order."""
    return [t for t in s.tasks if is_serving(t)]


def least_loaded_tasks(s: Snapshot) -> List[Task]:
    """The serving tasks, fewest sessions first, ties by handle: the cheapest to cordon first."""
    return sorted(serving_tasks(s), key=lambda t: (t.sessions, t.handle))


def cordoned_tasks(s: Snapshot) -> List[Task]:
    """The cordoned tasks, in handle order."""
    return [t for t in s.tasks if is_cordoned(t)]


def serving_capacity(s: Snapshot, per_task: int) -> int:
    """Free session slots on the serving tasks, each holding `per_task` at most (u32, saturating).

    The sum of `per_task - sessions` (0 for a task at or over it); cordoned
    and draining tasks offer none.
    """
    total = 0
    for t in serving_tasks(s):
        total = min(total + rust.saturating_sub(per_task, t.sessions), rust.U32_MAX)
    return total


def total_sessions(s: Snapshot) -> int:
    """All active sessions on the service (u32, wrapping like a release build)."""
    total = 0
    for t in s.tasks:
        total = rust.wrapping_add_u32(total, t.sessions)
    return total


def sessions_per_task(s: Snapshot) -> Optional[float]:
    """Average sessions per serving task; None when no task serves."""
    serving = serving_tasks(s)
    if not serving:
        return None
    sessions = 0
    for t in serving:
        sessions = rust.wrapping_add_u32(sessions, t.sessions)
    return float(sessions) / float(len(serving))


def utilization(s: Snapshot) -> Optional[float]:
    """The higher of service CPU and memory utilization in percent; None when both are missing."""
    if s.cpu is not None and s.memory is not None:
        return rust.fmax(s.cpu, s.memory)
    return s.cpu if s.cpu is not None else s.memory


def effective_desired(s: Snapshot) -> int:
    """The task count once the drains in flight finish: the base for a new target.

    Cordoned tasks are drains in flight, so they do not count: a policy's
    `desired` means serving tasks wanted.
    """
    return rust.saturating_sub(s.desired, len(s.drains) & rust.U32_MAX)


def _param(s: Snapshot, name: str):
    for p in s.params:
        if p.name == name:
            return p.value
    return None


def param_f64(s: Snapshot, name: str) -> Optional[float]:
    """A numeric parameter from the config, if the first one of that name is a number."""
    v = _param(s, name)
    return v.value if isinstance(v, ParamValue_Number) else None


def param_bool(s: Snapshot, name: str) -> Optional[bool]:
    """A true/false parameter from the config, if the first one of that name is a flag."""
    v = _param(s, name)
    return v.value if isinstance(v, ParamValue_Flag) else None


def param_str(s: Snapshot, name: str) -> Optional[str]:
    """A text parameter from the config, if the first one of that name is text."""
    v = _param(s, name)
    return v.value if isinstance(v, ParamValue_Text) else None


def _window(
    s: Snapshot,
    window_seconds: int,
    pick: Callable[[TickSummary], Optional[float]],
    current: Optional[float],
) -> List[Sample]:
    since = rust.saturating_sub(s.now, window_seconds)
    out: List[Sample] = []
    for h in s.history:
        if h.at >= since:
            v = pick(h)
            if v is not None:
                out.append((h.at, v))
    if current is not None:
        out.append((s.now, current))
    return out


def cpu_window(s: Snapshot, window_seconds: int) -> List[Sample]:
    """Service CPU samples from the last `window_seconds` of history plus now, oldest first.

    Ticks with no CPU figure are skipped.
    """
    return _window(s, window_seconds, lambda h: h.cpu, s.cpu)


def memory_window(s: Snapshot, window_seconds: int) -> List[Sample]:
    """Like `cpu_window`, for memory."""
    return _window(s, window_seconds, lambda h: h.memory, s.memory)


def cpu_below_for(s: Snapshot, threshold: float, window_seconds: int) -> bool:
    """Whether history covers `window_seconds` and CPU stayed below `threshold` throughout.

    Every sample of the window counts, this tick included: the hysteresis a
    scale-in wants.
    """
    covered = bool(s.history) and rust.saturating_sub(s.now, s.history[0].at) >= window_seconds
    samples = cpu_window(s, window_seconds)
    return covered and bool(samples) and all(c < threshold for _, c in samples)


@dataclass(frozen=True)
class Trend:
    """The direction of a metric over the history window."""

    per_minute: float
    """Change per minute, from a least-squares line through the samples."""
    samples: int
    """How many samples the line was fitted to."""


def trend(samples: Sequence[Sample]) -> Optional[Trend]:
    """A least-squares line through `(at, value)` samples; None with fewer than two
    samples or when they all share one time."""
    if len(samples) < 2:
        return None
    n = float(len(samples))
    t0 = samples[0][0]
    xs = [float((t - t0) & rust.U64_MAX) / 60.0 for t, _ in samples]
    mean_x = rust.fsum_seq(xs) / n
    mean_y = rust.fsum_seq(v for _, v in samples) / n
    cov = 0.0
    var = 0.0
    for x, (_, y) in zip(xs, samples):
        cov += (x - mean_x) * (y - mean_y)
        var += (x - mean_x) * (x - mean_x)
    if var > 0.0:
        return Trend(per_minute=cov / var, samples=len(samples))
    return None


def cpu_trend(s: Snapshot, window_seconds: int) -> Optional[Trend]:
    """The CPU trend over the last `window_seconds`; None with fewer than two samples."""
    return trend(cpu_window(s, window_seconds))


def hold(reason: str) -> Decision:
    """No change to the task count."""
    return Decision(desired=None, drain=[], cordon=[], uncordon=[], reason=reason)


def scale_to(desired: int, reason: str, drain: Iterable[int] = ()) -> Decision:
    """An absolute target task count, with the tasks to drain on scale-in, best first."""
    return Decision(desired=desired, drain=list(drain), cordon=[], uncordon=[], reason=reason)


def with_drain(decision: Decision, handles: Iterable[int]) -> Decision:
    """The decision with its drain candidates replaced by `handles`, best first."""
    return Decision(
        desired=decision.desired,
        drain=list(handles),
        cordon=list(decision.cordon),
        uncordon=list(decision.uncordon),
        reason=decision.reason,
    )


def with_cordon(decision: Decision, handles: Iterable[int]) -> Decision:
    """The decision with the busy tasks to cordon replaced by `handles` (independent of `desired`)."""
    return Decision(
        desired=decision.desired,
        drain=list(decision.drain),
        cordon=list(handles),
        uncordon=list(decision.uncordon),
        reason=decision.reason,
    )


def with_uncordon(decision: Decision, handles: Iterable[int]) -> Decision:
    """The decision with the cordoned tasks to serve again replaced by `handles`."""
    return Decision(
        desired=decision.desired,
        drain=list(decision.drain),
        cordon=list(decision.cordon),
        uncordon=list(handles),
        reason=decision.reason,
    )
