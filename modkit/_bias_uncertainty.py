"""Bootstrap intervals for bias metrics, and the Jigsaw benchmark's summary metric.

The resampling keeps every stratum's size: rows are grouped by the exact set of subgroups
they belong to (rows of no subgroup form the background stratum) and by their label, and
each resample draws that many rows with replacement within each stratum. So a small
subgroup is never resampled away, and it keeps its numbers of positives and negatives:
every AUC defined on the data is defined in every resample, and the power means of the
resamples run over the same subgroups as the estimate (the stratified bootstrap that
pROC uses for AUCs; Carpenter & Bithell 2000). AUCs on weighted rows use the
Mann-Whitney form (ties count one half), vectorised over resamples.

Intervals are bias-corrected percentile intervals (Efron 1981; Efron & Tibshirani 1993,
section 14.3): the power mean with ``p = -5`` follows the worst subgroup, so with small
subgroups its bootstrap distribution is skewed below the estimate and a plain percentile
interval can lie wholly below it. When even the corrected interval misses the estimate
(the resamples lie almost all on one side of it, as when a subgroup of three rows has an
AUC of 0 in most resamples), :func:`estimate_interval` reports the percentile interval
widened to reach the estimate and says so; :func:`modkit.bias_metrics` puts that in its
notes.

The summary is the final metric of the Kaggle "Jigsaw Unintended Bias in Toxicity
Classification" competition (2019), from Borkan, Dixon, Sorensen, Thain and Vasserman,
"Nuanced Metrics for Measuring Unintended Bias with Real Data for Text Classification"
(WWW '19 Companion): ``0.25 * overall AUC + 0.25 * (M_p(subgroup AUCs) + M_p(BPSN AUCs) +
M_p(BNSP AUCs))`` where ``M_p`` is the generalised power mean with ``p = -5``, which
weights the worst subgroups most.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "JIGSAW_P",
    "BiasBootstrap",
    "bias_corrected_interval",
    "delong_interval",
    "estimate_interval",
    "interval_excludes",
    "jigsaw_final_metric",
    "percentile_interval",
    "power_mean",
]

#: The power of the generalised mean in the Jigsaw competition's final metric.
JIGSAW_P = -5.0
_CHUNK = 4_000_000  # resamples x rows held in memory at once


def power_mean(values: Sequence[float] | np.ndarray, p: float = JIGSAW_P) -> float:
    """Generalised power mean ``(mean(v ** p)) ** (1 / p)`` of the finite values.

    NaN when no value is finite; 0 when ``p < 0`` and some value is 0.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan")
    if p < 0 and (v <= 0).any():
        return 0.0
    return float(np.mean(v**p) ** (1.0 / p))


def jigsaw_final_metric(
    overall_auc: float,
    subgroup_auc: Sequence[float] | np.ndarray,
    bpsn_auc: Sequence[float] | np.ndarray,
    bnsp_auc: Sequence[float] | np.ndarray,
    p: float = JIGSAW_P,
) -> float:
    """``0.25 * overall + 0.25 * sum of the power means of the three bias AUCs``."""
    means = [power_mean(a, p) for a in (subgroup_auc, bpsn_auc, bnsp_auc)]
    return float(0.25 * overall_auc + 0.25 * sum(means))


def _power_mean_rows(m: np.ndarray, p: float) -> np.ndarray:
    """Row-wise :func:`power_mean` of a (resamples, subgroups) matrix."""
    out = np.full(m.shape[0], np.nan)
    for i, row in enumerate(m):
        out[i] = power_mean(row, p)
    return out


class BiasBootstrap:
    """Per-resample bias metrics for one scored, labelled set of rows.

    Parameters
    ----------
    scores : ndarray of float, shape (n,)
    y : ndarray of bool, shape (n,)
        True for positives.
    memberships : ndarray of bool, shape (k, n)
        Row ``j`` belongs to subgroup ``i``.
    threshold : float
        Flag when score >= threshold (for FPR / FNR).
    resamples : int
    rng : numpy.random.Generator
    """

    def __init__(
        self,
        scores: np.ndarray,
        y: np.ndarray,
        memberships: np.ndarray,
        threshold: float,
        resamples: int,
        rng: np.random.Generator,
    ) -> None:
        order = np.argsort(scores, kind="stable")
        self.s = scores[order]
        self.y = y[order]
        self.m = memberships[:, order]
        self.pred = self.s >= threshold
        self.starts = np.r_[0, np.flatnonzero(self.s[1:] != self.s[:-1]) + 1]
        self.resamples = resamples
        self.rng = rng
        # stratum = (the set of subgroups a row belongs to, its label)
        keys = np.packbits(np.vstack([self.m, self.y[None, :]]), axis=0).T
        _, self.stratum = np.unique(keys, axis=0, return_inverse=True)
        self.stratum = self.stratum.ravel()

    def _weights(self, b: int) -> np.ndarray:
        n = len(self.s)
        w = np.zeros((b, n))
        for st in np.unique(self.stratum):
            idx = np.flatnonzero(self.stratum == st)
            w[:, idx] = self.rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=b)
        return w

    def _auc(self, w: np.ndarray, mask: np.ndarray) -> np.ndarray:
        wp = np.add.reduceat(w * (mask & self.y), self.starts, axis=1)
        wn = np.add.reduceat(w * (mask & ~self.y), self.starts, axis=1)
        below = np.cumsum(wn, axis=1) - wn
        num = (wp * (below + 0.5 * wn)).sum(axis=1)
        den = wp.sum(axis=1) * wn.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    def _rate(self, w: np.ndarray, mask: np.ndarray, hit: np.ndarray) -> np.ndarray:
        den = w @ mask.astype(float)
        num = w @ (mask & hit).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    def run(self) -> dict[str, np.ndarray]:
        """Arrays of shape (resamples, k) per metric, and (resamples,) for overall ones.

        Keys: ``subgroup_auc``, ``bpsn_auc``, ``bnsp_auc``, ``fpr_diff``, ``fnr_diff``
        (per subgroup) and ``auc``, ``final_metric`` (overall).
        """
        k, n = self.m.shape[0], len(self.s)
        out = {
            m: np.full((self.resamples, k), np.nan)
            for m in ("subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr_diff", "fnr_diff")
        }
        auc = np.full(self.resamples, np.nan)
        everyone = np.ones(n, dtype=bool)
        per = max(1, _CHUNK // max(n, 1))
        done = 0
        while done < self.resamples:
            b = min(per, self.resamples - done)
            w = self._weights(b)
            sl = slice(done, done + b)
            auc[sl] = self._auc(w, everyone)
            fpr_all = self._rate(w, ~self.y, self.pred)
            fnr_all = self._rate(w, self.y, ~self.pred)
            for i in range(k):
                g = self.m[i]
                out["subgroup_auc"][sl, i] = self._auc(w, g)
                out["bpsn_auc"][sl, i] = self._auc(w, (~g & self.y) | (g & ~self.y))
                out["bnsp_auc"][sl, i] = self._auc(w, (~g & ~self.y) | (g & self.y))
                out["fpr_diff"][sl, i] = np.abs(fpr_all - self._rate(w, g & ~self.y, self.pred))
                out["fnr_diff"][sl, i] = np.abs(fnr_all - self._rate(w, g & self.y, ~self.pred))
            done += b
        final = 0.25 * auc + 0.25 * sum(
            _power_mean_rows(out[m], JIGSAW_P) for m in ("subgroup_auc", "bpsn_auc", "bnsp_auc")
        )
        return {**out, "auc": auc, "final_metric": final}


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise percentile interval ignoring NaN (NaN where a column has no value)."""
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    lo = np.full(v.shape[1], np.nan)
    hi = np.full(v.shape[1], np.nan)
    for j in range(v.shape[1]):
        col = v[:, j][np.isfinite(v[:, j])]
        if len(col):
            lo[j], hi[j] = np.percentile(col, [50 * (1 - level), 50 * (1 + level)])
    return lo, hi


def bias_corrected_interval(
    values: np.ndarray, estimate: np.ndarray | float, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise bias-corrected (BC) percentile interval, ignoring NaN resamples.

    With ``z0 = Phi^-1(share of resamples below the estimate, ties counting one half)``
    the interval runs between the ``Phi(2 z0 -/+ z)`` quantiles of the resamples, where
    ``z = Phi^-1((1 + level) / 2)`` (Efron 1981; Efron & Tibshirani 1993, section 14.3).
    When the resamples are centred on the estimate (``z0 = 0``) it is the percentile
    interval; when they are skewed to one side it moves towards the estimate.

    Parameters
    ----------
    values : ndarray of shape (resamples,) or (resamples, k)
        The statistic per resample.
    estimate : float or ndarray of shape (k,)
        The statistic on the data.
    level : float in (0, 1)

    Returns
    -------
    lo, hi : ndarray of shape (k,)
        NaN where a column has no finite resample or its estimate is NaN.
    """
    from scipy.special import ndtr, ndtri

    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[:, None]
    est = np.broadcast_to(np.asarray(estimate, dtype=float), (v.shape[1],))
    lo = np.full(v.shape[1], np.nan)
    hi = np.full(v.shape[1], np.nan)
    z = float(ndtri((1 + level) / 2))
    for j in range(v.shape[1]):
        col = v[:, j][np.isfinite(v[:, j])]
        if not len(col) or not np.isfinite(est[j]):
            continue
        below = (np.sum(col < est[j]) + 0.5 * np.sum(col == est[j])) / len(col)
        edge = 0.5 / len(col)  # keep z0 finite when every resample lies on one side
        z0 = float(ndtri(np.clip(below, edge, 1 - edge)))
        q = ndtr([2 * z0 - z, 2 * z0 + z])
        lo[j], hi[j] = np.quantile(col, q)
    return lo, hi


def interval_excludes(estimate: float, lo: float, hi: float) -> bool:
    """True when a finite estimate lies outside its (finite) interval ``[lo, hi]``."""
    if not all(np.isfinite(x) for x in (estimate, lo, hi)):
        return False
    tol = 1e-12 * max(1.0, abs(estimate))
    return bool(estimate < lo - tol or estimate > hi + tol)


def estimate_interval(
    values: np.ndarray, estimate: np.ndarray | float, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An interval per column that always contains its finite estimate.

    The bias-corrected interval (:func:`bias_corrected_interval`); where that misses
    the estimate, the percentile interval (:func:`percentile_interval`) widened to reach
    the estimate.

    Parameters
    ----------
    values : ndarray of shape (resamples,) or (resamples, k)
    estimate : float or ndarray of shape (k,)
    level : float in (0, 1)

    Returns
    -------
    lo, hi : ndarray of shape (k,)
    widened : ndarray of bool, shape (k,)
        True where the interval was widened: the resamples are skewed to one side of
        the estimate and the interval says little more than "unstable".
    """
    v = np.asarray(values, dtype=float)
    k = 1 if v.ndim == 1 else v.shape[1]
    est = np.broadcast_to(np.asarray(estimate, dtype=float), (k,))
    lo, hi = bias_corrected_interval(v, est, level)
    widened = np.array([interval_excludes(*t) for t in zip(est, lo, hi, strict=True)], bool)
    if widened.any():
        p_lo, p_hi = percentile_interval(v, level)
        lo = np.where(widened, np.fmin(p_lo, est), lo)
        hi = np.where(widened, np.fmax(p_hi, est), hi)
    return lo, hi, widened


def delong_interval(pos: np.ndarray, neg: np.ndarray, level: float) -> tuple[float, float]:
    """Studentised interval for the AUC of ``pos`` against ``neg`` scores, on the logit scale.

    The AUC's standard error is DeLong's (DeLong, DeLong & Clarke-Pearson, Biometrics
    1988: from the placement values of each positive among the negatives and of each
    negative among the positives, ties counting one half); the interval is
    ``expit(logit(AUC) -/+ t * se / (AUC (1 - AUC)))``, the logit-transformed interval
    (Pepe 2003, section 5.2; Qin & Hotilovac, Stat. Methods Med. Res. 2008), with ``t``
    the Student quantile on ``min(m, n) - 1`` degrees of freedom (``m`` positives, ``n``
    negatives) rather than the normal one, a small-sample widening measured to cover in
    ``benchmarks/bench_coverage.py --part bias``. An AUC of 0 or 1 is moved half a pair
    inside (``0.5 / (m n)``) so that its logit is finite, and the interval then reaches
    the AUC itself.

    Parameters
    ----------
    pos, neg : ndarray of float, shape (m,) and (n,)
        Scores of the positives and of the negatives.
    level : float in (0, 1)

    Returns
    -------
    lo, hi : float
        NaN when either side is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit._bias_uncertainty import delong_interval
    >>> lo, hi = delong_interval(np.array([0.9, 0.8, 0.4]), np.array([0.1, 0.5, 0.3]), 0.95)
    >>> bool(0 < lo < 8 / 9 < hi < 1)
    True
    """
    from scipy.special import expit, logit
    from scipy.stats import t as student

    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    sn, sp = np.sort(neg), np.sort(pos)
    v10 = (np.searchsorted(sn, pos, "left") + np.searchsorted(sn, pos, "right")) / (2 * n)
    v01 = 1 - (np.searchsorted(sp, neg, "left") + np.searchsorted(sp, neg, "right")) / (2 * m)
    auc = float(v10.mean())
    var = (float(v10.var(ddof=1)) if m > 1 else 0.0) / m + (
        float(v01.var(ddof=1)) if n > 1 else 0.0
    ) / n
    edge = 0.5 / (m * n)
    a = min(max(auc, edge), 1 - edge)
    se = math.sqrt(var) if var > 0 else math.sqrt(a * (1 - a) / min(m, n))
    q = float(student.ppf((1 + level) / 2, max(min(m, n) - 1, 1)))
    half = q * se / (a * (1 - a))
    lo, hi = float(expit(logit(a) - half)), float(expit(logit(a) + half))
    return min(lo, auc), max(hi, auc)  # an AUC of 0 or 1 stays in its interval
