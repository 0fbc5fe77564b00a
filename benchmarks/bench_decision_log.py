"""Latency of ``modkit serve`` with shadow decisions and the decision log, under load.

Run: ``.venv/bin/python benchmarks/bench_decision_log.py [--requests 400] [--clients 8]
[--texts 4]``.

An in-process server (``ServerThread``) around a constant-time backend, called over real HTTP
by ``--clients`` threads of the official ``openai`` SDK, each request carrying ``--texts`` texts
(4; from 32 the decisions run in a worker thread). Three
configurations: no threshold file, enforce without a log, shadow with the decision log (text
hashed). Prints p50/p99 request latency, throughput, the records written against the inputs
sent (none lost, none twice) and the 1-minute load average before and after.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import openai

import modkit
from modkit import ModerationResult
from modkit.backends import SyncBackend
from modkit.server import DecisionPolicy, ServerThread, ThresholdSource, create_app

CATS = ("harassment", "hate", "self-harm", "sexual", "violence")


class Constant(SyncBackend):
    name, model = "constant", "constant-1"

    def score_batch(self, texts):
        out = []
        for t in texts:
            v = (hash(t) % 1000) / 1000
            scores = dict.fromkeys(CATS, v)
            flags = {c: v >= 0.5 for c in CATS}
            out.append(ModerationResult(v >= 0.5, flags, scores, model="constant-1"))
        return out


def run(app, requests: int, clients: int, texts: int = 4) -> tuple[np.ndarray, float]:
    with ServerThread(app) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=5)
        client.moderations.create(input="warm up")

        def one(i: int) -> float:
            t0 = time.perf_counter()
            client.moderations.create(input=[f"text {i} {j}" for j in range(texts)])
            return time.perf_counter() - t0

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            lat = np.array(list(pool.map(one, range(requests))))
        return lat, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--texts", type=int, default=4, help="texts per request")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp())
    t = modkit.ThresholdSet.from_thresholds(
        {"violence": {"block": 0.8, "review": 0.4}, "hate": 0.3}
    ).save(folder / "t.json")
    source = ThresholdSource.load(t)
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(f"{args.requests} requests x {args.texts} texts, {args.clients} concurrent SDK clients")
    print("| configuration | p50 ms | p99 ms | requests/s |")
    print("|---|---:|---:|---:|")
    log = None
    for name in ("no thresholds", "enforce, no log", "shadow + decision log"):
        if name == "no thresholds":
            app = create_app(Constant())
        elif name == "enforce, no log":
            app = create_app(Constant(), decisions=DecisionPolicy(source))
        else:
            log = modkit.DecisionLog(folder / "d.jsonl", rotate_bytes=1 << 20)
            app = create_app(Constant(), decisions=DecisionPolicy(source, shadow=True, log=log))
        lat, wall = run(app, args.requests, args.clients, args.texts)
        p50, p99 = np.percentile(lat * 1000, [50, 99])
        print(f"| {name} | {p50:.1f} | {p99:.1f} | {args.requests / wall:.0f} |")
    assert log is not None
    log.close()
    frame = modkit.read_decision_log(folder / "d.jsonl")
    sent = args.requests * args.texts + 1
    dup = int(frame.duplicated(["request_id", "index"]).sum())
    print(
        f"decision log: {len(frame)} records for {sent} inputs, {dup} duplicated, "
        f"{len(frame.attrs['files'])} file(s)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
