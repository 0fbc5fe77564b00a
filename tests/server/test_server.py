"""``modkit serve`` / ``modkit.server``: the official SDK against the server over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import openai
import pytest

import modkit
from modkit import (
    BackendError,
    Cache,
    ItemError,
    ModerationResult,
    QuotaExceededError,
    TransientBackendError,
)
from modkit._cache import cache_key
from modkit.backends import OpenAIBackend, ReplayBackend, SyncBackend
from modkit.cli import main
from modkit.server import ServerLimits, ServerThread, free_port
from modkit.testing import Fault, FaultServer

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "data" / "openai-forum-2023.jsonl"
RECORDS = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]
MODKIT = str(Path(sys.executable).with_name("modkit"))


class FakeBackend(SyncBackend):
    """Deterministic: score = (len % 10) / 10 for every category; 'BAD' texts fail."""

    name = "fake"
    model = "fake-model-2025-01-01"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.threads: set[str] = set()

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        self.calls.append(list(texts))
        self.threads.add(threading.current_thread().name)
        out: list[ModerationResult | ItemError] = []
        for t in texts:
            if "BAD" in t:
                out.append(ItemError("this text is not acceptable", code="bad_text"))
                continue
            s = (len(t) % 10) / 10
            out.append(
                ModerationResult(
                    flagged=s >= 0.5,
                    categories={"hate": s >= 0.5, "violence": False},
                    category_scores={"hate": s, "violence": s / 2},
                    category_applied_input_types={"hate": ["text"], "violence": ["text"]},
                    model=self.model,
                    id="modr-fake",
                )
            )
        return out


class RaisingBackend(SyncBackend):
    name = "raising"
    model = "raising-1"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def score_batch(self, texts):
        raise self.exc


def _client(srv: ServerThread, key: str = "sk-unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def fake_srv():
    backend = FakeBackend()
    with ServerThread(backend) as srv:
        srv.backend = backend
        yield srv


def test_replay_backend_round_trips_through_the_sdk():
    with ServerThread(ReplayBackend(REPLAY)) as srv, _client(srv) as client:
        resp = client.moderations.create(
            input=[r["input"] for r in RECORDS], model="text-moderation-latest"
        )
        assert resp.id.startswith("modr-")
        assert resp.model == RECORDS[0]["model"]  # the backend's snapshot, not the alias
        assert len(resp.results) == len(RECORDS)
        for got, rec in zip(resp.results, RECORDS, strict=True):
            d = got.to_dict()
            assert d["category_scores"] == rec["result"]["category_scores"]
            assert d["categories"] == rec["result"]["categories"]
            assert d["flagged"] == rec["result"]["flagged"]
            assert set(d["category_applied_input_types"]) == set(rec["result"]["category_scores"])
        one = client.moderations.create(input=RECORDS[1]["input"])  # a single string
        assert one.results[0].category_scores.violence == pytest.approx(
            RECORDS[1]["result"]["category_scores"]["violence"]
        )


def test_fake_backend_results_text_objects_and_worker_threads(fake_srv):
    with _client(fake_srv) as client:
        resp = client.moderations.create(input=["abc", "abcdefg"])
        assert [r.category_scores.hate for r in resp.results] == [0.3, 0.7]
        assert [r.flagged for r in resp.results] == [False, True]
        assert resp.model == FakeBackend.model
        objs = client.moderations.create(input=[{"type": "text", "text": "abcd"}])
        assert objs.results[0].category_scores.hate == 0.4
    # a SyncBackend runs in a worker thread, off the server's event loop
    assert fake_srv.backend.threads and "modkit-server" not in fake_srv.backend.threads


def test_models_and_healthz(fake_srv):
    with _client(fake_srv) as client:
        assert [m.id for m in client.models.list()] == [FakeBackend.model]
        assert client.models.retrieve(FakeBackend.model).id == FakeBackend.model
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("gpt-nonexistent")
        with pytest.raises(openai.NotFoundError):
            client.get("/no/such/route", cast_to=object)
    with urllib.request.urlopen(fake_srv.url.replace("/v1", "/healthz"), timeout=30) as r:
        health = json.load(r)
    assert health == {
        "status": "ok",
        "backend": "fake",
        "model": FakeBackend.model,
        "scoring": 0,
        "queued": 0,
        "max_concurrent": ServerLimits().max_concurrent,
        "max_queue": ServerLimits().max_queue,
    }


def _error(exc_info) -> dict:
    body = exc_info.value.body
    assert set(body) == {"message", "type", "param", "code"}  # the OpenAI error shape
    return body


BAD_BODIES = {
    "not json": (b"{'input': 'x'", None, "invalid_json"),
    "not an object": (b'["x"]', None, "invalid_json"),
    "no input": (b'{"model": "m"}', "input", "missing_required_parameter"),
    "input is a number": (b'{"input": 3}', "input", "invalid_type"),
    "empty list": (b'{"input": []}', "input", "invalid_value"),
    "list of numbers": (b'{"input": ["a", 1]}', "input[1]", "invalid_type"),
    "model not a string": (b'{"input": "a", "model": 5}', "model", "invalid_type"),
    "image": (
        b'{"input": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}',
        "input[0]",
        "unsupported_input_type",
    ),
    "odd object": (b'{"input": [{"type": "audio"}]}', "input[0]", "invalid_type"),
}


@pytest.mark.parametrize("raw,param,code", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_malformed_requests_are_400_in_the_openai_shape(fake_srv, raw, param, code):
    with _client(fake_srv) as client, pytest.raises(openai.BadRequestError) as info:
        client.post(
            "/moderations",
            cast_to=object,
            content=raw,
            options={"headers": {"content-type": "application/json"}},
        )
    err = _error(info)
    assert err["type"] == "invalid_request_error"
    assert (err["param"], err["code"]) == (param, code)
    assert fake_srv.backend.calls == []


def test_image_input_through_the_typed_sdk_call(fake_srv):
    with _client(fake_srv) as client, pytest.raises(openai.BadRequestError) as info:
        client.moderations.create(
            input=[
                {"type": "text", "text": "hello"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ]
        )
    assert "image inputs are not supported" in _error(info)["message"]
    assert _error(info)["param"] == "input[1]"


def test_size_limits():
    limits = ServerLimits(max_inputs=3, max_input_chars=10, max_body_bytes=200)
    with ServerThread(FakeBackend(), limits=limits) as srv, _client(srv) as client:
        client.moderations.create(input=["a" * 10] * 3)  # at the limits: fine
        for bad, param, code in (
            (["a"] * 4, "input", "too_many_inputs"),
            (["a", "b" * 11], "input[1]", "input_too_long"),
            (["é" * 10, "x" * 300], None, "request_too_large"),
        ):
            with pytest.raises(openai.BadRequestError) as info:
                client.moderations.create(input=bad)
            assert (_error(info)["param"], _error(info)["code"]) == (param, code)
        # a chunked body (no content-length) over the limit is cut off as well
        with pytest.raises(openai.BadRequestError) as info:
            client.post(
                "/moderations",
                cast_to=object,
                content=iter([b'{"input": "', b"x" * 300, b'"}']),
                options={"headers": {"content-type": "application/json"}},
            )
        assert _error(info)["code"] == "request_too_large"


def test_bearer_token_is_required_when_configured():
    with ServerThread(FakeBackend(), api_key="sk-server-secret") as srv:
        for key in ("sk-wrong", "sk-server-secre", "sk-server-secrett"):
            with _client(srv, key) as client, pytest.raises(openai.AuthenticationError) as info:
                client.moderations.create(input="hi")
            assert _error(info)["code"] == "invalid_api_key"
            assert "sk-" not in _error(info)["message"]
            with _client(srv, key) as client, pytest.raises(openai.AuthenticationError):
                client.models.list()
        req = urllib.request.Request(
            srv.url + "/moderations",
            data=b'{"input": "x"}',
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)  # no Authorization header at all
        assert info.value.code == 401
        info.value.close()
        with _client(srv, "sk-server-secret") as client:
            assert client.moderations.create(input="hi").results[0].category_scores.hate == 0.2
        with urllib.request.urlopen(srv.url.replace("/v1", "/healthz"), timeout=30) as r:
            assert r.status == 200  # health checks need no key


def test_item_error_is_a_400_naming_the_index_and_moderate_bisects_to_it(fake_srv):
    with _client(fake_srv) as client, pytest.raises(openai.BadRequestError) as info:
        client.moderations.create(input=["fine", "fine too", "a BAD one", "ok"])
    err = _error(info)
    assert err["param"] == "input[2]" and err["message"].startswith("input[2]:")
    texts = [f"text {i}" for i in range(12)] + ["BAD text"] + [f"more {i}" for i in range(7)]
    df = modkit.moderate(
        texts,
        backend=OpenAIBackend(base_url=fake_srv.url, api_key="x"),
        cache=None,
        batch_size=8,
        progress=False,
    )
    assert df["error"].astype(bool).tolist() == [t == "BAD text" for t in texts]
    assert "not acceptable" in df.loc[12, "error"]
    good = df[df["error"] == ""]
    assert (good["hate"] == [(len(t) % 10) / 10 for t in good["text"]]).all()


def test_postprocess_rewrites_results_before_they_are_sent():
    def flag_everything(res: ModerationResult) -> ModerationResult:
        return replace(res, flagged=True, categories=dict.fromkeys(res.categories, True))

    with ServerThread(FakeBackend(), postprocess=flag_everything) as srv, _client(srv) as client:
        res = client.moderations.create(input=["abc"]).results[0]
        assert res.flagged is True and res.categories.hate is True
        assert res.category_scores.hate == 0.3  # scores untouched


def test_server_cache_is_shared_with_moderate(tmp_path):
    backend = FakeBackend()
    with Cache(tmp_path / "c.sqlite3") as cache:
        with ServerThread(backend, cache=cache) as srv, _client(srv) as client:
            first = client.moderations.create(input=["abc", "abc", "xy"])
            second = client.moderations.create(input=["xy", "abc"])
            assert backend.calls == [["abc", "xy"]]  # duplicates once, then the cache
            assert [r.category_scores.hate for r in second.results] == [0.2, 0.3]
            assert first.results[0].to_dict() == second.results[1].to_dict()
        key = cache_key(backend.cache_namespace, backend.model, "abc")
        assert key in cache.get_many([key])
        # modkit.moderate with the same backend and cache finds it without calling
        df = modkit.moderate(["abc"], backend=backend, cache=cache, progress=False)
        assert backend.calls == [["abc", "xy"]] and df["hate"].iloc[0] == 0.3


ERRORS = {
    "rate limited": (
        TransientBackendError("busy", status_code=429, retry_after=2.0, rate_limited=True),
        openai.RateLimitError,
        429,
    ),
    "quota": (
        QuotaExceededError("no quota", status_code=429, code="insufficient_quota"),
        openai.RateLimitError,
        429,
    ),
    "upstream 503": (
        TransientBackendError("down", status_code=503),
        openai.InternalServerError,
        503,
    ),
    "backend error": (BackendError("broken"), openai.InternalServerError, 502),
    "bug": (RuntimeError("oops"), openai.InternalServerError, 500),
}


@pytest.mark.parametrize("exc,sdk_exc,status", ERRORS.values(), ids=ERRORS.keys())
def test_backend_failures_map_to_sdk_exceptions(exc, sdk_exc, status):
    with ServerThread(RaisingBackend(exc)) as srv, _client(srv) as client:
        for _ in range(2):  # the server keeps serving after a failure
            with pytest.raises(sdk_exc) as info:
                client.moderations.create(input=["x"])
            assert info.value.status_code == status
            _error(info)
        if isinstance(exc, QuotaExceededError):
            assert info.value.code == "insufficient_quota"
        if status == 429 and not isinstance(exc, QuotaExceededError):
            assert info.value.response.headers["retry-after-ms"] == "2000"


def test_proxy_to_upstream_through_the_cache(tmp_path):
    with FaultServer(api_key="sk-upstream") as upstream, Cache(tmp_path / "c.sqlite3") as cache:
        backend = OpenAIBackend(base_url=upstream.url, api_key="sk-upstream")
        with (
            ServerThread(backend, cache=cache, api_key="sk-local") as srv,
            _client(srv, "sk-local") as client,
        ):
            resp = client.moderations.create(input=["one", "two"])
            assert resp.model == upstream.model
            assert [r.to_dict()["category_scores"] for r in resp.results] == [
                upstream.result_for(t)["category_scores"] for t in ("one", "two")
            ]
            again = client.moderations.create(input=["two", "three"])
            assert [r.inputs for r in upstream.moderation_requests()] == [["one", "two"], ["three"]]
            assert again.results[0].to_dict() == resp.results[1].to_dict()
            upstream.push(Fault.quota())
            with pytest.raises(openai.RateLimitError) as info:
                client.moderations.create(input=["four"])
            assert info.value.code == "insufficient_quota"
            upstream.push(Fault.rate_limited(retry_after=3))
            with pytest.raises(openai.RateLimitError) as info:
                client.moderations.create(input=["four"])
            assert info.value.response.headers["retry-after"] == "3"
            upstream.push(Fault.unauthorized())
            with pytest.raises(openai.PermissionDeniedError) as info:
                client.moderations.create(input=["four"])
            assert info.value.status_code == 403
            assert info.value.code == "upstream_authentication"
            assert "sk-upstream" not in str(info.value)
        assert upstream.received_key("sk-upstream") and not upstream.received_key("sk-local")


def test_local_backend_through_the_server():
    """`modkit serve --backend local` answers the official SDK with all 13 keys."""
    from openai.types import ModerationCreateResponse

    backend = modkit.backends.LocalBackend()
    texts = ["have a nice day", "I will kill you"]
    direct = backend.score(texts)
    with ServerThread(backend) as srv, _client(srv) as client:
        resp = client.moderations.create(input=texts)
        assert isinstance(resp, ModerationCreateResponse)
        assert resp.model == backend.model
        for got, want in zip(resp.results, direct, strict=True):
            body = got.to_dict()
            for field in ("categories", "category_scores", "category_applied_input_types"):
                assert set(body[field]) == set(modkit.CATEGORIES), field
            assert body["category_scores"] == pytest.approx(want.category_scores, abs=1e-12)
            assert all(0.0 <= v <= 1.0 for v in body["category_scores"].values())


def test_cli_serve_subprocess_with_api_key_env(tmp_path):
    port = free_port()
    key = "sk-serve-canary-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "MODKIT_"))}
    env["MY_SERVE_KEY"] = key
    proc = subprocess.Popen(
        [
            MODKIT,
            "serve",
            "--port",
            str(port),
            "--backend",
            "replay",
            "--replay",
            str(REPLAY),
            "--api-key-env",
            "MY_SERVE_KEY",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.communicate()) from None
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        with client:
            resp = client.moderations.create(input=RECORDS[0]["input"])
            assert (
                resp.results[0].to_dict()["category_scores"]
                == RECORDS[0]["result"]["category_scores"]
            )
        with (
            openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-nope", max_retries=0
            ) as bad,
            pytest.raises(openai.AuthenticationError),
        ):
            bad.moderations.create(input="x")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "MY_SERVE_KEY" in err and key not in out + err
    assert "POST /v1/moderations" in out + err  # the access log names requests, not keys


def test_cli_serve_refuses_a_missing_key_variable(capsys, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE_HERE", raising=False)
    code = main(
        [
            "serve",
            "--backend",
            "replay",
            "--replay",
            str(REPLAY),
            "--api-key-env",
            "NO_SUCH_VARIABLE_HERE",
        ]
    )
    assert code == 1
    assert "NO_SUCH_VARIABLE_HERE" in capsys.readouterr().err


def test_cli_serve_bad_replay_file_is_a_clear_error(tmp_path, capsys):
    code = main(["serve", "--backend", "replay", "--replay", str(tmp_path / "missing.jsonl")])
    assert code == 1
    assert "missing.jsonl" in capsys.readouterr().err


def test_server_limits_must_be_positive():
    with pytest.raises(modkit.InputError, match="max_inputs must be at least 1, got 0"):
        ServerLimits(max_inputs=0)


def test_serve_process_reports_why_the_server_did_not_start(tmp_path):
    from modkit.server import ServeProcess

    missing = tmp_path / "missing.json"
    srv = ServeProcess(
        ["--backend", "replay", "--replay", str(REPLAY), "--thresholds", str(missing)]
    )
    with pytest.raises(modkit.ModkitError, match="exited early") as info:
        srv.start()
    assert "missing.json" in str(info.value)
    assert srv.returncode == 1 and srv.proc is None
