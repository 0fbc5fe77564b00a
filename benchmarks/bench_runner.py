"""Benchmark: ``modkit.moderate`` against the naive loop, and under a requests-per-minute limit.

Run from the repo root::

    .venv/bin/python benchmarks/bench_runner.py

Three measurements against :class:`modkit.testing.FaultServer` on 127.0.0.1 (run in a
separate process so that the server and the client do not share one interpreter lock):

1. The naive loop: the official ``openai`` SDK, one text per request, sequential.
2. ``modkit.moderate`` on the same texts (no cache), and its time over the latency-bound
   ideal ``ceil(n / (batch_size * concurrency)) * latency``.
3. ``modkit.moderate`` against the same server limiting requests per minute: the share of
   that budget it used (successful requests over the requests the token bucket could
   grant in the run's time), with nothing lost and nothing scored twice.

Targets: >= 100x the naive loop and within 1.2x of the ideal (issue 8; issue 2 asked for
50x and 1.5x), >= 90 % of the budget. The run uses ``cache=None``: nothing is hashed and
each result is serialised once (for its ``result_json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import modkit
from modkit.backends import OpenAIBackend

SERVER_SCRIPT = """
import json, sys, time
from modkit.testing import FaultServer
cfg = json.loads(sys.argv[1])
with FaultServer(**cfg) as srv:
    print(srv.port, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    recs = srv.moderation_requests()
    ok = [r for r in recs if r.outcome == "ok"]
    summary = {
        "requests": len(recs),
        "ok": len(ok),
        "rate_limited": sum(r.outcome == "rate_limited" for r in recs),
        "first_ok": min((r.received for r in ok), default=0.0),
        "last_ok": max((r.received for r in ok), default=0.0),
        "max_scored": max(srv.scored_counts().values(), default=0),
        "distinct_scored": len(srv.scored_counts()),
    }
    print(json.dumps(summary), flush=True)
"""


class Server:
    """A FaultServer in a child process (its own interpreter, its own GIL)."""

    def __init__(self, **cfg: object) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=30):
            pass

    def finish(self) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        summary = json.loads(self.proc.stdout.readline())
        self.proc.wait(30)
        return summary


def texts(n: int, tag: str) -> list[str]:
    return [f"benchmark text {tag} number {i}: the quick brown fox" for i in range(n)]


def naive(url: str, items: list[str]) -> float:
    from openai import OpenAI

    client = OpenAI(base_url=url, api_key="sk-bench", max_retries=0)
    start = time.perf_counter()
    for text in items:
        client.moderations.create(input=text, model="omni-moderation-latest")
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def run_modkit(url: str, items: list[str], batch_size: int, concurrency: int) -> tuple:
    backend = OpenAIBackend(base_url=url, api_key="sk-bench")
    start = time.perf_counter()
    df = modkit.moderate(
        items,
        backend=backend,
        cache=None,
        batch_size=batch_size,
        concurrency=concurrency,
        progress=False,
    )
    return time.perf_counter() - start, df


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1000, help="distinct texts (default 1000)")
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (0.05)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument(
        "--naive-n",
        type=int,
        default=1000,
        help="texts for the naive loop (default 1000; its texts/s is the figure)",
    )
    p.add_argument("--rpm", type=float, default=600, help="requests/min limit (default 600)")
    p.add_argument("--rpm-n", type=int, default=2000, help="texts in the rate-limited run")
    p.add_argument("--rpm-batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="modkit runs (best is reported)")
    p.add_argument("--only", choices=["speed", "rpm"], help="run one part only")
    args = p.parse_args()
    os.environ.pop("OPENAI_API_KEY", None)

    rows: list[tuple[str, str]] = []
    if args.only != "rpm":
        rows += speed(args)
    if args.only != "speed":
        rows += budget(args)
    cmd = " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    print(f"`{cmd}` (2-core machine, server in a child process on 127.0.0.1)\n")
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0


def speed(args: argparse.Namespace) -> list[tuple[str, str]]:
    srv = Server(latency=args.latency)
    try:
        naive_items = texts(args.naive_n, "naive")
        t_naive = naive(srv.url, naive_items)
        naive_rate = len(naive_items) / t_naive
        best = math.inf
        for r in range(args.repeats):
            items = texts(args.n, f"run{r}")
            elapsed, df = run_modkit(srv.url, items, args.batch_size, args.concurrency)
            assert not df["error"].astype(bool).any(), "a text failed"
            best = min(best, elapsed)
    finally:
        srv.finish()
    rate = args.n / best
    ideal = math.ceil(args.n / (args.batch_size * args.concurrency)) * args.latency
    return [
        ("naive loop (SDK, 1 text/request, sequential)", f"{naive_rate:,.1f} texts/s"),
        (
            f"modkit.moderate (batch {args.batch_size}, concurrency {args.concurrency})",
            f"{rate:,.0f} texts/s ({best:.3f} s for {args.n})",
        ),
        ("speed-up over the naive loop", f"{rate / naive_rate:,.1f}x (target >= 100x)"),
        ("latency-bound ideal ceil(n/(b*c))*latency", f"{ideal:.3f} s"),
        ("modkit time / ideal", f"{best / ideal:.2f}x (target <= 1.2x)"),
    ]


def budget(args: argparse.Namespace) -> list[tuple[str, str]]:
    rows = []
    for headers in (True, False):
        srv = Server(latency=args.latency, rpm=args.rpm, rate_limit_headers=headers)
        items = texts(args.rpm_n, f"rpm{headers}")
        try:
            elapsed, df = run_modkit(srv.url, items, args.rpm_batch_size, args.concurrency)
        finally:
            summary = srv.finish()
        lost = int(df["error"].astype(bool).sum())
        # The bucket starts full (burst = rpm/60) and refills at rpm/60 per second.
        window = summary["last_ok"] - summary["first_ok"]
        burst = max(1.0, args.rpm / 60)
        share = summary["ok"] / (burst + window * args.rpm / 60)
        how = "with x-ratelimit-* headers" if headers else "429 + retry-after only"
        rows += [
            (
                f"{args.rpm:g} requests/min ({how}), {args.rpm_n} texts, "
                f"batch {args.rpm_batch_size}",
                f"{elapsed:.1f} s, {summary['ok']} requests ok, {summary['rate_limited']} got 429",
            ),
            (f"share of the request budget used ({how})", f"{share:.1%} (target >= 90%)"),
            (
                f"texts lost / scored twice ({how})",
                f"{lost} / {max(0, summary['max_scored'] - 1)} "
                f"({summary['distinct_scored']} of {args.rpm_n} scored)",
            ),
        ]
    return rows


if __name__ == "__main__":
    sys.exit(main())
