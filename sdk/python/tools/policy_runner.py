"""Inspect and run policy components outside the autoscaler host, with wasmtime-py.

    python policy_runner.py world POLICY.wasm... [--check]
        Prints each component's imports and exports. With --check, fails
        unless the component imports nothing but the contract's `host` (and
        its type-only `types`) interface and exports `policy`.

    python policy_runner.py compare REFERENCE.wasm OTHER.wasm... [--cases N] [--seed S]
        Runs every component on N generated snapshots (seeded, covering every
        branch of a CPU/memory/session policy: hot and quiet metrics, missing
        metrics, unknown sessions, idle tasks with tied ages, drains in
        flight, odd and inverted parameters; tasks and history as the
        contract's columns) and compares each result, desired
        count, drain list, reason or error message, and the log lines, with the
        reference's. Prints the first mismatches and per-call timings; exits 1
        on any mismatch.

Needs `pip install wasmtime==50.0.1` (see requirements-dev.txt); this is a
developer tool, not the host: it links the `host` interface itself and turns
every other import into a trap, as the host does.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

try:
    from wasmtime import Config, Engine, Store, WasmtimeError
    from wasmtime.component import Component, Linker, Record
except ImportError:  # pragma: no cover
    sys.exit("policy_runner needs wasmtime-py: pip install -r sdk/python/requirements-dev.txt")

CONTRACT = "autoscaler:policy"
VERSION = "0.2.0"  # the contract the SDKs build against
HOST = f"{CONTRACT}/host@{VERSION}"
TYPES = f"{CONTRACT}/types@{VERSION}"
POLICY = f"{CONTRACT}/policy@{VERSION}"
LEVELS = ["debug", "info", "warn", "error"]


def record(**fields: Any) -> Record:
    """A wasmtime record value; WIT field names are kebab-case."""
    r = Record()
    for k, v in fields.items():
        setattr(r, k.replace("_", "-"), v)
    return r


class Policy:
    """One component, instantiated once and reused, as the host does."""

    def __init__(self, engine: Engine, path: str) -> None:
        self.path = path
        started = time.perf_counter()
        self.component = Component.from_file(engine, path)
        self.compile_seconds = time.perf_counter() - started
        self.logs: List[Tuple[str, str]] = []
        self.task_ids: Dict[int, str] = {}
        linker = Linker(engine)
        with linker.root() as root:
            with root.add_instance(HOST) as host:
                host.add_func("log", self._log)
                host.add_func("task-id", lambda _store, handle: self.task_ids.get(handle))
        linker.define_unknown_imports_as_traps(self.component)
        self.store = Store(engine)
        instance = linker.instantiate(self.store, self.component)
        iface = instance.get_export_index(self.store, POLICY)
        if iface is None:
            raise SystemExit(f"{path}: exports no {POLICY}")
        self._info = instance.get_func(self.store, instance.get_export_index(self.store, "info", iface))
        self._decide = instance.get_func(self.store, instance.get_export_index(self.store, "decide", iface))
        self.call_seconds: List[float] = []

    def _log(self, _store: Any, level: Any, message: str) -> None:
        self.logs.append((level if isinstance(level, str) else LEVELS[level], message))

    def info(self) -> Tuple[str, str]:
        r = self._info(self.store)
        self._info.post_return(self.store)
        return r.name, r.version

    def decide(self, snapshot: Record, task_ids: Dict[int, str]) -> Tuple[Any, List[Tuple[str, str]]]:
        """('ok', desired, drain, cordon, uncordon, reason) or ('err', message), and the log lines."""
        self.logs = []
        self.task_ids = task_ids
        started = time.perf_counter()
        r = self._decide(self.store, snapshot)
        self.call_seconds.append(time.perf_counter() - started)
        self._decide.post_return(self.store)
        if isinstance(r, str):
            return ("err", r), self.logs
        return ("ok", r.desired, list(r.drain), list(r.cordon), list(r.uncordon), r.reason), self.logs


def world(engine: Engine, path: str) -> Tuple[List[str], List[str]]:
    ty = Component.from_file(engine, path).type
    return sorted(ty.imports(engine)), sorted(ty.exports(engine))


# ---------------------------------------------------------------------------
# Snapshot generation

STATUSES = ["provisioning", "pending", "activating", "running", "deactivating", "stopping", "deprovisioning", "stopped"]
HEALTHS = ["unregistered", "initial", "healthy", "unhealthy", "draining", "unknown"]
STEPS = ["protecting", "deregistering", "waiting", "rechecking", "scaling-in", "confirming", "cordoned"]


def percent(rng: random.Random, low: float, high: float) -> float:
    """A utilization figure: often on a 0.05 grid (ties for {:.1}), sometimes arbitrary."""
    kind = rng.random()
    if kind < 0.5:
        return round(rng.uniform(low, high) * 20) / 20
    if kind < 0.6:
        return math.floor(rng.uniform(low, high)) + rng.choice([0.25, 0.5, 0.75, 0.45, 0.55])
    return rng.uniform(low, high)


def maybe_metric(rng: random.Random, quiet: bool, low: float, high: float) -> Optional[float]:
    r = rng.random()
    if r < 0.08:
        return None
    if r < 0.1:
        return math.nan
    return percent(rng, 0.0, low) if quiet else percent(rng, 0.0, high)


def param_value(rng: random.Random, name: str) -> Any:
    """A raw parameter value: float (number), bool (flag) or str (text)."""
    if rng.random() < 0.05:
        return rng.choice([True, "75"])
    choices = {
        "cpu-high": [60.0, 75.0, 72.5, 80.5, 90.0, 25.0],
        "cpu-low": [20.0, 30.0, 45.5, 10.0, 35.0],
        "memory-high": [70.0, 80.0, 85.5],
        "memory-low": [30.0, 40.0, 52.5],
        "session-capacity": [1.0, 5.0, 12.5, 20.0, 30.0, 0.5, math.inf],
        "session-headroom": [0.5, 0.8, 0.9, 1.0, 0.05, 0.1, math.nan],
        "scale-in-window": [0.0, 120.0, 300.0, 600.0, 900.7, -5.0, 1e30, math.nan],
    }[name]
    return rng.choice(choices)


def nan_if_none(v: Optional[float]) -> float:
    return math.nan if v is None else v


def task_columns(tasks: List[Dict[str, Any]]) -> Record:
    """The tasks as the contract sends them: one list per field, a task's handle its index."""
    return record(
        status=bytes(STATUSES.index(t["status"]) for t in tasks),
        health=bytes(HEALTHS.index(t["health"]) for t in tasks),
        age_seconds=[t["age_seconds"] for t in tasks],
        sessions=[t["sessions"] for t in tasks],
        marks=bytes(
            int(t["protected"]) | int(t["draining"]) << 1 | int(t["cordoned_since"] is not None) << 2 for t in tasks
        ),
        cordoned_since=[t["cordoned_since"] or 0 for t in tasks],
        cpu=[nan_if_none(t["cpu"]) for t in tasks],
        memory=[nan_if_none(t["memory"]) for t in tasks],
    )


def history_columns(ticks: List[Dict[str, Any]]) -> Record:
    """Earlier ticks as the contract sends them: NaN for an unknown figure, -1 for unknown sessions."""
    return record(
        at=[h["at"] for h in ticks],
        desired=[h["desired"] for h in ticks],
        running=[h["running"] for h in ticks],
        cpu=[nan_if_none(h["cpu"]) for h in ticks],
        memory=[nan_if_none(h["memory"]) for h in ticks],
        sessions=[-1 if h["sessions"] is None else h["sessions"] for h in ticks],
    )


def snapshot(rng: random.Random) -> Tuple[Record, Dict[int, str]]:
    quiet = rng.random() < 0.45
    now = 1_700_000_000 + rng.randrange(0, 10_000_000)
    tasks: List[Dict[str, Any]] = []
    drains = []
    for handle in range(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12, 20])):
        status = "running" if rng.random() < 0.8 else rng.choice(STATUSES)
        draining = rng.random() < 0.1
        sessions = 0 if rng.random() < 0.5 else rng.choice([1, 2, 5, 10, 17, 18, 25, 40])
        tasks.append(
            dict(
                status=status,
                health="draining" if draining else rng.choice(HEALTHS),
                age_seconds=rng.choice([30, 300, 600, 3600, 3600, 7200]),
                protected=rng.random() < 0.2,
                sessions=sessions,
                cpu=None if rng.random() < 0.5 else percent(rng, 0, 100),
                memory=None if rng.random() < 0.5 else percent(rng, 0, 100),
                draining=draining,
                cordoned_since=None,
            )
        )
        if draining:
            step = rng.choice(STEPS)
            elapsed = rng.randrange(0, 900)
            if step == "cordoned":
                tasks[-1]["cordoned_since"] = now - elapsed
            drains.append(record(handle=handle, step=step, elapsed_seconds=elapsed))
    history = []
    for offset in sorted(rng.sample(range(30, 1800, 30), rng.choice([0, 1, 2, 3, 5, 8])), reverse=True):
        history.append(
            dict(
                at=now - offset,
                desired=len(tasks),
                running=len(tasks),
                # NaN here stands for a figure the host would send as NaN: unknown.
                cpu=maybe_metric(rng, quiet or rng.random() < 0.7, 30.0, 100.0),
                memory=maybe_metric(rng, quiet or rng.random() < 0.7, 40.0, 100.0),
                sessions=None if rng.random() < 0.5 else rng.randrange(0, 200),
            )
        )
    params = []
    for name in ["cpu-high", "cpu-low", "memory-high", "memory-low", "session-capacity", "session-headroom", "scale-in-window"]:
        if rng.random() < 0.25:
            params.append(record(name=name, value=param_value(rng, name)))
    rng.shuffle(params)
    desired = max(0, len(tasks) + rng.choice([0, 0, 0, -1, 1, 2, -3]))
    s = record(
        cluster="bench",
        service="svc",
        now=now,
        desired=desired,
        running=sum(1 for t in tasks if t["status"] == "running"),
        pending=sum(1 for t in tasks if t["status"] in ("provisioning", "pending", "activating")),
        min=rng.choice([0, 1, 1, 2, 3]),
        max=rng.choice([10, 20, 50]),
        cpu=maybe_metric(rng, quiet, 30.0, 110.0),
        memory=maybe_metric(rng, quiet, 40.0, 110.0),
        sessions_known=rng.random() < 0.85,
        tasks=task_columns(tasks),
        drains=drains,
        history=history_columns(history),
        params=params,
    )
    return s, {handle: f"task-{handle:04x}" for handle in range(len(tasks))}


# ---------------------------------------------------------------------------


def classify(result: Tuple[Any, ...]) -> str:
    """A short name for the branch a decision came from, for the coverage summary."""
    if result[0] == "err":
        return "error"
    reason = result[-1]  # ('ok', desired, drain, cordon, uncordon, reason)
    for prefix, name in [
        ("Scale out: CPU", "out-cpu"),
        ("Scale out: memory", "out-memory"),
        ("Scale out:", "out-sessions"),
        ("Scale in:", "in"),
        ("Session counts are unknown", "hold-unknown-sessions"),
        ("Utilization is within", "hold-band"),
        ("Utilization is low", "hold-no-idle"),
    ]:
        if reason.startswith(prefix):
            return name
    return "scale" if result[1] is not None else "hold"


def cmd_world(args: argparse.Namespace) -> int:
    config = Config()
    config.cranelift_opt_level = "none"  # only the types are read: compile as fast as possible
    engine = Engine(config)
    failed = False
    for path in args.components:
        imports, exports = world(engine, path)
        print(f"{path}\n  imports: {', '.join(imports) or '(none)'}\n  exports: {', '.join(exports)}")
        if args.check:
            extra = [i for i in imports if i not in (HOST, TYPES)]
            if extra or POLICY not in exports:
                failed = True
                print(f"  FAIL: imports beyond the contract: {extra}" if extra else f"  FAIL: no {POLICY} export")
    return 1 if failed else 0


def cmd_compare(args: argparse.Namespace) -> int:
    engine = Engine()
    policies = [Policy(engine, p) for p in args.components]
    for p in policies:
        print(f"{p.path}: {p.info()[0]} {p.info()[1]}, compiled in {p.compile_seconds:.2f} s")
    rng = random.Random(args.seed)
    mismatches = 0
    outcomes: Dict[str, int] = {}
    for case in range(args.cases):
        snap, ids = snapshot(rng)
        ref, ref_logs = policies[0].decide(snap, ids)
        kind = classify(ref)
        outcomes[kind] = outcomes.get(kind, 0) + 1
        for other in policies[1:]:
            got, logs = other.decide(snap, ids)
            if got != ref or logs != ref_logs:
                mismatches += 1
                if mismatches <= args.show:
                    print(f"MISMATCH case {case} ({other.path}):\n  reference: {ref} {ref_logs}\n  got:       {got} {logs}")
    print(f"{args.cases} snapshots, by outcome of the reference: {dict(sorted(outcomes.items()))}")
    # wasmtime-py converts values in Python, which costs about as much as a call: the
    # difference from the reference is the closer estimate of a policy's own cost.
    ref_median = statistics.median(policies[0].call_seconds)
    for p in policies:
        calls = sorted(p.call_seconds)
        median = statistics.median(calls)
        print(
            f"{p.path}: decide median {median * 1e3:.3f} ms ({(median - ref_median) * 1e3:+.3f} ms "
            f"vs the reference), p99 {calls[int(len(calls) * 0.99) - 1] * 1e3:.3f} ms, through wasmtime-py"
        )
    if mismatches:
        print(f"{mismatches} mismatches")
        return 1
    print("all decisions identical")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("world", help="print a component's imports and exports")
    w.add_argument("components", nargs="+")
    w.add_argument("--check", action="store_true", help="fail on imports beyond the contract")
    c = sub.add_parser("compare", help="compare components' decisions on generated snapshots")
    c.add_argument("components", nargs="+")
    c.add_argument("--cases", type=int, default=2000)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--show", type=int, default=5, help="mismatches to print")
    args = parser.parse_args()
    try:
        return cmd_world(args) if args.command == "world" else cmd_compare(args)
    except WasmtimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
