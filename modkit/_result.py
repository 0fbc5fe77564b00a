"""One moderation result, in the endpoint's shape."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import InputError
from ._taxonomy import CATEGORIES

__all__ = [
    "ItemError",
    "ModerationResult",
    "ResultRows",
    "parse_result",
    "parse_results",
    "result_json",
]

_COL = {c: j for j, c in enumerate(CATEGORIES)}


@dataclass(frozen=True)
class ModerationResult:
    """The endpoint's verdict on one text.

    Attributes
    ----------
    flagged : bool
        The endpoint's own overall flag.
    categories : dict of str to bool
        Per-category flags, keyed by the API's category spelling.
    category_scores : dict of str to float
        Per-category scores in [0, 1].
    category_applied_input_types : dict of str to list of str
        Which input types each score applies to (empty for legacy models).
    model : str
        The model snapshot the response names (not a ``-latest`` alias).
    id : str
        The response's id (``modr-...``); shared by the texts of one request.
    notes : tuple of str
        What :meth:`from_dict` made of a malformed part of the result (one line each).

    Examples
    --------
    >>> from modkit import ModerationResult
    >>> result = ModerationResult.from_dict(
    ...     {"flagged": True, "categories": {"hate": True}, "category_scores": {"hate": 0.91}},
    ...     model="omni-moderation-2024-09-26",
    ... )
    >>> result.flagged, result.category_scores
    (True, {'hate': 0.91})
    >>> result.to_dict()["categories"]
    {'hate': True}
    """

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]] = field(default_factory=dict)
    model: str = ""
    id: str = ""
    notes: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the result object as the endpoint's JSON has it (without model/id).

        A score that is NaN (the endpoint sent ``null`` or nothing) is ``None`` (JSON
        ``null``) again.

        Returns
        -------
        dict
            ``flagged``, ``categories``, ``category_scores`` and, when known,
            ``category_applied_input_types``; copies, safe to change.
        """
        out: dict[str, Any] = {
            "flagged": self.flagged,
            "categories": dict(self.categories),
            "category_scores": _nulls(self.category_scores),
        }
        if self.category_applied_input_types:
            out["category_applied_input_types"] = {
                k: list(v) for k, v in self.category_applied_input_types.items()
            }
        return out

    @classmethod
    def from_dict(
        cls, result: Any, *, model: str = "", id: str = "", where: str = "result"
    ) -> ModerationResult:
        """Build a result from the endpoint's JSON result object.

        Parameters
        ----------
        result : dict
            One element of the response's ``results`` list (any other JSON value is an
            :class:`InputError`).
        model, id : str
            The response's ``model`` and ``id``.
        where : str
            Names the source in error messages (a file and line, say).

        Returns
        -------
        ModerationResult

        Raises
        ------
        InputError
            The result is not a JSON object, or has no ``category_scores`` object.

        Notes
        -----
        The one parser of result objects: every backend (OpenAI, replay, Mistral, Azure,
        Perspective), the cache, the Batch API path and the server's proxy path use it.
        It is lenient per category, since the endpoint's shape drifts: a score that is
        ``null``, missing (a category in ``categories`` only), not a number or not
        finite (``1e999``) is NaN, and a flag that is not a boolean is left out
        (unknown), each with a line in :attr:`notes`; unknown categories are kept (a
        results frame gives each its own column). A missing ``flagged`` is true when
        any flag is.
        """
        if not isinstance(result, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(result).__name__}")
        scores = result.get("category_scores")
        if not isinstance(scores, dict):
            raise InputError(f"{where}: no 'category_scores' object")
        cats = result.get("categories")
        notes: list[str] = []
        if not isinstance(cats, dict):
            notes.append("'categories' is not an object: flags unknown")
            cats = {}
        parsed_scores: dict[str, float] = {}
        for k, v in scores.items():
            number = _finite(v)
            if number is not None:
                parsed_scores[str(k)] = number
            else:
                parsed_scores[str(k)] = math.nan
                notes.append(f"category_scores[{k!r}] is {_shown(v)}: NaN")
        for k in cats:
            if k not in scores:
                parsed_scores[str(k)] = math.nan
                notes.append(f"category_scores[{k!r}] is missing: NaN")
        flags = {str(k): v for k, v in cats.items() if isinstance(v, bool)}
        notes += [
            f"categories[{k!r}] is {_shown(v)}: unknown"
            for k, v in cats.items()
            if not isinstance(v, bool)
        ]
        flagged = result.get("flagged")
        if not isinstance(flagged, bool):
            notes.append(f"'flagged' is {_shown(flagged)}: true when any category is")
            flagged = any(flags.values())
        applied = result.get("category_applied_input_types")
        applied = {
            str(k): [str(t) for t in v]
            for k, v in (applied.items() if isinstance(applied, dict) else ())
            if isinstance(v, list)
        }
        return cls(
            flagged=flagged,
            categories=flags,
            category_scores=parsed_scores,
            category_applied_input_types=applied,
            model=model,
            id=id,
            notes=tuple(notes),
        )


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (not a number, or ``1e999`` / ``NaN`` /
    ``Infinity``, which Python's JSON reader accepts and JSON does not have)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def _shown(value: Any) -> str:
    """A value as a note shows it: ``null``, or its repr cut at 40 characters."""
    if value is None:
        return "null"
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _nulls(scores: dict[str, float]) -> dict[str, float | None]:
    """``scores`` with NaN as None (JSON ``null``), copied."""
    return {k: (None if v != v else v) for k, v in scores.items()}


@dataclass(frozen=True)
class ItemError:
    """A text the backend could not score (empty, too long, rejected).

    Attributes
    ----------
    message : str
        Why, in one line.
    code : str, optional
        The endpoint's error code, if any.

    Examples
    --------
    >>> from modkit import ItemError
    >>> ItemError("input too long", code="context_length_exceeded").message
    'input too long'
    """

    message: str
    code: str | None = None


def parse_results(
    results: Sequence[Any], model: str, rid: str
) -> list[ModerationResult | ItemError]:
    """The ``results`` of one response: a result per element, or an :class:`ItemError`
    naming ``results[i]`` for an element that is not a result at all. Never raises, so a
    200 whose JSON parsed with the right number of results is never retried."""
    out: list[ModerationResult | ItemError] = []
    for i, r in enumerate(results):
        try:
            out.append(parse_result(r, model, rid, i))
        except InputError as exc:
            out.append(ItemError(f"the endpoint's result is malformed: {exc}", "malformed_result"))
    return out


def parse_result(r: Any, model: str, rid: str, i: int) -> ModerationResult:
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
            and cats.keys() == scores.keys()
            and all(type(v) is bool for v in cats.values())
            and all(type(v) is float and v - v == 0.0 for v in scores.values())  # finite
            and all(type(v) is list for v in applied.values())
        ):
            return ModerationResult(r["flagged"], cats, scores, applied, model, rid)
    return ModerationResult.from_dict(r, model=model, id=rid, where=f"results[{i}]")


def result_json(res: ModerationResult) -> str:
    """The result object as compact JSON, as the ``result_json`` column holds it.

    ``json.dumps(res.to_dict(), separators=(",", ":"))`` without copying the result's
    dicts first.
    """
    scores = res.category_scores
    body: dict[str, Any] = {
        "flagged": res.flagged,
        "categories": res.categories,
        "category_scores": _nulls(scores) if any(v != v for v in scores.values()) else scores,
    }
    if res.category_applied_input_types:
        body["category_applied_input_types"] = res.category_applied_input_types
    return json.dumps(body, separators=(",", ":"))


@dataclass
class ResultRows:
    """Many results in columns: row ``i`` is the result stored under ``keys[i]``.

    The compact form the cache returns and the results frame is assembled from, so a
    warm run never parses JSON nor rebuilds a :class:`ModerationResult` per text.
    Only results whose categories are all in :data:`~modkit.CATEGORIES` have this form.

    Attributes
    ----------
    keys : list of str
        Shape (n,).
    scores : ndarray of float64, shape (n, len(CATEGORIES))
        In :data:`~modkit.CATEGORIES` order; NaN where the result lacks the category.
    flags : ndarray of int8, shape (n, len(CATEGORIES))
        The endpoint's per-category flags: 1, 0, or -1 where the result lacks one.
    flagged : ndarray of bool, shape (n,)
    model, id : list of str
        The snapshot the response named, the response id.
    raw : list of str, pyarrow string array, or None
        The ``result_json`` strings, when asked for: a ``pyarrow`` ``large_string``
        (chunked) array when pandas keeps strings in Arrow (:func:`arrow_strings`), so a
        million of them are never Python objects all at once.
    """

    keys: list[str]
    scores: np.ndarray
    flags: np.ndarray
    flagged: np.ndarray
    model: list[str]
    id: list[str]
    raw: Any = None

    def __len__(self) -> int:
        return len(self.keys)

    @staticmethod
    def compact(res: ModerationResult) -> bytes | None:
        """The packed scores/flags of one result (``None``: a category outside
        :data:`~modkit.CATEGORIES`, so the result has no compact form)."""
        scores = np.full(len(CATEGORIES), np.nan)
        flags = np.full(len(CATEGORIES) + 1, -1, dtype=np.int8)
        for c, v in res.category_scores.items():
            j = _COL.get(c)
            if j is None:
                return None
            scores[j] = v
        for c, f in res.categories.items():
            j = _COL.get(c)
            if j is None:
                return None
            flags[j] = bool(f)
        flags[-1] = bool(res.flagged)
        return scores.tobytes() + flags.tobytes()

    @classmethod
    def unpack(
        cls,
        keys: list[str],
        packed: Sequence[bytes],
        model: list[str],
        id: list[str],
        raw: list[str] | None = None,
    ) -> ResultRows:
        """Rows from :meth:`compact` byte strings (all of one length), vectorised."""
        k = len(CATEGORIES)
        width = 9 * k + 1
        buf = np.frombuffer(b"".join(packed), dtype=np.uint8).reshape(len(keys), width)
        scores = buf[:, : 8 * k].copy().view(np.float64)
        flags = buf[:, 8 * k :].view(np.int8)
        return cls(keys, scores, flags[:, :k].copy(), flags[:, k] == 1, model, id, raw)

    def take(self, positions: Sequence[int]) -> ResultRows:
        """The rows at ``positions``, in that order."""
        at = np.asarray(positions, dtype=np.intp)
        return ResultRows(
            [self.keys[i] for i in at.tolist()],
            self.scores[at],
            self.flags[at],
            self.flagged[at],
            [self.model[i] for i in at.tolist()],
            [self.id[i] for i in at.tolist()],
            take_strings(self.raw, at),
        )

    @classmethod
    def concat(cls, parts: Sequence[ResultRows]) -> ResultRows:
        """One ``ResultRows`` of several (``raw`` kept only if every part has it)."""
        k = len(CATEGORIES)
        if not parts:
            return cls([], np.empty((0, k)), np.empty((0, k), np.int8), np.empty(0, bool), [], [])
        if len(parts) == 1:
            return parts[0]
        raws = [p.raw for p in parts]
        if any(r is not None and not isinstance(r, list) for r in raws):
            joined = None if any(r is None for r in raws) else concat_strings(raws)
            raws = [None] if joined is None else [joined]
            return cls(
                [key for p in parts for key in p.keys],
                np.concatenate([p.scores for p in parts]),
                np.concatenate([p.flags for p in parts]),
                np.concatenate([p.flagged for p in parts]),
                [m for p in parts for m in p.model],
                [i for p in parts for i in p.id],
                raws[0],
            )
        return cls(
            [key for p in parts for key in p.keys],
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.flags for p in parts]),
            np.concatenate([p.flagged for p in parts]),
            [m for p in parts for m in p.model],
            [i for p in parts for i in p.id],
            None if any(r is None for r in raws) else [x for r in raws for x in r],
        )


def arrow_strings() -> bool:
    """True when pandas keeps a column of strings in Arrow (pandas >= 3, the ``str``
    dtype backed by pyarrow); then result strings are handed to it as Arrow arrays."""
    import pandas as pd

    dtype = pd.Series(["a"]).dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def string_array(values: list[str]) -> Any:
    """``values`` as a pyarrow ``large_string`` array (the type pandas' ``str`` uses)."""
    import pyarrow as pa

    return pa.array(values, type=pa.large_string(), memory_pool=pa.system_memory_pool())


def concat_strings(parts: Sequence[Any]) -> Any:
    """Lists of str and pyarrow string arrays as one chunked ``large_string`` array."""
    import pyarrow as pa

    chunks = []
    for part in parts:
        if isinstance(part, list):
            chunks.append(string_array(part))
        elif isinstance(part, pa.ChunkedArray):
            chunks.extend(part.chunks)
        else:
            chunks.append(part)
    return pa.chunked_array(chunks, type=pa.large_string())


def take_strings(values: Any, positions: np.ndarray) -> Any:
    """``values[positions]`` for a list of str or a pyarrow array (None stays None)."""
    if values is None:
        return None
    if isinstance(values, list):
        return [values[i] for i in positions.tolist()]
    import pyarrow as pa

    return values.take(pa.array(positions, type=pa.int64()))
