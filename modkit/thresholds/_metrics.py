"""Confusion counts at every candidate threshold from one sort, and threshold selection.

Decision rule: flag when ``score >= threshold``. The candidates are the distinct observed
scores, so rows with equal scores are always flagged together. ``None`` as a threshold
means "never flag".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._objectives import Objective

__all__ = ["Curve", "Selection", "binary_curve", "confusion", "select_threshold"]


@dataclass
class Curve:
    """Cumulative counts over the distinct scores of one category, highest first.

    Attributes
    ----------
    sorted_scores, sorted_labels : ndarray
        The labelled rows' scores (descending) and their 0/1 labels in that order.
    order : ndarray
        The permutation that sorts the rows.
    ends : ndarray
        For each distinct score, the position of its last row in the sorted arrays.
    thresholds : ndarray
        The distinct scores, descending.
    tp, fp : ndarray of int64
        Rows flagged at each threshold that are positive / negative.
    """

    sorted_scores: np.ndarray
    sorted_labels: np.ndarray
    order: np.ndarray
    ends: np.ndarray
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray

    @property
    def n_pos(self) -> int:
        return int(self.tp[-1]) if len(self.tp) else 0

    @property
    def n_neg(self) -> int:
        return int(self.fp[-1]) if len(self.fp) else 0

    def n_flagged(self, threshold: float | None) -> int:
        """How many sorted rows have ``score >= threshold`` (0 for ``None``)."""
        if threshold is None:
            return 0
        return int(np.searchsorted(-self.sorted_scores, -threshold, side="right"))


def binary_curve(scores: np.ndarray, labels: np.ndarray) -> Curve:
    """Sort once and count true/false positives at every distinct score.

    Parameters
    ----------
    scores : ndarray of float
        Finite scores.
    labels : ndarray
        0/1 (or bool) labels of the same length.
    """
    order = np.argsort(scores)[::-1]
    ss = scores[order]
    ys = labels[order].astype(np.int64, copy=False)
    n = len(ss)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Curve(ss, ys, order, empty, ss, empty, empty)
    change = np.flatnonzero(ss[1:] != ss[:-1])
    ends = np.append(change, n - 1)
    tp = np.cumsum(ys)[ends]
    fp = ends + 1 - tp
    return Curve(ss, ys, order, ends, ss[ends], tp, fp)


def confusion(tp: int, fp: int, n_pos: int, n_neg: int) -> dict[str, float | int | None]:
    """Counts and precision / recall / FPR (``None`` where undefined)."""
    fn, tn = n_pos - tp, n_neg - fp
    return {
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(fn),
        "tn": int(tn),
        "precision": float(tp / (tp + fp)) if tp + fp else None,
        "recall": float(tp / n_pos) if n_pos else None,
        "fpr": float(fp / n_neg) if n_neg else None,
    }


@dataclass(frozen=True)
class Selection:
    """The outcome of choosing a threshold.

    Attributes
    ----------
    index : int or None
        Position in the curve's ``thresholds`` (``None``: never flag).
    threshold : float or None
        The threshold (``None``: never flag).
    status : {"ok", "fixed", "infeasible"}
    note : str
        Why, in words, for the non-obvious outcomes.
    """

    index: int | None
    threshold: float | None
    status: str
    note: str = ""


def _lower_bound_meets(k: np.ndarray, n: np.ndarray, target: float, confidence: float):
    """Whether the one-sided Clopper-Pearson lower bound on k / n is >= target.

    The bound is the (1 - confidence) quantile of Beta(k, n - k + 1) (0 when k = 0); it is
    >= target exactly when that distribution's CDF at target is <= 1 - confidence, which
    needs the incomplete beta function, not its (slower) inverse.
    """
    from scipy.special import betainc

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    out = np.zeros(k.shape, dtype=bool)
    ok = k > 0
    out[ok] = betainc(k[ok], n[ok] - k[ok] + 1, target) <= 1 - confidence
    return out


def _upper_bound_meets(k: np.ndarray, n: np.ndarray, target: float, confidence: float):
    """Whether the one-sided Clopper-Pearson upper bound on k / n is <= target.

    The bound is the ``confidence`` quantile of Beta(k + 1, n - k) (1 when k = n).
    """
    from scipy.special import betainc

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    out = np.zeros(k.shape, dtype=bool)
    ok = k < n
    out[ok] = betainc(k[ok] + 1, n[ok] - k[ok], target) >= confidence
    return out


def _precision_run(
    point_ok: np.ndarray,
    allowed: np.ndarray,
    tp: np.ndarray,
    flagged: np.ndarray,
    target: float,
    confidence: float,
) -> np.ndarray:
    """The first run of candidates whose precision bound passes, walking down from the top.

    Precision is not monotone in the threshold, so taking the lowest threshold whose
    bound passes anywhere would pick up chance passes far down the curve; the walk
    stops at the first allowed candidate that fails after the first that passes. The
    bounds are computed in growing chunks, only as far down as the walk goes.
    """
    cand = np.flatnonzero(allowed)
    out = np.zeros(len(point_ok), dtype=bool)
    start: int | None = None
    pos, size = 0, 1024
    while pos < len(cand):
        chunk = cand[pos : pos + size]
        pp = point_ok[chunk]
        passed = np.zeros(len(chunk), dtype=bool)
        if pp.any():
            sel = chunk[pp]
            passed[pp] = _lower_bound_meets(tp[sel], flagged[sel], target, confidence)
        first = 0
        if start is None:
            if not passed.any():
                pos, size = pos + len(chunk), size * 2
                continue
            first = int(np.argmax(passed))
            start = pos + first
        fails = np.flatnonzero(~passed[first:])
        if len(fails):
            out[cand[start : pos + first + int(fails[0])]] = True
            return out
        pos, size = pos + len(chunk), size * 2
    if start is not None:
        out[cand[start:]] = True
    return out


def _monotone_boundary(pred, n: int) -> int:
    """First index in [0, n] where a monotone predicate (False...True) becomes True."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _first_max(values: np.ndarray, allowed: np.ndarray) -> int | None:
    """Index of the first (highest-threshold) maximum among the allowed entries."""
    if not allowed.any():
        return None
    masked = np.where(allowed, values, -np.inf)
    return int(np.argmax(masked))


def select_threshold(
    objective: Objective,
    thresholds: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    n_pos: int,
    n_neg: int,
    *,
    confidence: float | None = None,
    present: np.ndarray | None = None,
) -> Selection:
    """Choose a threshold for ``objective`` from counts at candidate thresholds.

    Parameters
    ----------
    objective : Objective
    thresholds : ndarray
        Candidate thresholds, descending.
    tp, fp : ndarray
        Counts flagged at each candidate.
    n_pos, n_neg : int
        Positives and negatives in the data.
    confidence : float, optional
        For constrained objectives: the one-sided Clopper-Pearson bound at this level
        (lower bound on precision or recall, upper bound on FPR) must meet the target.
    present : ndarray of bool, optional
        Which candidates are allowed (default all).

    Returns
    -------
    Selection
        Among equally good candidates the highest threshold wins. For ``cost`` "never
        flag" is a candidate too (above every score); it wins ties.
    """
    kind = objective.kind
    allowed = np.ones(len(thresholds), dtype=bool) if present is None else present
    if kind == "fixed":
        return Selection(None, float(objective.target), "fixed")
    if kind == "fbeta":
        b2 = objective.beta**2
        denom = (1 + b2) * tp + b2 * (n_pos - tp) + fp
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(denom > 0, (1 + b2) * tp / np.where(denom > 0, denom, 1), 0.0)
        i = _first_max(f, allowed & (tp > 0))
        if i is None:
            return Selection(None, None, "infeasible", "no threshold flags a positive")
        return Selection(i, float(thresholds[i]), "ok")
    if kind == "cost":
        cost = objective.fp_cost * fp + objective.fn_cost * (n_pos - tp)
        never = objective.fn_cost * n_pos
        i = _first_max(-cost, allowed)
        if i is None or never <= cost[i]:
            return Selection(None, None, "ok", "flagging nothing has the lowest cost")
        return Selection(i, float(thresholds[i]), "ok")
    target = float(objective.target)
    flagged = tp + fp
    if kind == "min_precision":
        with np.errstate(invalid="ignore", divide="ignore"):
            point = tp / flagged
        ok = allowed & (point >= target)
        if confidence is not None and ok.any():
            ok = _precision_run(ok, allowed, tp, flagged, target, confidence)
        i = _first_max(tp.astype(float), ok)
        metric = "precision"
        best = point
    elif kind == "min_recall":
        point = tp / n_pos
        ok = allowed & (point >= target)
        if confidence is not None and ok.any():
            # tp never decreases down the candidates, so neither does its lower bound:
            # the candidates that pass are those from one index on.
            first = _monotone_boundary(
                lambda i: bool(_lower_bound_meets(tp[i], n_pos, target, confidence)),
                len(tp),
            )
            ok[:first] = False
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = tp / flagged
        i = _first_max(precision, ok)
        metric = "recall"
        best = point
    else:  # max_fpr
        point = fp / n_neg
        ok = allowed & (point <= target)
        if confidence is not None and ok.any():
            # fp never decreases down the candidates, so neither does its upper bound:
            # the candidates that pass are those before one index.
            first_fail = _monotone_boundary(
                lambda i: not _upper_bound_meets(fp[i], n_neg, target, confidence),
                len(fp),
            )
            ok[first_fail:] = False
        i = _first_max(tp.astype(float), ok & (tp > 0))
        metric = "fpr"
        best = -point
    if i is None:
        cand = np.flatnonzero(allowed)
        if len(cand):
            j = cand[np.nanargmax(best[cand])]
            value = abs(float(best[j]))
            note = (
                f"no threshold meets {objective}"
                + (f" at confidence {confidence}" if confidence is not None else "")
                + f"; best {metric} {value:.4g} at threshold {float(thresholds[j]):.6g}"
                " (point estimate); never flagging"
            )
        else:
            note = f"no candidate threshold for {objective}; never flagging"
        return Selection(None, None, "infeasible", note)
    return Selection(i, float(thresholds[i]), "ok")
