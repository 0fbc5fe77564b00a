"""What the provider backends share: the key holder, HTTP status -> modkit error, modes,
and the result of one text."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._errors import AuthenticationError, BackendError, InputError, QuotaExceededError
from .._result import ModerationResult
from ._http import status_error

__all__ = [
    "MODES",
    "LoopBound",
    "Secret",
    "check_mode",
    "error_for_status",
    "lenient_result",
    "native_result",
    "read_key",
    "scrub",
]

#: What a text is: a user's message (``"prompt"``) or a model's answer (``"response"``).
MODES = ("prompt", "response")


class LoopBound:
    """One async HTTP client per event loop: made on first use in a loop, closed in it.

    An async client's connections belong to the loop that opened them; each
    :func:`modkit.moderate` call runs its own loop. :meth:`get` makes a client for the
    running loop when needed; :meth:`release` closes it if its loop is the running one
    (else that loop has ended, and its connections with it).

    Parameters
    ----------
    make : callable
        ``make() -> client``, called inside the running loop.
    close : callable
        ``close(client) -> awaitable``.
    """

    def __init__(self, make: Callable[[], Any], close: Callable[[Any], Awaitable[Any]]) -> None:
        self._make, self._close = make, close
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> Any:
        """The client for the running loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client, self._loop = self._make(), loop
        return self._client

    async def release(self) -> None:
        """Close the client if it belongs to the running loop; forget it either way."""
        client, loop = self._client, self._loop
        self._client, self._loop = None, None
        if client is not None and loop is asyncio.get_running_loop():
            await self._close(client)


class Secret:
    """Holds an API key; its repr (and so ``vars(backend)``) never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    def __reduce__(self) -> Any:
        raise TypeError("an API key is not picklable")


def read_key(api_key: str | None, api_key_env: str, provider: str, *, required: bool) -> Secret:
    """The key from ``api_key`` or ``$api_key_env``; raise if required and missing."""
    key = api_key if api_key is not None else os.environ.get(api_key_env)
    if not key:
        if required:
            raise AuthenticationError(
                f"no API key for {provider}: set {api_key_env} or pass api_key="
            )
        key = ""
    return Secret(key)


def check_mode(mode: str) -> str:
    """Validate a ``mode`` argument."""
    if mode not in MODES:
        raise InputError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def scrub(text: str, secret: Secret) -> str:
    """``text`` with the key (and anything shaped like a bearer key) masked."""
    key = secret.reveal()
    if key:
        text = text.replace(key, "***")
    return re.sub(r"\b(sk|key)-[A-Za-z0-9_\-*]{3,}", r"\1-***", text)


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    api_key_env: str,
    headers: Mapping[str, str] | None = None,
    code: str | None = None,
    quota: bool = False,
) -> BackendError:
    """The modkit error for an HTTP error status of a provider.

    Parameters
    ----------
    status : int
        The HTTP status.
    message : str
        The provider's error message (already scrubbed of keys).
    provider : str
        Names the provider in the message.
    api_key_env : str
        Named in the authentication message.
    headers : mapping, optional
        The response headers (``retry-after`` is read from them).
    code : str, optional
        The provider's error code.
    quota : bool
        True when the provider said the quota (not the rate) is exhausted: not retried.

    Returns
    -------
    BackendError
        As :func:`modkit.backends._http.status_error` maps statuses (401/403
        authentication, quota 429 not retried, 408/409/429/5xx transient, 400/413/422
        rejected), its message prefixed with the provider.
    """
    if quota and status == 429:
        return QuotaExceededError(
            f"{provider}: quota exceeded (HTTP 429): {message}; not retried",
            status_code=429,
            code=code,
        )
    err = status_error(
        status,
        message,
        code=code,
        headers=headers or {},
        api_key_env=api_key_env,
    )
    err.args = (f"{provider}: {err}",)
    return err


def native_result(
    provider: str,
    text: str,
    flags: Mapping[str, Any],
    scores: Mapping[str, Any],
    applied: dict[str, list[str]],
    model: str,
) -> ModerationResult:
    """One text's result in a provider's native categories, parsed leniently.

    ``flags`` and ``scores`` hold what the provider sent, as it sent it: they go through
    :meth:`ModerationResult.from_dict` (the parser of every backend), so a score that is
    ``null``, missing or not a number is NaN and a flag that is not a boolean is unknown,
    each with a note; categories the backend does not list are
    kept (they get their own column). ``flagged`` is any category's flag; the ``id`` is
    ``<provider>-`` and the first 16 hex digits of the text's sha256 (the provider
    returns none), so a text keeps its id.
    """
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return lenient_result(
        provider,
        {
            "flagged": any(v is True for v in flags.values()),
            "categories": dict(flags),
            "category_scores": dict(scores),
            "category_applied_input_types": applied,
        },
        model=model,
        id=f"{provider}-{digest}",
    )


def lenient_result(provider: str, body: Any, *, model: str, id: str) -> ModerationResult:
    """One result object (OpenAI shape) through the lenient parser of every backend.

    The notes are :meth:`ModerationResult.from_dict`'s, without a provider prefix: a
    result read back from the cache is parsed again and says the same.

    Raises
    ------
    InputError
        ``body`` is not an object with a ``category_scores`` object (the message names
        ``provider``).
    """
    return ModerationResult.from_dict(body, model=model, id=id, where=f"{provider} result")
