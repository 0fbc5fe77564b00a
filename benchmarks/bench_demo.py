"""Benchmark of ``make demo`` after install: each step's time in a fresh cache directory.

Run from the project root (about 2 minutes on a quiet 2-core machine)::

    MODKIT_DATA_DIR=../shared/datasets python benchmarks/bench_demo.py

It runs ``modkit demo`` (what ``make demo`` runs once the venv exists) in a child process
with ``MODKIT_CACHE_DIR`` pointing at a new empty folder (nothing cached: the state right
after ``make venv`` on a fresh clone) and the reports in another, reads the demo's own step
lines (the moderation job, each notebook, its kernel start-up and every cell of 1 s or
more), and prints a Markdown table of the steps with their seconds, the total wall time
against the 3-minute goal and the 4 min 04 s measured before the cross-fitted scores were
shipped, and the load average before and after (the machine is shared).

``--only NOTEBOOK`` (repeatable) times some notebooks only; ``--keep`` keeps the folders.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: ``make demo`` after install, measured quiet before this benchmark existed (issue 20).
BASELINE_S = 4 * 60 + 4
GOAL_S = 3 * 60

_NOTEBOOK_DONE = re.compile(r"^\[(\d+)/(\d+)\] (\S+): finished in (\d+) s")
_JOB_DONE = re.compile(r"^\[job\] finished in ([\d.]+) s")
_KERNEL = re.compile(r"^\s+kernel up in ([\d.]+) s")
_CELL = re.compile(r"^\s+cell (\d+): ([\d.]+) s  (.*)$")


def _parse(lines: list[str]) -> list[tuple[str, str, float]]:
    """(step, detail, seconds) for the job, every notebook, kernel start-ups and slow cells."""
    steps: list[tuple[str, str, float]] = []
    pending: list[tuple[str, str, float]] = []
    for line in lines:
        if m := _JOB_DONE.match(line):
            steps.append(("moderation job", "4 recorded examples, local scorer", float(m[1])))
        elif m := _KERNEL.match(line):
            pending.append(("", "kernel start-up", float(m[1])))
        elif m := _CELL.match(line):
            pending.append(("", f"cell {m[1]}: `{m[3].strip()[:60]}`", float(m[2])))
        elif m := _NOTEBOOK_DONE.match(line):
            steps.append((m[3], "whole notebook", float(m[4])))
            steps.extend(pending)
            pending = []
    return steps


def run(only: list[str], keep: bool) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    env = {**os.environ, "MODKIT_CACHE_DIR": str(work / "cache")}
    env.setdefault("MODKIT_DATA_DIR", str((ROOT.parent / "shared" / "datasets").resolve()))
    cmd = [sys.executable, "-m", "modkit", "demo", "--reports", str(work / "reports")]
    cmd += [arg for nb in only for arg in ("--only", nb)]
    load_before = os.getloadavg()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    load_after = os.getloadavg()
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-2000:])
        print(f"modkit demo failed (exit {proc.returncode}); folders kept in {work}")
        return 1
    print("| step | what | seconds |\n|---|---|---:|")
    for step, what, secs in _parse(proc.stdout.splitlines()):
        print(f"| {step} | {what} | {secs:.1f} |")
    print()
    print(f"- `modkit demo` wall time, empty cache: **{wall:.0f} s** (goal <= {GOAL_S} s)")
    if not only:
        print(
            f"- before (issue 20, quiet): {BASELINE_S} s, so **{wall / BASELINE_S:.2f}x** "
            f"that time ({BASELINE_S / wall:.2f}x faster)"
        )
    print(
        "- load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
        + f" ({os.cpu_count()} cores)"
    )
    if keep:
        print(f"- folders kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], metavar="NOTEBOOK")
    parser.add_argument("--keep", action="store_true", help="keep the cache and reports")
    args = parser.parse_args()
    return run(args.only, args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
