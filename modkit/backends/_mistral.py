"""Mistral's moderation API through the official ``mistralai`` SDK (extra ``mistral``)."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import BackendError, InputError, TransientBackendError
from .._result import ItemError, ModerationResult
from ._base import Backend, BatchOutcome
from ._provider_http import (
    LoopBound,
    check_mode,
    error_for_status,
    lenient_result,
    read_key,
    scrub,
)

__all__ = [
    "MISTRAL_DEFAULT_MODEL",
    "MISTRAL_MODELS",
    "MistralBackend",
    "MistralModel",
    "deprecated_model_message",
]

logger = logging.getLogger("modkit")

_ENDPOINTS = ("raw", "chat")


@dataclass(frozen=True)
class MistralModel:
    """One Mistral moderation snapshot: its categories and, if deprecated, since when.

    Attributes
    ----------
    name : str
        The dated snapshot (``mistral-moderation-2603``).
    categories : tuple of str
        Its category keys, as the API spells them.
    deprecated : datetime.date, optional
        The date Mistral deprecated it (None: current).
    successor : str, optional
        The snapshot to move to.

    Examples
    --------
    >>> from modkit.backends import MISTRAL_MODELS
    >>> MISTRAL_MODELS["mistral-moderation-2411"].successor
    'mistral-moderation-2603'
    """

    name: str
    categories: tuple[str, ...]
    deprecated: dt.date | None = None
    successor: str | None = None


_CATS_2411 = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous_and_criminal_content",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
)
_CATS_2603 = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous",
    "criminal",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
    "jailbreaking",
)

#: The moderation snapshots modkit knows (Mistral's docs: ``/studio/safety-moderation``
#: and the deprecated ``mistral-moderation-2411`` page, which lists 2603's new
#: ``Dangerous``, ``Criminal`` and ``Jailbreaking`` categories).
MISTRAL_MODELS: dict[str, MistralModel] = {
    "mistral-moderation-2411": MistralModel(
        "mistral-moderation-2411", _CATS_2411, dt.date(2026, 3, 31), "mistral-moderation-2603"
    ),
    "mistral-moderation-2603": MistralModel("mistral-moderation-2603", _CATS_2603),
}

#: The pinned default: a dated snapshot, not ``mistral-moderation-latest`` (which still
#: resolved to the deprecated 2411 after 2026-03-31).
MISTRAL_DEFAULT_MODEL = "mistral-moderation-2603"


def deprecated_model_message(requested: str, resolved: str) -> str | None:
    """The warning for a response from a deprecated snapshot, or None.

    Parameters
    ----------
    requested : str
        The model asked for (an alias such as ``mistral-moderation-latest``, or a
        snapshot).
    resolved : str
        The response's ``model`` field: the snapshot that answered.

    Returns
    -------
    str or None
        None when ``resolved`` is not a deprecated snapshot of :data:`MISTRAL_MODELS`;
        else one line naming the requested name, the snapshot it resolved to, the
        deprecation date and the successor to pin.

    Examples
    --------
    >>> from modkit.backends import deprecated_model_message
    >>> print(deprecated_model_message("mistral-moderation-latest", "mistral-moderation-2411"))
    mistral: 'mistral-moderation-latest' resolved to 'mistral-moderation-2411', deprecated since 2026-03-31; pin 'mistral-moderation-2603' (--model mistral-moderation-2603)
    >>> deprecated_model_message("mistral-moderation-latest", "mistral-moderation-2603") is None
    True
    """  # noqa: E501
    info = MISTRAL_MODELS.get(resolved)
    if info is None or info.deprecated is None:
        return None
    what = (
        f"{resolved!r} is" if requested == resolved else f"{requested!r} resolved to {resolved!r},"
    )
    succ = info.successor or MISTRAL_DEFAULT_MODEL
    return f"mistral: {what} deprecated since {info.deprecated}; pin {succ!r} (--model {succ})"


class MistralBackend(Backend):
    """Mistral moderation: ``POST /v1/moderations`` (raw text) or ``/v1/chat/moderations``.

    Scores keep Mistral's own category names (``hate_and_discrimination``, ``selfharm``,
    ``pii``, ...; 2603 adds ``dangerous``, ``criminal`` and ``jailbreaking``; see
    :data:`MISTRAL_MODELS` and :func:`modkit.providers.crosswalk`), in [0, 1]; ``categories`` and
    ``flagged`` are Mistral's own flags.

    Parameters
    ----------
    model : str, default "mistral-moderation-2603"
        The moderation model (:data:`MISTRAL_DEFAULT_MODEL`, a pinned snapshot;
        ``mistral-moderation-2411`` stays selectable). Results record the model the
        response names; when that is a deprecated snapshot (e.g. the alias
        ``mistral-moderation-latest`` resolving to 2411), the ``modkit`` logger warns once
        per backend (:func:`deprecated_model_message`).
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
    >>> from modkit.testing import MISTRAL_2603_CATEGORIES, MistralModerationFake
    >>> with MistralModerationFake(api_key="k") as fake:
    ...     with modkit.backends.MistralBackend(base_url=fake.url, api_key="k") as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> sorted(modkit.category_columns(df)) == sorted(MISTRAL_2603_CATEGORIES)
    True
    >>> df["model"].iloc[0]
    'mistral-moderation-2603'
    """

    name = "mistral"
    max_batch_size = 32

    def __init__(
        self,
        model: str = MISTRAL_DEFAULT_MODEL,
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
        self._clients = LoopBound(self._make_client, _close)
        self._warned: set[str] = set()

    def _check_resolved(self, resolved: str) -> None:
        """Warn once per resolved snapshot when the response names a deprecated one."""
        if resolved in self._warned:
            return
        self._warned.add(resolved)
        message = deprecated_model_message(self.model, resolved)
        if message:
            logger.warning("%s", message)

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
        import httpx2

        # our own HTTP client (the SDK's documented ``async_client``), whose response hook
        # keeps each 200's raw body for the lenient parser: the SDK's response model
        # coerces (``true`` -> 1.0) or rejects (``null``) what the parser must see as sent
        http = httpx2.AsyncClient(follow_redirects=True, event_hooks={"response": [_keep_body]})
        client = Mistral(
            api_key=self.__key.reveal() or "unused",
            server_url=self.base_url,
            timeout_ms=int(self.timeout * 1000),
            async_client=http,
        )
        return client, http

    def _get_client(self) -> Any:
        if self.closed:
            raise BackendError("this MistralBackend is closed; make a new one")
        return self._clients.get()[0]

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
        bodies: list[bytes] = []
        token = _BODIES.set(bodies)
        try:
            if self.endpoint == "raw":
                resp = await client.classifiers.moderate_async(model=self.model, inputs=list(texts))
            else:
                convs = [self._conversation(t) for t in texts]
                resp = await client.classifiers.moderate_chat_async(model=self.model, inputs=convs)
            # the raw body, as sent (the SDK's model would have coerced ``true`` to 1.0)
            body: Any = (
                _json_body(bodies[-1]) if bodies else resp.model_dump(mode="json", by_alias=True)
            )
        except errors.ResponseValidationError as exc:
            # a 200 the SDK's response model rejects (a null score, a flag that is not a
            # boolean): its body goes through the lenient parser, never aborts the run
            if int(exc.status_code) != 200:
                raise self._status_error(exc) from None
            body = _json_body(exc.body)
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
        finally:
            _BODIES.reset(token)
        return BatchOutcome(self._parse(body, len(texts)))

    def _parse(self, body: Any, sent: int) -> list[ModerationResult | ItemError]:
        """A 200's results through the lenient parser of every backend.

        A score that is ``null``, missing or not a number is NaN, a flag that is not a
        boolean is unknown (each with a note); categories the backend does not list are
        kept; a result that is not an object with ``category_scores`` is a per-text
        error. ``flagged`` is any category's flag (Mistral sends no overall flag).

        Raises
        ------
        TransientBackendError
            The body is not an object with a ``results`` list of ``sent`` elements.
        """
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise TransientBackendError("mistral: HTTP 200 with no 'results' in the body")
        if len(results) != sent:
            raise TransientBackendError(
                f"mistral: sent {sent} inputs, got {len(results)} results back"
            )
        model = str(body.get("model") or self.model)
        rid = str(body.get("id") or "")
        self._check_resolved(model)
        out: list[ModerationResult | ItemError] = []
        for i, r in enumerate(results):
            if isinstance(r, dict):
                flags = r.get("categories")
                flagged = isinstance(flags, dict) and any(v is True for v in flags.values())
                r = {**r, "flagged": flagged}
            try:
                out.append(lenient_result("mistral", r, model=model, id=rid))
            except InputError as exc:
                out.append(
                    ItemError(f"mistral: results[{i}] is malformed: {exc}", "malformed_result")
                )
        return out

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


#: The raw 200 bodies of the running request (one list per task: concurrent batches
#: each see their own).
_BODIES: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar(
    "modkit_mistral_bodies", default=None
)


async def _keep_body(response: Any) -> None:
    """httpx response hook: keep a 200's body for the request running in this task."""
    bodies = _BODIES.get()
    if bodies is not None and response.status_code == 200:
        await response.aread()
        bodies.append(response.content)


async def _close(pair: tuple[Any, Any]) -> None:
    client, http = pair
    await client.__aexit__(None, None, None)
    await http.aclose()  # supplied to the SDK, so the SDK leaves it open


def _json_body(text: Any) -> Any:
    """The parsed JSON of a 200 body the SDK rejected.

    Raises
    ------
    TransientBackendError
        When it is not JSON at all (a truncated answer: worth retrying).
    """
    try:
        return json.loads(text or "")
    except (TypeError, ValueError):
        raise TransientBackendError(
            f"mistral: HTTP 200 with a body that is not valid JSON ({len(text or '')} chars)"
        ) from None
