"""``OpenAIBackend`` over real HTTP against the fault-injecting server."""

from __future__ import annotations

import asyncio
import math
import pickle

import pytest

from modkit import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    ItemError,
    ModerationResult,
    QuotaExceededError,
    TransientBackendError,
)
from modkit.backends import OpenAIBackend
from modkit.testing import Fault, FaultServer


def _call(backend: OpenAIBackend, texts: list[str]):
    async def go():
        try:
            return await backend.ascore_batch(texts)
        finally:
            await backend.arelease()

    return asyncio.run(go())


def test_results_record_the_snapshot_and_the_api_spelling():
    with FaultServer(model="omni-moderation-2099-01-01") as srv:
        backend = OpenAIBackend(base_url=srv.url, api_key="k")
        assert backend.model == "omni-moderation-latest"
        out = _call(backend, ["a", "b"])
        assert [r.inputs for r in srv.moderation_requests()] == [["a", "b"]]
        assert srv.moderation_requests()[0].model == "omni-moderation-latest"
    assert all(isinstance(r, ModerationResult) for r in out.results)
    assert {r.model for r in out.results} == {"omni-moderation-2099-01-01"}
    assert out.results[0].id.startswith("modr-")
    assert out.results[1].to_dict() == srv.result_for("b")  # "self-harm/intent", not _
    assert out.rate_limit is None


def test_rate_limit_headers_are_reported():
    with FaultServer(rpm=120, burst=5) as srv:
        out = _call(OpenAIBackend(base_url=srv.url, api_key="k"), ["a"])
    assert out.rate_limit["limit_requests"] == 5
    assert out.rate_limit["remaining_requests"] == 4
    assert 0 < out.rate_limit["reset_requests"] <= 0.5 + 1e-6


STATUS = {
    "400": (Fault.bad_request("input[0] is too long"), BatchRejectedError, "too long"),
    "401": (
        Fault.unauthorized(),
        AuthenticationError,
        "^authentication failed: check OPENAI_API_KEY$",
    ),
    "403": (
        Fault("status", 403, "permission_error", None, "region"),
        AuthenticationError,
        "permission denied",
    ),
    "404": (
        Fault("status", 404, "invalid_request_error", "model_not_found", "no model"),
        BackendError,
        "not found",
    ),
    "413": (Fault("status", 413, "invalid_request_error", None, "big"), BatchRejectedError, "413"),
    "422": (Fault("status", 422, "invalid_request_error", None, "bad"), BatchRejectedError, "422"),
    "quota": (Fault.quota(), QuotaExceededError, "insufficient_quota"),
    "429": (Fault.rate_limited(retry_after=7), TransientBackendError, "429"),
    "500": (Fault.server_error(), TransientBackendError, "500"),
    "502": (Fault.server_error(502), TransientBackendError, "502"),
    "408": (Fault.server_error(408), TransientBackendError, "408"),
    "409": (Fault.server_error(409), TransientBackendError, "409"),
    "drop": (Fault.drop(), TransientBackendError, "connection error"),
    "truncate": (Fault.truncate(), TransientBackendError, "not valid JSON"),
}


@pytest.mark.parametrize("fault,exc_type,match", STATUS.values(), ids=STATUS.keys())
def test_each_failure_maps_to_one_exception(fault, exc_type, match):
    with FaultServer() as srv:
        srv.push(fault)
        with pytest.raises(exc_type, match=match) as info:
            _call(OpenAIBackend(base_url=srv.url, api_key="k"), ["x"])
        assert len(srv.moderation_requests()) == 1  # the SDK itself never retries
    exc = info.value
    assert type(exc) is exc_type
    if isinstance(exc, TransientBackendError):
        assert exc.rate_limited == (fault.status == 429)
        if fault.status == 429:
            assert exc.retry_after == 7


def test_retry_after_ms_wins_over_retry_after():
    with FaultServer() as srv:
        srv.push(Fault.rate_limited(retry_after=9, retry_after_ms=250))
        with pytest.raises(TransientBackendError) as info:
            _call(OpenAIBackend(base_url=srv.url, api_key="k"), ["x"])
    assert info.value.retry_after == 0.25


BODIES = {
    "no results": ('{"id": "modr-1", "model": "m"}', "no 'results'"),
    "not an object": ('["results"]', "no 'results'"),
    "one result short": ('{"id": "x", "model": "m", "results": []}', "got 0 results"),
}


@pytest.mark.parametrize("body,match", BODIES.values(), ids=BODIES.keys())
def test_200_bodies_that_are_not_moderation_responses_are_transient(body, match):
    with FaultServer() as srv:
        srv.push(Fault.raw(body))
        with pytest.raises(TransientBackendError, match=match):
            _call(OpenAIBackend(base_url=srv.url, api_key="k"), ["x"])


def test_a_200_with_the_right_count_is_never_transient_what_can_be_kept_is_kept():
    lacks = '{"id": "x", "model": "m", "results": [{"flagged": true}]}'
    not_number = (
        '{"results": [{"flagged": false, "categories": {}, "category_scores": {"hate": "high"}}]}'
    )
    with FaultServer() as srv:
        srv.push(Fault.raw(lacks), Fault.raw(not_number))
        backend = OpenAIBackend(base_url=srv.url, api_key="k")
        (first,) = _call(backend, ["x"]).results
        (second,) = _call(backend, ["x"]).results
    assert isinstance(first, ItemError) and first.code == "malformed_result"
    assert "no 'category_scores' object" in first.message
    assert math.isnan(second.category_scores["hate"])
    assert second.notes == ("category_scores['hate'] is 'high': NaN",)


def test_connection_refused_is_transient():
    with FaultServer() as srv:
        url = srv.url
    with pytest.raises(TransientBackendError, match=f"cannot connect to {url}") as info:
        _call(OpenAIBackend(base_url=url, api_key="k", timeout=5), ["x"])
    assert info.value.unreachable  # the runner stops a run that never connected


def test_timeout_is_transient():
    with FaultServer(latency=2.0) as srv, pytest.raises(TransientBackendError, match="timed out"):
        _call(OpenAIBackend(base_url=srv.url, api_key="k", timeout=0.2), ["x"])


def test_key_from_environment_and_missing_key(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("MY_KEY_VAR", "sk-from-env-123")
    with FaultServer(api_key="sk-from-env-123") as srv:
        backend = OpenAIBackend(base_url=srv.url, api_key_env="MY_KEY_VAR")
        _call(backend, ["x"])
        assert srv.received_key("sk-from-env-123")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="set OPENAI_API_KEY"):
        OpenAIBackend()  # api.openai.com needs a key


def test_key_is_not_in_repr_vars_or_pickle():
    backend = OpenAIBackend(base_url="http://127.0.0.1:9/v1", api_key="sk-hidden-999")
    assert "sk-hidden-999" not in repr(backend)
    assert "sk-hidden-999" not in str(vars(backend))
    with pytest.raises(TypeError):
        pickle.dumps(backend)


def test_cache_namespace_names_the_endpoint():
    a = OpenAIBackend(base_url="http://127.0.0.1:1/v1/", api_key="k")
    b = OpenAIBackend(base_url="http://127.0.0.1:2/v1", api_key="k")
    assert a.cache_namespace == "openai:http://127.0.0.1:1/v1"
    assert a.cache_namespace != b.cache_namespace
