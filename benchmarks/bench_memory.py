"""Benchmark: peak memory of a results frame made from cached rows (issue 20 point 8).

Run from the repo root::

    .venv/bin/python benchmarks/bench_memory.py [--n 1000000]

A cache of ``--n`` results (13 categories, ``category_applied_input_types``, as the
omni models answer) is written by one child process; a second child process reads
it back with ``modkit.moderate(texts, cache=...)`` (every text cached, nothing sent)
and reports

* the frame's own memory, ``df.memory_usage(deep=True).sum()``;
* the process's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) minus its RSS
  just before the call (interpreter, imports and the list of texts already there):
  what building the frame cost at its peak.

Target: peak / frame <= 2 (it was about 4x: 5.3 GB for a 1.24 GB frame). A fresh
process per measurement, so no earlier allocation hides in the peak. The 1-minute
load average is printed beside the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import modkit
from modkit import CATEGORIES, Cache, ModerationResult
from modkit.backends import SyncBackend

K = len(CATEGORIES)
MODEL = "bench-1"


class Cached(SyncBackend):
    """Never called: every text is in the cache (the keys match this backend's)."""

    name = "bench"
    model = MODEL

    def score_batch(self, texts):  # pragma: no cover - the cache answers
        raise AssertionError("a cached text was sent to the backend")


def texts(n: int) -> list[str]:
    return [f"benchmark text number {i}: the quick brown fox jumps" for i in range(n)]


def rss_now() -> int:
    """Resident set size now, bytes (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def fill(path: Path, n: int) -> None:
    """Write ``n`` results into the cache at ``path`` in chunks (bounded memory)."""
    rng = np.random.default_rng(1)
    backend = Cached()
    cache = Cache(path)
    items = texts(n)
    keys, _, _ = modkit._cache.text_keys(items, backend.cache_namespace, backend.model)
    chunk = 20_000
    for start in range(0, n, chunk):
        part = {}
        scores = rng.random((min(chunk, n - start), K)).round(6)
        for j, key in enumerate(keys[start : start + chunk]):
            sc = scores[j]
            part[key] = (
                ModerationResult(
                    bool((sc >= 0.5).any()),
                    {c: bool(v >= 0.5) for c, v in zip(CATEGORIES, sc, strict=True)},
                    {c: float(v) for c, v in zip(CATEGORIES, sc, strict=True)},
                    {c: ["text"] for c in CATEGORIES},
                    "bench-1-snapshot",
                    f"modr-{start + j}",
                ),
                "",
            )
        cache.put_many(part, namespace=backend.cache_namespace, model=backend.model)
    cache.close()


def measure(path: Path, n: int, result_json: bool) -> dict[str, float]:
    items = texts(n)
    # warm-up: modules moderate imports on first use are not the frame's memory
    modkit.moderate(items[:10], backend=Cached(), cache=path, progress=False)
    before = rss_now()
    t0 = time.process_time()
    df = modkit.moderate(
        items, backend=Cached(), cache=path, progress=False, result_json=result_json
    )
    cpu = time.process_time() - t0
    peak = peak_rss()
    assert not df["error"].astype(bool).any(), "a cached text was not found"
    frame = int(df.memory_usage(deep=True).sum())
    return {"frame": frame, "peak": peak - before, "before": before, "cpu": cpu}


def child(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="cached rows (default 1,000,000)")
    p.add_argument("--child", choices=["fill", "measure"], help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--no-json", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child == "fill":
        fill(Path(args.path), args.n)
        return 0
    if args.child == "measure":
        print(json.dumps(measure(Path(args.path), args.n, not args.no_json)))
        return 0

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.sqlite3"
        child(["--child", "fill", "--path", str(path), "--n", str(args.n)])
        for keep in (True, False):
            extra = [] if keep else ["--no-json"]
            got = child(["--child", "measure", "--path", str(path), "--n", str(args.n), *extra])
            load = os.getloadavg()[0]
            what = "with result_json" if keep else "result_json=False"
            rows.append(
                (
                    f"{args.n:,} cached rows -> frame ({what})",
                    f"frame {got['frame'] / 1e9:.3f} GB, peak RSS increase "
                    f"{got['peak'] / 1e9:.3f} GB: **{got['peak'] / got['frame']:.2f}x** the "
                    f"frame (target <= 2x); {got['cpu']:.1f} CPU s; load {load:.1f}",
                )
            )
    cmd = " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    print(f"`{cmd}` (each measurement in a fresh process)\n")
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
