"""Benchmark: the local scorer on Ray with 1 and 2 workers against ``moderate`` in one process.

Run from the repo root (needs the ``ray`` extra)::

    .venv/bin/python benchmarks/bench_ray.py --n 2000

All three measurements score the same ``n`` distinct short texts with the local backend
and no cache, in this process's wall-clock time:

1. baseline: ``modkit.moderate(texts, backend="local")`` in this process;
2. ``modkit.ray.score_dataset(ds, "local", num_workers=1)`` on ``ray.init(num_cpus=2)``;
3. the same with ``num_workers=2``.

Ray's start-up (``ray.init``) is timed separately and left out of 2 and 3; each Ray run
includes its actors' start-up (loading the model in each worker). Printed: texts/s and
the ratios to the baseline. On a 2-core machine the best 2 workers can reach is about 2x
the single-worker rate, and only when nothing else is running.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import pandas as pd

import modkit


def _texts(n: int) -> list[str]:
    words = ["river", "quiet", "angry", "market", "teacher", "storm", "friendly", "broken"]
    return [
        f"message {i}: the {words[i % 8]} {words[(i * 3) % 8]} near the {words[(i * 5) % 8]}"
        for i in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="texts (default 2000)")
    parser.add_argument("--rows-per-call", type=int, default=256)
    args = parser.parse_args()
    texts = _texts(args.n)
    load = os.getloadavg()[0]

    modkit.moderate(texts[:8], backend="local", cache=None, progress=False)  # load once
    t0 = time.perf_counter()
    base = modkit.moderate(texts, backend="local", cache=None, progress=False)
    t_base = time.perf_counter() - t0

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import ray.data

    import modkit.ray as mray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    t_init = time.perf_counter() - t0
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    k = max(2, args.n // args.rows_per_call)
    frame = pd.DataFrame({"text": texts})
    parts = [frame.iloc[i * len(frame) // k : (i + 1) * len(frame) // k] for i in range(k)]
    runs = {}
    for workers in (1, 2):
        ds = ray.data.from_pandas(parts)
        t0 = time.perf_counter()
        out = mray.score_dataset(
            ds, "local", num_workers=workers, rows_per_call=args.rows_per_call
        ).to_pandas()
        runs[workers] = time.perf_counter() - t0
        assert len(out) == args.n and (out["error"] == "").all()
        same = out.set_index("text")["violence"].reindex(texts).to_numpy()
        assert abs(same - base["violence"].to_numpy()).max() < 1e-6
    ray.shutdown()
    result = {
        "n": args.n,
        "load_average_at_start": load,
        "ray_init_s": round(t_init, 1),
        "moderate_one_process_texts_per_s": round(args.n / t_base, 1),
        "ray_1_worker_texts_per_s": round(args.n / runs[1], 1),
        "ray_2_workers_texts_per_s": round(args.n / runs[2], 1),
        "ratio_1_worker_vs_moderate": round(t_base / runs[1], 2),
        "ratio_2_workers_vs_moderate": round(t_base / runs[2], 2),
        "ratio_2_vs_1_worker": round(runs[1] / runs[2], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
