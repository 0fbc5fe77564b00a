"""Benchmark: ``modkit.ray`` with 1 and 2 workers against ``moderate`` in one process.

Run from the repo root (needs the ``ray`` extra)::

    .venv/bin/python benchmarks/bench_ray.py

Three parts, printed as one JSON object (with the load average at the start and end):

1. **Start-up**: ``ray.init()`` with its defaults and ``ray.init`` with the arguments the
   how-to documents (``num_cpus=2, include_dashboard=False, log_to_driver=False,
   _system_config={"prestart_worker_first_driver": False}``), each in a fresh process,
   wall-clock seconds until it returns.
2. **Network-bound upstream** (``--n`` texts, default 100,000): the fault-injecting
   OpenAI-compatible server of :mod:`modkit.testing` in its own process on 127.0.0.1,
   answering every request ``--latency`` seconds (default 0.05) after it arrived,
   called through the official ``openai`` SDK (backend ``openai`` with ``base_url``):
   ``modkit.moderate`` in this process (the baseline), then ``score_dataset`` with 1 and
   with 2 workers (``num_cpus=0.5`` each), all with the same ``batch_size`` and
   ``concurrency`` (per worker). For each Ray run: the wall-clock time to the last
   row (actor start-up included), the time to the first scored block (mostly the
   actors' start-up: a new process importing Ray Data and modkit) and the rate once
   the workers are up: over the last three quarters of the rows, from the moment a
   quarter had arrived to the last row. The latency-bound ideal of one worker is
   ``batch_size * concurrency / latency`` texts/s.
3. **CPU-bound local scorer** (``--n-local`` texts, default 3,000): the same three runs
   with the local backend (no cache), where Ray cannot help on 2 cores.

The Ray runs use ``DataContext.wait_for_min_actors_s`` so that every worker is up
before the first block is handed out (the 2-worker run is not one worker's run with a
late helper). Results are checked against the baseline (same scores per text).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from typing import Any

import pandas as pd

import modkit

FAST_START: dict[str, Any] = {
    "include_dashboard": False,
    "log_to_driver": False,
    "_system_config": {"prestart_worker_first_driver": False},
}

_SERVER = """
import sys, time
from modkit.testing import FaultServer
server = FaultServer(latency=float(sys.argv[1])).start()
print(server.url, flush=True)
sys.stdin.read()  # until the benchmark closes the pipe
"""

_INIT = """
import json, os, sys, time
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray
kwargs = json.loads(sys.argv[1])
t0 = time.perf_counter()
ray.init(**kwargs)
print(time.perf_counter() - t0, flush=True)
ray.shutdown()
"""


def _texts(n: int) -> list[str]:
    words = ["river", "quiet", "angry", "market", "teacher", "storm", "friendly", "broken"]
    return [
        f"message {i}: the {words[i % 8]} {words[(i * 3) % 8]} near the {words[(i * 5) % 8]}"
        for i in range(n)
    ]


def _time_init(kwargs: dict[str, Any]) -> float:
    """Seconds ``ray.init(**kwargs)`` takes in a fresh Python process."""
    out = subprocess.run(
        [sys.executable, "-c", _INIT, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def _ray_run(ds: Any, backend: Any, workers: int, num_cpus: float, kw: dict) -> dict[str, Any]:
    """Score ``ds``: wall time to the first block and to the last row, and the rate over
    the last three quarters of the rows (start-up and the first blocks left out)."""
    import modkit.ray as mray

    t0 = time.perf_counter()
    scored = mray.score_dataset(ds, backend, num_workers=workers, num_cpus=num_cpus, **kw)
    parts, arrivals = [], []
    for batch in scored.iter_batches(batch_size=None, batch_format="pandas"):
        parts.append(batch)
        arrivals.append((time.perf_counter() - t0, sum(map(len, parts))))
    out = pd.concat(parts, ignore_index=True)
    total = arrivals[-1][0]
    t_q, rows_q = next((t, r) for t, r in arrivals if r >= len(out) / 4)
    steady = (len(out) - rows_q) / (total - t_q) if total > t_q else len(out) / total
    return {"out": out, "total": total, "first": arrivals[0][0], "steady": steady}


def _check(out: pd.DataFrame, base: pd.DataFrame, texts: list[str]) -> None:
    assert len(out) == len(texts) and (out["error"] == "").all()
    same = out.set_index("text")["violence"].reindex(texts).to_numpy(float)
    assert abs(same - base["violence"].to_numpy(float)).max() < 1e-6


def _case(name: str, texts: list[str], one: Any, ray_backend: Any, args: Any) -> dict:
    """moderate in one process, then Ray with 1 and 2 workers, on the same texts."""
    import ray.data

    kw = {"batch_size": args.batch_size, "concurrency": args.concurrency}
    modkit.moderate(texts[:64], backend=one, cache=None, progress=False, **kw)  # warm
    t0 = time.perf_counter()
    base = modkit.moderate(texts, backend=one, cache=None, progress=False, **kw)
    t_base = time.perf_counter() - t0
    frame = pd.DataFrame({"text": texts})
    k = max(2, len(texts) // args.rows_per_call)
    parts = [frame.iloc[i * len(frame) // k : (i + 1) * len(frame) // k] for i in range(k)]
    runs = {}
    for workers in (1, 2):
        run = _ray_run(
            ray.data.from_pandas(parts),
            ray_backend,
            workers,
            args.num_cpus if name == "network" else 1.0,
            {**kw, "rows_per_call": args.rows_per_call},
        )
        _check(run.pop("out"), base, texts)
        runs[workers] = run
    n = len(texts)
    r1, r2 = runs[1], runs[2]
    return {
        "n": n,
        "moderate_one_process_texts_per_s": round(n / t_base, 1),
        "ray_1_worker_texts_per_s": round(n / r1["total"], 1),
        "ray_2_workers_texts_per_s": round(n / r2["total"], 1),
        "ray_first_block_s": [round(r1["first"], 1), round(r2["first"], 1)],
        "ray_1_worker_once_up_texts_per_s": round(r1["steady"], 1),
        "ray_2_workers_once_up_texts_per_s": round(r2["steady"], 1),
        "ratio_2_vs_1_worker": round(r1["total"] / r2["total"], 2),
        "ratio_2_vs_1_worker_once_up": round(r2["steady"] / r1["steady"], 2),
        "ratio_1_worker_vs_one_process": round(t_base / r1["total"], 2),
        "ratio_2_workers_vs_one_process": round(t_base / r2["total"], 2),
        "ratio_2_workers_once_up_vs_one_process": round(r2["steady"] * t_base / n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="network-bound texts")
    parser.add_argument("--n-local", type=int, default=3_000, help="local-scorer texts")
    parser.add_argument("--latency", type=float, default=0.05, help="upstream seconds")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4, help="per worker")
    parser.add_argument("--rows-per-call", type=int, default=256)
    parser.add_argument("--num-cpus", type=float, default=0.5, help="per HTTP worker")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-init", action="store_true", help="no ray.init() timing")
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["OPENAI_API_KEY"] = "sk-bench-not-a-key"
    result: dict[str, Any] = {"load_average_at_start": round(os.getloadavg()[0], 2)}
    if not args.skip_init:
        result["ray_init_defaults_s"] = _time_init({})
        result["ray_init_documented_s"] = _time_init({"num_cpus": 2, **FAST_START})

    import ray
    import ray.data

    t0 = time.perf_counter()
    ray.init(num_cpus=2, **FAST_START)
    result["ray_init_documented_in_this_process_s"] = round(time.perf_counter() - t0, 1)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.wait_for_min_actors_s = 600
    ray.data.from_items([{"x": 1}]).map_batches(lambda b: b).take_all()  # Ray Data's helpers

    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(args.latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        from modkit.backends import OpenAIBackend

        network = _case(
            "network",
            _texts(args.n),
            OpenAIBackend(base_url=url),
            functools.partial(OpenAIBackend, base_url=url),
            args,
        )
        network["latency_s"] = args.latency
        network["batch_size"], network["concurrency"] = args.batch_size, args.concurrency
        ideal = args.batch_size * args.concurrency / args.latency
        network["one_worker_latency_bound_ideal_texts_per_s"] = round(ideal, 1)
        result["network_bound"] = network
    finally:
        server.communicate(timeout=30)
    if not args.skip_local:
        local = _case("local", _texts(args.n_local), "local", "local", args)
        result["cpu_bound_local_scorer"] = local
    ray.shutdown()
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
