"""Benchmark: the Batch API path's client-side work at a million texts (issue 20 point 1).

Run from the repo root::

    .venv/bin/python benchmarks/bench_batch.py            # 1,000,000 texts
    .venv/bin/python benchmarks/bench_batch.py --n 20000  # a quick run

``modkit.moderate(texts, via=BatchAPI(poll_interval=0))`` against
:class:`modkit.testing.FaultServer` (its fake Files and Batch APIs, over real HTTP with
the official ``openai`` SDK) on an empty cache: keys and cache lookup, request files
written to disk under the 50,000-request / 200 MB limits and uploaded, the ledger,
polling, output files downloaded and parsed, results written to the cache, the results
frame.

* **client CPU**: this process's CPU time (``time.process_time``) minus the CPU time of
  the FaultServer's thread (``time.pthread_getcpuclockid`` on its ident, read with
  ``time.clock_gettime``), which scores the requests and writes the output files;
* **baseline**, in the same process on the same texts: ``json.dumps`` of every request
  line, ``json.loads`` of every output line the server wrote, and a ``pandas.DataFrame``
  of the texts and their scores: the least any client has to do;
* **peak RSS** of the process (``resource.getrusage``), with what the fake server holds
  in memory (the uploaded files and the output lines) shown beside it, since it runs in
  this process;
* the 1-minute load average beside each figure (the machine may be shared).

Target: client CPU <= 2x the baseline, and linear in texts (compare --n runs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

import modkit
from modkit import BatchAPI
from modkit.backends import OpenAIBackend
from modkit.testing import FaultServer


def texts(n: int) -> list[str]:
    return [f"batch text number {i} about something {i % 97}" for i in range(n)]


def thread_cpu(name: str) -> float:
    """CPU seconds of the (one) live thread called ``name``."""
    (thread,) = [t for t in threading.enumerate() if t.name == name]
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def baseline(items: list[str], output_lines: list[str], model: str) -> float:
    """CPU seconds of json-dumps (requests) + json-loads (outputs) + a DataFrame."""
    t0 = time.process_time()
    dumps = json.dumps
    lines = [
        dumps(
            {
                "custom_id": str(i),
                "method": "POST",
                "url": "/v1/moderations",
                "body": {"model": model, "input": t},
            }
        )
        for i, t in enumerate(items)
    ]
    parsed = [json.loads(line) for line in output_lines]
    scores = [p["response"]["body"]["results"][0]["category_scores"] for p in parsed]
    frame = pd.DataFrame(scores)
    frame.insert(0, "text", items[: len(frame)])
    elapsed = time.process_time() - t0
    assert len(lines) == len(items) and len(frame) == len(items)
    return elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="texts (default 1,000,000)")
    args = p.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)
    items = texts(args.n)
    with FaultServer() as srv, tempfile.TemporaryDirectory() as tmp:
        srv.batch_api.per_poll = None  # a batch completes when first polled
        backend = OpenAIBackend("omni-moderation-latest", base_url=srv.url, api_key="sk-x")
        modkit.moderate(  # warm-up: one-time imports and SDK set-up are not counted
            ["warm-up"],
            backend=backend,
            cache=Path(tmp) / "warm.sqlite3",
            via=BatchAPI(poll_interval=0.0),
            progress=False,
        )
        server0 = thread_cpu("FaultServer")
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        df = modkit.moderate(
            items,
            backend=backend,
            cache=Path(tmp) / "c.sqlite3",
            via=BatchAPI(poll_interval=0.0),
            progress=False,
        )
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        server = thread_cpu("FaultServer") - server0
        load_run = os.getloadavg()[0]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        assert len(df) == args.n and not df["error"].astype(bool).any(), "a text failed"
        batches = list(srv.batch_api.batches.values())[1:]  # the warm-up's aside
        output = [line for b in batches for line in b.output_lines]
        held = sum(len(line) for line in output) + sum(len(f.data) for f in srv.batch_api.uploads())
        del df
        base = min(baseline(items, output, backend.model) for _ in range(2))
        load_base = os.getloadavg()[0]
    client = cpu - server
    rows = [
        (
            f"moderate via the Batch API, {args.n:,} texts, {len(batches)} batches",
            f"client CPU **{client:.2f} s** ({args.n / client:,.0f} texts per CPU-s; "
            f"process {cpu:.2f} s minus server thread {server:.2f} s; wall {wall:.1f} s); "
            f"load {load_run:.1f}",
        ),
        (
            "baseline: json.dumps requests + json.loads outputs + DataFrame (best of 2)",
            f"{base:.2f} s CPU; load {load_base:.1f}",
        ),
        ("client CPU / baseline", f"**{client / base:.2f}x** (target <= 2x)"),
        (
            "peak RSS of the process",
            f"{peak / 1e9:.2f} GB (of which the fake server holds {held / 1e9:.2f} GB of "
            "files and output lines)",
        ),
    ]
    cmd = " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    print(f"`{cmd}` (FaultServer in a thread of this process, 127.0.0.1)\n")
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
