"""A policy in Python: `autoscaler policy new NAME --lang python` starts your own
from this one (see sdk/python/README.md).

Keeps service CPU inside a band: one more task when CPU is over `cpu-high`;
when CPU has stayed under `cpu-low` for `scale-in-window` seconds, one task
fewer, drained through an idle task. Change `decide` to your liking: it gets
the snapshot and returns `hold(...)` or `scale_to(...)`, or raises
PolicyError to refuse the snapshot.

Parameters (all optional): `cpu-high` (75), `cpu-low` (30), `scale-in-window` (300).
They are declared in `PARAMS`: the host checks the service's `[params]` against
the declarations when it loads the policy (an unknown name, a wrong type or a
value out of range is refused, naming the parameter) and fills in the defaults.
"""

from autoscaler_sdk import (
    Decision,
    PolicyError,
    Snapshot,
    cpu_below_for,
    effective_desired,
    export_policy,
    hold,
    number_param,
    idle_tasks,
    log,
    param_f64,
    scale_to,
)

NAME = "my-policy"
VERSION = "0.1.0"
PARAMS = [
    number_param("cpu-high", 75.0, min=0, max=100, doc="Scale out when service CPU is over this, in percent."),
    number_param("cpu-low", 30.0, min=0, max=100, doc="Scale in when service CPU stays under this, in percent."),
    number_param("scale-in-window", 300.0, min=0, max=86_400, doc="Seconds CPU must stay under cpu-low."),
]


def number(s: Snapshot, name: str, default: float) -> float:
    value = param_f64(s, name)
    return default if value is None else value


def decide(s: Snapshot) -> Decision:
    high = number(s, "cpu-high", 75.0)
    low = number(s, "cpu-low", 30.0)
    window = int(max(number(s, "scale-in-window", 300.0), 0.0))
    if low >= high:
        raise PolicyError("parameter cpu-low must be below cpu-high")
    if s.cpu is None:
        return hold("CPU is not reported yet.")

    current = effective_desired(s)
    if s.cpu > high:
        return scale_to(current + 1, f"CPU {s.cpu:.1f}% is over {high:.0f}%; {current} -> {current + 1} tasks.")

    # Scale in only with fresh session counts, after a quiet window, through idle tasks.
    if s.sessions_known and cpu_below_for(s, low, window) and current > max(s.min, 1):
        idle = [t.handle for t in idle_tasks(s)]
        if idle:
            log.info(f"CPU has been under {low:.0f}% for {window}s; draining one of {len(idle)} idle tasks")
            return scale_to(
                current - 1,
                f"CPU under {low:.0f}% for {window}s; {current} -> {current - 1} tasks.",
                drain=idle,
            )
    return hold(f"CPU {s.cpu:.1f}% is within its band.")


# componentize-py exports the class named `Policy` in this module.
Policy = export_policy(decide, name=NAME, version=VERSION, params=PARAMS)
