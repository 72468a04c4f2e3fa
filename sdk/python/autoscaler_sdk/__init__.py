"""Writing autoscaler policies in Python.

A policy is one plain function from a `Snapshot` of a service to a
`Decision`; `export_policy` makes it the component's `policy` export:

    from autoscaler_sdk import Snapshot, Decision, export_policy, hold, scale_to, idle_tasks

    def decide(s: Snapshot) -> Decision:
        ...

    Policy = export_policy(decide, name="my-policy", version="0.1.0",
                           params=[number_param("buffer-slots", 10, min=0, max=500, doc="Free slots.")])

Build it with componentize-py (see sdk/python/README.md). The helpers here
follow the Rust SDK's exactly; `autoscaler_sdk.rust` has Rust's casts and
float formatting for ports of Rust policies, and `autoscaler_sdk.testing` a
snapshot builder for unit tests.
"""

from . import host as log
from . import rust
from .export import PolicyError, export_policy, flag_param, number_param, text_param
from .helpers import (
    Sample,
    Trend,
    cpu_below_for,
    cpu_trend,
    cordoned_tasks,
    cpu_window,
    effective_desired,
    hold,
    idle_tasks,
    is_cordoned,
    is_idle,
    is_serving,
    least_loaded_tasks,
    memory_window,
    param_bool,
    param_f64,
    param_str,
    scale_to,
    serving_capacity,
    serving_tasks,
    sessions_per_task,
    total_sessions,
    trend,
    utilization,
    with_cordon,
    with_drain,
    with_uncordon,
)
from .host import task_id
from .types import (
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
    Snapshot,
    TargetHealth,
    Task,
    TaskStatus,
    TickSummary,
)

CONTRACT_VERSION = "0.2.0"
"""The version of the policy contract (the WIT package) this SDK builds against."""

__all__ = [
    "CONTRACT_VERSION", "IN_COMPONENT", "Decision", "Drain", "DrainStep", "Param", "ParamValue",
    "ParamValue_Flag", "ParamValue_Number", "ParamValue_Text", "PolicyError", "PolicyInfo",
    "Sample", "Snapshot", "TargetHealth", "Task", "TaskStatus", "TickSummary", "Trend",
    "cpu_below_for", "cpu_trend", "cpu_window", "effective_desired", "export_policy", "hold",
    "idle_tasks", "is_idle", "is_serving", "log", "memory_window", "param_bool", "param_f64",
    "param_str", "rust", "scale_to", "serving_tasks", "sessions_per_task", "task_id",
    "total_sessions", "trend", "utilization", "with_drain",
    "ParamKind", "ParamSpec", "number_param", "flag_param", "text_param", "is_cordoned",
    "least_loaded_tasks", "cordoned_tasks", "serving_capacity", "with_cordon", "with_uncordon",
]
