"""The batch runner: many texts through a backend, with cache, retries and rate limits."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Literal, TypeVar

import pandas as pd

from ._batch import BatchAPI, BatchRun, resolve_via
from ._cache import Cache, multimodal_keys, text_keys
from ._conversation import combine_units, is_conversation, parse_strategy, plan_conversations
from ._errors import (
    BackendError,
    BatchRejectedError,
    InputError,
    ItemErrorsRaised,
    ModkitError,
    TransientBackendError,
)
from ._frame import (
    FLAG_PREFIX,
    RESULT_COLUMNS,
    assemble,
    category_columns,
    check_multimodal,
    input_frame,
    unlisted_categories,
)
from ._images import applied_input_types
from ._pacing import Throttle, backoff
from ._result import ItemError, ModerationResult, ResultRows, result_json
from ._validation import (
    Hidden,
    Interval,
    MappingOf,
    Options,
    SequenceOf,
    StrOptions,
    validate_params,
)
from .backends import Backend, is_alias, resolve_snapshot
from .backends._base import refusal, run_sync

__all__ = ["RESULT_COLUMNS", "amoderate", "moderate"]

logger = logging.getLogger("modkit")

_DEFAULT = object()
T = TypeVar("T")

_MODERATE_PARAMS: dict[str, list[Any]] = {
    "backend": [Backend, str, None],
    "cache": [Cache, "path", None, Hidden(Options([_DEFAULT]))],
    "batch_size": [Interval(Integral, 1, None), None],
    "concurrency": [Interval(Integral, 1, None)],
    "progress": ["boolean"],
    "errors": [StrOptions(["record", "raise"])],
    "max_retries": [Interval(Integral, 0, None)],
    "text_column": [str],
    "via": [StrOptions(["requests", "batch"]), BatchAPI],
    "result_json": ["boolean"],
    "conversation": [str, None],
    "labels_from": [None, SequenceOf(str), MappingOf(str, str)],
}


@validate_params(_MODERATE_PARAMS)
def moderate(
    data: Sequence[str] | pd.Series | pd.DataFrame,
    *,
    backend: Backend | str | None = None,
    cache: Cache | str | Any | None = _DEFAULT,
    batch_size: int | None = None,
    concurrency: int = 4,
    progress: bool = True,
    errors: Literal["record", "raise"] = "record",
    max_retries: int = 8,
    text_column: str = "text",
    via: Literal["requests", "batch"] | BatchAPI = "requests",
    result_json: bool = True,
    conversation: str | None = None,
    labels_from: Sequence[str] | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Score texts with a moderation backend and return one tidy row per input.

    Parameters
    ----------
    data : list of str, Series, or DataFrame
        The texts; a DataFrame needs a ``text`` column (see ``text_column``) and its
        other columns are kept.
    backend : Backend or str, optional
        A backend object, or a name (``"local"``, ``"openai"``, ``"replay"`` needs an
        object). Default: the local scorer. Ownership follows httpx: a backend made
        here from a name is closed at the end of the run; one passed in is not (close
        it yourself, e.g. ``with modkit.backends.OpenAIBackend() as b:``). Likewise a cache
        opened here from a path (or the default) is closed, a :class:`Cache` passed in
        is not.
    cache : Cache, path, or None
        Default: the persistent cache in the user's cache directory. A path opens a
        cache there; ``None`` turns caching off.
    batch_size : int, optional
        Texts per request (per call of a local model). Default: the backend's
        ``preferred_batch_size``, else 32 (the local scorer: 256, as its encoder runs
        larger batches faster). Identical texts are sent once.
    concurrency : int, default 4
        Requests in flight at once (the runner lowers it while rate-limited).
    progress : bool, default True
        Show a ``tqdm.auto`` bar with cached / sent / failed counts.
    errors : {"record", "raise"}, default "record"
        ``"record"``: a text that fails gets its message in the ``error`` column.
        ``"raise"``: after the run, raise :class:`~modkit.ItemErrorsRaised` if any text
        failed (its ``partial`` holds every result).
    max_retries : int, default 8
        Retries of a transient failure (429, 408, 409, 5xx, connection error, timeout,
        a 200 whose body is not valid JSON or lacks ``results``) before the batch's
        texts are recorded as failed. A 429 that says when to retry (``retry-after``)
        is flow control rather than failure: a batch may wait out ``4 * max_retries +
        4`` of those.
    text_column : str, default "text"
        The column of a DataFrame that holds the texts.
    via : {"requests", "batch"} or BatchAPI, default "requests"
        ``"requests"``: synchronous ``/v1/moderations`` requests. ``"batch"`` (or a
        :class:`~modkit.BatchAPI` with its options): the OpenAI Batch API (openai
        backend and a cache needed): uncached texts are uploaded as JSONL, batches are
        polled until they end, results land in the cache, and an interrupted run
        resumes its open batches when started again with the same cache.
        ``batch_size``, ``concurrency`` and ``max_retries`` do not apply there.
    result_json : bool, default True
        Keep the endpoint's full result object as JSON in a ``result_json`` column.
        Nothing in modkit needs it (scores and the per-category flags have their own
        columns); ``False`` makes large frames smaller and faster to build.
    conversation : {"native", "per_message", "last_turn", "window:k"}, optional
        How a conversation (an input that is a list of ``{"role", "content"}``
        messages, content a text or a list of parts) is scored. ``"native"``: whole, by
        a backend that takes conversations (guard models). ``"per_message"``: each
        message alone. ``"last_turn"``: the newest message only (an old flagged turn
        stops re-blocking). ``"window:k"``: the last ``k`` messages joined into one input
        (``role: content`` lines), which catches a request split across turns.
        Per-category scores are the max over what was scored, flags the any; the
        ``decided_by`` column names the deciding message's index and
        ``conversation_strategy`` the strategy. Default: ``"native"`` when the backend
        takes conversations, else ``"per_message"``.
    labels_from : list of str or dict of str to str, optional
        The input columns that hold labels (a dict maps a column to its category key).
        Default: every ``label_<category>`` column and every column named by a bare
        category key (``violence``). Label columns are kept, renamed
        ``label_<category>`` (a bare key names the score column) with values 1.0 / 0.0
        / NaN (not labelled), so ``fit_thresholds(results, objective=...)`` reads them;
        see :func:`modkit.parse_labels` for the values accepted.

    Returns
    -------
    pandas.DataFrame, shape (n_inputs, n_input_columns + n_categories + ...)
        One row per input in input order: the input columns, one float score column per
        category named by its API key (``df["self-harm/intent"]``; in the backend's
        native units, [0, 1] for OpenAI; NaN for a text that failed), ``flagged``,
        the endpoint's per-category flags as nullable boolean columns
        ``flagged/<category>`` (``df["flagged/self-harm/intent"]``; the prefix keeps
        them apart from the score columns), ``model`` (the snapshot the response
        named), ``moderation_id``, ``error`` (empty when fine) and ``result_json``
        (the endpoint's result object; see ``result_json=``). ``attrs["derived"]``
        (when the backend computes some categories from others, as the local scorer
        does) maps each such category to its rule: not an independent finding.

    Raises
    ------
    InputError
        A parameter out of its range (``batch_size=0``, ``errors="ignore"``...), named
        with the value, or data that is not texts.
    AuthenticationError, QuotaExceededError, BackendError
        Failures that retrying cannot fix; the run stops at once. The exception's
        ``partial`` holds every result received before it, and so does the cache.
    ItemErrorsRaised
        With ``errors="raise"``, after a run in which some texts failed; its ``partial``
        holds every result.

    Examples
    --------
    Offline, against :class:`modkit.testing.FaultServer` (a local OpenAI-compatible
    endpoint with deterministic fake scores) over real HTTP on 127.0.0.1:

    >>> import modkit
    >>> from modkit.testing import FaultServer
    >>> with FaultServer() as server:
    ...     backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
    ...     df = modkit.moderate(
    ...         ["hello", "I will hurt you"], backend=backend, cache=None, progress=False
    ...     )
    >>> df[["text", "violence"]].round(2)
                  text  violence
    0            hello      0.04
    1  I will hurt you      0.78
    >>> df["self-harm/intent"].between(0, 1).all()
    np.True_
    """
    return run_sync(
        lambda: _amoderate(
            data,
            backend=backend,
            cache=cache,
            batch_size=batch_size,
            concurrency=concurrency,
            progress=progress,
            errors=errors,
            max_retries=max_retries,
            text_column=text_column,
            via=via,
            result_json=result_json,
            conversation=conversation,
            labels_from=labels_from,
            own_loop=True,
        )
    )


@validate_params(_MODERATE_PARAMS)
async def amoderate(
    data: Sequence[str] | pd.Series | pd.DataFrame,
    *,
    backend: Backend | str | None = None,
    cache: Cache | str | Any | None = _DEFAULT,
    batch_size: int | None = None,
    concurrency: int = 4,
    progress: bool = True,
    errors: Literal["record", "raise"] = "record",
    max_retries: int = 8,
    text_column: str = "text",
    via: Literal["requests", "batch"] | BatchAPI = "requests",
    result_json: bool = True,
    conversation: str | None = None,
    labels_from: Sequence[str] | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Asynchronous :func:`moderate`, for callers already inside an event loop.

    A backend passed in is left open (its connections stay in the caller's loop for the
    next call); close it with ``async with backend:`` or ``await backend.aclose()``.

    Parameters
    ----------
    data, backend, cache, batch_size, concurrency, progress, errors, max_retries
        As in :func:`moderate`.
    text_column, via, result_json, conversation, labels_from
        As in :func:`moderate`.

    Returns
    -------
    pandas.DataFrame, shape (n_inputs, ...)
        As :func:`moderate` returns: one row per input, in input order.

    Raises
    ------
    InputError
        A parameter out of its range, or data that is not texts (as :func:`moderate`).
    AuthenticationError, QuotaExceededError, BackendError
        Failures that retrying cannot fix; ``partial`` holds the results so far.
    ItemErrorsRaised
        With ``errors="raise"``, after a run in which some texts failed.

    Examples
    --------
    >>> import asyncio
    >>> import modkit
    >>> from modkit.testing import FaultServer
    >>> async def main(url):
    ...     async with modkit.backends.OpenAIBackend(base_url=url, api_key="sk-test") as backend:
    ...         return await modkit.amoderate(
    ...             ["hello"], backend=backend, cache=None, progress=False
    ...         )
    >>> with FaultServer() as server:
    ...     df = asyncio.run(main(server.url))
    >>> len(df), round(float(df.loc[0, "violence"]), 2)
    (1, 0.04)
    """
    return await _amoderate(
        data,
        backend=backend,
        cache=cache,
        batch_size=batch_size,
        concurrency=concurrency,
        progress=progress,
        errors=errors,
        max_retries=max_retries,
        text_column=text_column,
        via=via,
        result_json=result_json,
        conversation=conversation,
        labels_from=labels_from,
        own_loop=False,
    )


async def _amoderate(
    data: Sequence[str] | pd.Series | pd.DataFrame,
    *,
    backend: Backend | str | None,
    cache: Cache | str | Any | None,
    batch_size: int | None,
    concurrency: int,
    progress: bool,
    errors: Literal["record", "raise"],
    max_retries: int,
    text_column: str,
    via: Any,
    result_json: bool,
    own_loop: bool,
    conversation: str | None = None,
    units: bool = False,
    labels_from: Sequence[str] | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The run. Closes what it opened: a backend made from a name (or the default), a
    cache opened from a path (or the default); with ``own_loop`` (:func:`moderate`'s
    private loop) a caller's backend only releases what is bound to that loop."""
    if isinstance(backend, Backend) and backend.closed:
        raise InputError(f"backend {backend!r} is closed; make a new one")
    frame = input_frame(data, text_column, labels_from)
    if conversation is not None:
        parse_strategy(conversation)  # a bad name is refused before any work
    if not units and any(is_conversation(v) for v in frame[text_column].tolist()):
        return await _moderate_conversations(
            frame,
            backend=backend,
            cache=cache,
            batch_size=batch_size,
            concurrency=concurrency,
            progress=progress,
            errors=errors,
            max_retries=max_retries,
            text_column=text_column,
            via=via,
            result_json=result_json,
            own_loop=own_loop,
            conversation=conversation,
        )
    multimodal = any(isinstance(v, list | tuple) for v in frame[text_column].tolist())
    keep_json = result_json or multimodal  # applied/<key> columns are read from it
    run = await _scored_run(
        frame,
        text_column,
        backend,
        cache,
        via,
        (batch_size, concurrency, max_retries),
        progress=progress,
        keep_json=keep_json,
        result_json=result_json,
        own_loop=own_loop,
    )
    result = _results_of(run, frame, multimodal, keep_json, result_json)
    if errors == "raise":
        _raise_failed_rows(result, "texts")
    return result


async def _scored_run(
    frame: pd.DataFrame,
    text_column: str,
    backend: Backend | str | None,
    cache: Cache | str | Any | None,
    via: Any,
    sizes: tuple[int | None, int, int],
    *,
    progress: bool,
    keep_json: bool,
    result_json: bool,
    own_loop: bool,
) -> _Run | BatchRun:
    """Open the backend and cache, score the texts (by requests or the Batch API) and
    close what was opened here. ``sizes``: batch size, concurrency, retries."""
    batch_size, concurrency, max_retries = sizes
    batch_api = resolve_via(via)
    own_backend = not isinstance(backend, Backend)
    backend_obj = _resolve_backend(backend)
    own_cache = not isinstance(cache, Cache) and cache is not None
    cache_obj = _resolve_cache(cache)
    try:
        run: _Run | BatchRun
        if batch_api is not None:
            run = BatchRun(backend_obj, cache_obj, batch_api, progress)
        else:
            run = _Run(
                backend_obj, cache_obj, batch_size, concurrency, max_retries, progress, keep_json
            )
        try:
            await _execute(run, frame, text_column, result_json)
        finally:
            if own_backend:
                await backend_obj.aclose()
            elif own_loop:
                await backend_obj.arelease()
    finally:
        if own_cache and cache_obj is not None:
            cache_obj.close()
    return run


def _results_of(
    run: _Run | BatchRun, frame: pd.DataFrame, multimodal: bool, keep_json: bool, result_json: bool
) -> pd.DataFrame:
    """The results frame of a finished run (``applied/<key>`` columns for multimodal
    inputs), its notes and other-snapshot counts said."""
    result = _frame_of(run, frame, "not scored", keep_json)
    if multimodal:  # which categories looked at which part: applied/<key> columns
        result = applied_input_types(result)
        if not result_json:
            result = result.drop(columns="result_json")
    _report_notes(run, result)
    _report_snapshots(run, result)
    _report_derived(run, result)
    return result


async def _execute(
    run: _Run | BatchRun, frame: pd.DataFrame, text_column: str, result_json: bool
) -> None:
    """Score the texts; a run stopped by a modkit error carries what it scored
    (``partial``: every row, unscored ones with the reason)."""
    try:
        await run.execute(frame[text_column])
    except BaseException as exc:
        if isinstance(exc, ModkitError):
            reason = f"not scored: run stopped: {exc}"
            exc.partial = _frame_of(run, frame, reason, result_json)
        raise


async def _moderate_conversations(
    frame: pd.DataFrame,
    *,
    backend: Backend | str | None,
    conversation: str | None,
    errors: Literal["record", "raise"],
    text_column: str,
    result_json: bool,
    own_loop: bool,
    **options: Any,
) -> pd.DataFrame:
    """A run whose rows hold conversations: split into units by the strategy, scored as
    one run (cache, retries, rate limits as usual), combined back into one row each."""
    own_backend = not isinstance(backend, Backend)
    backend_obj = _resolve_backend(backend)
    try:
        if conversation is None:
            conversation = "native" if backend_obj.accepts_conversations else "per_message"
        plan = plan_conversations(
            frame[text_column].tolist(), conversation, native=backend_obj.accepts_conversations
        )
        unit_inputs = pd.DataFrame({"text": pd.Series(plan.units, dtype=object)})

        def combine(unit_frame: pd.DataFrame) -> pd.DataFrame:
            if len(unit_frame) != len(unit_inputs):  # stopped before any result
                unit_frame = unit_frame.reindex(range(len(unit_inputs)))
            return combine_units(
                frame,
                unit_frame,
                plan,
                category_columns(unit_frame),
                FLAG_PREFIX,
                result_json,
            )

        try:
            unit_frame = await _amoderate(
                unit_inputs,
                backend=backend_obj,
                errors="record",
                text_column="text",
                result_json=result_json,
                own_loop=own_loop,
                units=True,  # conversations sent whole (native) stay whole
                **options,
            )
        except ModkitError as exc:
            if isinstance(getattr(exc, "partial", None), pd.DataFrame):
                exc.partial = combine(exc.partial)
            raise
    finally:
        if own_backend:
            await backend_obj.aclose()
    result = combine(unit_frame)
    result.attrs.update(unit_frame.attrs)
    if errors == "raise":
        _raise_failed_rows(result)
    return result


def _raise_failed_rows(result: pd.DataFrame, what: str = "inputs") -> None:
    """Raise :class:`ItemErrorsRaised` (with the rows as ``partial``) if any row failed
    (``what``: how the message names the rows)."""
    failed = result["error"].astype(bool)
    if failed.any():
        first = result.loc[failed, "error"].iloc[0]
        raised = ItemErrorsRaised(
            f"{int(failed.sum())} of {len(result)} {what} failed; first: {first}"
        )
        raised.partial = result
        raise raised


def _report_snapshots(run: Any, result: pd.DataFrame) -> None:
    """Say how many texts had results from another snapshot (kept, not served)."""
    others = getattr(run, "other_snapshots", None)
    if not others:
        return
    result.attrs["other_snapshots"] = dict(others)
    shown = ", ".join(f"{n} from {m!r}" for m, n in others.items())
    logger.warning(
        "%s now answers with %r: %d cached results from other snapshots (%s) were scored again",
        run.backend.model,
        run.key_model,
        sum(others.values()),
        shown,
    )


def _report_derived(run: Any, result: pd.DataFrame) -> None:
    """Mark the categories the backend computes from others (not independent findings):
    ``result.attrs["derived"]`` maps each to its rule (e.g. the local scorer's
    ``harassment/threatening``, the minimum of ``harassment`` and ``violence``)."""
    derived = getattr(run.backend, "derived_categories", None)
    if isinstance(derived, dict) and derived:
        result.attrs["derived"] = dict(derived)


def _report_notes(run: Any, result: pd.DataFrame) -> None:
    """Say what the response parser noticed (null or missing categories: NaN; categories
    no provider lists: their own column), once.

    Counts per note go to ``result.attrs["notes"]`` and one warning is logged.
    """
    notes = Counter(
        note
        for res in run.outcomes.values()
        if isinstance(res, ModerationResult)
        for note in res.notes
    )
    for category, n in unlisted_categories(result).items():
        notes[f"category {category!r} is not one the provider lists: kept as its own column"] = n
    if not notes:
        return
    result.attrs["notes"] = dict(notes)
    shown = "; ".join(f"{note} ({n} results)" for note, n in notes.most_common(5))
    more = f"; and {len(notes) - 5} more" if len(notes) > 5 else ""
    logger.warning("the endpoint's results changed shape: %s%s", shown, more)


def _frame_of(run: Any, frame: pd.DataFrame, reason: str, keep_json: bool) -> pd.DataFrame:
    """The results frame of a run (finished or stopped)."""
    return assemble(
        frame,
        run.keys,
        run.outcomes,
        reason,
        rows=getattr(run, "rows", None),
        raws=getattr(run, "raws", None),
        keep_json=keep_json,
    )


def _resolve_backend(backend: Backend | str | None) -> Backend:
    if isinstance(backend, Backend):
        return backend
    from .backends import make_backend

    return make_backend(backend or "local")


def _resolve_cache(cache: Any) -> Cache | None:
    if cache is None:
        return None
    if isinstance(cache, Cache):
        return cache
    if cache is _DEFAULT:
        return Cache()
    return Cache(cache)


@dataclass
class _Batch:
    keys: list[str]
    texts: list[Any]  # texts, or multimodal inputs (lists of parts)


def _parts_json(parts: Any) -> str:
    """What the cache stores as a multimodal input's text: its parts' JSON."""
    return json.dumps(parts, ensure_ascii=False)


#: Refused connections, before the endpoint ever answered, that stop a run.
_UNREACHABLE_ATTEMPTS = 3


class _Run:
    def __init__(
        self,
        backend: Backend,
        cache: Cache | None,
        batch_size: int | None,
        concurrency: int,
        max_retries: int,
        progress: bool,
        keep_json: bool = True,
    ) -> None:
        self.backend = backend
        self.keep_json = keep_json
        self.rows: ResultRows | None = None  # cached results, compact
        self.raws: dict[str, str] = {}  # result_json of fresh results, made once
        self.cache = cache
        self.batch_size = batch_size or backend.preferred_batch_size or 32
        if backend.max_batch_size:
            self.batch_size = min(self.batch_size, backend.max_batch_size)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.progress = progress
        self.keys: list[str | None] = []
        self.outcomes: dict[str, ModerationResult | ItemError] = {}
        self.counts = {"cached": 0, "sent": 0, "failed": 0}
        self.stop: BaseException | None = None
        self.resolves = bool(getattr(backend, "resolves_aliases", False))
        self.key_model = backend.model  # the snapshot that answers today, once known
        self.other_snapshots: dict[str, int] = {}  # cached under another snapshot: rescored
        self.fresh_models: set[str] = set()  # snapshots this run's responses named
        self.cached_objects: dict[str, ModerationResult] = {}
        self.reached = False  # has the endpoint answered anything in this run?
        self.unreachable = 0  # connections refused before it ever answered
        self.bar: Any = None
        self.has_parts = False  # did the run hold multimodal inputs?

    async def execute(
        self, texts: pd.Series
    ) -> tuple[dict[str, ModerationResult | ItemError], list[str | None]]:
        ns, model = self.backend.cache_namespace, self.backend.model
        # no cache: nothing is hashed, the text itself deduplicates
        keys, unique, unsendable = text_keys(
            texts.tolist(), ns, model, digest=self.cache is not None
        )
        self.outcomes.update(unsendable)
        checked, invalid = check_multimodal(texts.tolist(), keys)
        self.outcomes.update(invalid)
        parts = multimodal_keys(checked, keys, ns, model, digest=self.cache is not None)
        self.has_parts = bool(parts)
        for key, value in parts.items():  # answered here, never sent
            refused = refusal(self.backend, value)
            if refused is not None:
                self.outcomes[key] = refused
        unique.update(parts)  # type: ignore[arg-type]  # texts and multimodal inputs
        self.keys = keys
        done: set[str] = set()
        if self.cache is not None:
            self.rows, others = self.cache.get_rows(unique, raw=self.keep_json)
            self.outcomes.update(others)
            self.cached_objects = dict(others)
            done.update(self.rows.keys)
            self.counts["cached"] = len(self.rows) + len(others)
        todo = [(k, t) for k, t in unique.items() if k not in self.outcomes and k not in done]
        self._open_bar(len(unique))
        try:
            await self._drain(todo)
            if self.resolves and is_alias(model) and self.counts["cached"]:
                await self._rescore_other_snapshots(unique)
        finally:
            if self.bar is not None:
                self.bar.close()
        return self.outcomes, keys

    def _open_bar(self, total: int) -> None:
        if not self.progress:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"moderate ({self.backend.name})", unit="text")
        self.bar.update(self.counts["cached"])
        self.bar.set_postfix(self.counts, refresh=False)

    def _tick(self, sent: int, failed: int) -> None:
        self.counts["sent"] += sent
        self.counts["failed"] += failed
        if self.bar is not None:
            self.bar.update(sent + failed)
            self.bar.set_postfix(self.counts, refresh=False)

    async def _worker(self, queue: deque[_Batch], throttle: Throttle) -> None:
        while queue and self.stop is None:
            batch = queue.popleft()
            try:
                await self._process(batch, queue, throttle)
            except BaseException as exc:  # fatal: stop taking new batches, keep results
                if self.stop is None:
                    self.stop = (
                        exc
                        if isinstance(exc, ModkitError | asyncio.CancelledError)
                        else BackendError(f"backend {self.backend.name!r} failed: {exc!r}")
                    )
                    if self.stop is not exc:
                        self.stop.__cause__ = exc
                return

    def _check_reachable(self, exc: TransientBackendError) -> None:
        """Stop a run that has never reached its endpoint after a few refused connections.

        Once anything answered, a refused connection is a restart worth waiting out.
        """
        if not exc.unreachable:
            self.reached = True
            return
        if self.reached:
            return
        self.unreachable += 1
        if self.unreachable >= _UNREACHABLE_ATTEMPTS:
            raise BackendError(
                f"{exc} ({self.unreachable} attempts; nothing answered): is the server "
                "running, and the base URL right?"
            ) from exc

    async def _process(self, batch: _Batch, queue: deque[_Batch], throttle: Throttle) -> None:
        attempt = 0
        waits = 0  # 429s that said when to come back: flow control, allowed 4x as many
        while True:
            await throttle.acquire()
            try:
                outcome = await self.backend.ascore_batch(batch.texts)
            except TransientBackendError as exc:
                await throttle.release()
                self._check_reachable(exc)
                if exc.rate_limited and exc.retry_after is not None:
                    waits += 1
                else:
                    attempt += 1
                if exc.rate_limited:
                    throttle.on_rate_limited(exc.retry_after, attempt + 1)
                give_up = attempt > self.max_retries or waits > 4 * self.max_retries + 4
                if give_up or self.stop is not None:
                    attempt += waits
                    msg = f"failed after {attempt} attempts: {exc}"
                    self._record(batch, [ItemError(msg, exc.code)] * len(batch.keys))
                    return
                logger.info("retrying batch of %d (attempt %d): %s", len(batch.keys), attempt, exc)
                if not exc.rate_limited:
                    delay = exc.retry_after if exc.retry_after is not None else backoff(attempt)
                    await asyncio.sleep(delay)
                continue
            except BatchRejectedError as exc:
                await throttle.release()
                self.reached = True
                if len(batch.keys) == 1:
                    self._record(batch, [ItemError(str(exc), exc.code)])
                    return
                mid = len(batch.keys) // 2  # find the texts at fault by bisection
                queue.appendleft(_Batch(batch.keys[mid:], batch.texts[mid:]))
                queue.appendleft(_Batch(batch.keys[:mid], batch.texts[:mid]))
                return
            except BaseException:
                await throttle.release()
                raise
            await throttle.release()
            self.reached = True
            throttle.on_success(outcome.rate_limit)
            if len(outcome.results) != len(batch.keys):
                raise BackendError(
                    f"backend {self.backend.name!r} returned {len(outcome.results)} results "
                    f"for {len(batch.keys)} texts"
                )
            self._record(batch, outcome.results)
            return

    def _store(self, good: dict[str, tuple[ModerationResult, str]], raws: dict[str, str]) -> None:
        assert self.cache is not None
        self.cache.put_many(
            good, namespace=self.backend.cache_namespace, model=self.backend.model, raws=raws
        )

    async def _rescore_other_snapshots(self, unique: dict[str, str]) -> None:
        """Cached results of an alias scored by a snapshot other than today's are scored
        again (and replaced in the cache); how many, per snapshot, is reported.

        Today's snapshot is the one this run's responses named; a run served wholly from
        the cache asks with one small request (:func:`~modkit.backends.resolve_snapshot`).
        """
        fresh = {m for m in self.fresh_models if m}
        if len(fresh) > 1:  # the alias moved during the run: today's is unclear
            current = None
        elif fresh:
            current = next(iter(fresh))
        else:
            current = await resolve_snapshot(self.backend)
        if current is None:
            logger.warning(
                "%r: cannot tell which snapshot answers now; cached results used as they are",
                self.backend.model,
            )
            return
        rows = self.rows
        assert rows is not None  # read from the cache before this is called
        cached_models = dict(zip(rows.keys, rows.model, strict=True))
        cached_models.update({k: r.model for k, r in self.cached_objects.items() if r.model})
        stale = [k for k in unique if (m := cached_models.get(k)) and m != current]  # in order
        if not stale:
            return
        self.other_snapshots = dict(Counter(cached_models[k] for k in stale))
        self.key_model = current
        gone = set(stale)
        keep = [i for i, k in enumerate(rows.keys) if k not in gone]
        self.rows = rows.take(keep)
        for k in gone:
            self.outcomes.pop(k, None)
        self.counts["cached"] -= len(stale)
        await self._drain([(k, unique[k]) for k in stale])

    async def _drain(self, todo: list[tuple[str, str]]) -> None:
        """Score (key, text) pairs in batches with the run's workers; raise what stopped it."""
        plain = [(k, t) for k, t in todo if isinstance(t, str)]
        queue: deque[_Batch] = deque(
            _Batch([k for k, _ in part], [t for _, t in part])
            for part in (
                plain[i : i + self.batch_size] for i in range(0, len(plain), self.batch_size)
            )
        )
        # a multimodal input is one request of its own (the endpoint's input is its parts)
        queue.extend(_Batch([k], [t]) for k, t in todo if not isinstance(t, str))
        if not queue:
            return
        throttle = Throttle(self.concurrency)
        workers = [
            asyncio.create_task(self._worker(queue, throttle))
            for _ in range(min(self.concurrency, len(queue)))
        ]
        await asyncio.gather(*workers, return_exceptions=True)
        if self.stop is not None:
            raise self.stop

    def _record(self, batch: _Batch, results: Sequence[ModerationResult | ItemError]) -> None:
        good: dict[str, tuple[ModerationResult, str]] = {}
        failed = 0
        for key, text, res in zip(batch.keys, batch.texts, results, strict=True):
            self.outcomes[key] = res
            if isinstance(res, ModerationResult):
                good[key] = (res, text if isinstance(text, str) else _parts_json(text))
                self.fresh_models.add(res.model)
            else:
                failed += 1
        if good and (self.keep_json or self.cache is not None):
            raws = {key: result_json(res) for key, (res, _) in good.items()}  # once
            if self.keep_json:
                self.raws.update(raws)
            if self.cache is not None:
                self._store(good, raws)
        self._tick(len(good), failed)
