"""The OpenAI backend: the official SDK against api.openai.com or any compatible endpoint."""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import re
import ssl
from collections.abc import Sequence
from typing import Any

from .._errors import AuthenticationError, BackendError, TransientBackendError
from .._result import ItemError, ModerationResult, parse_results
from ._base import Backend, BatchOutcome
from ._http import DEFAULT_BASE_URL, error_message, rate_limit_headers, status_error, unreachable
from ._provider_http import Secret

__all__ = ["OpenAIBackend"]


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

    Raises
    ------
    AuthenticationError
        With neither ``base_url`` (nor ``$OPENAI_BASE_URL``) nor a key.

    Notes
    -----
    The SDK's own retries are off (``max_retries=0``): :func:`modkit.moderate` owns the
    one retry policy, so retries are never stacked.

    Examples
    --------
    Offline, against :class:`modkit.testing.FaultServer` (an OpenAI-compatible endpoint
    on 127.0.0.1):

    >>> import modkit
    >>> from modkit.testing import FaultServer
    >>> with FaultServer() as server:
    ...     with modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test") as backend:
    ...         df = modkit.moderate(["hello"], backend=backend, cache=None, progress=False)
    >>> len(modkit.category_columns(df)), bool(df["violence"].between(0, 1).all())
    (13, True)
    """

    name = "openai"
    #: ``model`` may be an alias whose snapshot moves: the runner resolves it once per run
    #: and keys the cache by the snapshot (see :func:`modkit.backends.resolve_snapshot`).
    resolves_aliases = True
    #: ``omni-moderation`` models score inputs of text and image_url parts.
    accepts_images = True

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
        self.__key = Secret(key)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._parent: OpenAIBackend | None = None  # a with_model() clone uses its client

    def with_model(self, model: str) -> OpenAIBackend:
        """The same endpoint and key, asking for another model.

        Parameters
        ----------
        model : str
            The model the clone asks for.

        Returns
        -------
        OpenAIBackend
            A clone that shares this backend's HTTP client: closing this backend
            closes it for both.
        """
        clone = copy.copy(self)
        clone.model = model
        clone._parent = self._parent or self  # one HTTP client, the parent's
        clone._client, clone._loop = None, None
        return clone

    @property
    def cache_namespace(self) -> str:
        return f"openai:{(self.base_url or 'https://api.openai.com/v1').rstrip('/')}"

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"

    def _get_client(self) -> Any:
        if self._parent is not None:
            return self._parent._get_client()
        if self.closed:
            raise BackendError("this OpenAIBackend is closed; make a new one")
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

        Returns
        -------
        openai.AsyncOpenAI
            Made on first use in each event loop, with this backend's key, base URL
            and timeout.

        Raises
        ------
        BackendError
            When the backend is closed.
        """
        return self._get_client()

    async def arelease(self) -> None:
        """Close the HTTP client (its connections belong to one event loop)."""
        if self._client is not None:
            client, loop = self._client, self._loop
            self._client, self._loop = None, None
            if loop is asyncio.get_running_loop():
                await client.close()
            # else: its loop has ended, and its connections with it

    async def ascore(self, texts: Sequence[Any]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[Any]) -> BatchOutcome:
        """Score texts and multimodal inputs (lists of text / image_url parts).

        The endpoint takes either a list of texts or one multimodal input (its ``input``
        is then the list of parts, answered with one result), so each multimodal input
        is its own request; the texts go together in one.

        Parameters
        ----------
        texts : sequence of str or list of dict
            Texts, and multimodal inputs as :func:`modkit.images.multimodal_input` makes them.

        Returns
        -------
        BatchOutcome
            One result per input in input order, and the ``x-ratelimit-*`` headers of the
            last request (requests / tokens remaining, seconds to reset).

        Raises
        ------
        BackendError
            Closed backend, or a failure retrying will not fix
            (:class:`~modkit.AuthenticationError`, :class:`~modkit.QuotaExceededError`,
            :class:`~modkit.BatchRejectedError` for a 400/413/422).
        TransientBackendError
            429, 408, 409, 5xx, connection error, timeout, or a 200 whose body is not a
            moderation response.
        """
        multi = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if not multi:
            return await self._post(list(texts))
        if len(texts) == 1:
            return await self._post(list(texts[0]))
        results: list[ModerationResult | ItemError | None] = [None] * len(texts)
        plain = [i for i, t in enumerate(texts) if isinstance(t, str)]
        outcome = None
        for group in [[i] for i in multi] + ([plain] if plain else []):
            outcome = await self.ascore_batch([texts[i] for i in group])
            for i, res in zip(group, outcome.results, strict=True):
                results[i] = res
        assert outcome is not None and all(r is not None for r in results)
        return BatchOutcome([r for r in results if r is not None], outcome.rate_limit)

    async def _post(self, value: list[Any]) -> BatchOutcome:
        """One request whose ``input`` is ``value`` (texts, or one input's parts)."""
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
                body={"input": value, "model": self.model},
            )
            body_text = raw.text
        except openai.APITimeoutError as exc:
            raise TransientBackendError(f"request timed out after {self.timeout:g}s") from exc
        except openai.APIConnectionError as exc:
            if unreachable(exc):
                raise TransientBackendError(
                    f"cannot connect to {self.base_url or DEFAULT_BASE_URL}: "
                    f"{self._scrub(exc.__cause__ or exc)}",
                    unreachable=True,
                ) from exc
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
        sent = 1 if value and isinstance(value[0], dict) else len(value)
        if len(results) != sent:
            raise TransientBackendError(f"sent {sent} inputs, got {len(results)} results back")
        model = str(body.get("model") or self.model)
        rid = str(body.get("id") or "")
        parsed = parse_results(results, model, rid)  # never raises: never retried
        return BatchOutcome(parsed, rate)

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc)
        key = self.__key.reveal()
        if key and key != "unused":
            text = text.replace(key, "***")
        # also mask the partial echo some servers give ("sk-abc***wxyz")
        return re.sub(r"\bsk-[A-Za-z0-9_\-*]{3,}", "sk-***", text)

    def _status_error(self, exc: Any) -> BackendError:
        message = self._scrub(Exception(error_message(exc)))
        return status_error(
            int(exc.status_code),
            message,
            code=getattr(exc, "code", None),
            headers=exc.response.headers,
            api_key_env=self.api_key_env,
            model=self.model,
        )


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~50 ms)."""
    import httpx2

    return httpx2.create_ssl_context()
