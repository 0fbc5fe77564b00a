"""The OpenAI backend: the official SDK against api.openai.com or any compatible endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import ssl
from collections.abc import Mapping, Sequence
from typing import Any

from ._backend import Backend, BatchOutcome
from ._errors import (
    AuthenticationError,
    BackendError,
    BatchRejectedError,
    QuotaExceededError,
    TransientBackendError,
)
from ._result import ItemError, ModerationResult

__all__ = ["OpenAIBackend"]

_RETRYABLE = {408, 409, 429}
_REJECTED = {400, 413, 422}


class OpenAIBackend(Backend):
    """Moderation through the official ``openai`` SDK (``AsyncOpenAI``).

    Parameters
    ----------
    model : str, default "omni-moderation-latest"
        The model to ask for. Results record the snapshot the response names.
    base_url : str, optional
        Any OpenAI-compatible endpoint (e.g. ``http://127.0.0.1:8000/v1`` for
        ``modkit serve``). Default: the SDK's (``OPENAI_BASE_URL`` or api.openai.com).
    api_key : str, optional
        Default: ``$OPENAI_API_KEY``. Never written to a cache, an output, a log or a
        repr. An endpoint given by ``base_url`` may need none.
    timeout : float, default 60
        Seconds per request (connect, read and write).
    api_key_env : str, default "OPENAI_API_KEY"
        The variable the key is read from, named in the 401 message.

    Notes
    -----
    The SDK's own retries are off (``max_retries=0``): :func:`modkit.moderate` owns the
    one retry policy, so retries are never stacked.
    """

    name = "openai"

    def __init__(
        self,
        model: str = "omni-moderation-latest",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        api_key_env: str = "OPENAI_API_KEY",
    ) -> None:
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.timeout = float(timeout)
        self.api_key_env = api_key_env
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        if not key:
            if self.base_url is None:
                raise AuthenticationError(
                    f"no API key: set {api_key_env} or pass api_key= "
                    "(or use the local backend, which needs none)"
                )
            key = "unused"  # a compatible endpoint may need no key; the SDK wants one
        self.__key = _Secret(key)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def cache_namespace(self) -> str:
        return f"openai:{(self.base_url or 'https://api.openai.com/v1').rstrip('/')}"

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def _get_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            from openai import AsyncOpenAI, DefaultAsyncHttpxClient

            self._client = AsyncOpenAI(
                api_key=self.__key.reveal(),
                base_url=self.base_url,
                max_retries=0,
                timeout=self.timeout,
                http_client=DefaultAsyncHttpxClient(verify=_ssl_context(), timeout=self.timeout),
            )
            self._loop = loop
        return self._client

    def client(self) -> Any:
        """The SDK's ``AsyncOpenAI`` client for the running event loop (SDK retries off).

        For callers that need more of the API than ``/v1/moderations`` (the Batch API
        path); call it from inside the loop that will use it.
        """
        return self._get_client()

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            await client.close()

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        import httpx2
        import openai

        client = self._get_client()
        try:
            # The SDK's documented generic ``post`` with ``cast_to=httpx2.Response``: the
            # same transport, auth and error mapping as ``moderations.create``, without
            # its per-string request transform and response model (we parse the body
            # ourselves, keeping the API's category spelling).
            raw = await client.post(
                "/moderations",
                cast_to=httpx2.Response,
                body={"input": list(texts), "model": self.model},
            )
            body_text = raw.text
        except openai.APITimeoutError as exc:
            raise TransientBackendError(f"request timed out after {self.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            raise TransientBackendError(f"connection error: {self._scrub(exc)}") from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        headers = raw.headers
        rate = rate_limit_headers(headers)
        try:
            body = json.loads(body_text)
        except json.JSONDecodeError:
            raise TransientBackendError(
                f"HTTP {raw.status_code} with a body that is not valid JSON "
                f"({len(body_text)} bytes)"
            ) from None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise TransientBackendError(f"HTTP {raw.status_code} with no 'results' in the body")
        if len(results) != len(texts):
            raise TransientBackendError(
                f"sent {len(texts)} inputs, got {len(results)} results back"
            )
        model = str(body.get("model") or self.model)
        rid = str(body.get("id") or "")
        try:
            parsed: list[ModerationResult | ItemError] = [
                _parse_result(r, model, rid, i) for i, r in enumerate(results)
            ]
        except BackendError:
            raise
        except Exception as exc:  # malformed result objects: the server is at fault
            raise TransientBackendError(f"malformed response body: {exc}") from None
        return BatchOutcome(parsed, rate)

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc)
        key = self.__key.reveal()
        if key and key != "unused":
            text = text.replace(key, "***")
        # also mask the partial echo some servers give ("sk-abc***wxyz")
        return re.sub(r"\bsk-[A-Za-z0-9_\-*]{3,}", "sk-***", text)

    def _status_error(self, exc: Any) -> BackendError:
        status = int(exc.status_code)
        code = getattr(exc, "code", None)
        message = _error_message(exc)
        message = self._scrub(Exception(message))
        if status == 401:
            return AuthenticationError(
                f"authentication failed: check {self.api_key_env}", status_code=401, code=code
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
        if status in _RETRYABLE or status >= 500:
            return TransientBackendError(
                f"HTTP {status}: {message}",
                status_code=status,
                code=code,
                retry_after=retry_after_seconds(exc.response.headers),
                rate_limited=status == 429,
            )
        if status == 404:
            return BackendError(
                f"not found (HTTP 404): check base_url and model {self.model!r}: {message}",
                status_code=404,
                code=code,
            )
        if status in _REJECTED:
            return BatchRejectedError(f"HTTP {status}: {message}", status_code=status, code=code)
        return BackendError(f"HTTP {status}: {message}", status_code=status, code=code)


def _parse_result(r: Any, model: str, rid: str, i: int) -> ModerationResult:
    """One result object; well-typed ones are taken as they are (no copies).

    At thousands of results per second the copies and checks of
    :meth:`ModerationResult.from_dict` are a measurable share of the client's time, so
    a result whose fields already have the right types (as ``json.loads`` gives them)
    is used directly; anything else goes through ``from_dict``, which converts or
    raises a clear error.
    """
    if isinstance(r, dict) and type(r.get("flagged")) is bool:
        cats = r.get("categories")
        scores = r.get("category_scores")
        applied = r.get("category_applied_input_types") or {}
        if (
            type(cats) is dict
            and type(scores) is dict
            and type(applied) is dict
            and all(type(v) is bool for v in cats.values())
            and all(type(v) is float for v in scores.values())
            and all(type(v) is list for v in applied.values())
        ):
            return ModerationResult(r["flagged"], cats, scores, applied, model, rid)
    return ModerationResult.from_dict(r, model=model, id=rid, where=f"results[{i}]")


class _Secret:
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


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~50 ms)."""
    import httpx2

    return httpx2.create_ssl_context()


def _error_message(exc: Any) -> str:
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
