"""HTTP helpers shared by the HTTP backends: retry-after, rate-limit headers, status -> error.

Wire formats follow the OpenAI API: ``retry-after-ms`` / ``retry-after`` (seconds),
``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` with resets written as Go
durations (``"6m0s"``, ``"250ms"``), and error bodies ``{"error": {"message", "code"}}``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any

from .._errors import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    QuotaExceededError,
    TransientBackendError,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "REJECTED_STATUSES",
    "RETRYABLE_STATUSES",
    "error_message",
    "parse_duration",
    "rate_limit_headers",
    "retry_after_seconds",
    "status_error",
    "unreachable",
]

#: Statuses worth retrying besides every 5xx.
RETRYABLE_STATUSES = frozenset({408, 409, 429})
#: Statuses that reject the request's input: the runner bisects the batch.
REJECTED_STATUSES = frozenset({400, 413, 422})


def status_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    model: str = "",
) -> BackendError:
    """The modkit error for an HTTP error status.

    Parameters
    ----------
    status : int
        The HTTP status code (>= 400).
    message : str
        The endpoint's error message, already scrubbed of any API key.
    code : str, optional
        The ``code`` of the error body (``insufficient_quota`` tells a spent quota from
        a rate limit).
    headers : mapping, optional
        Response headers, for ``retry-after``.
    api_key_env, model : str
        Named in the 401 and 404 messages.

    Returns
    -------
    BackendError
        :class:`AuthenticationError` (401/403), :class:`QuotaExceededError` (429
        ``insufficient_quota``), :class:`TransientBackendError` (408, 409, 429, 5xx),
        :class:`BatchRejectedError` (400, 413, 422) or a plain :class:`BackendError`.
    """
    if status == 401:
        return AuthenticationError(
            f"authentication failed: check {api_key_env}", status_code=401, code=code
        )
    if status == 403:
        return AuthenticationError(
            f"permission denied (HTTP 403): {message}", status_code=403, code=code
        )
    if status == 429 and code == "insufficient_quota":
        return QuotaExceededError(
            "quota exceeded (HTTP 429 insufficient_quota): check the account's plan and "
            "billing; not retried",
            status_code=429,
            code=code,
        )
    if status in RETRYABLE_STATUSES or status >= 500:
        return TransientBackendError(
            f"HTTP {status}: {message}",
            status_code=status,
            code=code,
            retry_after=retry_after_seconds(headers or {}),
            rate_limited=status == 429,
        )
    if status == 404:
        return BackendError(
            f"not found (HTTP 404): check base_url and model {model!r}: {message}",
            status_code=404,
            code=code,
        )
    if status in REJECTED_STATUSES:
        return BatchRejectedError(f"HTTP {status}: {message}", status_code=status, code=code)
    return BackendError(f"HTTP {status}: {message}", status_code=status, code=code)


def error_message(exc: Any) -> str:
    """The message of an SDK status error: ``body.error.message`` when there is one."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(exc, "message", "") or exc)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds), if sane."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            continue
        if 0 <= seconds <= 600:
            return seconds
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str) -> float | None:
    """Parse a reset duration such as ``"1s"``, ``"6m0s"`` or ``"250ms"`` to seconds."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def rate_limit_headers(headers: Mapping[str, str]) -> dict[str, float] | None:
    """The ``x-ratelimit-limit-*``, ``-remaining-*`` and ``-reset-*`` headers, when present.

    Returns ``limit_requests``, ``remaining_requests``, ``reset_requests`` (seconds) and
    the same for tokens, or None when the response has none of them.
    """
    out: dict[str, float] = {}
    for kind in ("requests", "tokens"):
        limit = headers.get(f"x-ratelimit-limit-{kind}")
        if limit is not None:
            with contextlib.suppress(ValueError):
                out[f"limit_{kind}"] = float(limit)
        remaining = headers.get(f"x-ratelimit-remaining-{kind}")
        reset = headers.get(f"x-ratelimit-reset-{kind}")
        if remaining is not None:
            try:
                out[f"remaining_{kind}"] = float(remaining)
            except ValueError:
                continue
            seconds = parse_duration(reset) if reset else None
            if seconds is not None:
                out[f"reset_{kind}"] = seconds
    return out or None


#: Where the official SDK sends requests when no ``base_url`` is given.
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) says no connection could be made at all.

    Connection refused, or a host name that does not resolve; not a reset or a timeout
    of a connection that was made (those are worth retrying as usual).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        text = str(current)
        if "Connection refused" in text or "Name or service not known" in text:
            return True
        if "All connection attempts failed" in text or "nodename nor servname" in text:
            return True
        current = current.__cause__ or current.__context__
    return False
