"""The batch runner: many texts through a backend, with cache, retries and rate limits."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from ._backend import Backend
from ._batch import BatchAPI, BatchRun, resolve_via
from ._cache import Cache, cache_key
from ._errors import (
    BackendError,
    BatchRejectedError,
    InputError,
    ItemErrorsRaised,
    ModkitError,
    TransientBackendError,
)
from ._result import ItemError, ModerationResult
from ._taxonomy import CATEGORIES, order_categories
from ._validation import Hidden, Interval, Options, StrOptions, validate_params

__all__ = ["RESULT_COLUMNS", "amoderate", "moderate"]

logger = logging.getLogger("modkit")

#: Columns every results frame has besides the inputs and the category scores.
RESULT_COLUMNS = ("flagged", "model", "moderation_id", "error", "result_json")

_DEFAULT = object()
T = TypeVar("T")

_MODERATE_PARAMS: dict[str, list[Any]] = {
    "backend": [Backend, str, None],
    "cache": [Cache, "path", None, Hidden(Options([_DEFAULT]))],
    "batch_size": [Interval(Integral, 1, None)],
    "concurrency": [Interval(Integral, 1, None)],
    "progress": ["boolean"],
    "errors": [StrOptions(["record", "raise"])],
    "max_retries": [Interval(Integral, 0, None)],
    "text_column": [str],
    "via": [StrOptions(["requests", "batch"]), BatchAPI],
}


@validate_params(_MODERATE_PARAMS)
def moderate(
    data: Sequence[str] | pd.Series | pd.DataFrame,
    *,
    backend: Backend | str | None = None,
    cache: Cache | str | Any | None = _DEFAULT,
    batch_size: int = 32,
    concurrency: int = 4,
    progress: bool = True,
    errors: Literal["record", "raise"] = "record",
    max_retries: int = 8,
    text_column: str = "text",
    via: Literal["requests", "batch"] | BatchAPI = "requests",
) -> pd.DataFrame:
    """Score texts with a moderation backend and return one tidy row per input.

    Parameters
    ----------
    data : list of str, Series, or DataFrame
        The texts; a DataFrame needs a ``text`` column (see ``text_column``) and its
        other columns are kept.
    backend : Backend or str, optional
        A backend object, or a name (``"local"``, ``"openai"``, ``"replay"`` needs an
        object). Default: the local scorer.
    cache : Cache, path, or None
        Default: the persistent cache in the user's cache directory. A path opens a
        cache there; ``None`` turns caching off.
    batch_size : int, default 32
        Texts per request. Identical texts are sent once.
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

    Returns
    -------
    pandas.DataFrame
        One row per input in input order: the input columns, one score column per
        category named by its API key (``df["self-harm/intent"]``), ``flagged``,
        ``model`` (the snapshot the response named), ``moderation_id``, ``error``
        (empty when fine) and ``result_json`` (the endpoint's result object).

    Raises
    ------
    InputError
        A parameter out of its range (``batch_size=0``, ``errors="ignore"``...), named
        with the value, or data that is not texts.
    AuthenticationError, QuotaExceededError, BackendError
        Failures that retrying cannot fix; the run stops at once. The exception's
        ``partial`` holds every result received before it, and so does the cache.
    """
    return _run_sync(
        lambda: amoderate(
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
        )
    )


@validate_params(_MODERATE_PARAMS)
async def amoderate(
    data: Sequence[str] | pd.Series | pd.DataFrame,
    *,
    backend: Backend | str | None = None,
    cache: Cache | str | Any | None = _DEFAULT,
    batch_size: int = 32,
    concurrency: int = 4,
    progress: bool = True,
    errors: Literal["record", "raise"] = "record",
    max_retries: int = 8,
    text_column: str = "text",
    via: Literal["requests", "batch"] | BatchAPI = "requests",
) -> pd.DataFrame:
    """Asynchronous :func:`moderate`, for callers already inside an event loop."""
    frame = _as_frame(data, text_column)
    batch_api = resolve_via(via)
    backend_obj = _resolve_backend(backend)
    own_cache = not isinstance(cache, Cache) and cache is not None
    cache_obj = _resolve_cache(cache)
    try:
        run: _Run | BatchRun
        if batch_api is not None:
            run = BatchRun(backend_obj, cache_obj, batch_api, progress)
        else:
            run = _Run(backend_obj, cache_obj, batch_size, concurrency, max_retries, progress)
        try:
            outcomes, keys = await run.execute(frame[text_column])
        except BaseException as exc:
            if isinstance(exc, ModkitError):
                reason = f"not scored: run stopped: {exc}"
                exc.partial = _assemble(frame, run.keys, run.outcomes, reason)
            raise
        finally:
            await backend_obj.aclose()
    finally:
        if own_cache and cache_obj is not None:
            cache_obj.close()
    result = _assemble(frame, keys, outcomes, "not scored")
    if errors == "raise":
        failed = result["error"].astype(bool)
        if failed.any():
            first = result.loc[failed, "error"].iloc[0]
            exc = ItemErrorsRaised(
                f"{int(failed.sum())} of {len(result)} texts failed; first: {first}"
            )
            exc.partial = result
            raise exc
    return result


def _run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion, also from inside a running loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="modkit") as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def _as_frame(data: Any, text_column: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        if text_column not in data.columns:
            raise InputError(
                f"the DataFrame has no {text_column!r} column (columns: {list(data.columns)})"
            )
        frame = data.reset_index(drop=True)
    elif isinstance(data, pd.Series):
        frame = pd.DataFrame({text_column: data.reset_index(drop=True)})
    elif isinstance(data, str):
        raise InputError("data must be a list of texts, not one string: wrap it in [ ]")
    else:
        try:
            values = list(data)
        except TypeError:
            raise InputError(
                f"data must be a list of strings, a Series or a DataFrame, "
                f"not {type(data).__name__}"
            ) from None
        frame = pd.DataFrame({text_column: pd.Series(values, dtype=object)})
    clash = [c for c in frame.columns if c in RESULT_COLUMNS or c in CATEGORIES]
    if clash:
        raise InputError(
            f"input columns {clash} clash with result columns (scores are named by category "
            f"key); pass only the texts (frame[[{text_column!r}]]) or rename them, e.g. "
            "frame.add_prefix('label_')"
        )
    return frame


def _resolve_backend(backend: Backend | str | None) -> Backend:
    if isinstance(backend, Backend):
        return backend
    from ._backends import make_backend

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
    texts: list[str]


@dataclass
class _Throttle:
    """Run-wide pacing shared by every request of a run.

    Three mechanisms:

    * a pause every request honours (``retry-after`` of a 429, or an exhausted
      ``x-ratelimit-remaining-*`` until its reset);
    * pacing: when the rate-limit headers say fewer requests are left than could be in
      flight, requests start one refill interval apart (the interval is
      ``reset / (limit - remaining)``, the time the endpoint takes to grant one more
      request), so the run settles at the budget instead of hammering it;
    * without such headers, a 429 sets the pace at the success rate of the last few
      seconds (what the budget let through); each further 429 slows it by 10 % and
      each success speeds it up by 1 %, so it settles just under the budget;
    * an AIMD concurrency limit, halved once per episode of 429s when neither tells
      the pace, and grown back by one per ``limit`` successes.
    """

    ceiling: int
    limit: float = 0.0
    in_flight: int = 0
    pause_until: float = 0.0
    last_cut: float = -1e9
    interval: float = 0.0
    next_start: float = 0.0
    learned: bool = False  # interval learned from 429s (no rate-limit headers)
    successes: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.cond:
            while True:
                now = loop.time()
                start_at = max(self.pause_until, self.next_start if self.interval else 0.0)
                if start_at > now:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.cond.wait(), timeout=start_at - now)
                    continue
                if self.in_flight < max(1, int(self.limit)):
                    self.in_flight += 1
                    if self.interval:
                        self.next_start = max(now, self.next_start) + self.interval
                    return
                await self.cond.wait()

    async def release(self) -> None:
        async with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def on_success(self, rate: dict[str, float] | None) -> None:
        now = asyncio.get_running_loop().time()
        self.successes.append(now)
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
        if self.learned:
            self.interval *= 0.99  # probe for more budget, slowly
        if not rate:
            return
        remaining = rate.get("remaining_requests")
        reset = rate.get("reset_requests")
        limit = rate.get("limit_requests")
        if remaining is not None and reset is not None and limit and limit > remaining:
            per_request = reset / (limit - remaining) if reset > 0 else 0.0
            self.learned = False  # the headers know better
            if remaining < 2 * self.ceiling:  # could run dry with what is in flight: pace
                self.interval = per_request
            elif remaining >= 4 * self.ceiling:  # plenty left: full speed again
                self.interval = 0.0
        for kind in ("requests", "tokens"):
            remaining = rate.get(f"remaining_{kind}")
            reset = rate.get(f"reset_{kind}")
            if remaining is None or reset is None or remaining >= 1:
                continue
            if kind == "requests" and self.interval:
                continue  # paced already: the next start is one interval away
            self.pause_until = max(self.pause_until, now + reset)

    def on_rate_limited(self, retry_after: float | None, attempt: int) -> None:
        now = asyncio.get_running_loop().time()
        delay = retry_after if retry_after is not None else _backoff(attempt)
        self.pause_until = max(self.pause_until, now + delay)
        if self.interval and not self.learned:
            return  # paced by the headers: concurrency is not what overran the budget
        if self.interval:  # paced by what we learned, and still too fast: slow down
            self.interval *= 1.1
            return
        rate = self._recent_success_rate(now)
        if rate is not None:
            # Over budget, with no headers to say by how much: what got through lately
            # is what the budget allows. Pace there, then probe upwards (on_success).
            self.interval = 1.0 / rate
            self.learned = True
        elif now - self.last_cut > max(delay, 0.05):  # cut once per episode, not per 429
            self.limit = max(1.0, self.limit / 2)
            self.last_cut = now

    def _recent_success_rate(self, now: float) -> float | None:
        """Successes per second over the last few seconds (None: too few to tell)."""
        recent = [t for t in self.successes if now - t <= 5.0]
        if len(recent) < 4 or now - recent[0] <= 0:
            return None
        return (len(recent) - 1) / (now - recent[0])


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 0.25 * 2**attempt s, capped at 20 s."""
    return random.uniform(0, min(20.0, 0.25 * 2**attempt))


class _Run:
    def __init__(
        self,
        backend: Backend,
        cache: Cache | None,
        batch_size: int,
        concurrency: int,
        max_retries: int,
        progress: bool,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.batch_size = batch_size
        if backend.max_batch_size:
            self.batch_size = min(batch_size, backend.max_batch_size)
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.progress = progress
        self.keys: list[str | None] = []
        self.outcomes: dict[str, ModerationResult | ItemError] = {}
        self.counts = {"cached": 0, "sent": 0, "failed": 0}
        self.stop: BaseException | None = None
        self.bar: Any = None

    async def execute(
        self, texts: pd.Series
    ) -> tuple[dict[str, ModerationResult | ItemError], list[str | None]]:
        ns, model = self.backend.cache_namespace, self.backend.model
        unique: dict[str, str] = {}
        keys: list[str | None] = []
        for value in texts.tolist():
            if isinstance(value, str):
                key = cache_key(ns, model, value)
                unique.setdefault(key, value)
                keys.append(key)
            else:
                keys.append(None)
        self.keys = keys
        if self.cache is not None:
            cached = self.cache.get_many(unique)
            self.outcomes.update(cached)
            self.counts["cached"] = len(cached)
        todo = [(k, t) for k, t in unique.items() if k not in self.outcomes]
        queue: deque[_Batch] = deque(
            _Batch(
                [k for k, _ in todo[i : i + self.batch_size]],
                [t for _, t in todo[i : i + self.batch_size]],
            )
            for i in range(0, len(todo), self.batch_size)
        )
        self._open_bar(len(unique))
        try:
            if queue:
                throttle = _Throttle(self.concurrency)
                workers = [
                    asyncio.create_task(self._worker(queue, throttle))
                    for _ in range(min(self.concurrency, len(queue)))
                ]
                await asyncio.gather(*workers, return_exceptions=True)
                if self.stop is not None:
                    raise self.stop
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

    async def _worker(self, queue: deque[_Batch], throttle: _Throttle) -> None:
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

    async def _process(self, batch: _Batch, queue: deque[_Batch], throttle: _Throttle) -> None:
        attempt = 0
        waits = 0  # 429s that said when to come back: flow control, allowed 4x as many
        while True:
            await throttle.acquire()
            try:
                outcome = await self.backend.ascore_batch(batch.texts)
            except TransientBackendError as exc:
                await throttle.release()
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
                    delay = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
                    await asyncio.sleep(delay)
                continue
            except BatchRejectedError as exc:
                await throttle.release()
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
            throttle.on_success(outcome.rate_limit)
            if len(outcome.results) != len(batch.keys):
                raise BackendError(
                    f"backend {self.backend.name!r} returned {len(outcome.results)} results "
                    f"for {len(batch.keys)} texts"
                )
            self._record(batch, outcome.results)
            return

    def _record(self, batch: _Batch, results: Sequence[ModerationResult | ItemError]) -> None:
        good: dict[str, tuple[ModerationResult, str]] = {}
        failed = 0
        for key, text, res in zip(batch.keys, batch.texts, results, strict=True):
            self.outcomes[key] = res
            if isinstance(res, ModerationResult):
                good[key] = (res, text)
            else:
                failed += 1
        if self.cache is not None and good:
            self.cache.put_many(
                good, namespace=self.backend.cache_namespace, model=self.backend.model
            )
        self._tick(len(good), failed)


def _assemble(
    frame: pd.DataFrame,
    keys: Sequence[str | None],
    outcomes: dict[str, ModerationResult | ItemError],
    missing_reason: str,
) -> pd.DataFrame:
    """Build the results frame: per unique key once, then broadcast to the rows."""
    n = len(frame)
    none_reason = "text is missing or not a string"
    if len(keys) != n:  # stopped before the texts were even read
        keys, none_reason = [None] * n, missing_reason
    codes, uniques = pd.factorize(pd.Series(list(keys), dtype=object), use_na_sentinel=True)
    categories = order_categories(
        k
        for res in outcomes.values()
        if isinstance(res, ModerationResult)
        for k in res.category_scores
    )
    m = len(uniques)
    scores = np.full((m + 1, len(categories)), np.nan)
    flagged = np.full(m + 1, None, dtype=object)
    model = np.full(m + 1, "", dtype=object)
    mod_id = np.full(m + 1, "", dtype=object)
    error = np.full(m + 1, "", dtype=object)
    raw = np.full(m + 1, "", dtype=object)
    col = {c: j for j, c in enumerate(categories)}
    for i, key in enumerate(uniques):
        res = outcomes.get(key)
        if isinstance(res, ModerationResult):
            for c, v in res.category_scores.items():
                scores[i, col[c]] = v
            flagged[i] = res.flagged
            model[i] = res.model
            mod_id[i] = res.id
            raw[i] = _result_json(res)
        elif isinstance(res, ItemError):
            error[i] = res.message
        else:
            error[i] = missing_reason
    error[m] = none_reason  # rows whose key is None
    idx = np.where(codes < 0, m, codes)
    columns: dict[str, Any] = {c: scores[idx, j] for j, c in enumerate(categories)}
    columns["flagged"] = pd.array(flagged[idx], dtype="boolean")
    columns["model"] = model[idx]
    columns["moderation_id"] = mod_id[idx]
    columns["error"] = error[idx]
    columns["result_json"] = raw[idx]
    added = pd.DataFrame(columns, index=frame.index)
    kept = frame.drop(columns=[c for c in categories if c in frame.columns])
    return pd.concat([kept, added], axis=1)


def _result_json(res: ModerationResult) -> str:
    """``json.dumps(res.to_dict())`` without copying the result's dicts first."""
    body: dict[str, Any] = {
        "flagged": res.flagged,
        "categories": res.categories,
        "category_scores": res.category_scores,
    }
    if res.category_applied_input_types:
        body["category_applied_input_types"] = res.category_applied_input_types
    return json.dumps(body, separators=(",", ":"))


def endpoint_flags(
    results: pd.DataFrame, categories: Sequence[str], *, strict: bool = True
) -> np.ndarray:
    """The endpoint's own per-category flags, parsed from the ``result_json`` column.

    Parameters
    ----------
    results : DataFrame
        A results frame with a ``result_json`` column.
    categories : sequence of str
        Which categories, in column order.
    strict : bool, default True
        Raise :class:`InputError` naming the row for a value that is not a JSON object;
        otherwise such a row is left unknown.

    Returns
    -------
    ndarray of shape (n_rows, n_categories)
        1.0 flagged, 0.0 not, NaN unknown (failed row, or a category the result lacks).
    """
    out = np.full((len(results), len(categories)), np.nan)
    col = {c: j for j, c in enumerate(categories)}
    for i, (idx, raw) in enumerate(results["result_json"].items()):
        if not isinstance(raw, str) or not raw:
            continue
        try:
            flags = json.loads(raw).get("categories") or {}
        except (ValueError, AttributeError) as exc:
            if strict:
                msg = f"result_json of row {idx!r} is not a JSON object: {exc}"
                raise InputError(msg) from None
            continue
        for c, v in flags.items():
            j = col.get(c)
            if j is not None and v is not None:
                out[i, j] = float(bool(v))
    return out


def category_columns(results: pd.DataFrame) -> list[str]:
    """The category score columns of a results frame, in canonical order."""
    from ._taxonomy import CATEGORIES

    known = set(CATEGORIES)
    return [c for c in results.columns if c in known]
