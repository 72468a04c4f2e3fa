"""What the host offers a policy: its log and the task-id lookup.

Inside a component these call the host's `host` interface. In plain Python
(unit tests) log lines go to standard error and `task_id` answers from the IDs
given to `testing.SnapshotBuilder`.
"""

from __future__ import annotations

import sys
from typing import Dict, Optional

from .wire import IN_COMPONENT

if IN_COMPONENT:
    from wit_world.imports import host as _host  # type: ignore[import-not-found]

_native_task_ids: Dict[int, str] = {}


def _write(level: str, message: str) -> None:
    if IN_COMPONENT:
        _host.log(getattr(_host.Level, level.upper()), message)
    else:
        print(f"[policy {level}] {message}", file=sys.stderr)


def debug(message: str) -> None:
    """Logs detail for debugging a policy."""
    _write("debug", message)


def info(message: str) -> None:
    """Logs normal information."""
    _write("info", message)


def warn(message: str) -> None:
    """Logs something surprising that the policy handled."""
    _write("warn", message)


def error(message: str) -> None:
    """Logs something that went wrong."""
    _write("error", message)


def task_id(handle: int) -> Optional[str]:
    """The ECS task ID behind a handle from the current snapshot, for logs."""
    if IN_COMPONENT:
        return _host.task_id(handle)
    return _native_task_ids.get(handle)
