"""Estimates and p-values for ratios of counts under a stratified sampling design.

The statistics behind :mod:`modkit.audit` and ``fit_thresholds(..., design=...)``: a
labelled sample drawn with known inclusion probabilities from strata of the traffic
(stratified simple random sampling without replacement, Cochran 1977, ch. 5-6).

A ratio ``R = sum(a) / sum(b)`` over the population (precision: ``a`` = flagged and
positive, ``b`` = flagged) is estimated by the Horvitz-Thompson ratio of weighted sums
(weights ``1 / inclusion_probability``, rescaled within a stratum for rows left
unlabelled). Its variance is the linearisation (Taylor) variance of a stratified ratio
estimator with the finite-population correction. The interval is Korn & Graubard's
(Survey Methodology 24(2), 1998): a Clopper-Pearson interval at the design's effective
sample size ``R (1 - R) / var`` (degrees-of-freedom adjusted), which keeps the
exact interval's shape near 0 and 1, where normal intervals under-cover. When the
sample shows no variation (``R`` is 0 or 1) the effective size is Kish's
``(sum w)^2 / sum w^2`` over the ratio's domain (Kish 1965).

A stratum whose few sampled rows all carry the same label has an estimated variance of
0, although the label is not certain there; given the rows' prior probabilities (the
scores), each stratum's variance is at least the one its labels would have at the rate
``(positives + mean prior) / (rows + 1)`` (one pseudo-row at the stratum's mean score),
so a sample that happens to look homogeneous in every stratum cannot make an interval
collapse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError

__all__ = ["Design", "RatioEstimate", "design_from_frame", "ratio_pvalue", "stratified_ratio"]


@dataclass(frozen=True)
class Design:
    """Rows of a labelled sample: their stratum and inclusion probability.

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Stratum of each row, ``0 .. H-1``.
    names : list of str, length H
        Stratum names.
    inclusion_probability : ndarray of float, shape (n,)
        Each row's chance of being in the sample, in (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._design import Design
    >>> d = Design(np.array([0, 0, 1]), ["low", "high"], np.array([0.1, 0.1, 1.0]))
    >>> d.population_sizes().tolist()
    [20.0, 1.0]
    """

    codes: np.ndarray
    names: list[str]
    inclusion_probability: np.ndarray

    def population_sizes(self) -> np.ndarray:
        """Estimated rows of the population per stratum (exact for stratified SRS).

        Returns
        -------
        ndarray of float, shape (H,)
            ``sum(1 / inclusion_probability)`` over each stratum's sampled rows.
        """
        return np.bincount(
            self.codes, weights=1.0 / self.inclusion_probability, minlength=len(self.names)
        )


def design_from_frame(frame: pd.DataFrame, *, source: str = "sample") -> Design:
    """The design of a sample frame: its ``stratum`` and ``inclusion_probability`` columns.

    Parameters
    ----------
    frame : DataFrame, shape (n, ...)
        A sample as :func:`modkit.audit.draw` returns (``stratum`` optional: one
        stratum when absent).
    source : str
        Names the frame in error messages (a file name).

    Returns
    -------
    Design

    Raises
    ------
    InputError
        No ``inclusion_probability`` column, or a value that is not a number in (0, 1]
        (naming the row and column).
    """
    if "inclusion_probability" not in frame.columns:
        raise InputError(
            f"{source}: no 'inclusion_probability' column (draw the sample with "
            "modkit.audit.draw / 'modkit audit draw', which writes it)"
        )
    pi = pd.to_numeric(frame["inclusion_probability"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(pi) & (pi > 0) & (pi <= 1))
    if bad.any():
        i = int(bad.argmax())
        value = frame["inclusion_probability"].iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise InputError(
            f"{source} {_rows(source)(i)} column 'inclusion_probability': "
            f"{value!r} is not a number in (0, 1]"
        )
    if "stratum" in frame.columns:
        strata = frame["stratum"].astype(object)
        blank = strata.isna().to_numpy() | (strata.astype(str).str.strip() == "").to_numpy()
        if blank.any():
            i = int(blank.argmax())
            raise InputError(f"{source} {_rows(source)(i)} column 'stratum': empty")
        codes, uniques = pd.factorize(strata.astype(str), sort=True)
        names = [str(u) for u in uniques]
    else:
        codes, names = np.zeros(len(frame), dtype=np.int64), ["all"]
    return Design(np.asarray(codes, dtype=np.int64), names, pi)


def _rows(source: str) -> Any:
    csv = source.lower().endswith(".csv")
    return lambda i: f"row {i + 1} (line {i + 2})" if csv else f"row {i + 1}"


@dataclass(frozen=True)
class RatioEstimate:
    """Point estimates and intervals of ratios (one per column of the inputs).

    Parameters
    ----------
    estimate, lower, upper, variance, n_effective : ndarray of float, shape (k,)
        The ratio, its interval, the linearisation variance and the effective sample
        size of the interval (NaN where the ratio's denominator is 0 in the sample).
    n_domain : ndarray of int, shape (k,)
        Labelled rows in the ratio's denominator (``b == 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._design import Design, stratified_ratio
    >>> d = Design(np.zeros(4, dtype=int), ["all"], np.full(4, 0.5))
    >>> r = stratified_ratio(np.array([1.0, 1, 0, 0]), np.ones(4), d, level=0.9)
    >>> float(r.estimate[0]), bool(r.lower[0] < 0.5 < r.upper[0])
    (0.5, True)
    """

    estimate: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    variance: np.ndarray
    n_effective: np.ndarray
    n_domain: np.ndarray


def _onehot(codes: np.ndarray, h: int) -> np.ndarray:
    m = np.zeros((h, len(codes)))
    m[codes, np.arange(len(codes))] = 1.0
    return m


def stratified_ratio(
    a: np.ndarray,
    b: np.ndarray,
    design: Design,
    *,
    level: float = 0.9,
    labelled: np.ndarray | None = None,
    floor: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> RatioEstimate:
    """Design-weighted ratio ``sum(a) / sum(b)`` with a Korn-Graubard interval.

    Parameters
    ----------
    a, b : ndarray of float, shape (n,) or (n, k)
        0/1 indicators per sampled row (``a`` implies ``b``), one column per ratio.
    design : Design
        The rows' strata and inclusion probabilities.
    level : float, default 0.9
        Two-sided confidence level of the interval.
    labelled : ndarray of bool, shape (n,), optional
        Rows whose label is known (default all). Within a stratum the labelled rows
        stand for the whole stratum (their weights are scaled by sampled / labelled):
        labels missing at random within a stratum.
    floor : (y, prior, da, db), optional
        The variance floor (see the module notes): per row the 0/1 label ``y`` (any
        value on unlabelled rows), the prior probability of a positive label, and how
        ``a`` and ``b`` change when the label goes from 0 to 1 (arrays shaped as ``a``).

    Returns
    -------
    RatioEstimate
        Arrays of shape (k,) (k = 1 for 1-D inputs).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._design import Design, stratified_ratio
    >>> d = Design(np.array([0, 0, 1, 1]), ["a", "b"], np.array([0.5, 0.5, 1.0, 1.0]))
    >>> r = stratified_ratio(np.array([1.0, 0, 1, 1]), np.ones(4), d)
    >>> round(float(r.estimate[0]), 3)  # (2 * 1 + 2) / (4 + 2)
    0.667
    """

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    one_d = a.ndim == 1
    if one_d:
        a, b = a[:, None], b[:, None]
    n_rows, h = len(design.codes), len(design.names)
    keep = np.ones(n_rows, dtype=bool) if labelled is None else np.asarray(labelled, dtype=bool)
    codes = design.codes[keep]
    a, b = a[keep], b[keep]
    n_all = np.bincount(design.codes, minlength=h).astype(float)
    n_h = np.bincount(codes, minlength=h).astype(float)
    big_n = design.population_sizes()
    # Rows left unlabelled in a stratum: the labelled ones stand for it.
    scale = np.divide(n_all, n_h, out=np.zeros(h), where=n_h > 0)
    w = (1.0 / design.inclusion_probability[keep]) * scale[codes]
    m = _onehot(codes, h)
    wa, wb = w[:, None] * a, w[:, None] * b
    big_a, big_b = wa.sum(axis=0), wb.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(big_b > 0, big_a / np.where(big_b > 0, big_b, 1.0), np.nan)
    r0 = np.nan_to_num(r)
    u = wa - r0[None, :] * wb  # w * (a - R b)
    su, su2 = m @ u, m @ (u * u)
    nh = n_h[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        # with-replacement variance of the stratum total, times the fpc
        var_h = np.where(
            nh >= 2, nh / np.maximum(nh - 1, 1) * (su2 - su * su / np.maximum(nh, 1)), 0
        )
        fpc = np.clip(1 - n_h / np.where(big_n > 0, big_n, 1.0), 0, 1)[:, None]
        # one labelled row: no spread to measure; bound it (a - R b in [-1, 1] spans at
        # most 1 for 0/1 indicators, so its variance is at most 1/4)
        lone = (nh == 1) & (fpc > 0)
        var_h = np.where(lone, (big_n[:, None] ** 2) * 0.25, var_h)
        if floor is not None:
            var_h = np.maximum(var_h, _floor(floor, keep, one_d, codes, h, n_h, w, r0, m))
        var = (fpc * np.maximum(var_h, 0)).sum(axis=0) / np.where(big_b > 0, big_b, np.nan) ** 2
    lower, upper, n_eff, n_dom = _korn_graubard(r0, var, w, b, n_h, int(keep.sum()), level)
    undefined = ~(big_b > 0) | ~np.isfinite(n_eff)
    lower = np.where(undefined, np.nan, np.minimum(lower, r0))
    upper = np.where(undefined, np.nan, np.maximum(upper, r0))
    return RatioEstimate(r, lower, upper, var, np.where(undefined, np.nan, n_eff), n_dom)


def _korn_graubard(
    r0: np.ndarray,
    var: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    n_h: np.ndarray,
    n_labelled: int,
    level: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Korn & Graubard's (1998) Clopper-Pearson interval at the effective sample size
    (with their degrees-of-freedom adjustment): ``(lower, upper, n_eff, n_dom)``."""
    from scipy.stats import beta, t

    n_dom = (b > 0).sum(axis=0)
    # Kish's effective size over the domain, for a sample without variation
    wd = w[:, None] * (b > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kish = wd.sum(axis=0) ** 2 / (wd * wd).sum(axis=0)
        n_eff = np.where((var > 0) & (r0 > 0) & (r0 < 1), r0 * (1 - r0) / var, kish)
    alpha = 1 - level
    strata_used = int((n_h > 0).sum())
    df = max(n_labelled - strata_used, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        adj = (t.ppf(1 - alpha / 2, np.maximum(n_dom - 1, 1)) / t.ppf(1 - alpha / 2, df)) ** 2
    n_eff = np.where(np.isfinite(n_eff), np.minimum(n_eff * adj, 1e12), np.nan)
    x = r0 * n_eff
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x > 0, beta.ppf(alpha / 2, np.maximum(x, 1e-12), n_eff - x + 1), 0.0)
        upper = np.where(
            n_eff - x > 0, beta.ppf(1 - alpha / 2, x + 1, np.maximum(n_eff - x, 1e-12)), 1.0
        )
    return lower, upper, n_eff, n_dom


def _floor(
    floor: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    keep: np.ndarray,
    one_d: bool,
    codes: np.ndarray,
    h: int,
    n_h: np.ndarray,
    w: np.ndarray,
    r0: np.ndarray,
    m: np.ndarray,
) -> np.ndarray:
    """Per stratum (H, k): the with-replacement variance of the stratum total of
    ``w (a - R b)`` if its labels were Bernoulli at the smoothed rate."""
    y, prior, da, db = (np.asarray(x, dtype=float) for x in floor)
    da, db = (x[:, None] if one_d else x for x in (da, db))
    y, prior, da, db = y[keep], prior[keep], da[keep], db[keep]
    x_h = np.bincount(codes, weights=np.nan_to_num(y), minlength=h)
    pbar = np.bincount(codes, weights=prior, minlength=h) / np.maximum(n_h, 1)
    rate = (x_h + pbar) / (n_h + 1)
    de = w[:, None] * (da - r0[None, :] * db)  # change of w e when the label flips
    return (rate * (1 - rate))[:, None] * (m @ (de * de))


def ratio_pvalue(est: RatioEstimate, target: float, op: str) -> np.ndarray:
    """One-sided p-values of ``H0: ratio misses target`` from :func:`stratified_ratio`.

    The dual of the Korn-Graubard interval's one-sided bound: for ``op=">="`` the
    p-value is at most ``alpha`` exactly when the lower ``1 - alpha`` Clopper-Pearson
    bound at the effective sample size is at least ``target``.

    Parameters
    ----------
    est : RatioEstimate
        From :func:`stratified_ratio` (its ``level`` does not matter).
    target : float
        The goal, e.g. 0.9 for ``precision>=0.9``.
    op : {">=", "<="}
        Whether the ratio must be at least or at most ``target``.

    Returns
    -------
    ndarray of float, shape (k,)
        p-values in [0, 1] (1 where the ratio is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._design import Design, ratio_pvalue, stratified_ratio
    >>> d = Design(np.zeros(50, dtype=int), ["all"], np.full(50, 0.01))
    >>> r = stratified_ratio(np.r_[np.ones(49), 0.0], np.ones(50), d)
    >>> bool(ratio_pvalue(r, 0.8, ">=")[0] < 0.01), bool(ratio_pvalue(r, 0.99, ">=")[0] > 0.1)
    (True, True)
    """
    from scipy.stats import beta

    n = np.nan_to_num(est.n_effective)
    r = np.nan_to_num(est.estimate)
    x = r * n
    if op == ">=":
        # rejected (p <= alpha) exactly when the lower Clopper-Pearson bound >= target
        p = np.where(x > 0, beta.cdf(target, np.maximum(x, 1e-12), n - x + 1), 1.0)
    else:
        p = np.where(n - x > 0, beta.sf(target, x + 1, np.maximum(n - x, 1e-12)), 1.0)
    p = np.where(np.isfinite(est.estimate) & (n > 0), p, 1.0)
    return np.clip(p, 0.0, 1.0)


def design_for(design: pd.DataFrame, index: pd.Index) -> tuple[Design, np.ndarray]:
    """A sample's design on a scores frame's rows.

    Parameters
    ----------
    design : DataFrame
        The sample: ``inclusion_probability`` and ``stratum`` columns, on ``index``'s
        labels (a subset of them).
    index : Index
        The scores frame's index.

    Returns
    -------
    design : Design
        Over the rows of ``index`` that are in ``design``, in ``index``'s order.
    mask : ndarray of bool, shape (len(index),)
        Which rows of ``index`` those are.

    Raises
    ------
    InputError
        ``design``'s index has labels that are not in ``index``, or a bad column.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.thresholds._design import design_for
    >>> d = pd.DataFrame({"inclusion_probability": [0.5], "stratum": ["a"]}, index=[2])
    >>> design_for(d, pd.Index([1, 2]))[1].tolist()
    [False, True]
    """
    extra = design.index.difference(index)
    if len(extra):
        raise InputError(
            f"design: {len(extra)} rows are not in scores (first index {extra[0]!r}); "
            "the design must share the scores' index"
        )
    mask = index.isin(design.index)
    return design_from_frame(design.reindex(index[mask]), source="design"), np.asarray(mask)


def refuse_band_labels(scores: np.ndarray, labels: np.ndarray, cats: list[str]) -> None:
    """Refuse to certify from labels confined to one score band of the scored rows.

    Labels from the review queue (scores in ``[review, block)``) are not a sample of
    the traffic: precision, recall and FPR above and below that band are unobserved.
    Under random labelling the share of scored rows outside the labelled rows' score
    range is about ``2 / (labelled + 1)``; above ``max(5%, 20 / labelled)`` the labels
    were selected by score.

    Parameters
    ----------
    scores, labels : ndarray of float, shape (n, len(cats))
        Scores and 1/0/NaN labels.
    cats : list of str
        The categories of the columns.

    Raises
    ------
    InputError
        Naming the category, the labelled score range and the share outside it, and
        what to do (an audit sample and ``design=``, or fit on the labelled rows alone
        to certify for that score range only).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._design import refuse_band_labels
    >>> s = np.linspace(0, 1, 101)[:, None]
    >>> refuse_band_labels(s, np.where(np.arange(101) % 2, 1.0, 0.0)[:, None], ["hate"])
    """
    for j, c in enumerate(cats):
        s, y = scores[:, j], labels[:, j]
        scored = ~np.isnan(s)
        lab = scored & ~np.isnan(y)
        rest = scored & np.isnan(y)
        n_lab = int(lab.sum())
        if n_lab == 0 or not rest.any():
            continue
        lo, hi = float(s[lab].min()), float(s[lab].max())
        outside = float(((s[rest] < lo) | (s[rest] > hi)).sum() / scored.sum())
        if outside > max(0.05, 20 / n_lab):
            raise InputError(
                f"{c}: the {n_lab} labelled rows' scores lie in [{lo:.4g}, {hi:.4g}] while "
                f"{outside:.0%} of the scored rows lie outside it: labels from one score band "
                "(the review queue's, say) are not a sample of the traffic, and a "
                f"certificate from them holds only for rows scored in [{lo:.4g}, {hi:.4g}]. "
                "Draw an audit sample (modkit.audit.draw) and pass design=, or fit on the "
                "labelled rows alone to certify for that score range only"
            )


def certify_by_design(
    ct: Any,
    scores: np.ndarray,
    labels: np.ndarray,
    design: tuple[Design, np.ndarray],
    objective: Any,
    review: Any,
    *,
    confidence: float | None,
    method: str,
) -> Any:
    """Re-choose a fitted category's thresholds with design-based Learn then Test.

    Each candidate (the labelled rows' distinct scores, at most 400 quantiles) is tested
    with :func:`ratio_pvalue` on :func:`stratified_ratio` (H0: the constraint fails on
    the traffic) at ``delta = 1 - confidence``, by the fixed sequence (from the
    highest threshold down for precision and FPR, from the lowest up for recall and
    NPV, starting where a candidate has enough labelled rows to pass at all) or Holm's
    step-down (Angelopoulos et al., Ann. Appl. Stat. 2025, Learn then Test).

    Parameters
    ----------
    ct : CategoryThreshold
        The unweighted fit (kept for ``insufficient_data`` and fixed objectives).
    scores, labels : ndarray of float, shape (n,)
        The category's scores and 1/0/NaN labels on the scores frame's rows.
    design : (Design, mask)
        From :func:`design_for`.
    objective, review : Objective or None
        The block and review objectives.
    confidence : float
        The certificate's level.
    method : {"fixed_sequence", "holm"}
        The multiple-testing procedure.

    Returns
    -------
    CategoryThreshold

    Raises
    ------
    InputError
        No ``confidence``, an objective that is neither constrained nor fixed, or
        labelled rows outside the design.

    Examples
    --------
    >>> from modkit.thresholds._design import certify_by_design  # see fit_thresholds
    """
    from dataclasses import replace

    if confidence is None:
        raise InputError("design: certifying for the traffic needs confidence (e.g. 0.9)")
    d, mask = design
    lab = ~np.isnan(labels) & ~np.isnan(scores)
    if (lab & ~mask).any():
        raise InputError(
            f"design: {int((lab & ~mask).sum())} labelled rows are not in the design frame"
        )
    s, y = scores[mask], labels[mask]
    known = ~np.isnan(y) & ~np.isnan(s)
    delta = 1 - float(confidence)
    if ct.status == "insufficient_data":
        return ct
    out, status, notes = _certify_each(objective, review, s, y, known, d, delta, method)
    block = out.get("block", ct.block)
    review_t = out.get("review", ct.review)
    clamped = block is not None and review_t is not None and review_t > block
    if clamped:
        review_t = block
    notes.append(
        "certified for the traffic from an audit sample (design-based Learn then Test, "
        "Korn-Graubard p-values)"
    )
    return replace(
        ct,
        block=block,
        review=review_t,
        status=status.get("block", ct.status),
        review_status=status.get("review", ct.review_status),
        review_clamped=bool(clamped),
        confidence=float(confidence),
        method=method,
        delta=round(delta, 12),
        note="; ".join([n for n in (ct.note, *notes) if n]),
        in_sample=None,
        baselines=None,
        bands=None,
    )


def _certify_each(
    objective: Any,
    review: Any,
    s: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    d: Design,
    delta: float,
    method: str,
) -> tuple[dict[str, float | None], dict[str, str], list[str]]:
    """Per constrained objective (``block``, ``review``): its certified threshold, its
    status and a note when none is certified; fixed objectives keep the fit's."""
    out: dict[str, float | None] = {}
    status: dict[str, str] = {}
    notes = []
    for name, obj in (("block", objective), ("review", review)):
        if obj is None or obj.kind == "fixed":
            continue
        if not obj.constrained:
            raise InputError(
                f"design: {name} objective {obj} is not a constraint; with design= use "
                "precision>=, recall>=, fpr<= or npv>= (or fixed:T)"
            )
        t = _ltt_design(obj, s, y, known, d, delta, method)
        out[name] = t
        status[name] = "ok" if t is not None else "infeasible"
        if t is None:
            notes.append(f"{name}: no candidate certified for the traffic")
    return out, status, notes


def _passing(p: np.ndarray, order: np.ndarray, delta: float, method: str) -> list[int]:
    """The candidates (indices) that pass at ``delta``: Holm's step-down over ``order``,
    or the fixed sequence walking ``order`` until the first failure."""
    passed: list[int] = []
    if method == "holm":
        ps = p[order]
        rank = np.argsort(ps, kind="stable")
        m = len(ps)
        for i, k in enumerate(rank):
            if ps[k] > delta / (m - i):
                break
            passed.append(int(order[k]))
        return passed
    for k in order:
        if p[k] > delta:
            break
        passed.append(int(k))
    return passed


def _ltt_design(
    obj: Any,
    s: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    d: Design,
    delta: float,
    method: str,
) -> float | None:
    from ._metrics import min_trials

    con = obj.constraint
    metric, op, target = con.metric, con.op, float(obj.target)
    cand = np.unique(s[known])
    if len(cand) > 400:
        cand = np.unique(np.quantile(s[known], np.linspace(0, 1, 400), method="inverted_cdf"))
    flag = np.nan_to_num(s, nan=-np.inf)[:, None] >= cand[None, :]
    pos = (y == 1)[:, None]
    neg = (y == 0)[:, None]
    ones = np.ones_like(flag)
    fl = flag.astype(float)
    if metric == "precision":
        a, b, da, db = flag & pos, flag, fl, 0 * fl
    elif metric == "recall":
        a, b, da, db = flag & pos, ones & pos, fl, 1 + 0 * fl
    elif metric == "fpr":
        a, b, da, db = flag & neg, ones & neg, -fl, -1 + 0 * fl
    else:  # npv
        a, b, da, db = ~flag & neg, ~flag, fl - 1, 0 * fl
    prior = np.clip(np.nan_to_num(s), 0, 1)
    est = stratified_ratio(
        a.astype(float),
        b.astype(float),
        d,
        labelled=known,
        floor=(np.nan_to_num(y), prior, da, db),
    )
    p = ratio_pvalue(est, target, op)
    descending = metric in ("precision", "fpr")
    order = np.arange(len(cand))[::-1] if descending else np.arange(len(cand))
    need = min_trials(target, delta) if metric in ("precision", "npv") else None
    trials = (b & known[:, None]).sum(axis=0)
    can = np.ones(len(cand), dtype=bool) if need is None else trials >= need
    order = order[can[order]]
    passed = _passing(p, order, delta, method)
    if not passed:
        return None
    chosen = cand[passed]
    return float(chosen.min() if descending else chosen.max())
