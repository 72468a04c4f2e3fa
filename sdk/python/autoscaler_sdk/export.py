"""Turns a plain `decide(snapshot)` function into the component's `policy` export."""

from __future__ import annotations

import math
from typing import Callable, Iterable, List, Optional, Type, Union

from . import rust, wire
from .types import (
    IN_COMPONENT,
    Decision,
    ParamKind,
    ParamSpec,
    ParamValue_Flag,
    ParamValue_Number,
    ParamValue_Text,
    PolicyInfo,
    Snapshot,
    from_wire,
)


class PolicyError(Exception):
    """Raise this from `decide` to refuse a snapshot.

    The host records it as a policy fault and holds the service for the tick.
    Any other exception becomes a fault too, with its type in the message.
    """


def _check(decision: object) -> Decision:
    """The decision in the bindings' own type, or PolicyError if it is malformed."""
    for field in ("desired", "drain", "cordon", "uncordon", "reason"):
        if not hasattr(decision, field):
            raise PolicyError(f"decide returned {type(decision).__name__}, not a Decision (no {field!r})")
    desired = decision.desired  # type: ignore[attr-defined]
    drain = list(decision.drain)  # type: ignore[attr-defined]
    cordon = list(decision.cordon)  # type: ignore[attr-defined]
    uncordon = list(decision.uncordon)  # type: ignore[attr-defined]
    reason = decision.reason  # type: ignore[attr-defined]

    def is_u32(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= rust.U32_MAX

    if desired is not None and not is_u32(desired):
        hint = " (round it: math.ceil or int)" if isinstance(desired, float) and math.isfinite(desired) else ""
        raise PolicyError(f"decision.desired must be None or an int in 0..=4294967295, not {desired!r}{hint}")
    for field, handles in (("drain", drain), ("cordon", cordon), ("uncordon", uncordon)):
        for h in handles:
            if not is_u32(h):
                raise PolicyError(f"decision.{field} must hold task handles (int), not {h!r}")
    if not isinstance(reason, str):
        raise PolicyError(f"decision.reason must be a str, not {type(reason).__name__}")
    return Decision(desired=desired, drain=drain, cordon=cordon, uncordon=uncordon, reason=reason)


def number_param(
    name: str, default: Optional[float], *, min: Optional[float] = None, max: Optional[float] = None, doc: str = ""
) -> ParamSpec:
    """Declares a number parameter (default None: optional, absent when the config leaves it out)."""
    value = None if default is None else ParamValue_Number(float(default))
    lo = None if min is None else float(min)
    hi = None if max is None else float(max)
    return ParamSpec(name=name, kind=ParamKind.NUMBER, default=value, min=lo, max=hi, doc=doc)


def flag_param(name: str, default: Optional[bool], *, doc: str = "") -> ParamSpec:
    """Declares a true/false parameter (default None: optional)."""
    value = None if default is None else ParamValue_Flag(bool(default))
    return ParamSpec(name=name, kind=ParamKind.FLAG, default=value, min=None, max=None, doc=doc)


def text_param(name: str, default: Optional[str], *, doc: str = "") -> ParamSpec:
    """Declares a text parameter (default None: optional)."""
    value = None if default is None else ParamValue_Text(str(default))
    return ParamSpec(name=name, kind=ParamKind.TEXT, default=value, min=None, max=None, doc=doc)


def export_policy(
    decide: Callable[[Snapshot], Decision], name: str, version: str, params: Iterable[ParamSpec] = ()
) -> Type:
    """The class componentize-py exports as the world's `policy` interface.

    Bind it to the name `Policy` at the top level of the app module:

        Policy = export_policy(decide, name="my-policy", version="0.1.0")

    `decide` returns a Decision (see `hold` and `scale_to`) or raises
    PolicyError. `params` declares the parameters the policy reads
    (`number_param`, `flag_param`, `text_param`): the host checks the
    service's `[params]` against them when it loads the policy and fills in
    the defaults the config leaves out. The exported `decide` takes the snapshot as it crosses the
    boundary, tasks and history as columns, and hands `decide` the records
    rebuilt from them (`types.from_wire`).

    Outside a component the class works the same, returning the Decision, so
    a test can call the exported policy directly, with a snapshot in either
    form: `SnapshotBuilder().build_wire()` goes through the glue as the host's
    would, and a `Snapshot` of records is passed on as it is.
    """
    if IN_COMPONENT:
        from componentize_py_types import Err  # type: ignore[import-not-found]
        from wit_world import exports  # type: ignore[import-not-found]

        base: Type = exports.Policy
    else:
        Err = None  # noqa: N806
        base = object

    declared: List[ParamSpec] = list(params)

    class Policy(base):  # type: ignore[valid-type, misc]
        def info(self) -> PolicyInfo:
            return PolicyInfo(name=name, version=version, params=list(declared))

        def decide(self, snapshot: Union[wire.Snapshot, Snapshot]) -> Decision:
            try:
                if not isinstance(snapshot, Snapshot):
                    snapshot = from_wire(snapshot)
                return _check(decide(snapshot))
            except Exception as e:  # noqa: BLE001: every failure is a policy fault
                if isinstance(e, PolicyError):
                    message = str(e) or "the policy refused the snapshot"
                else:
                    message = f"{type(e).__name__}: {e}"
                if Err is None:
                    raise PolicyError(message) from e
                raise Err(message) from None

    Policy.__name__ = Policy.__qualname__ = "Policy"
    Policy.__doc__ = f"The exported policy {name} {version}."
    return Policy
