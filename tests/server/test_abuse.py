"""``modkit serve`` under abuse, over real sockets on 127.0.0.1.

Deep JSON, oversized work, floods, slow and vanishing clients; and a schemathesis fuzz
of every route of the served OpenAPI document, with no 5xx allowed.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
import schemathesis
from _fakes import HashBackend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

import modkit
from modkit.server import HTTPOptions, ServerLimits, ServerThread


class GateBackend(HashBackend):
    """HashBackend that holds every batch until :attr:`gate` is set."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def score_batch(self, texts):
        self.entered.release()
        self.gate.wait(30)
        return super().score_batch(texts)


def _post(url: str, body: bytes, timeout: float = 30):
    req = urllib.request.Request(
        url + "/moderations", data=body, headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), json.load(exc)


def _health(srv):
    try:
        with urllib.request.urlopen(srv.url.replace("/v1", "/healthz"), timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.load(exc)


@pytest.fixture(scope="module")
def srv():
    with ServerThread(HashBackend()) as server:
        yield server


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # Python's parser: RecursionError, not a decode error
        b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"input": ' + b"9" * 5000 + b"}",  # int of more than 4300 digits: ValueError
        b'{"input": "a"',
        b"\xff\xfe{}",
        b"",
    ],
    ids=["deep-array", "deep-input", "huge-int", "truncated", "not-utf8", "empty"],
)
def test_any_body_the_parser_refuses_is_a_400_invalid_json(srv, body):
    status, _, payload = _post(srv.url, body)
    assert status == 400
    assert payload["error"]["code"] == "invalid_json"
    assert payload["error"]["message"].startswith("the request body is not valid JSON")


def test_a_request_over_the_work_budget_is_refused_and_moderate_splits_it(srv):
    texts = ["x" * 32_000] * 4  # the example: 35 s of local scoring in one request
    status, _, payload = _post(srv.url, json.dumps({"input": texts}).encode())
    assert status == 400
    assert payload["error"]["code"] == "request_too_large"
    assert "work budget of 65536 characters" in payload["error"]["message"]
    # the runner treats it as a batch rejected for its input and splits it until it fits
    backend = modkit.backends.OpenAIBackend("hash-1", base_url=srv.url, api_key="sk-unused")
    df = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    assert not df["error"].astype(bool).any()


def test_a_full_queue_answers_429_with_retry_after_and_healthz_says_overloaded():
    backend = GateBackend()
    limits = ServerLimits(max_concurrent=1, max_queue=1)
    with ServerThread(backend, limits=limits) as srv:
        answers: list = []
        threads = [
            threading.Thread(target=lambda i=i: answers.append(_post(srv.url, _body(f"t{i}"))))
            for i in range(2)
        ]
        threads[0].start()
        assert backend.entered.acquire(timeout=10)  # the first is scoring
        threads[1].start()
        deadline = time.monotonic() + 10
        while srv.app.state.admission.waiting < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # the second is queued
        status, headers, payload = _post(srv.url, _body("third"))
        assert status == 429
        assert payload["error"]["code"] == "server_overloaded"
        assert int(headers["retry-after"]) >= 1
        code, health = _health(srv)
        assert (code, health["status"], health["scoring"], health["queued"]) == (
            503,
            "overloaded",
            1,
            1,
        )
        backend.gate.set()
        for t in threads:
            t.join(30)
        assert sorted(a[0] for a in answers) == [200, 200]  # nothing queued was lost
        assert _health(srv)[1]["status"] == "ok"


def test_a_flood_of_clients_gets_fast_answers_not_a_pile_up():
    backend = GateBackend()
    limits = ServerLimits(max_concurrent=1, max_queue=2)
    with ServerThread(backend, limits=limits) as srv:
        answers: list = []
        threads = [
            threading.Thread(target=lambda i=i: answers.append(_post(srv.url, _body(f"f{i}"))))
            for i in range(12)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 10
        while len(answers) < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [a[0] for a in answers].count(429) == 9  # refused at once, while 3 are held
        backend.gate.set()
        for t in threads:
            t.join(30)
        assert sorted(a[0] for a in answers) == [200] * 3 + [429] * 9


def test_scoring_that_takes_too_long_is_a_503_with_retry_after_and_the_work_is_kept():
    backend = GateBackend()
    cache = modkit.Cache(":memory:")
    limits = ServerLimits(scoring_timeout=0.5)
    with ServerThread(backend, limits=limits, cache=cache) as srv:
        started = time.monotonic()
        status, headers, payload = _post(srv.url, _body("slow"))
        assert status == 503 and time.monotonic() - started < 5
        assert payload["error"]["code"] == "timeout"
        assert int(headers["retry-after"]) >= 1
        backend.gate.set()
        deadline = time.monotonic() + 10
        while srv.app.state.admission.active and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(cache) == 1  # the late result reached the cache: a retry is a hit
        assert _post(srv.url, _body("slow"))[0] == 200


def test_the_official_sdk_waits_out_a_full_queue_and_gets_its_answer():
    backend = GateBackend()
    with ServerThread(backend, limits=ServerLimits(max_concurrent=1, max_queue=0)) as srv:
        held = threading.Thread(target=_post, args=(srv.url, _body("held")))
        held.start()
        assert backend.entered.acquire(timeout=10)
        threading.Timer(0.5, backend.gate.set).start()
        with openai.OpenAI(base_url=srv.url, api_key="sk-unused", max_retries=3) as client:
            assert len(client.moderations.create(input=["a", "b"]).results) == 2
        held.join(30)


def _body(text: str) -> bytes:
    return json.dumps({"input": [text]}).encode()


def _raw(srv, data: bytes, *, wait: float = 5.0) -> bytes:
    with socket.create_connection((srv.host, srv.port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_a_client_that_disconnects_mid_body_is_not_an_internal_error(srv, caplog):
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            with socket.create_connection((srv.host, srv.port), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/moderations HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    b'{"input": ["half'
                )
                time.sleep(0.2)
        time.sleep(0.5)
        assert _health(srv)[0] == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)


def test_a_body_that_never_completes_is_a_408():
    with ServerThread(HashBackend(), limits=ServerLimits(body_timeout=0.5)) as srv:
        reply = _raw(
            srv,
            b"POST /v1/moderations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
            wait=5,
        )
        assert reply.startswith(b"HTTP/1.1 408")
        assert b'"request_timeout"' in reply


def test_a_connection_that_trickles_its_headers_is_closed():
    with ServerThread(HashBackend(), http=HTTPOptions(header_timeout=0.5)) as srv:
        started = time.monotonic()
        reply = _raw(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", wait=10)
        assert reply == b"" and time.monotonic() - started < 5  # closed, not held open


def test_headers_that_never_end_are_refused_at_the_limit():
    with ServerThread(HashBackend(), http=HTTPOptions(max_header_bytes=4096)) as srv:
        endless = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000  # no end
        reply = _raw(srv, endless)
        assert reply.startswith(b"HTTP/1.1 400")


def test_the_openapi_document_describes_the_routes(srv):
    with urllib.request.urlopen(srv.url.replace("/v1", "/openapi.json"), timeout=30) as r:
        doc = json.load(r)
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/v1/moderations", "/v1/models", "/v1/models/{model}", "/healthz"}


# ---------------------------------------------------------------- fuzzing with schemathesis

#: Requests the fuzz sent, per operation and mode (README quotes the total of one run).
FUZZ_CALLS: dict[str, int] = {}


@pytest.fixture(scope="module")
def fuzz_schema(srv):
    return schemathesis.openapi.from_url(srv.url.replace("/v1", "/openapi.json"))


def _fuzz(op, mode, base: str) -> None:
    key = f"{op.label} {mode.value}"

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=100, suppress_health_check=list(HealthCheck), deadline=None)
    def run(case):
        FUZZ_CALLS[key] = FUZZ_CALLS.get(key, 0) + 1
        response = case.call(base_url=base)
        assert response.status_code < 500, (case.method, case.path, response.text[:300])
        if response.status_code >= 400:
            error = response.json()["error"]
            assert isinstance(error["message"], str) and error["message"]
        elif mode is GenerationMode.POSITIVE:
            case.validate_response(response)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_fuzz_every_route_of_the_openapi_document_no_5xx(srv, fuzz_schema, mode):
    """Schemathesis draws requests from the served document (valid ones, and invalid ones
    in NEGATIVE mode); every answer must be below 500, in the OpenAI error shape when an
    error, and match the document's response schema."""
    base = srv.url.removesuffix("/v1")
    operations = [r.ok() for r in fuzz_schema.get_all_operations()]
    assert {op.label for op in operations} == {
        "POST /v1/moderations",
        "GET /v1/models",
        "GET /v1/models/{model}",
        "GET /healthz",
    }
    if mode is GenerationMode.NEGATIVE:  # the GET routes take no input to get wrong
        operations = [op for op in operations if op.label == "POST /v1/moderations"]
    for op in operations:
        _fuzz(op, mode, base)
    assert sum(FUZZ_CALLS.values()) > 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
BODY = st.one_of(
    st.fixed_dictionaries({"input": JSON}, optional={"model": JSON}),
    st.dictionaries(st.sampled_from(["input", "model", "x"]), JSON),
    JSON,
)


@settings(max_examples=200)
@given(body=BODY)
def test_fuzz_any_json_body_is_answered_below_500(srv, body):
    FUZZ_CALLS["POST /v1/moderations any-json"] = (
        FUZZ_CALLS.get("POST /v1/moderations any-json", 0) + 1
    )
    status, _, payload = _post(srv.url, json.dumps(body).encode())
    assert status in (200, 400), payload
    if status == 400:
        assert payload["error"]["message"]


def test_modkit_serve_takes_the_load_options(tmp_path):
    from pathlib import Path

    from modkit.server import ServeProcess

    replay = Path(__file__).resolve().parents[2] / "data" / "openai-forum-2023.jsonl"
    args = ["--backend", "replay", "--replay", str(replay), "--no-cache", "--no-access-log"]
    load = ["--max-concurrent", "2", "--max-queue", "0", "--header-timeout", "0.5"]
    with ServeProcess([*args, *load]) as srv:
        code, health = _health(srv)
        assert (code, health["max_concurrent"], health["max_queue"]) == (200, 2, 0)
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # and nothing more
            assert sock.recv(100) == b""  # closed by the header timeout
        assert time.monotonic() - started < 5
