"""Google's Perspective API ``comments:analyze`` over HTTP (no SDK needed)."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Sequence
from typing import Any

from .._errors import BackendError, InputError, ServiceEndWarning, TransientBackendError
from .._result import ItemError, ModerationResult
from ._base import Backend, BatchOutcome
from ._provider_http import LoopBound, error_for_status, native_result, read_key, scrub

__all__ = [
    "PERSPECTIVE_ATTRIBUTES",
    "PERSPECTIVE_END_DATE",
    "PerspectiveBackend",
    "perspective_end_message",
]

#: The last day Perspective's operators announced the API serves (it stops after 2026).
PERSPECTIVE_END_DATE = dt.date(2026, 12, 31)

#: The production attributes (English and other languages; see the attributes page).
PERSPECTIVE_ATTRIBUTES = (
    "TOXICITY",
    "SEVERE_TOXICITY",
    "IDENTITY_ATTACK",
    "INSULT",
    "PROFANITY",
    "THREAT",
)
_DEFAULT_URL = "https://commentanalyzer.googleapis.com"
_LANG_ERROR = "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"


class PerspectiveBackend(Backend):
    """Perspective API ``POST /v1alpha1/comments:analyze``, one comment per request.

    Scores are each attribute's ``summaryScore.value`` (a probability) under the
    attribute's own name (``TOXICITY``, ``IDENTITY_ATTACK``, ...). ``categories`` flags
    an attribute at ``flag_at`` (default 0.7, the level Perspective's documentation
    suggests for moderation assistance).

    Per-attribute errors: when the service refuses a request because one attribute does
    not support the comment's language (``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE``), the
    request is sent again without that attribute; the attribute is then absent from
    that text's result (NaN in the results frame) and named in the result's
    ``category_applied_input_types["unsupported"]``. With ``drop_unsupported=True`` the
    service drops such attributes itself (``dropUnsupportedAttributes``).

    Parameters
    ----------
    attributes : sequence of str, optional
        Requested attributes (default :data:`PERSPECTIVE_ATTRIBUTES`); experimental ones
        such as ``SEXUALLY_EXPLICIT`` work too.
    languages : sequence of str, optional
        ISO 639-1 codes of the comments (default: the service detects the language).
    base_url : str, optional
        Default ``https://commentanalyzer.googleapis.com``.
    api_key : str, optional
        Default ``$PERSPECTIVE_API_KEY``; sent in the ``x-goog-api-key`` header, never in
        the URL (so it cannot leak through a logged URL).
    api_key_env : str, default "PERSPECTIVE_API_KEY"
        The variable the key is read from.
    drop_unsupported : bool, default False
        Ask the service to drop attributes that do not support the comment's language
        (``dropUnsupportedAttributes``) instead of refusing the request.
    do_not_store : bool, default True
        Ask the service not to store the comments.
    flag_at : float, default 0.7
        Probability in [0, 1] at which ``categories`` and ``flagged`` say True.
    timeout : float, default 60
        Seconds per request.
    today : datetime.date or str, optional
        The date the end-of-service check uses (default: today's UTC date); an ISO
        ``YYYY-MM-DD`` string is accepted.

    Raises
    ------
    InputError
        For an attribute name that is not upper case, ``flag_at`` outside [0, 1], or a
        ``today`` that is not a date.
    AuthenticationError
        With no ``base_url`` (the real service) and no key in ``api_key`` or
        ``$api_key_env``.

    Notes
    -----
    Perspective's operators announced that the API stops serving after 2026
    (:data:`PERSPECTIVE_END_DATE`, 2026-12-31). Record its scores through modkit's cache
    or ``modkit moderate -o scores.jsonl`` (a replay file) to keep its behaviour, and see
    :func:`modkit.fit_migration` to move thresholds to a successor. Made after that date,
    the backend warns (:class:`modkit.ServiceEndWarning`, with those commands in the
    message: :func:`perspective_end_message`).

    Examples
    --------
    Offline, against a local fake of the service:

    >>> import modkit
    >>> from modkit.testing import PerspectiveFake
    >>> with PerspectiveFake(api_key="k") as fake:
    ...     with modkit.backends.PerspectiveBackend(
    ...         base_url=fake.url, api_key="k", attributes=["TOXICITY", "THREAT"]
    ...     ) as backend:
    ...         df = modkit.moderate(["a comment"], backend=backend, cache=None, progress=False)
    >>> sorted(modkit.category_columns(df))
    ['THREAT', 'TOXICITY']
    >>> bool(df[["TOXICITY", "THREAT"]].stack().between(0, 1).all())
    True
    """

    name = "perspective"
    max_batch_size = 1

    def __init__(
        self,
        *,
        attributes: Sequence[str] | None = None,
        languages: Sequence[str] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "PERSPECTIVE_API_KEY",
        drop_unsupported: bool = False,
        do_not_store: bool = True,
        flag_at: float = 0.7,
        timeout: float = 60.0,
        today: dt.date | str | None = None,
    ) -> None:
        message = perspective_end_message(today)
        if message:
            warnings.warn(message, ServiceEndWarning, stacklevel=2)
        attrs = [str(a) for a in (attributes or PERSPECTIVE_ATTRIBUTES)]
        bad = [a for a in attrs if not a or a.upper() != a]
        if bad:
            raise InputError(f"Perspective attribute names are upper case (TOXICITY): {bad}")
        if not 0.0 <= float(flag_at) <= 1.0:
            raise InputError(f"flag_at must be in [0, 1], got {flag_at!r}")
        self.attributes = attrs
        self.languages = list(languages) if languages else None
        self.base_url = (base_url or _DEFAULT_URL).rstrip("/")
        self.api_key_env = api_key_env
        self.drop_unsupported = bool(drop_unsupported)
        self.do_not_store = bool(do_not_store)
        self.flag_at = float(flag_at)
        self.timeout = float(timeout)
        self.model = "perspective-v1alpha1"
        self.__key = read_key(api_key, api_key_env, "perspective", required=base_url is None)
        self._clients = LoopBound(self._make_client, lambda c: c.aclose())

    @property
    def cache_namespace(self) -> str:
        opts = json.dumps([self.attributes, self.languages, self.drop_unsupported])
        return f"perspective:{self.base_url}:{opts}"

    def __repr__(self) -> str:
        return f"PerspectiveBackend(attributes={self.attributes!r}, base_url={self.base_url!r})"

    def _make_client(self) -> Any:
        import httpx2

        headers = {"x-goog-api-key": self.__key.reveal()} if self.__key.reveal() else {}
        return httpx2.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout)

    def _get_client(self) -> Any:
        if self.closed:
            raise BackendError("this PerspectiveBackend is closed; make a new one")
        return self._clients.get()

    async def arelease(self) -> None:
        """Close the client of the running event loop (its connections belong to it)."""
        await self._clients.release()

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        return BatchOutcome([await self._score_one(t) for t in texts])

    async def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError("perspective: empty comment: nothing to analyze", code="COMMENT_EMPTY")
        attrs = list(self.attributes)
        unsupported: list[str] = []
        while attrs:
            body: dict[str, Any] = {
                "comment": {"text": text},
                "requestedAttributes": {a: {} for a in attrs},
                "doNotStore": self.do_not_store,
            }
            if self.languages:
                body["languages"] = self.languages
            if self.drop_unsupported:
                body["dropUnsupportedAttributes"] = True
            status, data, headers = await self._post(body)
            if status == 200:
                return self._result(text, data, unsupported)
            error = data.get("error") if isinstance(data, dict) else None
            attr = _unsupported_attribute(error)
            if status == 400 and attr in attrs:
                attrs.remove(attr)
                unsupported.append(attr)
                continue
            raise self._status_error(status, error, headers)
        return ItemError(
            f"perspective: no requested attribute supports this comment's language "
            f"({', '.join(unsupported)})",
            code=_LANG_ERROR,
        )

    async def _post(self, body: dict[str, Any]) -> tuple[int, Any, Any]:
        import httpx2

        client = self._get_client()
        try:
            resp = await client.post("/v1alpha1/comments:analyze", json=body)
        except httpx2.TimeoutException:
            raise TransientBackendError(f"perspective: timed out after {self.timeout:g}s") from None
        except httpx2.TransportError as exc:
            raise TransientBackendError(
                f"perspective: connection error: {scrub(str(exc), self.__key)}"
            ) from None
        try:
            data = resp.json()
        except ValueError:
            if resp.status_code == 200:
                raise TransientBackendError(
                    f"perspective: HTTP 200 with a body that is not valid JSON "
                    f"({len(resp.content)} bytes)"
                ) from None
            data = {}
        return resp.status_code, data, resp.headers

    def _result(self, text: str, data: Any, unsupported: list[str]) -> ModerationResult | ItemError:
        """The answer through the lenient parser of every backend.

        An attribute without a numeric ``summaryScore.value`` is NaN, with a note; an
        attribute the backend did not ask for is kept (its own column); a 200 without
        ``attributeScores`` is a per-text error (not retried: the same text gets the same
        answer).
        """
        scores_in = data.get("attributeScores") if isinstance(data, dict) else None
        if not isinstance(scores_in, dict):
            return ItemError(
                "perspective: HTTP 200 without attributeScores: not scored",
                code="malformed_result",
            )
        scores: dict[str, Any] = {}
        for attr, value in scores_in.items():
            summary = value.get("summaryScore") if isinstance(value, dict) else None
            scores[str(attr)] = summary.get("value") if isinstance(summary, dict) else None
        flags = {
            a: s >= self.flag_at
            for a, s in scores.items()
            if isinstance(s, int | float) and not isinstance(s, bool)
        }
        applied: dict[str, list[str]] = {a: ["text"] for a in scores}
        dropped = [a for a in self.attributes if a not in scores and a not in unsupported]
        if unsupported or dropped:
            applied["unsupported"] = unsupported + dropped
        langs = data.get("detectedLanguages") or data.get("languages") or []
        if isinstance(langs, list) and langs:
            applied["languages"] = [str(x) for x in langs]
        return native_result("perspective", text, flags, scores, applied, self.model)

    def _status_error(self, status: int, error: Any, headers: Any) -> BackendError:
        message = "no error message"
        code = None
        quota = False
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            code = error.get("status")
            for d in error.get("details") or []:
                if isinstance(d, dict) and d.get("reason") == "API_KEY_INVALID":
                    status = 401
                if isinstance(d, dict) and d.get("errorType"):
                    code = d["errorType"]
            quota = status == 429 and "per day" in message.lower()
        return error_for_status(
            status,
            scrub(message, self.__key),
            provider="perspective",
            api_key_env=self.api_key_env,
            headers={k.lower(): v for k, v in dict(headers or {}).items()},
            code=str(code) if code else None,
            quota=quota,
        )


def perspective_end_message(today: dt.date | str | None = None) -> str | None:
    """The end-of-service warning for a date after :data:`PERSPECTIVE_END_DATE`, else None.

    Parameters
    ----------
    today : datetime.date or str, optional
        The date to check (an ISO ``YYYY-MM-DD`` string is accepted); default today's
        UTC date.

    Returns
    -------
    str or None
        None up to and including 2026-12-31; after it, one message naming the end date,
        how to replay recorded scores (``modkit moderate ... --backend replay --replay
        perspective.jsonl``) and how to migrate thresholds (:func:`modkit.fit_migration`).

    Raises
    ------
    InputError
        If ``today`` is neither a date nor an ISO date string.

    Examples
    --------
    >>> from modkit.backends import perspective_end_message
    >>> perspective_end_message("2026-12-31") is None
    True
    >>> print(perspective_end_message("2027-01-01"))  # doctest: +ELLIPSIS
    perspective: the Perspective API stopped serving after 2026-12-31 (today is 2027-01-01)...
    """
    if today is None:
        day = dt.datetime.now(dt.UTC).date()
    elif isinstance(today, dt.datetime):
        day = today.date()
    elif isinstance(today, dt.date):
        day = today
    else:
        try:
            day = dt.date.fromisoformat(str(today))
        except ValueError:
            raise InputError(f"today must be a date (YYYY-MM-DD), got {today!r}") from None
    if day <= PERSPECTIVE_END_DATE:
        return None
    return (
        f"perspective: the Perspective API stopped serving after {PERSPECTIVE_END_DATE} "
        f"(today is {day}); requests will fail. Replay the scores you recorded: "
        "`modkit moderate prompts.txt -o scores.jsonl --backend replay --replay "
        "perspective.jsonl`; move thresholds to a successor with "
        "`modkit.fit_migration(old, new, source_thresholds=...)` (docs: how-to 'Compare providers "
        "and migrate thresholds between them')"
    )


def _unsupported_attribute(error: Any) -> str | None:
    """The attribute a ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`` error names, if any."""
    if not isinstance(error, dict):
        return None
    for d in error.get("details") or []:
        if isinstance(d, dict) and d.get("errorType") == _LANG_ERROR:
            info = d.get("languageNotSupportedByAttributeError") or {}
            attr = info.get("attribute")
            return str(attr) if attr else None
    return None
