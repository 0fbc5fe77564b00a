"""Scoring a Ray Dataset with any modkit backend, and fitting thresholds on it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._frame import RESULT_COLUMNS, flag_column
from .._labels import LABEL_PREFIX
from .._native import PROVIDERS
from .._result import ItemError, ModerationResult
from .._taxonomy import CATEGORIES
from .._validation import LEVEL, Interval, KeysOf, StrOptions, validate_params
from ..backends import Backend, BatchOutcome
from ..thresholds._metrics import METHODS
from ..thresholds._set import PROFILES
from ._counts import (
    ScoreCounts,
    fit_from_counts,
    merge_counts,
    score_counts,
    warn_label_prefix,
    with_label_prefix,
)

__all__ = ["RateBudget", "fit_thresholds_dataset", "rate_budget", "score_dataset"]

BackendSpec = str | Callable[[], Backend]


class RateBudget:
    """A requests-per-minute budget shared by every worker (run it as a Ray actor).

    Each call of :meth:`reserve` books the next free slot, ``60 / rpm`` seconds after
    the previous one, and returns how long the caller should wait for it, so workers
    together never start more than ``rpm`` requests a minute (after a first burst of
    ``burst``).

    Parameters
    ----------
    rpm : float
        Requests per minute for all workers together.
    burst : int, default 1
        Requests that may start at once before pacing begins (at least 1).

    Raises
    ------
    InputError
        When ``rpm`` is not > 0.

    Examples
    --------
    The class works without Ray (as an actor, through :func:`rate_budget`):

    >>> from modkit.ray import RateBudget
    >>> budget = RateBudget(rpm=60, burst=2)
    >>> waits = [budget.reserve() for _ in range(3)]
    >>> waits[0] == waits[1] == 0.0, 0.9 < waits[2] <= 1.0, budget.count()
    (True, True, 3)
    """

    def __init__(self, rpm: float, burst: int = 1) -> None:
        if not rpm > 0:
            raise InputError(f"rpm must be > 0, got {rpm!r}")
        self.interval = 60.0 / float(rpm)
        self.burst = max(1, int(burst))
        self.next = time.monotonic() - self.interval * self.burst
        self.granted = 0
        self.booked: list[float] = []  # the last 100,000 slots (monotonic seconds)

    def reserve(self) -> float:
        """Book one request.

        Returns
        -------
        float
            Seconds (>= 0) to wait before sending it.
        """
        now = time.monotonic()
        floor = now - self.interval * self.burst
        slot = max(self.next + self.interval, floor + self.interval)
        self.next = slot
        self.granted += 1
        self.booked.append(slot)
        if len(self.booked) > 100_000:
            del self.booked[:50_000]
        return max(0.0, slot - now)

    def count(self) -> int:
        """Requests booked so far.

        Returns
        -------
        int
            Calls of :meth:`reserve` since the budget started.
        """
        return self.granted

    def slots(self) -> list[float]:
        """The start times booked so far.

        Returns
        -------
        list of float
            The last 100,000 (at most) booked slots, in :func:`time.monotonic` seconds
            of the process that holds the budget, ascending.
        """
        return list(self.booked)


@validate_params(
    {"rpm": [Interval(Real, 0, None, closed="neither")], "burst": [Interval(Integral, 1, None)]}
)
def rate_budget(rpm: float, burst: int = 1) -> Any:
    """Start a :class:`RateBudget` actor (no CPU reserved) and return its handle.

    Pass it as ``score_dataset(..., budget=handle)`` to share one budget between several
    datasets or runs; ``ray.get(handle.count.remote())`` tells how many requests it let
    through.

    Parameters
    ----------
    rpm : float
        Requests per minute for all workers together (> 0).
    burst : int, default 1
        Requests that may start at once before pacing begins.

    Returns
    -------
    ray.actor.ActorHandle
        A handle of a :class:`RateBudget` actor; a bad ``rpm`` surfaces as the actor's
        error on its first call (Ray makes the actor asynchronously).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    ImportError
        When Ray is not installed (the ``ray`` extra).

    Examples
    --------
    Needs a Ray cluster (``tests/ray/test_ray.py`` runs this on a local one):

    >>> import ray  # doctest: +SKIP
    >>> from modkit.ray import rate_budget, score_dataset
    >>> budget = rate_budget(rpm=600)  # doctest: +SKIP
    >>> scored = score_dataset(ds, "openai", budget=budget)  # doctest: +SKIP
    >>> ray.get(budget.count.remote())  # doctest: +SKIP
    """
    import ray

    return ray.remote(num_cpus=0)(_RateBudgetActor).remote(rpm, burst)


class _RateBudgetActor:
    """What :func:`rate_budget` hands to ``ray.remote``: a :class:`RateBudget` inside,
    with methods of its own, because Ray rewrites an actor class's methods (its tracing
    hook adds a parameter to their signatures), which must not reach the public class."""

    def __init__(self, rpm: float, burst: int) -> None:
        self.budget = RateBudget(rpm, burst)

    def reserve(self) -> float:
        return self.budget.reserve()

    def count(self) -> int:
        return self.budget.count()

    def slots(self) -> list[float]:
        return self.budget.slots()


class _WorkerBackend(Backend):
    """A worker's one backend: at most ``concurrency`` requests in flight over every
    block the worker is scoring at once, each first booking a slot of the shared
    :class:`RateBudget` (when there is one)."""

    def __init__(self, inner: Backend, budget: Any, concurrency: int) -> None:
        self.inner = inner
        self.budget = budget
        self.name = inner.name
        self.model = inner.model
        self.max_batch_size = inner.max_batch_size
        self.preferred_batch_size = inner.preferred_batch_size
        self.accepts_images = inner.accepts_images
        self.accepts_conversations = inner.accepts_conversations
        self.slots = asyncio.Semaphore(concurrency)  # bound to the actor's one event loop

    def __getattr__(self, name: str) -> Any:
        # what the runner asks of some backends only (resolves_aliases, derived_categories)
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)

    @property
    def cache_namespace(self) -> str:
        return self.inner.cache_namespace

    async def ascore(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return (await self.ascore_batch(texts)).results

    async def ascore_batch(self, texts: Sequence[str]) -> BatchOutcome:
        async with self.slots:
            if self.budget is not None:
                wait = await self.budget.reserve.remote()
                if wait > 0:
                    await asyncio.sleep(wait)
            return await self.inner.ascore_batch(texts)

    async def arelease(self) -> None:
        await self.inner.arelease()

    async def aclose(self) -> None:
        await self.inner.aclose()
        self.closed = True


def _make_backend(spec: BackendSpec, options: Mapping[str, Any]) -> Backend:
    if isinstance(spec, str):
        from ..backends import make_backend

        return make_backend(spec, **dict(options))
    backend = spec()
    if not isinstance(backend, Backend):
        raise InputError(f"the backend factory returned {type(backend).__name__}, not a Backend")
    return backend


class _Scorer:
    """One Ray Data actor: one backend (one HTTP client, one connection pool) and one
    cache for the actor's life, and ``amoderate`` per block on the actor's one event
    loop, so the blocks it holds at once share its ``concurrency`` requests in flight."""

    def __init__(
        self,
        spec: BackendSpec,
        options: Mapping[str, Any],
        cache: str | None,
        budget: Any,
        moderate_kwargs: Mapping[str, Any],
    ) -> None:
        from .._cache import Cache

        self.kwargs = dict(moderate_kwargs)
        backend = _make_backend(spec, options)
        self.backend = _WorkerBackend(backend, budget, self.kwargs["concurrency"])
        self.cache = Cache(cache) if cache is not None else None

    async def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from .._runner import amoderate

        out = await amoderate(
            batch, backend=self.backend, cache=self.cache, progress=False, **self.kwargs
        )
        return _stable_columns(out, list(batch.columns))


def _stable_columns(out: pd.DataFrame, inputs: Sequence[str]) -> pd.DataFrame:
    """The same columns in the same order for every block (missing ones as NaN / None)."""
    flags = [flag_column(c) for c in CATEGORIES]
    for c in CATEGORIES:
        if c not in out.columns:
            out[c] = np.nan
    for name in ("flagged", *flags):
        # nullable booleans as objects (True / False / None): one Arrow type per block
        out[name] = out[name].astype(object) if name in out.columns else None
        out[name] = out[name].where(out[name].notna(), None)
    rest = [c for c in RESULT_COLUMNS if c != "flagged"]
    for name in rest:
        out[name] = out[name].astype(object)
    return out[[*inputs, *CATEGORIES, "flagged", *flags, *rest]]


@validate_params(
    {
        "backend_options": [None, Mapping],
        "cache": [None, "path"],
        "num_workers": [Interval(Integral, 1, None)],
        "num_cpus": [Interval(Real, 0, None, closed="neither")],
        "rpm": [None, Interval(Real, 0, None, closed="neither")],
        "rows_per_call": [Interval(Integral, 1, None)],
        "text_column": [str],
        "batch_size": [None, Interval(Integral, 1, None)],
        "concurrency": [Interval(Integral, 1, None)],
        "max_retries": [Interval(Integral, 0, None)],
    }
)
def score_dataset(
    ds: Any,
    backend: BackendSpec = "local",
    *,
    backend_options: Mapping[str, Any] | None = None,
    cache: str | None = None,
    num_workers: int = 1,
    num_cpus: float = 1.0,
    rpm: float | None = None,
    budget: Any = None,
    rows_per_call: int = 256,
    text_column: str = "text",
    batch_size: int | None = None,
    concurrency: int = 4,
    max_retries: int = 8,
) -> Any:
    """Score the texts of a Ray Dataset with a modkit backend, one actor per worker.

    Each worker builds its own backend (one HTTP client and connection pool) and opens
    its own cache once, then runs :func:`modkit.amoderate` on blocks of
    ``rows_per_call`` rows on its one event loop, several blocks at once (at least 4,
    and enough for four times ``batch_size * concurrency`` rows, counting 32 for
    ``batch_size=None``: the driver does not build the backend), with at most
    ``concurrency`` requests in flight over all of them: a block's last requests overlap
    the next block's first ones, so a latency-bound upstream keeps every worker's slots
    busy. Batching, retries, rate-limit handling and per-item errors behave as in one
    process.

    Parameters
    ----------
    ds : ray.data.Dataset
        Rows with a ``text`` column (see ``text_column``); other columns are kept.
    backend : str or callable, default "local"
        A backend name (``"local"``, ``"openai"``, ``"replay"``; built in each worker
        with ``make_backend(name, **backend_options)``) or a picklable zero-argument
        callable returning a Backend (e.g. ``functools.partial(OpenAIBackend,
        base_url=...)``). API keys are read from each worker's environment, never
        shipped with the task.
    backend_options : dict, optional
        Keyword arguments of :func:`modkit.make_backend`.
    cache : str, optional
        A cache file each worker opens (sqlite; safe to share between the processes of
        one machine; on a cluster give a node-local path). Default: no cache.
    num_workers : int, default 1
        Scoring actors (Ray Data ``ActorPoolStrategy(size=num_workers)``).
    num_cpus : float, default 1
        CPUs reserved per actor (the local scorer uses one; an HTTP backend mostly
        waits, so a fraction such as 0.25 packs more workers on a node).
    rpm : float, optional
        Requests per minute for all workers together, enforced by one shared
        :class:`RateBudget` actor (for HTTP backends; each worker still backs off on
        429s by itself).
    budget : ray.actor.ActorHandle, optional
        A budget from :func:`rate_budget` to use instead (shared with other runs).
    rows_per_call : int, default 256
        Rows handed to one ``moderate`` call.
    text_column, max_retries
        As for :func:`modkit.moderate`.
    batch_size : int, optional
        Texts per request, as for :func:`modkit.moderate`: by default the backend's
        ``preferred_batch_size`` (the local scorer: 256), else 32.
    concurrency : int, default 4
        Requests in flight per worker, over all the blocks it holds (as
        :func:`modkit.moderate`'s ``concurrency`` in one process); ``num_workers`` workers
        have up to ``num_workers * concurrency`` in flight.

    Returns
    -------
    ray.data.Dataset
        Lazily scored: the input columns, one score column per category key (all
        13 keys, NaN where a backend has no such category), ``flagged``, the
        endpoint's per-category flags ``flagged/<key>``, ``model``, ``moderation_id``,
        ``error`` and ``result_json``, with the values :func:`modkit.moderate` gives.
        A block's rows keep their order; blocks come in Ray Data's order (input order
        with ``DataContext.get_current().execution_options.preserve_order = True``).

    Raises
    ------
    InputError
        For a backend object (not picklable with its key: pass a name or a factory)
        or out-of-range numbers.

    Examples
    --------
    Needs a Ray cluster (``tests/ray/test_ray.py`` runs this on a local one):

    >>> import ray  # doctest: +SKIP
    >>> from modkit.ray import score_dataset
    >>> ds = ray.data.from_items([{"text": "hello"}, {"text": "I will hurt you"}])  # doctest: +SKIP
    >>> scored = score_dataset(ds, "local", num_workers=2)  # doctest: +SKIP
    >>> scored.to_pandas()[["text", "violence"]]  # doctest: +SKIP
    """
    import ray
    import ray.data

    if isinstance(backend, Backend):
        raise InputError(
            "pass the backend as a name or a zero-argument factory (each worker builds "
            "its own; a backend object may hold an API key, which is never pickled)"
        )
    for name, value in (("num_workers", num_workers), ("rows_per_call", rows_per_call)):
        if not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    if budget is None and rpm is not None:
        budget = rate_budget(rpm)
    kwargs = {
        "text_column": text_column,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "max_retries": max_retries,
    }
    calls = _blocks_per_worker(rows_per_call, batch_size or 32, concurrency)
    scored = ds.map_batches(
        _Scorer,
        fn_constructor_kwargs={
            "spec": backend,
            "options": dict(backend_options or {}),
            "cache": None if cache is None else str(cache),
            "budget": budget,
            "moderate_kwargs": kwargs,
        },
        batch_size=rows_per_call,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(
            size=num_workers,
            max_concurrent_calls_per_actor=calls,
            max_tasks_in_flight_per_actor=calls,
        ),
        num_cpus=num_cpus,
    )
    return scored


def _blocks_per_worker(rows_per_call: int, batch_size: int, concurrency: int) -> int:
    """Blocks a worker holds at once (one Ray thread each, all on its one event loop):
    rows for ``concurrency`` requests of ``batch_size`` texts four times over, at least 4
    and at most 32 (Ray Data's hand-over of each block is latency too: with 2, one worker
    scored at 0.67x the rate it reached with 4, in a development run of
    ``benchmarks/bench_ray.py``'s network case)."""
    return min(32, max(4, -(-4 * batch_size * concurrency // rows_per_call)))


def _count_block(batch: pd.DataFrame, label_prefix: str, provider: str | None) -> pd.DataFrame:
    """A block's sorted counts as rows (category, score, pos, neg, unlabelled)."""
    rows = []
    if label_prefix != LABEL_PREFIX:  # warned once on the driver
        batch = with_label_prefix(batch, label_prefix)
    for c, sc in score_counts(batch, provider=provider).items():
        rows.append(
            pd.DataFrame(
                {
                    "category": c,
                    "score": sc.scores,
                    "pos": sc.pos,
                    "neg": sc.neg,
                    "unlabelled": sc.unlabelled,
                }
            )
        )
    if not rows:
        return pd.DataFrame(
            {
                "category": pd.Series(dtype=object),
                "score": pd.Series(dtype=float),
                **{k: pd.Series(dtype=np.int64) for k in ("pos", "neg", "unlabelled")},
            }
        )
    return pd.concat(rows, ignore_index=True)


@validate_params(
    {
        "label_prefix": [str],
        "confidence": [None, LEVEL],
        "method": [StrOptions(METHODS)],
        "min_positives": [Interval(Integral, 1, None)],
        "profile": [StrOptions(PROFILES)],
        "provider": [None, KeysOf(PROVIDERS)],
    }
)
def fit_thresholds_dataset(
    ds: Any,
    objective: Any,
    review: Any = None,
    *,
    label_prefix: str = "label_",
    confidence: float | None = None,
    method: str = "fixed_sequence",
    min_positives: int = 10,
    profile: str = "input",
    provider: str | None = None,
) -> Any:
    """Fit thresholds on a scored, labelled Ray Dataset by merging per-block counts.

    Each block is reduced to its sorted counts (per category and distinct score: how
    many rows are labelled positive, negative, or not at all); the driver merges them
    exactly and chooses thresholds with :func:`modkit.ray.fit_from_counts`, so the
    thresholds equal those of :func:`modkit.fit_thresholds` on all rows at once.

    Parameters
    ----------
    ds : ray.data.Dataset
        Score columns named by category key and labels in ``label_<key>`` columns
        (1/0, true/false, yes/no or blank, as :func:`modkit.parse_labels` reads them).
    objective, review, confidence, method, min_positives, profile, provider
        As for :func:`modkit.fit_thresholds` (``provider``: the columns are a provider's
        own categories on its native scale; default the API's keys on [0, 1]).
    label_prefix : str, default "label_"
        Deprecated (a FutureWarning; removed in modkit 0.3.0): label columns are named
        ``label_<key>`` (:func:`modkit.label_column`).

    Returns
    -------
    ThresholdSet
        See :func:`modkit.ray.fit_from_counts` for what it holds.

    Raises
    ------
    InputError
        When no category has both a score column and a label column, or (as
        :func:`modkit.ray.fit_from_counts`) for an unknown category key or a bad
        objective.

    Examples
    --------
    Needs a Ray cluster (``tests/ray/test_ray.py`` runs this on a local one); ``labelled`` holds
    score columns and ``label_<key>`` columns:

    >>> from modkit.ray import fit_thresholds_dataset
    >>> ts = fit_thresholds_dataset(labelled, "precision>=0.9")  # doctest: +SKIP
    >>> ts["violence"].block  # doctest: +SKIP
    """
    if label_prefix != LABEL_PREFIX:
        warn_label_prefix(label_prefix)
    table = ds.map_batches(
        _count_block,
        fn_kwargs={"label_prefix": label_prefix, "provider": provider},
        batch_format="pandas",
    ).to_pandas()
    parts = []
    for c, group in table.groupby("category", sort=False):
        parts.append(
            {
                str(c): ScoreCounts(
                    group["score"].to_numpy(float),
                    group["pos"].to_numpy(np.int64),
                    group["neg"].to_numpy(np.int64),
                    group["unlabelled"].to_numpy(np.int64),
                )
            }
        )
    counts = merge_counts(parts)
    if not counts:
        raise InputError("no category has both a score column and a label_<key> label column")
    return fit_from_counts(
        counts,
        objective,
        review,
        confidence=confidence,
        method=method,
        min_positives=min_positives,
        profile=profile,
        provider=provider,
    )
