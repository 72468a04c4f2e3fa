"""The session-aware policy in Python: the same decisions as the Rust one
(`policies/session-aware/src/lib.rs`), reasons included.

Scale out on CPU, memory or sessions; scale in only through idle tasks, and
only after utilization has stayed low for a while.

Parameters (all optional):
- `cpu-high` (75), `cpu-low` (30): CPU band in percent;
- `memory-high` (80), `memory-low` (40): memory band in percent;
- `session-capacity` (20): sessions one task can carry;
- `session-headroom` (0.8): fraction of capacity to fill before adding tasks;
- `scale-in-window` (600): seconds utilization must stay under the low marks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from autoscaler_sdk import (
    Decision,
    PolicyError,
    Snapshot,
    cpu_below_for,
    effective_desired,
    export_policy,
    hold,
    idle_tasks,
    log,
    memory_window,
    param_f64,
    scale_to,
    task_id,
    total_sessions,
)
from autoscaler_sdk.rust import as_u64, ceil_u32, fmax, fmt_fixed, saturating_sub, wrapping_add_u32


def _or(v: Optional[float], default: float) -> float:
    return default if v is None else v


def _task_name(handle: int) -> str:
    name = task_id(handle)
    return f"handle {handle}" if name is None else name


@dataclass
class Params:
    cpu_high: float
    cpu_low: float
    memory_high: float
    memory_low: float
    capacity: float
    headroom: float
    window: int

    @staticmethod
    def read(s: Snapshot) -> "Params":
        p = Params(
            cpu_high=_or(param_f64(s, "cpu-high"), 75.0),
            cpu_low=_or(param_f64(s, "cpu-low"), 30.0),
            memory_high=_or(param_f64(s, "memory-high"), 80.0),
            memory_low=_or(param_f64(s, "memory-low"), 40.0),
            capacity=_or(param_f64(s, "session-capacity"), 20.0),
            headroom=_or(param_f64(s, "session-headroom"), 0.8),
            window=as_u64(fmax(_or(param_f64(s, "scale-in-window"), 600.0), 0.0)),
        )
        if p.cpu_low >= p.cpu_high or p.memory_low >= p.memory_high:
            raise PolicyError("parameters cpu-low/memory-low must be below cpu-high/memory-high")
        if p.capacity < 1.0 or not (0.1 <= p.headroom <= 1.0):
            raise PolicyError(
                "parameter session-capacity must be >= 1 and session-headroom within 0.1..=1"
            )
        return p


def decide(s: Snapshot) -> Decision:
    """Decides from CPU, memory and sessions, as the original Lambda did."""
    p = Params.read(s)
    current = effective_desired(s)
    sessions = total_sessions(s)
    # Tasks needed to keep every task under its session headroom.
    for_sessions = ceil_u32(float(sessions) / (p.capacity * p.headroom)) if s.sessions_known else 0

    hot_cpu = s.cpu if s.cpu is not None and s.cpu > p.cpu_high else None
    hot_memory = s.memory if s.memory is not None and s.memory > p.memory_high else None
    if hot_cpu is not None or hot_memory is not None or for_sessions > current:
        mid_cpu = (p.cpu_high + p.cpu_low) / 2.0
        mid_memory = (p.memory_high + p.memory_low) / 2.0

        def by(util: Optional[float], mid: float) -> int:
            return 0 if util is None else ceil_u32(float(max(current, 1)) * util / mid)

        wanted = max(wrapping_add_u32(current, 1), by(hot_cpu, mid_cpu), by(hot_memory, mid_memory), for_sessions)
        if hot_cpu is not None:
            why = f"CPU {fmt_fixed(hot_cpu, 1)}% is over {fmt_fixed(p.cpu_high, 0)}%"
        elif hot_memory is not None:
            why = f"memory {fmt_fixed(hot_memory, 1)}% is over {fmt_fixed(p.memory_high, 0)}%"
        else:
            why = (
                f"{sessions} sessions need {for_sessions} tasks at "
                f"{fmt_fixed(p.capacity * p.headroom, 0)} per task"
            )
        return scale_to(wanted, f"Scale out: {why}; {current} -> {wanted} tasks.")

    if not s.sessions_known:
        return hold("Session counts are unknown; not scaling in.")
    quiet_cpu = cpu_below_for(s, p.cpu_low, p.window)
    quiet_memory = (s.memory is None or s.memory < p.memory_low) and all(
        m < p.memory_low for _, m in memory_window(s, p.window)
    )
    if not (quiet_cpu and quiet_memory):
        return hold("Utilization is within its band.")
    idle = [t.handle for t in idle_tasks(s)]
    floor = max(for_sessions, s.min, 1)
    wanted = max(saturating_sub(current, len(idle)), floor)
    if wanted >= current:
        return hold(
            f"Utilization is low, but no idle task can go ({len(idle)} idle, {sessions} sessions)."
        )
    going = current - wanted
    names = [_task_name(h) for h in idle[: min(going, 5)]]
    more = ", ..." if going > len(names) else ""
    log.info(f"draining {going} idle tasks: {', '.join(names)}{more}")
    return scale_to(
        wanted,
        f"Scale in: utilization under {fmt_fixed(p.cpu_low, 0)}% CPU for {p.window}s; "
        f"{current} -> {wanted} tasks through idle tasks.",
        drain=idle,
    )


Policy = export_policy(decide, name="session-aware-py", version="0.1.0")
