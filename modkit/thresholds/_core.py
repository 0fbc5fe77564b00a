"""The category-fitting core: small pure functions of one category's counts.

Every fitter goes through these functions, so they cannot drift apart:
:func:`modkit.fit_thresholds` (rows), :func:`modkit.ray.fit_from_counts` (counts merged
from shards) and :func:`modkit.thresholds.strictest_certified` (many goals on the same
rows). A category is described by its *counts per distinct score*:

``thresholds``
    The distinct labelled scores, descending (the candidate thresholds).
``tp``, ``fp``
    Cumulative positives / negatives at or above each of them (int64, same shape).

The fitting steps, in the spirit of MAPIE's array functions: :func:`choose` (selection
of ``block`` and ``review``, with the clamp), :func:`choice_warnings`,
:func:`counts_at` (confusion at a threshold), :func:`band_shares`, and
:func:`category_threshold` (the record). The out-of-fold loop is in
:mod:`modkit.thresholds._oof`, the intervals in :mod:`modkit.thresholds._intervals`.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import InputError
from .._taxonomy import check_category_keys
from ._metrics import Selection, choose_threshold, select_threshold
from ._objectives import Objective, parse_objective
from ._rates import confusion
from ._rule import as_limits, bands
from ._set import CategoryThreshold

#: The package's directory: frames below it are modkit's own.
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

__all__ = [
    "Choice",
    "FitWarning",
    "band_shares",
    "category_threshold",
    "choice_warnings",
    "choose",
    "counts_at",
    "in_sample_at",
    "per_category",
    "select",
    "warn_all",
]


class FitWarning(UserWarning):
    """Something :func:`fit_thresholds` did that the caller may not expect.

    Columns it ignores, labelled rows dropped for a missing score, a review threshold
    clamped to ``block``, or an ``ok`` status resting on fewer than 10 positives.

    Examples
    --------
    >>> import warnings
    >>> from modkit.thresholds import FitWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FitWarning)  # silence fit_thresholds' notes
    ...     warnings.warn("2 labelled rows dropped", FitWarning)
    """


def per_category(
    spec: Any, cats: list[str], what: str, required: bool
) -> dict[str, Objective | None]:
    """One objective (or ``None``) per category from a spec, a mapping of them, or ``None``.

    A mapping that is not an objective dict (no ``"kind"``) maps category keys (and
    ``"*"``, the default) to specs; unknown keys raise :class:`~modkit.InputError`, as
    does a category left without one when ``required``.
    """
    if spec is None:
        return dict.fromkeys(cats)
    if isinstance(spec, Mapping) and "kind" not in spec:
        check_category_keys(spec, what, extra=("*", *cats))
        default = parse_objective(spec["*"]) if "*" in spec else None
        out = {c: parse_objective(spec[c]) if c in spec else default for c in cats}
        missing = [c for c, o in out.items() if o is None]
        if required and missing:
            raise InputError(
                f"{what}: no objective for labelled categories {missing}; add them or a '*' default"
            )
        return out
    obj = parse_objective(spec)
    return dict.fromkeys(cats, obj)


def select(
    obj: Objective,
    thresholds: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    *,
    confidence: float | None,
    method: str,
    present: np.ndarray | None = None,
) -> Selection:
    """:func:`~modkit.thresholds.select_threshold` on cumulative counts (``confidence``
    applies to constrained objectives only)."""
    n_pos = int(tp[-1]) if len(tp) else 0
    n_neg = int(fp[-1]) if len(fp) else 0
    return select_threshold(
        obj,
        thresholds,
        tp,
        fp,
        n_pos,
        n_neg,
        confidence=confidence if obj.constrained else None,
        method=method,
        present=present,
    )


@dataclass(frozen=True)
class Choice:
    """The ``block`` and ``review`` thresholds chosen for one category, and why.

    ``review_chosen`` is the review objective's own choice, before the clamp to
    ``block`` (``clamped``).
    """

    block: float | None
    status: str | None
    review: float | None
    review_status: str | None
    review_chosen: float | None
    clamped: bool
    notes: tuple[str, ...]


def choose(
    obj: Objective,
    rev: Objective | None,
    thresholds: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    *,
    confidence: float | None,
    method: str,
    min_positives: int,
) -> Choice:
    """Selection: ``block`` for ``obj``, ``review`` for ``rev``, review clamped to block."""
    n_pos = int(tp[-1]) if len(tp) else 0
    n_neg = int(fp[-1]) if len(fp) else 0

    def pick(o: Objective | None) -> tuple[float | None, str | None, str]:
        return choose_threshold(
            o,
            n_pos,
            n_neg,
            min_positives,
            lambda o: select(o, thresholds, tp, fp, confidence=confidence, method=method),
        )

    block, status, note = pick(obj)
    review, review_status, rnote = pick(rev)
    notes = [note] if note else []
    if rnote and rnote != note:
        notes.append(f"review: {rnote}")
    clamped = block is not None and review is not None and review > block
    return Choice(
        block=block,
        status=status,
        review=block if clamped else review,
        review_status=review_status,
        review_chosen=review,
        clamped=clamped,
        notes=tuple(notes),
    )


def choice_warnings(
    cat: str,
    choice: Choice,
    obj: Objective,
    rev: Objective | None,
    n_pos: int,
    min_positives: int,
) -> list[str]:
    """The :class:`FitWarning` messages of a choice: a clamped review, a weak ``ok``."""
    out = []
    if choice.clamped:
        out.append(
            f"{cat}: the review objective {rev} chose {choice.review_chosen:.6g}, above the "
            f"block threshold {choice.block:.6g}; review is clamped to block (no review band)"
        )
    weak = [
        name
        for name, o, st in (("block", obj, choice.status), ("review", rev, choice.review_status))
        if o is not None and o.kind != "fixed" and st == "ok"
    ]
    if weak and min_positives < 10 and n_pos < 10:
        out.append(
            f"{cat}: status ok for {', '.join(weak)} rests on {n_pos} labelled positives "
            f"(min_positives={min_positives}); treat it as anecdotal"
        )
    return out


def warn_all(messages: list[str]) -> None:
    """Issue each message as a :class:`FitWarning`, attributed to the first caller
    outside modkit (however deep in modkit the fit found it)."""
    if not messages:
        return
    frame, level = sys._getframe(0), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    for message in messages:
        warnings.warn(message, FitWarning, stacklevel=level)


def counts_at(thresholds: np.ndarray, threshold: float | None, *cums: np.ndarray) -> list[int]:
    """Each cumulative count in ``cums`` at ``threshold`` (flag when score >= threshold).

    ``cums`` are cumulative over ``thresholds`` (descending); 0 for a ``None``
    threshold or one above every candidate.
    """
    if threshold is None:
        return [0] * len(cums)
    k = int(np.searchsorted(-thresholds, -threshold, side="right"))
    return [int(c[k - 1]) if k else 0 for c in cums]


def band_shares(
    scores: np.ndarray,
    block: float | None,
    review: float | None,
    weights: np.ndarray | None = None,
) -> dict[str, Any] | None:
    """Share of scored rows per band (``None`` without rows).

    ``scores`` are rows (``weights`` ``None``) or distinct scores with ``weights`` rows each.
    """
    is_block, is_review, _ = bands(scores[:, None], as_limits([block]), as_limits([review]))
    if weights is None:
        b, r, n = int(is_block.sum()), int(is_review.sum()), len(scores)
    else:
        b = int(weights[is_block[:, 0]].sum())
        r = int(weights[is_review[:, 0]].sum())
        n = int(weights.sum())
    if not n:
        return None
    return {"allow": float(1 - (b + r) / n), "review": float(r / n), "block": float(b / n), "n": n}


def category_threshold(
    choice: Choice,
    obj: Objective,
    rev: Objective | None,
    *,
    confidence: float | None,
    method: str,
    counts: tuple[int, int, int],
    in_sample: dict[str, Any] | None,
    bands: dict[str, Any] | None,
    **extra: Any,
) -> CategoryThreshold:
    """The record of one category's fit; ``counts`` is ``(n_pos, n_neg, n_unlabelled)``.

    ``extra`` holds what only some fitters compute (``out_of_fold``, ``oof_status``,
    ``selection_ci``, ``threshold_spread``, ``baselines``) and ``notes``, appended to the
    choice's notes.
    """
    constrained = obj.constrained or (rev is not None and rev.constrained)
    certified = confidence is not None and constrained
    notes = [*choice.notes, *extra.pop("notes", ())]
    n_pos, n_neg, n_unlabelled = counts
    return CategoryThreshold(
        block=choice.block,
        review=choice.review,
        objective=str(obj),
        review_objective=None if rev is None else str(rev),
        confidence=confidence if certified else None,
        method=method if certified else None,
        delta=round(1 - confidence, 12) if certified and confidence is not None else None,
        status=choice.status or "ok",
        review_status=choice.review_status,
        review_clamped=choice.clamped,
        note="; ".join(notes),
        n_pos=n_pos,
        n_neg=n_neg,
        n_unlabelled=n_unlabelled,
        in_sample=in_sample,
        bands=bands,
        **extra,
    )


def in_sample_at(
    thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, threshold: float | None
) -> dict[str, Any] | None:
    """The confusion counts and rates at ``threshold`` on all labelled rows (``None``
    without labelled rows)."""
    n_pos = int(tp[-1]) if len(tp) else 0
    n_neg = int(fp[-1]) if len(fp) else 0
    if not n_pos + n_neg:
        return None
    t_p, f_p = counts_at(thresholds, threshold, tp, fp)
    return confusion(t_p, f_p, n_pos, n_neg)
