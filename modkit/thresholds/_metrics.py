"""Confusion counts at every candidate threshold from one sort, and threshold selection.

Decision rule: flag when ``score >= threshold``. The candidates are the distinct observed
scores, so rows with equal scores are always flagged together. ``None`` as a threshold
means "never flag".

With ``confidence`` a constrained objective is certified by Learn then Test
(Angelopoulos, Bates, Candès, Jordan and Lei, "Learn then Test: Calibrating predictive
algorithms to achieve risk control", Ann. Appl. Stat., 2025): each candidate is a null
hypothesis "the rate misses the target", tested with an exact binomial p-value, and the
family of tests controls the chance of certifying any candidate that misses its target
at ``delta = 1 - confidence``:

* ``method="fixed_sequence"`` (default) tests the candidates in an order fixed before
  looking at the labels (from the highest threshold down for precision and FPR, from the
  lowest up for recall and NPV), starting at the first candidate that could pass at all
  and stopping at the first failure; every test is at level ``delta``.
* ``method="holm"`` tests a geometric grid of the candidates that could pass
  (:func:`holm_family`: built from the scores alone, never the labels) with the Holm
  step-down correction (Holm 1979); it does not stop at a failure, which helps when the
  top of the score range is noisy, at the price of a smaller per-test level.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from .._errors import InputError
from ._objectives import Constraint, Objective
from ._rates import Counts, rates

__all__ = [
    "METHODS",
    "Curve",
    "Selection",
    "binary_curve",
    "choose_threshold",
    "min_trials",
    "p_values",
    "select_threshold",
]

#: Multiple-testing procedures for ``confidence=``.
METHODS = ("fixed_sequence", "holm")


@dataclass(eq=False)
class Curve:
    """Cumulative counts over the distinct scores of one category, highest first.

    Attributes
    ----------
    sorted_scores : ndarray
        The labelled rows' scores, descending.
    ends : ndarray
        For each distinct score, the position of its last row in the sorted arrays.
    thresholds : ndarray
        The distinct scores, descending.
    tp, fp : ndarray of int64
        Rows flagged at each threshold that are positive / negative.
    scores, labels : ndarray
        The rows as given (finite scores; 0/1 or bool labels).
    order : ndarray
        The permutation that sorts the rows (stable, reversed: ties in reverse row
        order); computed on first use, as only resampling needs it.
    sorted_labels : ndarray of int64
        The 0/1 labels in ``order``; computed on first use.
    """

    sorted_scores: np.ndarray
    ends: np.ndarray
    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    scores: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)

    @functools.cached_property
    def order(self) -> np.ndarray:
        return np.argsort(self.scores, kind="stable")[::-1]

    @functools.cached_property
    def sorted_labels(self) -> np.ndarray:
        return self.labels[self.order].astype(np.int64, copy=False)

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
    scores : ndarray of float, shape (n,)
        Finite scores.
    labels : ndarray, shape (n,)
        0/1 (or bool) labels.

    Returns
    -------
    Curve
        ``thresholds`` (the distinct scores, descending, shape (n_distinct,)) with
        ``tp`` / ``fp``: the positives / negatives at or above each (flag when
        ``score >= threshold``), shape (n_distinct,) each.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds import binary_curve
    >>> curve = binary_curve(np.array([0.9, 0.6, 0.8, 0.1]), np.array([1, 0, 1, 0]))
    >>> curve.thresholds.tolist(), curve.tp.tolist(), curve.fp.tolist()
    ([0.9, 0.8, 0.6, 0.1], [1, 2, 2, 2], [0, 0, 1, 2])
    """
    # Sorting the values alone (no permutation) and counting the positives at or above
    # each distinct score by binary search is about twice as fast as an argsort.
    ss = np.sort(scores)[::-1]
    n = len(ss)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Curve(ss, empty, ss, empty, empty, scores, labels)
    ends = np.append(np.flatnonzero(ss[1:] != ss[:-1]), n - 1)
    thresholds = ss[ends]
    pos = np.sort(scores[labels == 1])
    tp = (len(pos) - np.searchsorted(pos, thresholds, side="left")).astype(np.int64)
    fp = ends + 1 - tp
    return Curve(ss, ends, thresholds, tp, fp, scores, labels)


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
        ``ok`` for a constrained objective means the constraint holds: at the stated
        confidence when one was given, else on the point estimate.
    note : str
        Why, in words, for the non-obvious outcomes.
    n_needed : int or None
        With ``confidence``: the fewest trials (e.g. flagged rows for precision) with
        which a candidate could pass at all.
    """

    index: int | None
    threshold: float | None
    status: str
    note: str = ""
    n_needed: int | None = None


def min_trials(q: float, delta: float) -> int | None:
    """The fewest trials with which an exact binomial test of "rate >= q" can pass.

    With every trial a success the p-value is ``q ** n``, so a pass needs
    ``n >= ceil(ln delta / ln q)``. ``None`` when ``q >= 1`` (never certifiable).

    Parameters
    ----------
    q : float
        The rate to certify, a proportion in [0, 1] (e.g. a precision target).
    delta : float
        The test's level, a probability in (0, 1) (``1 - confidence``).

    Returns
    -------
    int or None
        The number of trials (at least 1; 1 when ``q <= 0``), or ``None`` when
        ``q >= 1``.

    Examples
    --------
    >>> from modkit.thresholds import min_trials
    >>> min_trials(0.9, 0.05)
    29
    """
    if q >= 1:
        return None
    if q <= 0:
        return 1
    n = max(1, math.ceil(math.log(delta) / math.log(q)))
    while n > 1 and q ** (n - 1) <= delta:
        n -= 1
    while q**n > delta:
        n += 1
    return n


def p_values(k: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Exact one-sided binomial p-values of "rate < q" against k successes in n trials.

    ``P(Binomial(n, q) >= k)`` (:func:`scipy.stats.binom.sf`); 1 when ``k = 0``. Small
    p-values are evidence that the rate is at least ``q``.
    """
    from scipy.stats import binom

    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    return np.asarray(binom.sf(k - 1, n, q), dtype=float)


def _first_max(values: np.ndarray, allowed: np.ndarray) -> int | None:
    """Index of the first (highest-threshold) maximum among the allowed finite entries."""
    ok = allowed & np.isfinite(values)
    if not ok.any():
        return None
    masked = np.where(ok, values, -np.inf)
    return int(np.argmax(masked))


def _fixed_sequence(seq: np.ndarray, k: np.ndarray, n: np.ndarray, q: float, delta: float):
    """The prefix of ``seq`` that passes, and where the sequence stopped (or None).

    p-values are computed in growing chunks, only as far as the walk goes.
    """
    pos, size = 0, 256
    while pos < len(seq):
        chunk = seq[pos : pos + size]
        fails = np.flatnonzero(p_values(k[chunk], n[chunk], q) > delta)
        if len(fails):
            stop = pos + int(fails[0])
            return seq[:stop], int(seq[stop])
        pos, size = pos + len(chunk), size * 4
    return seq, None


#: Ratio of Holm's geometric grid of candidates (see :func:`holm_family`).
HOLM_GRID_RATIO = 1.1


def holm_family(seq: np.ndarray, sizes: np.ndarray, ratio: float | None = None) -> np.ndarray:
    """The candidates Holm's procedure tests: one per geometric bucket of ``sizes``.

    Parameters
    ----------
    seq : ndarray of int, shape (m,)
        Candidate indices in walk order (each one could pass at all).
    sizes : ndarray of int, shape (n_candidates,)
        A count per candidate that does not depend on the labels: the rows flagged (the
        rows left unflagged for NPV).
    ratio : float > 1, optional
        Growth of the grid (default :data:`HOLM_GRID_RATIO`): candidates whose sizes
        lie within a factor ``ratio`` of each other share a bucket
        ``floor(log(size) / log(ratio))``.

    Returns
    -------
    ndarray of int
        The last candidate in walk order of each bucket (the most aggressive one in the
        walk's direction), in walk order: about ``log(n) / log(ratio)`` of them instead
        of every distinct score.

    Notes
    -----
    Holm's correction divides ``delta`` by the size of the family, so testing every
    distinct score (thousands, most differing by one row) makes each test needlessly
    strict. Learn then Test (Angelopoulos et al., Ann. Appl. Stat. 2025) controls the
    family-wise error over any finite family fixed before the labels are seen; this
    family is a function of the scores alone (as the distinct scores themselves are),
    never of the labels, so the guarantee stands. Restricting it with the labels (say,
    to thresholds at positives' scores) would not be valid.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._metrics import holm_family
    >>> holm_family(np.arange(6), np.array([1, 2, 3, 10, 11, 12]), ratio=2.0).tolist()
    [0, 2, 5]
    """
    if len(seq) == 0:
        return seq
    ratio = HOLM_GRID_RATIO if ratio is None else ratio
    bucket = np.floor(np.log(np.maximum(sizes[seq], 1)) / math.log(ratio) + 1e-9)
    last = np.r_[bucket[1:] != bucket[:-1], True]
    return seq[last]


def _holm(cand: np.ndarray, k: np.ndarray, n: np.ndarray, q: float, delta: float) -> np.ndarray:
    """The candidates the Holm step-down procedure rejects at family-wise level delta."""
    if len(cand) == 0:
        return cand
    p = p_values(k[cand], n[cand], q)
    order = np.argsort(p, kind="stable")
    m = len(cand)
    ok = p[order] <= delta / (m - np.arange(m))
    n_rej = m if ok.all() else int(np.argmin(ok))
    return np.sort(cand[order[:n_rej]])


def _constrained(
    objective: Objective,
    con: Constraint,
    thresholds: np.ndarray,
    counts: Counts,
    allowed: np.ndarray,
    confidence: float | None,
    method: str,
) -> Selection:
    target = float(objective.target)  # type: ignore[arg-type]
    r = rates(counts)
    point = con.value(counts)  # the registry entry says how: no per-metric code here
    with np.errstate(invalid="ignore"):
        meets = point >= target if con.op == ">=" else point <= target
    meets = allowed & meets & np.isfinite(point)
    n_needed = None
    stop = None
    if confidence is None:
        ok = meets
    else:
        delta = 1.0 - confidence
        q = con.level(target)
        k = np.asarray(con.successes(counts))
        n = np.asarray(con.trials(counts))
        n_needed = min_trials(q, delta)
        order = np.arange(len(thresholds))
        if con.walk == "up":
            order = order[::-1]
        could = allowed[order] & (n[order] >= (np.inf if n_needed is None else n_needed))
        seq = order[could]
        if method == "fixed_sequence":
            passed, stop = _fixed_sequence(seq, k, n, q, delta)
        else:
            flagged = np.asarray(counts.tp + counts.fp)
            unflagged = counts.n_pos + counts.n_neg - flagged
            sizes = unflagged if con.holm_sizes == "unflagged" else flagged
            passed = _holm(holm_family(seq, sizes), k, n, q, delta)
        ok = np.zeros(len(thresholds), dtype=bool)
        ok[passed] = True
    best_rate = r[con.maximise]
    if con.require_tp:
        ok = ok & (counts.tp > 0)
    i = _first_max(best_rate, ok)
    if i is not None:
        return Selection(i, float(thresholds[i]), "ok", n_needed=n_needed)
    return Selection(
        None,
        None,
        "infeasible",
        _why_infeasible(
            objective, con, thresholds, point, allowed, confidence, method, n_needed, stop, counts
        ),
        n_needed,
    )


def _why_infeasible(
    objective: Objective,
    con: Constraint,
    thresholds: np.ndarray,
    point: np.ndarray,
    allowed: np.ndarray,
    confidence: float | None,
    method: str,
    n_needed: int | None,
    stop: int | None,
    counts: Counts,
) -> str:
    cand = np.flatnonzero(allowed & np.isfinite(point))
    parts = [f"no threshold meets {objective}"]
    if confidence is not None:
        parts[0] += f" at confidence {confidence:g} ({method.replace('_', '-')} test)"
        if n_needed is None:
            parts.append(
                f"a {con.metric} target of 1 can never be certified at a confidence below 1"
            )
        else:
            delta = 1 - confidence
            q = con.level(float(objective.target))  # type: ignore[arg-type]
            n_max = int(np.max(np.asarray(con.trials(counts)), initial=0))
            parts.append(
                f"a pass needs at least {n_needed} {con.trials_name} "
                f"(ceil(ln {delta:g} / ln {q:g}), even with no errors)"
                + (f" and the data have at most {n_max}" if n_max < n_needed else "")
            )
            if stop is not None:
                k = int(np.asarray(con.successes(counts))[stop])
                n = int(np.asarray(con.trials(counts))[stop])
                parts.append(
                    f"the test stopped at threshold {float(thresholds[stop]):.6g} "
                    f"({k} of {n} {con.trials_name} count toward {con.metric}, "
                    f"p = {float(p_values(np.array([k]), np.array([n]), q)[0]):.3g} > {delta:g})"
                )
    among = ""
    if n_needed is not None:
        big = cand[np.asarray(con.trials(counts))[cand] >= n_needed]
        if len(big):
            cand, among = big, f" among candidates with at least {n_needed} {con.trials_name}"
    if len(cand):
        sign = 1 if con.op == ">=" else -1
        j = cand[np.nanargmax(sign * point[cand])]
        parts.append(
            f"best {con.metric} {float(point[j]):.4g} at threshold {float(thresholds[j]):.6g}"
            f" (point estimate{among})"
        )
    else:
        parts.append("no candidate threshold")
    return "; ".join(parts) + "; never flagging"


def select_threshold(
    objective: Objective,
    thresholds: np.ndarray,
    tp: np.ndarray,
    fp: np.ndarray,
    n_pos: int,
    n_neg: int,
    *,
    confidence: float | None = None,
    method: str = "fixed_sequence",
    present: np.ndarray | None = None,
) -> Selection:
    """Choose a threshold for ``objective`` from counts at candidate thresholds.

    Parameters
    ----------
    objective : Objective
    thresholds : ndarray, shape (m,)
        Candidate thresholds, descending.
    tp, fp : ndarray of int, shape (m,)
        Counts flagged at each candidate.
    n_pos, n_neg : int
        Positives and negatives in the data.
    confidence : float, optional
        For constrained objectives: certify the constraint at this level with Learn then
        Test (family-wise error ``1 - confidence`` over all candidates; see the module
        docstring). ``None``: the point estimate must meet the target.
    method : {"fixed_sequence", "holm"}, default "fixed_sequence"
        The multiple-testing procedure used with ``confidence``.
    present : ndarray of bool, shape (m,), optional
        Which candidates are allowed (default all).

    Returns
    -------
    Selection
        Among equally good candidates the highest threshold wins. For ``cost`` "never
        flag" is a candidate too (above every score); it wins ties.

    Raises
    ------
    InputError
        ``method`` is unknown, or a callable objective returns the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> import modkit
    >>> from modkit.thresholds import binary_curve, select_threshold
    >>> curve = binary_curve(np.array([0.9, 0.6, 0.8, 0.1]), np.array([1, 0, 1, 0]))
    >>> chosen = select_threshold(
    ...     modkit.parse_objective("recall>=0.5"), curve.thresholds, curve.tp, curve.fp, 2, 2
    ... )
    >>> chosen.threshold, chosen.status
    (0.9, 'ok')
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}, got {method!r}")
    allowed = np.ones(len(thresholds), dtype=bool) if present is None else present
    counts = Counts(np.asarray(tp), np.asarray(fp), n_pos, n_neg)
    kind = objective.kind
    con = objective.constraint
    if kind == "fixed":
        return Selection(None, float(objective.target), "fixed")  # type: ignore[arg-type]
    if con is not None:
        return _constrained(objective, con, thresholds, counts, allowed, confidence, method)
    values = objective.score(counts)
    if kind == "cost":
        i = _first_max(values, allowed)
        never = -objective.fn_cost * n_pos
        if i is None or never >= values[i]:
            return Selection(None, None, "ok", "flagging nothing has the lowest cost")
        return Selection(i, float(thresholds[i]), "ok")
    if kind == "fbeta":
        allowed = allowed & (counts.tp > 0)
    i = _first_max(values, allowed)
    if i is None:
        why = "no threshold flags a positive" if kind == "fbeta" else "no candidate has a value"
        return Selection(None, None, "infeasible", why)
    return Selection(i, float(thresholds[i]), "ok")


def choose_threshold(
    objective: Objective | None,
    n_pos: int,
    n_neg: int,
    min_positives: int,
    select: Callable[[Objective], Selection],
) -> tuple[float | None, str | None, str]:
    """One category's threshold for ``objective``: ``(threshold, status, note)``.

    No objective gives ``(None, None, "")``; a fixed objective its target with status
    ``"fixed"``; fewer than ``min_positives`` positives or no negative gives
    ``(None, "insufficient_data", why)``; anything else is ``select(objective)``'s
    choice (:func:`select_threshold` on the caller's counts).
    """
    if objective is None:
        return None, None, ""
    if objective.kind == "fixed":
        return float(cast(float, objective.target)), "fixed", ""
    if n_pos < min_positives or n_neg == 0:
        why = (
            f"{n_pos} positives and {n_neg} negatives labelled; fitting needs at least "
            f"{min_positives} positives and 1 negative"
        )
        return None, "insufficient_data", why
    sel = select(objective)
    return sel.threshold, sel.status, sel.note
