"""One moderation result, in the endpoint's shape."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._errors import InputError
from ._taxonomy import CATEGORIES

__all__ = ["ItemError", "ModerationResult", "ResultRows", "parse_result", "result_json"]

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
    """

    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]] = field(default_factory=dict)
    model: str = ""
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the result object as the endpoint's JSON has it (without model/id)."""
        out: dict[str, Any] = {
            "flagged": self.flagged,
            "categories": dict(self.categories),
            "category_scores": dict(self.category_scores),
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

        Raises
        ------
        InputError
            If a required field is missing or has the wrong type.
        """
        if not isinstance(result, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(result).__name__}")
        for name in ("flagged", "categories", "category_scores"):
            if name not in result:
                raise InputError(f"{where}: missing field {name!r}")
        cats, scores = result["categories"], result["category_scores"]
        if not isinstance(cats, dict) or not isinstance(scores, dict):
            raise InputError(f"{where}: 'categories' and 'category_scores' must be objects")
        try:
            parsed_scores = {str(k): float(v) for k, v in scores.items()}
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: field 'category_scores' holds a non-number") from exc
        applied = result.get("category_applied_input_types") or {}
        return cls(
            flagged=bool(result["flagged"]),
            categories={str(k): bool(v) for k, v in cats.items()},
            category_scores=parsed_scores,
            category_applied_input_types={str(k): list(v) for k, v in applied.items()},
            model=model,
            id=id,
        )


@dataclass(frozen=True)
class ItemError:
    """A text the backend could not score (empty, too long, rejected).

    Attributes
    ----------
    message : str
        Why, in one line.
    code : str, optional
        The endpoint's error code, if any.
    """

    message: str
    code: str | None = None


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
            and all(type(v) is bool for v in cats.values())
            and all(type(v) is float for v in scores.values())
            and all(type(v) is list for v in applied.values())
        ):
            return ModerationResult(r["flagged"], cats, scores, applied, model, rid)
    return ModerationResult.from_dict(r, model=model, id=rid, where=f"results[{i}]")


def result_json(res: ModerationResult) -> str:
    """The result object as compact JSON, as the ``result_json`` column holds it.

    ``json.dumps(res.to_dict(), separators=(",", ":"))`` without copying the result's
    dicts first.
    """
    body: dict[str, Any] = {
        "flagged": res.flagged,
        "categories": res.categories,
        "category_scores": res.category_scores,
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
    raw : list of str or None
        The ``result_json`` strings, when asked for.
    """

    keys: list[str]
    scores: np.ndarray
    flags: np.ndarray
    flagged: np.ndarray
    model: list[str]
    id: list[str]
    raw: list[str] | None = None

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

    @classmethod
    def concat(cls, parts: Sequence[ResultRows]) -> ResultRows:
        """One ``ResultRows`` of several (``raw`` kept only if every part has it)."""
        k = len(CATEGORIES)
        if not parts:
            return cls([], np.empty((0, k)), np.empty((0, k), np.int8), np.empty(0, bool), [], [])
        raws = [p.raw for p in parts]
        return cls(
            [key for p in parts for key in p.keys],
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.flags for p in parts]),
            np.concatenate([p.flagged for p in parts]),
            [m for p in parts for m in p.model],
            [i for p in parts for i in p.id],
            None if any(r is None for r in raws) else [x for r in raws for x in r],  # type: ignore[union-attr]
        )
