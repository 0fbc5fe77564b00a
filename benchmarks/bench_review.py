"""Benchmark: a reviewer's key press in the ReviewQueue, to the verdict on disk (issue 21).

Run from the repo root::

    .venv/bin/python benchmarks/bench_review.py [--items 200] [--categories 3] [--presses 300]

Each press goes through ``ReviewQueue.press`` as the key handler calls it: the verdict is
written to a file ``ReviewStore`` (one committed SQLite transaction, WAL,
``synchronous=FULL``: fsync'd before it returns) and the view re-rendered for the next
category or item. Wall-clock milliseconds per press are reported (median, 95th
percentile, max), the store write alone beside them. The target is under 100 ms per
press. The browser's round trip (key event to kernel and back, a few ms on loopback) is
not in it.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from modkit import CATEGORIES
from modkit.review import ReviewStore
from modkit.widgets import ReviewQueue


def sample(n: int, cats: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": [f"{i:06x}" for i in range(n)],
            "text": [" ".join(["some words of a review text"] * 8) + f" {i}" for i in range(n)],
            "group": rng.choice(["women", "men", "Muslims", "Jews"], n),
        }
    )
    for c in cats:
        frame[c] = rng.random(n).round(4)
        frame[f"decision/{c}"] = np.where(frame[c] > 0.8, "block", "allow")
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--categories", type=int, default=3)
    ap.add_argument("--presses", type=int, default=300)
    args = ap.parse_args()
    cats = list(CATEGORIES[: args.categories])
    with tempfile.TemporaryDirectory() as tmp:
        store = ReviewStore(Path(tmp) / "bench.sqlite").add_sample(sample(args.items, cats))
        queue = ReviewQueue(store, "bench", rubric="Rubric text.\n\nSecond paragraph.")
        keys = np.random.default_rng(1).choice(["y", "n", "u"], args.presses, p=[0.2, 0.7, 0.1])
        press_ms = []
        for key in keys:
            t0 = time.perf_counter()
            queue.press(str(key))
            press_ms.append((time.perf_counter() - t0) * 1000)
        write_ms = []
        ids = store.ids()
        for k in range(args.presses):
            t0 = time.perf_counter()
            store.record(ids[k % len(ids)], cats[0], k % 2, reviewer="bench-write")
            write_ms.append((time.perf_counter() - t0) * 1000)
        n = len(store.verdicts(latest=False))
        store.close()
    p = np.array(press_ms)
    wr = np.array(write_ms)
    print(f"# ReviewQueue key press, {args.presses} presses, {args.items} items x {len(cats)} cats")
    print(f"python {platform.python_version()}, load average {os.getloadavg()}")
    print(f"verdicts stored: {n}")
    print(
        f"press (store write + view update): median {np.median(p):.1f} ms, "
        f"p95 {np.percentile(p, 95):.1f} ms, max {p.max():.1f} ms"
    )
    print(
        f"store write alone:                 median {np.median(wr):.1f} ms, "
        f"p95 {np.percentile(wr, 95):.1f} ms, max {wr.max():.1f} ms"
    )
    print(f"target < 100 ms per press: {'met' if np.percentile(p, 95) < 100 else 'NOT met'} (p95)")


if __name__ == "__main__":
    main()
