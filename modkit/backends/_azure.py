"""Azure AI Content Safety text analysis through ``azure-ai-contentsafety`` (extra ``azure``)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from typing import Any

from .._errors import BackendError, InputError, TransientBackendError
from .._result import ItemError, ModerationResult
from ._base import SyncBackend
from ._provider_http import error_for_status, native_result, read_key, scrub

__all__ = [
    "AZURE_CATEGORIES",
    "AZURE_OUTPUT_TYPES",
    "BLOCKLIST_KEY",
    "AzureContentSafetyBackend",
]

#: The four text categories, as the service names them.
AZURE_CATEGORIES = ("Hate", "SelfHarm", "Sexual", "Violence")
#: ``outputType`` values: severities 0/2/4/6, or 0-7.
AZURE_OUTPUT_TYPES = ("FourSeverityLevels", "EightSeverityLevels")
#: The column of blocklist hits (1.0 when any item of a requested blocklist matched).
BLOCKLIST_KEY = "blocklistsMatch"
#: The most characters one ``text:analyze`` request takes.
AZURE_MAX_CHARS = 10_000


class AzureContentSafetyBackend(SyncBackend):
    """Azure AI Content Safety ``text:analyze``, one text per request.

    Scores are the service's integer **severities** under its own category names
    (``Hate``, ``SelfHarm``, ``Sexual``, ``Violence``): 0, 2, 4, 6 with
    ``output_type="FourSeverityLevels"`` (the service's default), 0-7 with
    ``"EightSeverityLevels"``. They are ordinal levels, not probabilities: fit thresholds
    on them with :func:`modkit.fit_thresholds` (a threshold is then one of the levels).
    ``categories`` flags a category at severity >= ``flag_at`` (default 4, "medium").
    With ``blocklists``, a ``blocklistsMatch`` column is 1.0 when an item matched (and flags
    the text); the result's ``category_applied_input_types`` lists ``list:item`` matched.

    Parameters
    ----------
    base_url : str
        The resource endpoint, ``https://<name>.cognitiveservices.azure.com`` (the SDK
        adds ``/contentsafety/text:analyze``).
    output_type : {"FourSeverityLevels", "EightSeverityLevels"}, default "EightSeverityLevels"
    categories : sequence of str, optional
        A subset of :data:`AZURE_CATEGORIES` (default: all four).
    blocklists : sequence of str, optional
        Names of the resource's text blocklists to match.
    halt_on_blocklist_hit : bool, default False
        Skip the classifiers when a blocklist matches (categories are then absent).
    flag_at : int, default 4
        Severity at which ``categories`` and ``flagged`` say True.
    api_key : str, optional
        Default ``$AZURE_CONTENT_SAFETY_KEY``; sent as ``Ocp-Apim-Subscription-Key``.
    api_key_env : str, default "AZURE_CONTENT_SAFETY_KEY"
        The variable the key is read from.
    api_version : str, default "2023-10-01"
        The service's ``api-version``.
    timeout : float, default 60
        Seconds per request.

    Raises
    ------
    InputError
        With no ``base_url``, an unknown ``output_type`` or an unknown category.
    AuthenticationError
        When neither ``api_key`` nor ``$api_key_env`` gives a key.

    Notes
    -----
    The SDK's own retries are off (``retry_total=0``): :func:`modkit.moderate` owns them.
    A text longer than 10,000 characters, or empty, gets a per-item error without a
    request.

    Examples
    --------
    Offline, against the local fake of the service:

    >>> import modkit
    >>> from modkit.testing import AzureContentSafetyFake
    >>> with AzureContentSafetyFake(api_key="k") as fake:
    ...     with modkit.backends.AzureContentSafetyBackend(fake.url, api_key="k") as backend:
    ...         df = modkit.moderate(["a text"], backend=backend, cache=None, progress=False)
    >>> modkit.category_columns(df)
    ['Hate', 'SelfHarm', 'Sexual', 'Violence']
    >>> df[["Hate", "Violence"]].isin(range(8)).all().all()
    np.True_
    """

    name = "azure"
    max_batch_size = 1

    def __init__(
        self,
        base_url: str,
        *,
        output_type: str = "EightSeverityLevels",
        categories: Sequence[str] | None = None,
        blocklists: Sequence[str] | None = None,
        halt_on_blocklist_hit: bool = False,
        flag_at: int = 4,
        api_key: str | None = None,
        api_key_env: str = "AZURE_CONTENT_SAFETY_KEY",
        api_version: str = "2023-10-01",
        timeout: float = 60.0,
    ) -> None:
        if not base_url:
            raise InputError("the azure backend needs the resource endpoint: --base-url URL")
        if output_type not in AZURE_OUTPUT_TYPES:
            raise InputError(
                f"output_type must be one of {AZURE_OUTPUT_TYPES}, got {output_type!r}"
            )
        cats = list(categories) if categories else list(AZURE_CATEGORIES)
        unknown = [c for c in cats if c not in AZURE_CATEGORIES]
        if unknown:
            raise InputError(f"unknown Azure categories {unknown}; choose from {AZURE_CATEGORIES}")
        self.base_url = base_url.rstrip("/")
        self.output_type = output_type
        self.categories = cats
        self.blocklists = list(blocklists or ())
        self.halt_on_blocklist_hit = bool(halt_on_blocklist_hit)
        self.flag_at = int(flag_at)
        self.api_key_env = api_key_env
        self.api_version = api_version
        self.timeout = float(timeout)
        self.__key = read_key(api_key, api_key_env, "azure", required=True)
        #: Recorded as the results' ``model``: the API version and the severity scale.
        self.model = f"content-safety-{api_version}:{output_type}"
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    @property
    def cache_namespace(self) -> str:
        opts = json.dumps(
            [self.categories, self.blocklists, self.halt_on_blocklist_hit, self.flag_at]
        )
        return f"azure:{self.base_url}:{opts}"

    def __repr__(self) -> str:
        return (
            f"AzureContentSafetyBackend(base_url={self.base_url!r}, "
            f"output_type={self.output_type!r})"
        )

    def _client(self) -> Any:
        if self.closed:
            raise BackendError("this AzureContentSafetyBackend is closed; make a new one")
        client = getattr(self._local, "client", None)
        if client is None:
            try:
                from azure.ai.contentsafety import ContentSafetyClient
                from azure.core.credentials import AzureKeyCredential
            except ImportError:  # pragma: no cover - depends on the install
                raise BackendError(
                    "the azure backend needs azure-ai-contentsafety: pip install 'modkit[azure]'"
                ) from None
            client = ContentSafetyClient(
                self.base_url,
                AzureKeyCredential(self.__key.reveal()),
                api_version=self.api_version,
                retry_total=0,
                connection_timeout=self.timeout,
                read_timeout=self.timeout,
            )
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    async def aclose(self) -> None:
        """Close the SDK clients (one per worker thread) and the backend."""
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
        self._local = threading.local()
        await super().aclose()

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return [self._score_one(t) for t in texts]

    def _score_one(self, text: str) -> ModerationResult | ItemError:
        if not text.strip():
            return ItemError("azure: empty text: nothing to analyze", code="empty_text")
        if len(text) > AZURE_MAX_CHARS:
            return ItemError(
                f"azure: text of {len(text)} characters exceeds the {AZURE_MAX_CHARS} the "
                "service takes per request",
                code="text_too_long",
            )
        from azure.ai.contentsafety.models import AnalyzeTextOptions
        from azure.core.exceptions import (
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        options = AnalyzeTextOptions(
            text=text,
            categories=self.categories,
            blocklist_names=self.blocklists or None,
            halt_on_blocklist_hit=self.halt_on_blocklist_hit if self.blocklists else None,
            output_type=self.output_type,
        )
        try:
            # the body as bytes (``stream=True``), parsed by the lenient parser: the SDK's
            # response model raises on a body it does not expect (a category list that is
            # not a list), which would stop the run
            raw = b"".join(self._client().analyze_text(options, stream=True))
        except HttpResponseError as exc:
            raise self._status_error(exc) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TransientBackendError(
                f"azure: connection error: {scrub(str(exc), self.__key)}"
            ) from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise TransientBackendError(
                f"azure: HTTP 200 with a body that is not valid JSON ({len(raw)} bytes)"
            ) from None
        return self._result(text, body)

    def _result(self, text: str, body: Any) -> ModerationResult:
        """The service's answer through the lenient parser of every backend.

        A severity that is ``null`` or not a number is NaN, a requested category the
        answer lacks is NaN (unless a blocklist hit halted the classifiers), an entry
        without a category name is skipped, each with a note; a category the backend
        does not list is kept (its own column, with a note from :func:`modkit.moderate`).
        """
        body = body if isinstance(body, dict) else {}
        scores: dict[str, Any] = {}
        skipped = 0
        analysis = body.get("categoriesAnalysis")
        for item in analysis if isinstance(analysis, list) else []:
            name = item.get("category") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name:
                skipped += 1
                continue
            scores[name] = item.get("severity")
        matches = body.get("blocklistsMatch")
        matches = [m for m in matches if isinstance(m, dict)] if isinstance(matches, list) else []
        halted = self.halt_on_blocklist_hit and bool(matches)
        # a flag follows its severity: none for a severity that is not a number
        flags: dict[str, Any] = {c: s >= self.flag_at for c, s in scores.items() if _is_number(s)}
        if not halted:  # a requested category the answer lacks: NaN, flag unknown
            flags.update({c: None for c in self.categories if c not in scores})
        applied: dict[str, list[str]] = {c: ["text"] for c in scores}
        if self.blocklists:  # hits as one 0/1 column, the lists and items that matched
            scores[BLOCKLIST_KEY] = float(bool(matches))
            flags[BLOCKLIST_KEY] = bool(matches)
            applied[BLOCKLIST_KEY] = sorted(
                {f"{m.get('blocklistName')}:{m.get('blocklistItemText')}" for m in matches}
            )
        res = native_result("azure", text, flags, scores, applied, self.model)
        if skipped:
            note = f"azure: {skipped} categoriesAnalysis entries without a category: skipped"
            res = dataclasses.replace(res, notes=(*res.notes, note))
        return res

    def _status_error(self, exc: Any) -> BackendError:
        status = int(exc.status_code or 0)
        err = getattr(exc, "error", None)
        code = getattr(err, "code", None)
        message = getattr(err, "message", None) or str(exc.message or exc.reason or exc)
        headers = dict(exc.response.headers) if exc.response is not None else {}
        lowered = {k.lower(): v for k, v in headers.items()}
        return error_for_status(
            status,
            scrub(str(message), self.__key),
            provider="azure",
            api_key_env=self.api_key_env,
            headers=lowered,
            code=str(code) if code else None,
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
