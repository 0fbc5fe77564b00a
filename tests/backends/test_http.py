"""Shared HTTP helpers of the backends: retry-after, rate-limit headers, status -> error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modkit import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    QuotaExceededError,
    TransientBackendError,
)
from modkit.backends._http import (
    parse_duration,
    rate_limit_headers,
    retry_after_seconds,
    status_error,
)


@pytest.mark.parametrize(
    "value,seconds",
    [
        ("1s", 1.0),
        ("250ms", 0.25),
        ("6m0s", 360.0),
        ("1h2m3s", 3723.0),
        ("0.5", 0.5),
        ("2.5s", 2.5),
        ("", None),
        ("soon", None),
        ("1x", None),
        ("s1", None),
    ],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@given(h=st.integers(0, 5), m=st.integers(0, 59), s=st.integers(0, 59), ms=st.integers(0, 999))
def test_property_parse_duration_sums_its_parts(h, m, s, ms):
    text = "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s"), (ms, "ms")) if n)
    if not text:
        return
    assert parse_duration(text) == pytest.approx(h * 3600 + m * 60 + s + ms / 1000)


def test_retry_after_and_rate_limit_header_parsing():
    assert retry_after_seconds({"retry-after": "3"}) == 3
    assert retry_after_seconds({"retry-after-ms": "40", "retry-after": "3"}) == 0.04
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) is None
    assert retry_after_seconds({"retry-after": "-1"}) is None
    assert retry_after_seconds({"retry-after": "100000"}) is None
    assert rate_limit_headers({}) is None
    assert rate_limit_headers(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-remaining-tokens": "x",
        }
    ) == {"limit_requests": 500, "remaining_requests": 499, "reset_requests": 0.12}


@pytest.mark.parametrize(
    ("status", "code", "kind", "words"),
    [
        (401, None, AuthenticationError, "authentication failed: check MY_KEY"),
        (403, None, AuthenticationError, "permission denied (HTTP 403): nope"),
        (429, "insufficient_quota", QuotaExceededError, "quota exceeded"),
        (429, "rate_limit_exceeded", TransientBackendError, "HTTP 429: nope"),
        (408, None, TransientBackendError, "HTTP 408"),
        (409, None, TransientBackendError, "HTTP 409"),
        (503, None, TransientBackendError, "HTTP 503"),
        (400, None, BatchRejectedError, "HTTP 400: nope"),
        (413, None, BatchRejectedError, "HTTP 413"),
        (422, None, BatchRejectedError, "HTTP 422"),
        (404, None, BackendError, "check base_url and model 'm-1'"),
        (418, None, BackendError, "HTTP 418: nope"),
    ],
)
def test_status_error_maps_each_status_to_one_modkit_error(status, code, kind, words):
    err = status_error(
        status, "nope", code=code, headers={"retry-after": "2"}, api_key_env="MY_KEY", model="m-1"
    )
    assert type(err) is kind
    assert words in str(err)
    assert (err.status_code, err.code) == (status, code)
    if isinstance(err, TransientBackendError):
        assert err.retry_after == 2.0
        assert err.rate_limited == (status == 429)
