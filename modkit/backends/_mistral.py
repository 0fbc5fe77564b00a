"""Mistral's moderation API through the official ``mistralai`` SDK (extra ``mistral``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .._errors import BackendError, InputError, TransientBackendError
from .._result import ItemError, ModerationResult
from ._base import Backend, BatchOutcome
from ._provider_http import LoopBound, check_mode, error_for_status, read_key, scrub

__all__ = ["MistralBackend"]

_ENDPOINTS = ("raw", "chat")


class MistralBackend(Backend):
    """Mistral moderation: ``POST /v1/moderations`` (raw text) or ``/v1/chat/moderations``.

    Scores keep Mistral's own nine category names (``hate_and_discrimination``,
    ``selfharm``, ``pii``, ...; see :func:`modkit.crosswalk`), in [0, 1]; ``categories`` and
    ``flagged`` are Mistral's own flags.

    Parameters
    ----------
    model : str, default "mistral-moderation-latest"
        The moderation model. Results record the model the response names.
    endpoint : {"raw", "chat"}, default "raw"
        ``"raw"`` classifies each text; ``"chat"`` sends each text as a conversation and
        Mistral classifies its last turn.
    mode : {"prompt", "response"}, default "prompt"
        For ``endpoint="chat"``: the text is the user's turn, or the assistant's answer
        (after ``context`` as the user's turn, when given).
    context : str, optional
        The user turn before an assistant answer (``mode="response"``).
    base_url : str, optional
        Default ``https://api.mistral.ai`` (the SDK's); e.g. a local fake's URL.
    api_key : str, optional
        Default ``$MISTRAL_API_KEY``. Never written to a cache, an output, a log or a repr.
    api_key_env : str, default "MISTRAL_API_KEY"
        The variable the key is read from.
    timeout : float, default 60
        Seconds per request.

    Raises
    ------
    InputError
        For an unknown ``endpoint`` or ``mode``.
    AuthenticationError
        With no ``base_url`` (the real service) and no key in ``api_key`` or
        ``$api_key_env``.

    Notes
    -----
    The SDK's retries are off (no ``retry_config``): :func:`modkit.moderate` owns retries.

    Examples
    --------
    Offline, against a local fake of Mistral's moderation endpoint:

    >>> import modkit
    >>> from modkit.testing import MISTRAL_CATEGORIES, MistralModerationFake
    >>> with MistralModerationFake(api_key="k") as fake:
    ...     with modkit.MistralBackend(base_url=fake.url, api_key="k") as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> sorted(modkit.category_columns(df)) == sorted(MISTRAL_CATEGORIES)
    True
    """

    name = "mistral"
    max_batch_size = 32

    def __init__(
        self,
        model: str = "mistral-moderation-latest",
        *,
        endpoint: str = "raw",
        mode: str = "prompt",
        context: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "MISTRAL_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        if endpoint not in _ENDPOINTS:
            raise InputError(f"endpoint must be one of {_ENDPOINTS}, got {endpoint!r}")
        self.model = model
        self.endpoint = endpoint
        self.mode = check_mode(mode)
        self.context = context
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.__key = read_key(api_key, api_key_env, "mistral", required=base_url is None)
        self._clients = LoopBound(self._make_client, lambda c: c.__aexit__(None, None, None))

    @property
    def cache_namespace(self) -> str:
        where = self.base_url or "https://api.mistral.ai"
        return f"mistral:{where}:{self.endpoint}:{self.mode}:{self.context or ''}"

    def __repr__(self) -> str:
        return (
            f"MistralBackend(model={self.model!r}, endpoint={self.endpoint!r}, "
            f"base_url={self.base_url!r})"
        )

    def _make_client(self) -> Any:
        try:
            from mistralai.client import Mistral
        except ImportError:  # pragma: no cover - depends on the install
            raise BackendError(
                "the mistral backend needs the mistralai package: pip install 'modkit[mistral]'"
            ) from None
        return Mistral(
            api_key=self.__key.reveal() or "unused",
            server_url=self.base_url,
            timeout_ms=int(self.timeout * 1000),
        )

    def _get_client(self) -> Any:
        if self.closed:
            raise BackendError("this MistralBackend is closed; make a new one")
        return self._clients.get()

    async def arelease(self) -> None:
        """Close the client of the running event loop (its connections belong to it)."""
        await self._clients.release()

    def _conversation(self, text: str) -> list[dict[str, str]]:
        if self.mode == "prompt":
            return [{"role": "user", "content": text}]
        turns = [{"role": "user", "content": self.context}] if self.context else []
        return [*turns, {"role": "assistant", "content": text}]

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        import httpx2
        from mistralai.client import errors

        client = self._get_client()
        try:
            if self.endpoint == "raw":
                resp = await client.classifiers.moderate_async(model=self.model, inputs=list(texts))
            else:
                convs = [self._conversation(t) for t in texts]
                resp = await client.classifiers.moderate_chat_async(model=self.model, inputs=convs)
        except errors.MistralError as exc:
            raise self._status_error(exc) from None
        except errors.NoResponseError as exc:
            raise TransientBackendError(f"mistral: no response: {exc}") from None
        except httpx2.TimeoutException:
            raise TransientBackendError(f"mistral: timed out after {self.timeout:g}s") from None
        except httpx2.TransportError as exc:
            raise TransientBackendError(
                f"mistral: connection error: {scrub(str(exc), self.__key)}"
            ) from None
        results = list(resp.results)
        if len(results) != len(texts):
            raise TransientBackendError(
                f"mistral: sent {len(texts)} inputs, got {len(results)} results back"
            )
        out: list[ModerationResult | ItemError] = []
        for r in results:
            scores = {str(k): float(v) for k, v in (r.category_scores or {}).items()}
            flags = {str(k): bool(v) for k, v in (r.categories or {}).items()}
            if not scores:
                raise TransientBackendError("mistral: a result without category_scores")
            out.append(
                ModerationResult(
                    flagged=any(flags.values()),
                    categories=flags,
                    category_scores=scores,
                    model=str(resp.model or self.model),
                    id=str(resp.id or ""),
                )
            )
        return BatchOutcome(out)

    def _status_error(self, exc: Any) -> BackendError:
        status = int(exc.status_code)
        message, code = _message(exc.body)
        return error_for_status(
            status,
            scrub(message, self.__key),
            provider="mistral",
            api_key_env=self.api_key_env,
            headers=exc.headers,
            code=code,
        )


def _message(body: str) -> tuple[str, str | None]:
    """The message and code of a Mistral error body (``{"message": ..., "type": ...}``)."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return (body or "")[:200], None
    if not isinstance(data, dict):
        return str(data)[:200], None
    msg = data.get("message", data.get("detail", data))
    if not isinstance(msg, str):
        msg = json.dumps(msg)[:300]
    code = data.get("code") or data.get("type")
    return msg, str(code) if code else None
