"""Benchmark: ``modkit serve`` under concurrent SDK clients, against direct calls.

Run from the repo root::

    .venv/bin/python benchmarks/bench_serve.py [--requests 400] [--clients 1 8]

Every server runs in its own process (its own interpreter lock); the clients are threads of
this process, each with its own official ``openai`` SDK client (``max_retries=0``), each
sending one text per request (``client.moderations.create``). Four set-ups:

* ``proxy``: ``modkit serve --backend openai --base-url <upstream> --no-cache`` in front of a
  :class:`modkit.testing.FaultServer` (``--latency``, default 0: the server's own overhead
  is what is left); its baseline ``direct-upstream`` is the same clients calling the
  FaultServer directly. The proxy overhead is the difference of the medians with one
  client (target: <= 10 ms at p50, issue 20 point 5).
* ``proxy+thresholds``: the same with ``--thresholds`` (decisions on every response).
* ``local``: ``modkit serve`` on the embedded local scorer (``--no-cache``, distinct texts
  so every request is scored); its baseline ``direct-local`` is
  :class:`modkit.backends.LocalBackend` scoring one text per call in this process (the
  encoder's own cost).

For each set-up and each client count it prints requests per second, p50 and p99 latency
(ms), and the 1-minute load average (the machine is shared: compare ratios within a run).
Nothing here is a timed test: figures go to the benchmarks page with this command.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

UPSTREAM_SCRIPT = """
import json, sys
from modkit.testing import FaultServer
with FaultServer(latency=float(sys.argv[1])) as srv:
    print(srv.port, flush=True)
    sys.stdin.read()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


class Upstream:
    """A FaultServer in a child process."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", UPSTREAM_SCRIPT, str(latency)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/v1"
        _wait_healthy(self.port, self.proc)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


class Serve:
    """``modkit serve`` in a child process."""

    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        modkit_cli = str(Path(sys.executable).with_name("modkit"))
        cmd = [modkit_cli, "serve", "--port", str(self.port), "--no-access-log", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_healthy(self.port, self.proc)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _texts(n: int, tag: str) -> list[str]:
    return [f"serve benchmark {tag} text {i}: the quick brown fox jumps" for i in range(n)]


def sdk_load(url: str, texts: list[str], clients: int) -> tuple[float, np.ndarray]:
    """Requests/s and per-request latencies (s) of ``clients`` threads sharing ``texts``."""
    from openai import OpenAI

    chunks = [texts[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    sdks = [OpenAI(base_url=url, api_key="sk-bench", max_retries=0) for _ in range(clients)]
    for sdk in sdks:  # one warm-up request each: connections open, routes compiled
        sdk.moderations.create(input="warm up", model="omni-moderation-latest")
    barrier = threading.Barrier(clients + 1)

    def work(i: int) -> None:
        barrier.wait()
        for text in chunks[i]:
            t0 = time.perf_counter()
            sdks[i].moderations.create(input=text, model="omni-moderation-latest")
            latencies[i].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for sdk in sdks:
        sdk.close()
    return len(texts) / elapsed, np.concatenate([np.asarray(x) for x in latencies])


def local_direct(texts: list[str], clients: int) -> tuple[float, np.ndarray]:
    """The same load on :class:`modkit.backends.LocalBackend` in this process (one text a
    call)."""
    from modkit.backends import LocalBackend

    backend = LocalBackend().load()
    backend.score(["warm up"])
    chunks = [texts[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]

    def work(i: int) -> None:
        for text in chunks[i]:
            t0 = time.perf_counter()
            backend.score([text])
            latencies[i].append(time.perf_counter() - t0)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return len(texts) / elapsed, np.concatenate([np.asarray(x) for x in latencies])


def _thresholds_file(folder: Path) -> Path:
    import modkit

    ts = modkit.ThresholdSet.from_dict(
        {"categories": {"violence": {"block": 0.5, "review": 0.2}, "hate": {"block": 0.6}}}
    )
    return ts.save(folder / "thresholds.json")


def _row(name: str, clients: int, rps: float, lat: np.ndarray) -> dict:
    p50, p99 = np.percentile(lat * 1000, [50, 99])
    row = {
        "setup": name,
        "clients": clients,
        "requests_per_s": round(rps, 1),
        "p50_ms": round(float(p50), 2),
        "p99_ms": round(float(p99), 2),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(
        f"{name:<18} clients={clients:<3} {rps:8.1f} req/s  p50 {p50:7.2f} ms  "
        f"p99 {p99:7.2f} ms  (load {row['load_1min']})",
        flush=True,
    )
    return row


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=400, help="requests per run (400)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="(1 8)")
    p.add_argument("--latency", type=float, default=0.0, help="upstream latency, s (0)")
    p.add_argument("--skip-local", action="store_true", help="proxy set-ups only")
    p.add_argument("--json", type=Path, help="also write the rows to this file")
    args = p.parse_args()

    rows = []
    upstream = Upstream(args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            thresholds = _thresholds_file(Path(tmp))
            proxy_args = ["--backend", "openai", "--base-url", upstream.url, "--no-cache"]
            env_key = "MODKIT_BENCH_UPSTREAM_KEY"
            os.environ[env_key] = "sk-bench-upstream"
            proxy_args += ["--upstream-api-key-env", env_key]
            setups = [
                ("direct-upstream", None),
                ("proxy", Serve(*proxy_args)),
                ("proxy+thresholds", Serve(*proxy_args, "--thresholds", str(thresholds))),
            ]
            for name, server in setups:
                url = upstream.url if server is None else server.url
                for clients in args.clients:
                    rps, lat = sdk_load(url, _texts(args.requests, f"{name}{clients}"), clients)
                    rows.append(_row(name, clients, rps, lat))
                if server is not None:
                    server.close()
            base = {r["clients"]: r for r in rows if r["setup"] == "direct-upstream"}
            for r in rows:
                if r["setup"].startswith("proxy"):
                    extra = r["p50_ms"] - base[r["clients"]]["p50_ms"]
                    print(
                        f"  {r['setup']} overhead at p50, {r['clients']} client(s): {extra:.2f} ms"
                    )
            if not args.skip_local:
                n_local = max(args.requests // 4, 50)
                for clients in args.clients:
                    rps, lat = local_direct(_texts(n_local, f"direct{clients}"), clients)
                    rows.append(_row("direct-local", clients, rps, lat))
                local = Serve("--backend", "local", "--no-cache")
                for clients in args.clients:
                    rps, lat = sdk_load(local.url, _texts(n_local, f"local{clients}"), clients)
                    rows.append(_row("local", clients, rps, lat))
                local.close()
    finally:
        upstream.close()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
