"""Builds a Python policy into a WebAssembly component:

    python -m autoscaler_sdk.build [DIR] [-o OUT.wasm] [--app app]

runs componentize-py (`pip install "autoscaler-sdk[build]"` brings the pinned
one) from DIR (default: the current folder) as

    componentize-py -d <autoscaler_sdk/wit> -w scaling-policy componentize --stub-wasi \\
        -p DIR -p <the folder autoscaler_sdk is installed in> app -o OUT.wasm

The contract travels with the SDK (`autoscaler_sdk/wit`), so a policy in its
own repository needs no checkout of the autoscaler; componentize-py generates
the bindings (`wit_world`) from it during the build. `--stub-wasi` leaves the
component no WASI import: it imports only the contract's `host` interface.

This module runs on the build machine; the component never imports it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

WORLD = "scaling-policy"


def wit_dir() -> Path:
    """The contract (autoscaler:policy@0.2.0) that this SDK speaks."""
    return Path(__file__).resolve().parent / "wit"


def sdk_root() -> Path:
    """The folder that holds the `autoscaler_sdk` package: site-packages, or sdk/python in a checkout."""
    return Path(__file__).resolve().parent.parent


def componentize_py() -> str:
    """componentize-py beside this Python (a virtualenv's bin/), else the one on PATH."""
    beside = Path(sys.executable).parent / "componentize-py"
    return str(beside) if beside.is_file() else (shutil.which("componentize-py") or "componentize-py")


def command(policy_dir: Path, app: str, output: Path) -> List[str]:
    """The componentize-py command line that builds `app` in `policy_dir` into `output`."""
    return [
        componentize_py(), "-d", str(wit_dir()), "-w", WORLD,
        "componentize", "--stub-wasi",
        "-p", str(policy_dir), "-p", str(sdk_root()),
        app, "-o", str(output),
    ]  # fmt: skip


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autoscaler_sdk.build",
        description="Build a Python autoscaler policy into a WebAssembly component with componentize-py.",
    )
    parser.add_argument("dir", nargs="?", default=".", help="the policy's folder (default: the current one)")
    parser.add_argument("-o", "--output", help="the component to write (default: DIR/<DIR's name>.wasm)")
    parser.add_argument("--app", default="app", help="the module that binds `Policy` (default: app)")
    parser.add_argument("--print", action="store_true", help="print the componentize-py command instead of running it")
    args = parser.parse_args(argv)

    policy_dir = Path(args.dir).resolve()
    if not (policy_dir / f"{args.app}.py").is_file():
        parser.error(f"{policy_dir} has no {args.app}.py (the module that binds `Policy`)")
    output = Path(args.output).resolve() if args.output else policy_dir / f"{policy_dir.name}.wasm"
    cmd = command(policy_dir, args.app, output)
    if args.print:
        print(" ".join(cmd))
        return 0
    # componentize-py would add an active virtualenv's whole site-packages to
    # the component's path; the two -p folders are all a policy needs.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    try:
        done = subprocess.run(cmd, cwd=policy_dir, env=env)
    except FileNotFoundError:
        print(
            'error: componentize-py is not installed: pip install "autoscaler-sdk[build]" (or componentize-py==0.25.1)',
            file=sys.stderr,
        )
        return 2
    if done.returncode == 0:
        print(f"wrote {output}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
