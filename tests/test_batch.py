"""The OpenAI Batch API path: ``moderate(..., via="batch")`` and ``modkit moderate
--batch-api``, with the official SDK over real HTTP against the FaultServer's fake
``/v1/files`` and ``/v1/batches``."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import BatchAPI, Cache, InputError, ItemErrorsRaised, read_table
from modkit._batch import parse_output_line, request_line, split_requests
from modkit._cache import cache_key
from modkit.backends import PROBE_TEXT, OpenAIBackend
from modkit.cli import main
from modkit.testing import BatchScript, FaultServer, fake_result

MODKIT = str(Path(sys.executable).with_name("modkit"))
MODEL = "omni-moderation-latest"
FAST = BatchAPI(poll_interval=0.01)


def _texts(n: int, tag: str = "t") -> list[str]:
    return [f"{tag} text {i} — ünïcode" for i in range(n)]


@pytest.fixture
def srv():
    with FaultServer(reject=lambda t: "input is not allowed" if "REJECT" in t else None) as s:
        yield s


def _backend(srv: FaultServer, key: str = "sk-test-batch") -> OpenAIBackend:
    return OpenAIBackend(MODEL, base_url=srv.url, api_key=key)


def _key(srv: FaultServer, text: str) -> str:
    return cache_key(f"openai:{srv.url}", MODEL, text)


def _check_scores(df: pd.DataFrame, srv: FaultServer) -> None:
    for _, row in df[df["error"] == ""].iterrows():
        want = fake_result(row["text"])
        assert row["flagged"] == want["flagged"]
        for cat, score in want["category_scores"].items():
            assert row[cat] == pytest.approx(score)
        assert json.loads(row["result_json"])["category_applied_input_types"]


def test_scores_through_batches_split_under_the_request_limit(srv, tmp_path):
    texts = [*_texts(7), "t text 0 — ünïcode", None]
    cache = tmp_path / "c.sqlite3"
    via = BatchAPI(poll_interval=0.01, max_requests_per_file=3)
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=via, progress=False)
    assert df["error"].tolist()[:8] == [""] * 8
    assert df["error"].iloc[8] == "text is missing or not a string"
    _check_scores(df, srv)
    assert df["model"].iloc[0] == srv.model
    uploads = srv.batch_api.uploads()
    assert len(uploads) == math.ceil(7 / 3)  # the duplicate is sent once
    sent = {}
    for f in uploads:
        lines = srv.batch_api.input_lines(f.id)
        assert len(lines) <= 3
        for line in lines:
            assert line["method"] == "POST" and line["url"] == "/v1/moderations"
            assert line["body"]["model"] == MODEL
            sent[line["custom_id"]] = line["body"]["input"]
    assert sent == {_key(srv, t): t for t in _texts(7)}  # custom_id is the cache key
    assert all(b.endpoint == "/v1/moderations" for b in srv.batch_api.batches.values())
    with Cache(cache) as c:
        assert len(c.get_many(sent)) == 7
    # everything cached: a second run submits nothing, and the request path shares it
    again = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=via, progress=False)
    pd.testing.assert_frame_equal(again, df)
    sync = modkit.moderate(texts[:7], backend=_backend(srv), cache=cache, progress=False)
    assert len(srv.batch_api.uploads()) == len(uploads)
    # only the one request that asks which snapshot the alias answers with today
    assert [r.inputs for r in srv.moderation_requests()] == [[PROBE_TEXT]]
    assert sync["flagged"].tolist() == df["flagged"].iloc[:7].tolist()


def test_files_are_split_under_the_byte_limit(srv, tmp_path):
    texts = _texts(12, "a longer text to fill the bytes of a file")
    limit = 2 * len(request_line("k" * 64, MODEL, texts[0])) + 5
    via = BatchAPI(poll_interval=0.01, max_bytes_per_file=limit)
    big = "x" * limit
    df = modkit.moderate(
        [*texts, big], backend=_backend(srv), cache=tmp_path / "c", via=via, progress=False
    )
    assert (df["error"].iloc[:12] == "").all()
    assert "too large for one Batch API input file" in df["error"].iloc[12]
    uploads = srv.batch_api.uploads()
    assert len(uploads) == 6
    assert all(len(f.data) <= limit for f in uploads)


@given(
    st.lists(st.integers(1, 60), max_size=40),
    st.integers(1, 6),
    st.integers(1, 150),
)
def test_split_requests_keeps_order_and_limits(sizes, max_requests, max_bytes):
    lines = [(f"k{i}", b"x" * (n - 1) + b"\n") for i, n in enumerate(sizes)]
    out = list(split_requests(lines, max_requests, max_bytes))
    sent, skipped = [], []
    for keys, data in out:
        if data is None:
            skipped.append(keys)
            continue
        assert 1 <= len(keys) <= max_requests
        assert len(data) <= max_bytes
        assert data == b"".join(dict(lines)[k] for k in keys)
        sent.extend(keys)
    assert skipped == [k for k, line in lines if len(line) > max_bytes]
    assert sent == [k for k, line in lines if len(line) <= max_bytes]
    # a file is cut only when the next line would break a limit
    files = [(k, d) for k, d in out if d is not None]
    for (keys, data), (nxt, _) in itertools.pairwise(files):
        first = dict(lines)[nxt[0]]
        assert len(keys) == max_requests or len(data) + len(first) > max_bytes


@given(
    st.text(min_size=1, max_size=20),
    st.sampled_from([200, 400, 500]),
    st.text(max_size=30),
    st.booleans(),
)
def test_output_line_parser(custom_id, status, message, as_error):
    body = (
        {"id": "modr-1", "model": "m", "results": [fake_result(custom_id)]}
        if status == 200
        else {"error": {"message": message, "code": "c1"}}
    )
    line = {
        "id": "batch_req_1",
        "custom_id": custom_id,
        "response": None if as_error else {"status_code": status, "request_id": "r", "body": body},
        "error": {"code": "batch_expired", "message": message} if as_error else None,
    }
    key, out = parse_output_line(json.dumps(line), where="f line 3")
    assert key == custom_id
    if as_error:
        assert isinstance(out, modkit.ItemError) and out.code == "batch_expired"
    elif status == 200:
        assert out.category_scores == fake_result(custom_id)["category_scores"]
        assert (out.model, out.id) == ("m", "modr-1")
    else:
        assert out.message.startswith(f"HTTP {status}: ") and out.code == "c1"


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not valid JSON"),
        ('{"response": {}}', "no 'custom_id'"),
        ('{"custom_id": "k"}', "neither 'response' nor 'error'"),
        ('{"custom_id": "k", "response": {"status_code": 200, "body": {}}}', "one result"),
        (
            '{"custom_id": "k", "response": {"status_code": 200, "body": {"results": [{}]}}}',
            r"results\[0\]: ",  # the parser's own words follow
        ),
    ],
)
def test_malformed_output_lines_name_file_and_line(line, why):
    with pytest.raises(InputError, match=f"^out.jsonl line 7: .*{why}"):
        parse_output_line(line, where="out.jsonl line 7")


def test_per_request_errors_are_recorded_and_not_cached(srv, tmp_path):
    texts = ["fine one", "please REJECT me", "fine two"]
    cache = tmp_path / "c.sqlite3"
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert df["error"].iloc[0] == "" and df["error"].iloc[2] == ""
    err = df["error"].iloc[1]
    assert (
        err.startswith("OpenAI batch batch-") and "HTTP 400: input[0]: input is not allowed" in err
    )
    with Cache(cache) as c:
        assert set(c.get_many([_key(srv, t) for t in texts])) == {
            _key(srv, "fine one"),
            _key(srv, "fine two"),
        }
    with pytest.raises(ItemErrorsRaised, match="1 of 3 texts failed") as info:
        modkit.moderate(
            texts, backend=_backend(srv), cache=cache, via=FAST, progress=False, errors="raise"
        )
    assert info.value.partial["error"].astype(bool).tolist() == [False, True, False]


@pytest.mark.parametrize("outcome", ["expire", "cancel"])
def test_expired_or_cancelled_batch_keeps_what_ran_and_rerun_sends_the_rest(srv, tmp_path, outcome):
    texts = _texts(6, outcome)
    cache = tmp_path / "c.sqlite3"
    srv.batch_api.script(BatchScript(outcome, after=2))
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    ok = df["error"] == ""
    assert ok.tolist() == [True, True, False, False, False, False]
    word = {"expire": "expired", "cancel": "cancelled"}[outcome]
    assert df.loc[~ok, "error"].str.contains(f"(batch_{word})", regex=False).all()
    _check_scores(df, srv)
    again = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert (again["error"] == "").all()
    _check_scores(again, srv)
    second = srv.batch_api.uploads()[1]
    resent = {line["body"]["input"] for line in srv.batch_api.input_lines(second.id)}
    assert resent == set(texts[2:])


def test_failed_batch_is_reported_per_row(srv, tmp_path):
    srv.batch_api.script(BatchScript("fail", message="custom_id must be unique", line=2))
    df = modkit.moderate(
        _texts(3), backend=_backend(srv), cache=tmp_path / "c", via=FAST, progress=False
    )
    assert (
        df["error"]
        .str.match(r"OpenAI batch batch-\w+ failed validation: line 2: custom_id must be unique")
        .all()
    )


def test_user_cancelled_batch_is_reported(srv, tmp_path):
    """A batch cancelled by someone else (dashboard, another client) mid-run."""
    import openai

    srv.batch_api.hold()
    cache = tmp_path / "c"
    pending = modkit.moderate(
        _texts(2), backend=_backend(srv), cache=cache, via=BatchAPI(max_wait=0), progress=False
    )
    assert pending["error"].str.contains("pending in OpenAI batch").all()
    (batch_id,) = srv.batch_api.batches
    with openai.OpenAI(base_url=srv.url, api_key="sk-x") as client:
        client.batches.cancel(batch_id)
    df = modkit.moderate(_texts(2), backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert df["error"].str.contains(f"OpenAI batch {batch_id}").all()
    assert df["error"].str.contains("batch_cancelled").all()


def test_submit_now_collect_later(srv, tmp_path):
    texts = _texts(5, "later")
    cache = tmp_path / "c.sqlite3"
    srv.batch_api.hold()
    submit = BatchAPI(poll_interval=0.01, max_wait=0)
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=submit, progress=False)
    (batch_id,) = srv.batch_api.batches
    assert df["error"].str.startswith(f"pending in OpenAI batch {batch_id}").all()
    # still held: a rerun waits on the same batch, submitting nothing new
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=submit, progress=False)
    assert len(srv.batch_api.uploads()) == 1 and len(srv.batch_api.batches) == 1
    srv.batch_api.hold(False)
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert (df["error"] == "").all()
    _check_scores(df, srv)
    assert len(srv.batch_api.uploads()) == 1 and len(srv.batch_api.batches) == 1
    # the ledger beside the cache holds ids and digests, no texts
    ledger = tmp_path / "c.sqlite3.batches"
    with sqlite3.connect(ledger) as conn:
        assert conn.execute("SELECT status, done FROM files").fetchall() == [("completed", 1)]
    assert not any(t.encode() in ledger.read_bytes() for t in texts)


@pytest.mark.parametrize("after_creating", [False, True], ids=["not-created", "created"])
def test_stop_between_upload_and_batch_creation(srv, tmp_path, after_creating):
    texts = _texts(4, "create")
    cache = tmp_path / "c.sqlite3"
    srv.batch_api.fail_creates(1, after_creating=after_creating)
    no_retry = BatchAPI(poll_interval=0.01, max_retries=0)
    with pytest.raises(modkit.BackendError, match="could not create a batch: HTTP 500") as info:
        modkit.moderate(texts, backend=_backend(srv), cache=cache, via=no_retry, progress=False)
    assert info.value.partial["error"].str.startswith("not scored: run stopped").all()
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert (df["error"] == "").all()
    assert len(srv.batch_api.uploads()) == 1  # the file was not uploaded again
    assert len(srv.batch_api.batches) == 1  # and a batch created before was found, not rerun


def test_connection_lost_while_an_output_file_streams(srv, tmp_path):
    """A download cut mid-body is one BackendError naming the file (never a transport
    traceback); the batch stays in the ledger and the next run collects it."""
    texts = _texts(5, "cut")
    cache = tmp_path / "c.sqlite3"
    srv.batch_api.cut_downloads(1)
    with pytest.raises(modkit.BackendError, match=r"could not download file file-\S+: ") as info:
        modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert "run again to resume" in str(info.value)
    assert info.value.partial["error"].str.startswith("not scored: run stopped").all()
    df = modkit.moderate(texts, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert (df["error"] == "").all()
    _check_scores(df, srv)
    assert len(srv.batch_api.uploads()) == 1  # collected, not submitted again
    assert len(srv.batch_api.batches) == 1


def test_wrong_key_is_one_clear_error(tmp_path):
    match = "upload an input file: HTTP 401"
    with (
        FaultServer(api_key="sk-right") as srv,
        pytest.raises(modkit.AuthenticationError, match=match),
    ):
        modkit.moderate(["x"], backend=_backend(srv, "sk-wrong"), cache=tmp_path / "c", via=FAST)


def test_bad_arguments(srv, tmp_path):
    with pytest.raises(InputError, match="needs the openai backend"):
        modkit.moderate(["x"], backend="local", cache=tmp_path / "c", via="batch")
    with pytest.raises(InputError, match="needs a cache"):
        modkit.moderate(["x"], backend=_backend(srv), cache=None, via="batch")
    with pytest.raises(InputError, match="moderate: via must be one of"):
        modkit.moderate(["x"], backend=_backend(srv), cache=None, via="batches")
    with pytest.raises(InputError, match="poll_interval"):
        BatchAPI(poll_interval=-1)
    with pytest.raises(InputError, match=r"max_requests_per_file must be in \[1, 50000\]"):
        BatchAPI(max_requests_per_file=50_001)


def test_cli_refuses_batch_api_without_openai_or_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    src = tmp_path / "in.txt"
    src.write_text("a\n", encoding="utf-8")
    out = str(tmp_path / "o.csv")
    assert main(["moderate", str(src), "-o", out, "--batch-api"]) == 1
    assert "--batch-api needs --backend openai, not local" in capsys.readouterr().err
    args = ["moderate", str(src), "-o", out, "--batch-api", "--backend", "openai", "--no-cache"]
    assert main(args) == 1
    assert "--batch-api needs a cache" in capsys.readouterr().err


def _env(key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODKIT_"))}
    env["OPENAI_API_KEY"] = key
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.mark.slow
def test_cli_killed_mid_poll_resumes_without_resubmitting(tmp_path):
    key = "sk-canary-batch-0123456789"
    texts = [*_texts(9, "cli"), "REJECT this one"]
    src, out = tmp_path / "in.csv", tmp_path / "out.jsonl"
    pd.DataFrame({"id": range(len(texts)), "text": texts}).to_csv(src, index=False)
    cache = tmp_path / "cache.sqlite3"
    reject = lambda t: "input is not allowed" if "REJECT" in t else None  # noqa: E731
    with FaultServer(api_key=key, reject=reject) as srv:
        srv.batch_api.hold()
        args = [
            MODKIT,
            "moderate",
            str(src),
            "-o",
            str(out),
            "--backend",
            "openai",
            "--base-url",
            srv.url,
            "--cache",
            str(cache),
            "--batch-api",
            "--poll-interval",
            "0.05",
        ]
        proc = subprocess.Popen(args, env=_env(key), stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(b.retrieves >= 3 for b in srv.batch_api.batches.values()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the CLI never polled"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL and not out.exists()
        srv.batch_api.hold(False)
        rerun = subprocess.run(args, env=_env(key), stderr=subprocess.PIPE, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        assert "(1 failed; see the 'error' column)" in rerun.stderr
        assert len(srv.batch_api.uploads()) == 1 and len(srv.batch_api.batches) == 1
    df = read_table(out)
    assert df["id"].tolist() == list(range(len(texts)))
    assert df["error"].astype(bool).tolist() == [False] * 9 + [True]
    assert "input is not allowed" in df["error"].iloc[9]
    _check_scores(df, srv)
    for path in tmp_path.iterdir():
        assert key.encode() not in path.read_bytes()
    assert key not in rerun.stderr


def test_multimodal_inputs_through_batches(srv, tmp_path):
    from modkit.images import IMAGE_CATEGORIES, image_part, multimodal_input
    from modkit.testing import fake_multimodal_result

    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n fake image bytes")
    parts = multimodal_input("a caption", [png])
    bad = [{"type": "text", "text": "ok"}, {"type": "image_url", "image_url": {"url": "x"}}]
    rows = ["plain text", parts, [dict(p) for p in parts], bad, [image_part(png)]]
    cache = Cache(tmp_path / "c.sqlite3", store_texts=True)
    df = modkit.moderate(rows, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert df["error"].iloc[[0, 1, 2, 4]].tolist() == [""] * 4
    assert df["error"].iloc[3] == ("row 3: input[1].image_url.url: must be an http(s) or data: URL")
    lines = srv.batch_api.input_lines(srv.batch_api.uploads()[0].id)
    assert len(lines) == 3  # the repeated multimodal input is sent once
    assert lines[1]["body"]["input"] == json.loads(json.dumps(parts, sort_keys=True))
    applied = json.loads(df["result_json"].iloc[1])["category_applied_input_types"]
    assert applied == fake_multimodal_result(parts)["category_applied_input_types"]
    assert applied["violence"] == ["text", "image"] and applied["hate"] == ["text"]
    image_only = json.loads(df["result_json"].iloc[4])
    assert all(
        image_only["category_applied_input_types"][c]
        == (["image"] if c in IMAGE_CATEGORIES else [])
        for c in modkit.CATEGORIES
    )
    assert df["flagged"].iloc[1] == fake_multimodal_result(parts)["flagged"]
    again = modkit.moderate(rows, backend=_backend(srv), cache=cache, via=FAST, progress=False)
    assert len(srv.batch_api.uploads()) == 1  # all from the cache
    pd.testing.assert_frame_equal(again, df)
    cache.close()
