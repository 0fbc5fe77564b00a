"""End-to-end: ``modkit.moderate`` and the ``modkit`` CLI over real HTTP on 127.0.0.1.

The client side is the real thing (``OpenAIBackend`` on the official ``openai`` SDK);
the server side is :class:`modkit.testing.FaultServer`, which misbehaves on request
and counts what it received.
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import modkit
from modkit import AuthenticationError, Cache, QuotaExceededError, moderate, read_table, write_table
from modkit._cache import cache_key
from modkit.backends import OpenAIBackend
from modkit.testing import Fault, FaultServer

MODKIT = str(Path(sys.executable).with_name("modkit"))
MODEL = "omni-moderation-latest"


def _texts(n: int, tag: str = "t") -> list[str]:
    return [f"{tag} text number {i} — with ünïcode" for i in range(n)]


def _check_complete(df: pd.DataFrame, texts: list[str], srv: FaultServer) -> None:
    """Every row scored, in order, with exactly the scores the server sent."""
    assert df["text"].tolist() == texts
    assert (df["error"] == "").all(), df.loc[df["error"] != "", "error"].tolist()
    assert (df["model"] == srv.model).all()
    for row in df.to_dict("records"):
        sent = srv.result_for(row["text"])
        assert {c: row[c] for c in sent["category_scores"]} == sent["category_scores"]
        assert bool(row["flagged"]) == sent["flagged"]
    assert df["moderation_id"].str.startswith("modr-").all()


def _backend(srv: FaultServer, key: str = "sk-test") -> OpenAIBackend:
    return OpenAIBackend(base_url=srv.url, api_key=key)


RETRIED = {
    "rate_limited retry-after": Fault.rate_limited(retry_after=0.05),
    "rate_limited retry-after-ms": Fault.rate_limited(retry_after_ms=30),
    "rate_limited no header": Fault.rate_limited(),
    "500": Fault.server_error(500),
    "503": Fault.server_error(503),
    "408": Fault.server_error(408),
    "409": Fault.server_error(409),
    "dropped connection": Fault.drop(),
    "truncated json": Fault.truncate(),
    "slow": Fault.slow(0.2),
}


@pytest.mark.parametrize("fault", RETRIED.values(), ids=RETRIED.keys())
def test_transient_faults_are_retried_and_nothing_is_lost(fault):
    texts = _texts(40)
    with FaultServer(latency=0.01) as srv:
        srv.push(fault, fault, fault)
        df = moderate(texts, backend=_backend(srv), cache=None, batch_size=4, progress=False)
        assert srv.pending_faults() == 0
        _check_complete(df, texts, srv)
        scored = srv.scored_counts()
        assert set(scored) == set(texts)
        assert max(scored.values()) == 1  # nothing scored twice
        faulty = [r for r in srv.moderation_requests() if r.outcome != "ok"]
        assert len(faulty) == (0 if fault.kind == "delay" else 3)


def test_insufficient_quota_fails_fast_and_keeps_what_it_has(tmp_path):
    texts = _texts(12)
    with FaultServer() as srv, Cache(tmp_path / "c.sqlite3") as cache:
        srv.push(Fault.quota())
        with pytest.raises(QuotaExceededError, match="quota") as info:
            moderate(
                texts,
                backend=_backend(srv),
                cache=cache,
                batch_size=4,
                concurrency=1,
                progress=False,
            )
        assert len(srv.moderation_requests()) == 1  # not retried
        partial = info.value.partial
        assert partial["text"].tolist() == texts
        assert partial["error"].str.contains("quota").all()
        # once the quota is back, a re-run scores everything
        df = moderate(texts, backend=_backend(srv), cache=cache, batch_size=4, progress=False)
        _check_complete(df, texts, srv)


def test_unauthorized_fails_fast_with_a_clear_message():
    with FaultServer(api_key="sk-right") as srv:
        with pytest.raises(AuthenticationError) as info:
            moderate(
                _texts(10),
                backend=_backend(srv, "sk-wrong"),
                cache=None,
                batch_size=5,
                concurrency=1,
                progress=False,
            )
        assert str(info.value) == "authentication failed: check OPENAI_API_KEY"
        assert len(srv.moderation_requests()) == 1


def test_scripted_401_is_not_retried():
    with FaultServer() as srv:
        srv.push(Fault.unauthorized())
        with pytest.raises(AuthenticationError, match="check OPENAI_API_KEY"):
            moderate(_texts(3), backend=_backend(srv), cache=None, progress=False)
        assert len(srv.moderation_requests()) == 1


def test_persistent_5xx_gives_up_after_max_retries():
    texts = _texts(6)
    with FaultServer() as srv:
        srv.default_fault = Fault.server_error(502)
        df = moderate(
            texts,
            backend=_backend(srv),
            cache=None,
            batch_size=3,
            concurrency=2,
            max_retries=2,
            progress=False,
        )
        assert df["error"].str.startswith("failed after 3 attempts").all()
        assert srv.sent_counts() == dict.fromkeys(texts, 3)


def test_per_item_rejection_is_found_by_bisection():
    texts = _texts(16)
    bad = {texts[5], texts[11]}
    with FaultServer(reject=lambda t: "input is too long" if t in bad else None) as srv:
        df = moderate(texts, backend=_backend(srv), cache=None, batch_size=8, progress=False)
        failed = df.loc[df["error"] != "", "text"]
        assert set(failed) == bad
        assert df.loc[df["error"] != "", "error"].str.contains("too long").all()
        good = df[df["error"] == ""]
        _check_complete(good.reset_index(drop=True), [t for t in texts if t not in bad], srv)
        assert max(srv.scored_counts().values()) == 1
        with pytest.raises(modkit.ItemErrorsRaised, match="2 of 16"):
            moderate(
                texts,
                backend=_backend(srv),
                cache=None,
                batch_size=8,
                progress=False,
                errors="raise",
            )


def test_rate_limiter_settles_and_loses_nothing():
    texts = _texts(40)
    with FaultServer(rpm=1200, burst=2) as srv:
        df = moderate(
            texts, backend=_backend(srv), cache=None, batch_size=2, concurrency=4, progress=False
        )
        _check_complete(df, texts, srv)
        assert max(srv.scored_counts().values()) == 1
        assert any(r.outcome == "rate_limited" for r in srv.moderation_requests())


def test_limiter_without_headers_is_learned_from_429s():
    texts = _texts(60)
    with FaultServer(rpm=1200, burst=2, rate_limit_headers=False) as srv:
        df = moderate(
            texts, backend=_backend(srv), cache=None, batch_size=1, concurrency=4, progress=False
        )
        _check_complete(df, texts, srv)
        outcomes = Counter(r.outcome for r in srv.moderation_requests())
        assert outcomes["ok"] == 60
        assert 0 < outcomes["rate_limited"] < 60  # it backed off instead of hammering


def test_duplicates_and_cache_over_http(tmp_path):
    texts = _texts(10) * 3
    with FaultServer() as srv, Cache(tmp_path / "c.sqlite3") as cache:
        df = moderate(texts, backend=_backend(srv), cache=cache, batch_size=4, progress=False)
        _check_complete(df, texts, srv)
        assert srv.sent_counts() == dict.fromkeys(set(texts), 1)
        srv.reset()
        again = moderate([*texts, "one more"], backend=_backend(srv), cache=cache, progress=False)
        assert [r.inputs for r in srv.moderation_requests()] == [["one more"]]
        pd.testing.assert_frame_equal(again.iloc[:30], df)


def _leaks(canary: str, *blobs: str | bytes) -> list[int]:
    return [
        i for i, b in enumerate(blobs) if (canary.encode() if isinstance(b, bytes) else canary) in b
    ]


def test_canary_key_appears_in_no_cache_output_log_repr_or_error(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    canary = f"sk-canary-{uuid.uuid4().hex}"
    texts = _texts(20)
    cache_path = tmp_path / "cache.sqlite3"
    with FaultServer(api_key=canary) as srv:
        srv.push(Fault.rate_limited(retry_after=0.01), Fault.drop(), Fault.server_error())
        cache = Cache(cache_path)
        backend = _backend(srv, canary)
        df = moderate(texts, backend=backend, cache=cache, batch_size=4, progress=False)
        _check_complete(df, texts, srv)
        assert srv.received_key(canary)  # the key did arrive
        # errors whose body echoes the key: 400 (per item), 403, 401
        srv.push(Fault("status", 400, "invalid_request_error", None, "bad input", echo_key=True))
        rejected = moderate(["a rejected text"], backend=backend, cache=cache, progress=False)
        assert rejected["error"].iloc[0].startswith("HTTP 400: bad input")
        messages = [rejected["error"].iloc[0]]
        for fault in (
            Fault("status", 403, "permission_error", None, "no", echo_key=True),
            Fault.unauthorized(echo_key=True),
        ):
            srv.push(fault)
            with pytest.raises(AuthenticationError) as info:
                moderate(["another text"], backend=backend, cache=cache, progress=False)
            messages += [str(info.value), repr(info.value), info.value.partial.to_csv()]
        for ext in (".csv", ".jsonl", ".parquet"):
            write_table(df, tmp_path / f"out{ext}")
        wal_bytes = [p.read_bytes() for p in tmp_path.glob("cache.sqlite3*")]
        cache.close()
    files = [p.read_bytes() for p in tmp_path.iterdir()]
    assert len(files) >= 4  # the cache and three outputs
    assert not _leaks(
        canary,
        *files,
        *wal_bytes,
        *messages,
        caplog.text,
        repr(backend),
        repr(cache),
        str(vars(backend)),
    )


def _cli(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [MODKIT, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _env(key: str = "sk-test") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODKIT_"))}
    env["OPENAI_API_KEY"] = key
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_cli_stderr_never_shows_the_canary(tmp_path):
    canary = f"sk-canary-{uuid.uuid4().hex}"
    src = tmp_path / "in.txt"
    src.write_text("\n".join(_texts(8)), encoding="utf-8")
    with FaultServer(api_key=canary) as srv:
        srv.push(Fault.server_error(), Fault.drop())
        base = [
            "-v",
            "moderate",
            str(src),
            "--backend",
            "openai",
            "--base-url",
            srv.url,
            "--cache",
            str(tmp_path / "c.sqlite3"),
            "--batch-size",
            "2",
        ]
        ok = _cli([*base, "-o", str(tmp_path / "out.jsonl")], _env(canary))
        out, err = ok.communicate(timeout=120)
        assert ok.returncode == 0, err
        assert "retrying" in err  # -v logged the retries
        srv.push(Fault.unauthorized(echo_key=True))
        src.write_text("something new", encoding="utf-8")
        bad = _cli([*base, "-o", str(tmp_path / "out2.csv")], _env(canary))
        out2, err2 = bad.communicate(timeout=120)
        assert bad.returncode == 1
        assert "authentication failed: check OPENAI_API_KEY" in err2
    assert srv.received_key(canary)
    assert not _leaks(canary, out, err, out2, err2, *[p.read_bytes() for p in tmp_path.iterdir()])


def _cached_texts(path: Path, srv: FaultServer, texts: list[str]) -> set[str]:
    ns = f"openai:{srv.url}"
    keys = {cache_key(ns, MODEL, t): t for t in texts}
    with Cache(path) as cache:
        return {keys[k] for k in cache.get_many(keys)}


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the run to make progress")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_run_resumes_and_sends_only_the_rest(tmp_path, sig):
    texts = _texts(40, "resume")
    src, out = tmp_path / "in.csv", tmp_path / "out.parquet"
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(src, index=False)
    cache_path = tmp_path / "cache.sqlite3"
    with FaultServer(latency=0.25) as srv:
        args = [
            "moderate",
            str(src),
            "-o",
            str(out),
            "--backend",
            "openai",
            "--base-url",
            srv.url,
            "--cache",
            str(cache_path),
            "--batch-size",
            "2",
            "--concurrency",
            "2",
        ]
        proc = _cli(args, _env())
        _wait_for(lambda: len(srv.scored_counts()) >= 8, proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if sig == signal.SIGINT:
            assert proc.returncode == 130, err
            assert "interrupted" in err
        else:
            assert proc.returncode == -signal.SIGKILL
        assert not out.exists()
        assert srv.wait_idle()  # requests of the dead client are finished (and recorded)
        kept = _cached_texts(cache_path, srv, texts)
        first_scored = set(srv.scored_counts())
        assert kept and kept <= first_scored and len(kept) < len(texts)
        # at most the requests in flight were answered but not yet stored
        assert len(first_scored - kept) <= 2 * 2
        srv.reset()
        srv.latency = 0.0
        rerun = _cli(args, _env())
        _, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        assert set(srv.sent_counts()) == set(texts) - kept  # only the rest was sent
        assert max(srv.sent_counts().values()) == 1
        df = read_table(out)
        assert df["id"].tolist() == list(range(len(texts)))
        _check_complete(df, texts, srv)


@pytest.mark.slow
def test_two_processes_share_one_cache(tmp_path):
    texts = _texts(120, "shared")
    a, b = texts[:80], texts[40:]
    cache_path = tmp_path / "shared.sqlite3"
    with FaultServer(latency=0.02) as srv:
        procs = []
        for name, part in (("a", a), ("b", b)):
            src = tmp_path / f"{name}.txt"
            src.write_text("\n".join(part), encoding="utf-8")
            procs.append(
                _cli(
                    [
                        "moderate",
                        str(src),
                        "-o",
                        str(tmp_path / f"{name}.csv"),
                        "--backend",
                        "openai",
                        "--base-url",
                        srv.url,
                        "--cache",
                        str(cache_path),
                        "--batch-size",
                        "3",
                        "--concurrency",
                        "2",
                    ],
                    _env(),
                )
            )
        for p in procs:
            _, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
        for name, part in (("a", a), ("b", b)):
            _check_complete(read_table(tmp_path / f"{name}.csv"), part, srv)
        assert _cached_texts(cache_path, srv, texts) == set(texts)
    with sqlite3.connect(cache_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == len(texts)
