"""Intervals for an exported threshold's rates: exact binomial, and the refit bootstrap.

``selection_ci`` (:func:`selection_ci`) is the hull of the out-of-bag percentile interval
of a refit bootstrap (:func:`refit_bootstrap`; Efron & Tibshirani, JASA 1997) and the
Clopper-Pearson interval (Clopper & Pearson 1934) of the threshold's counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import numpy as np

from ._cells import cell_ends, poisson_cell_weights
from ._core import counts_at, select
from ._metrics import Curve
from ._objectives import Objective
from ._rates import Counts, rates

__all__ = [
    "BOOTSTRAP_ROWS",
    "SELECTION_METHOD",
    "exact_ci",
    "hull",
    "percentiles",
    "refit_bootstrap",
    "selection_ci",
]

#: Labelled rows above which the refit bootstrap draws its weights per cell of
#: neighbouring scores (:mod:`modkit.thresholds._cells`) instead of per row.
BOOTSTRAP_ROWS = 10_000

#: ``selection_ci["method"]``: the refit bootstrap's out-of-bag percentile interval,
#: joined with the exact Clopper-Pearson interval at the exported threshold.
SELECTION_METHOD = "refit-bootstrap-oob+clopper-pearson"

_RATES = ("precision", "recall", "fpr")


def percentiles(values: np.ndarray, level: float) -> list[float] | None:
    """The central ``level`` percentile interval of the finite values (``None`` if none)."""
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def exact_ci(k: int, n: int, level: float) -> list[float] | None:
    """Two-sided Clopper-Pearson interval (:meth:`scipy.stats.binomtest.proportion_ci`)."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return [float(ci.low), float(ci.high)]


def hull(a: list[float] | None, b: list[float] | None) -> list[float] | None:
    """The smallest interval holding both (either may be ``None``)."""
    if a is None or b is None:
        return a if b is None else b
    return [min(a[0], b[0]), max(a[1], b[1])]


class _EndSums:
    """Cumulative sums of row weights, of all rows and of the positives, at each
    distinct score's last row (the positives' columns alone: a few % of the rows)."""

    def __init__(self, curve: Curve) -> None:
        self.ends = curve.ends
        self.pos = np.flatnonzero(curve.sorted_labels)  # positives' places in the rows
        self.upto = np.searchsorted(self.pos, self.ends, side="right")

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        every = np.cumsum(x, axis=1, dtype=np.int64)[:, self.ends]
        cum_pos = np.zeros((x.shape[0], len(self.pos) + 1), dtype=np.int64)
        np.cumsum(x[:, self.pos], axis=1, out=cum_pos[:, 1:])
        return every, cum_pos[:, self.upto]


#: One chunk of resamples: cumulative in-bag weights (all rows, positives) and
#: out-of-bag counts (all rows, positives) at each candidate, shape (resamples, candidates).
_Chunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _row_chunks(curve: Curve, resamples: int, rng: np.random.Generator) -> Iterator[_Chunk]:
    """Poisson(1) weights per row, in chunks of at most 2 million draws."""
    n = len(curve.sorted_scores)
    at_ends = _EndSums(curve)
    per = max(1, min(resamples, 2_000_000 // max(n, 1)))
    done = 0
    while done < resamples:
        nb = min(per, resamples - done)
        w = rng.poisson(1.0, size=(nb, n)).astype(np.int32)
        w_all, w_pos = at_ends(w)
        o_all, o_pos = at_ends(w == 0)
        yield w_all, w_pos, o_all, o_pos
        done += nb


def _cell_chunks(
    curve: Curve, block: float | None, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, Iterator[_Chunk]]:
    """The cells' candidate thresholds and their Poisson weights, drawn per cell."""
    ends = cell_ends(curve.thresholds, curve.tp, curve.fp, block)
    pos = np.diff(curve.tp[ends], prepend=0)
    neg = np.diff(curve.fp[ends], prepend=0)
    w_pos, o_pos = poisson_cell_weights(pos, resamples, rng)
    w_neg, o_neg = poisson_cell_weights(neg, resamples, rng)
    chunk = (
        np.cumsum(w_pos + w_neg, axis=1),
        np.cumsum(w_pos, axis=1),
        np.cumsum(o_pos + o_neg, axis=1),
        np.cumsum(o_pos, axis=1),
    )
    return curve.thresholds[ends], iter([chunk])


def _resample_threshold(
    thresholds: np.ndarray, obj: Objective, tp: np.ndarray, n: np.ndarray,
    confidence: float | None, method: str,
) -> float | None:  # fmt: skip
    """The threshold chosen on one resample's weighted cumulative counts."""
    if obj.kind == "fixed":
        return float(cast(float, obj.target))
    return select(
        obj,
        thresholds,
        tp,
        n - tp,
        confidence=confidence,
        method=method,
        present=np.diff(n, prepend=0) > 0,
    ).threshold


def _oob_counts(
    thresholds: np.ndarray, chosen: list[float | None], o_pos: np.ndarray, o_all: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-bag flagged positives and flagged rows of each resample's threshold
    (flag when score >= threshold; none for ``None``), shape (resamples,) each."""
    at = np.array(
        [0 if t is None else np.searchsorted(-thresholds, -t, side="right") for t in chosen],
        dtype=np.int64,
    )
    rows = np.arange(len(chosen))
    pad = np.zeros((len(chosen), 1), dtype=np.int64)  # column 0: nothing flagged
    tp = np.concatenate([pad, o_pos], axis=1)[rows, at]
    return tp, np.concatenate([pad, o_all], axis=1)[rows, at]


def refit_bootstrap(
    curve: Curve,
    obj: Objective,
    confidence: float | None,
    method: str,
    resamples: int,
    level: float,
    rng: np.random.Generator,
    block: float | None = None,
) -> dict[str, Any] | None:
    """Intervals for the exported threshold that account for choosing it.

    Each resample draws Poisson(1) row weights (the Poisson bootstrap), re-runs the
    threshold choice on the weighted counts, and scores the chosen threshold on the rows
    the resample left out (weight 0). The percentile intervals of those out-of-bag rates
    cover both the choice's variability and the evaluation's.

    Up to :data:`BOOTSTRAP_ROWS` labelled rows every row gets its own weight. Above, the
    rows are grouped into cells of neighbouring scores (:func:`cell_ends`: every distinct
    score when there are few, else fine cells around ``block``, the exported threshold,
    and quantile cells elsewhere); each cell's out-of-bag count and in-bag weight are
    drawn from their joint law (:func:`poisson_cell_weights`) and the choice is re-run
    among the cells' edges, so the cost no longer grows with the rows.
    """
    n = len(curve.sorted_scores)
    if resamples <= 0 or n == 0:
        return None
    if n > BOOTSTRAP_ROWS:
        thresholds, chunks = _cell_chunks(curve, block, resamples, rng)
    else:
        thresholds, chunks = curve.thresholds, _row_chunks(curve, resamples, rng)
    parts: list[tuple[np.ndarray, ...]] = []
    never = 0
    for w_all, w_pos, o_all, o_pos in chunks:
        chosen = [
            _resample_threshold(thresholds, obj, w_pos[b], w_all[b], confidence, method)
            for b in range(len(w_all))
        ]
        never += sum(t is None for t in chosen)
        parts.append((*_oob_counts(thresholds, chosen, o_pos, o_all), o_pos[:, -1], o_all[:, -1]))
    tp, flagged, n_pos, n_all = (np.concatenate(c) for c in zip(*parts, strict=True))
    r = rates(Counts(tp, flagged - tp, n_pos, n_all - n_pos))  # out-of-bag rates per resample
    out = {m: r[m] for m in _RATES}
    return {
        "method": "refit-bootstrap-oob",
        "level": level,
        "resamples": int(resamples),
        "rows": int(n),
        "never": int(never),
        **{m: percentiles(v, level) for m, v in out.items()},
    }


def selection_ci(
    curve: Curve,
    block: float | None,
    obj: Objective,
    confidence: float | None,
    method: str,
    resamples: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Any] | None:
    """``selection_ci``: the refit-bootstrap interval joined with the exact one at ``block``.

    ``None`` for a ``None`` block (nothing is flagged, so there is nothing to bound) or
    without resamples. Each rate's interval is the hull of the out-of-bag refit-bootstrap
    percentile interval (:func:`refit_bootstrap`, which accounts for choosing the
    threshold) and the Clopper-Pearson interval of the exported threshold's counts on all
    labelled rows (which keeps the interval from collapsing to a point when a handful of
    rows are flagged: the out-of-bag rates of 1 or 2 flagged rows are all 0 or all 1).
    """
    if block is None:
        return None
    boot = refit_bootstrap(curve, obj, confidence, method, resamples, level, rng, block)
    if boot is None:
        return None
    tp, fp = counts_at(curve.thresholds, block, curve.tp, curve.fp)
    exact = {
        "precision": exact_ci(tp, tp + fp, level),
        "recall": exact_ci(tp, curve.n_pos, level),
        "fpr": exact_ci(fp, curve.n_neg, level),
    }
    return {**boot, "method": SELECTION_METHOD, **{m: hull(boot[m], exact[m]) for m in exact}}
