"""Cells of neighbouring scores for the refit bootstrap on many rows.

The Poisson bootstrap gives each row a Poisson(1) weight (Hanley & MacGibbon, Comput.
Methods Programs Biomed. 2006; Chamandy et al., Google 2012). What a resample's threshold
choice and its out-of-bag check read of a group of ``m`` rows that lie between two
candidate thresholds is two numbers: the group's in-bag weight ``W`` (the sum of its
weights) and its out-of-bag count ``Z`` (rows of weight 0). Their joint law is known:
``Z ~ Binomial(m, exp(-1))`` and, given ``Z = z``, ``W`` is the sum of ``m - z``
independent zero-truncated Poisson(1) variables. :func:`poisson_cell_weights` draws
``(W, Z)`` per cell from that law: exactly (inverse CDF of the convolution) up to
:data:`EXACT_ROWS` in-bag rows, and by the normal approximation with the exact mean and
variance above (central limit theorem; it only enters through sums over many cells).

:func:`cell_ends` chooses the cells: every distinct score when there are at most
:data:`MAX_CELLS`, else fine cells (an eighth of a standard deviation of each class's
count) in a window of six standard deviations around the exported threshold, where the
resamples' choices fall, and quantile cells of each class elsewhere.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = [
    "CELL_SD",
    "EXACT_ROWS",
    "MAX_CELLS",
    "QUANTILE_CELLS",
    "WINDOW_SD",
    "cell_ends",
    "poisson_cell_weights",
    "ztp_sum_cdf",
]

#: In-bag rows up to which a cell's in-bag weight is drawn exactly.
EXACT_ROWS = 32
#: Distinct scores up to which every distinct score is its own cell.
MAX_CELLS = 512
#: Quantile cells per class outside the window.
QUANTILE_CELLS = 128
#: Half-width of the fine window, in standard deviations of each class's count.
WINDOW_SD = 6.0
#: Size of a fine cell, in standard deviations of each class's count.
CELL_SD = 0.125

_E1 = math.exp(-1.0)
_ZTP_MEAN = 1.0 / (1.0 - _E1)  # mean of a zero-truncated Poisson(1)
_ZTP_VAR = _ZTP_MEAN * (2.0 - _ZTP_MEAN)  # its variance: mean * (1 + lambda - mean)


@functools.cache
def ztp_sum_cdf(k_max: int = EXACT_ROWS) -> np.ndarray:
    """CDF of the sum of ``k`` zero-truncated Poisson(1) variables, ``k = 0 .. k_max``.

    Parameters
    ----------
    k_max : int, default :data:`EXACT_ROWS`
        The largest number of terms.

    Returns
    -------
    ndarray of float64, shape (k_max + 1, 4 * k_max + 41)
        Row ``k``: ``P(sum <= s)`` for ``s = 0, 1, ...`` (exact convolution of the pmf
        ``exp(-1) / (1 - exp(-1)) / j!``, ``j >= 1``; the mass beyond the last column
        is below 1e-15).

    Examples
    --------
    >>> from modkit.thresholds._cells import ztp_sum_cdf
    >>> cdf = ztp_sum_cdf(2)
    >>> float(cdf[0, 0]), round(float(cdf[1, 1]), 4), float(cdf[2, 1])
    (1.0, 0.582, 0.0)
    """
    width = 4 * k_max + 41
    j = np.arange(width)
    one = np.zeros(width)
    one[1:] = _E1 / (1 - _E1) / np.array([math.factorial(int(i)) for i in j[1:]], dtype=float)
    pmf = np.zeros((k_max + 1, width))
    pmf[0, 0] = 1.0
    for k in range(1, k_max + 1):
        pmf[k] = np.convolve(pmf[k - 1], one)[:width]
    return np.cumsum(pmf, axis=1)


def _ztp_sums(k: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of the sum of ``k`` zero-truncated Poisson(1) variables per entry."""
    out = np.empty(k.shape, dtype=np.int64)
    small = k <= EXACT_ROWS
    cdf = ztp_sum_cdf(EXACT_ROWS)
    width = cdf.shape[1]
    # Row k of the table shifted by k: one increasing array, one search for all entries.
    flat = (cdf + np.arange(EXACT_ROWS + 1)[:, None]).ravel()
    ks = k[small]
    at = np.searchsorted(flat, ks + rng.random(ks.shape), side="right")
    out[small] = np.minimum(at - ks * width, width - 1)
    kb = k[~small].astype(np.float64)
    z = rng.standard_normal(kb.shape)
    big = np.rint(kb * _ZTP_MEAN + np.sqrt(kb * _ZTP_VAR) * z)
    out[~small] = np.maximum(big, kb).astype(np.int64)  # each in-bag row weighs >= 1
    return out


def poisson_cell_weights(
    m: np.ndarray, resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample and cell, the in-bag weight and the out-of-bag count of ``m`` rows.

    Parameters
    ----------
    m : ndarray of int, shape (n_cells,)
        Rows per cell.
    resamples : int
        Resamples to draw.
    rng : numpy.random.Generator

    Returns
    -------
    w, z : ndarray of int64, shape (resamples, n_cells)
        ``z ~ Binomial(m, exp(-1))`` (rows with Poisson(1) weight 0) and ``w`` the sum
        of the other ``m - z`` rows' weights: the sum of ``m - z`` zero-truncated
        Poisson(1) variables, exact up to :data:`EXACT_ROWS` of them, normal (exact mean
        and variance, rounded, at least ``m - z``) above. Unconditionally ``w`` is
        Poisson(m), as the sum of the rows' weights is.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._cells import poisson_cell_weights
    >>> w, z = poisson_cell_weights(np.array([0, 1, 500]), 4, np.random.default_rng(0))
    >>> w.shape, bool((w[:, 0] == 0).all()), bool(((w[:, 1] == 0) == (z[:, 1] == 1)).all())
    ((4, 3), True, True)
    """
    m = np.asarray(m, dtype=np.int64)
    z = rng.binomial(m, _E1, size=(resamples, len(m))).astype(np.int64)
    return _ztp_sums(m - z, rng), z


def _grid(cum: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The first candidate whose cumulative count reaches each target."""
    return np.searchsorted(cum, targets, side="left")


def cell_ends(
    thresholds: np.ndarray, tp: np.ndarray, fp: np.ndarray, center: float | None
) -> np.ndarray:
    """The candidates (indices into ``thresholds``) that end a cell.

    Parameters
    ----------
    thresholds : ndarray of float, shape (n_candidates,)
        Distinct scores, descending.
    tp, fp : ndarray of int, shape (n_candidates,)
        Cumulative positives / negatives at or above each.
    center : float or None
        The exported threshold: cells are fine around it (``None``: quantile cells only).

    Returns
    -------
    ndarray of int64, shape (n_cells,)
        Increasing indices, always including the last candidate and ``center``'s; all
        candidates when there are at most :data:`MAX_CELLS`. Otherwise, per class, the
        candidates where the cumulative count first reaches each of
        :data:`QUANTILE_CELLS` quantiles and, in a window of :data:`WINDOW_SD` standard
        deviations ``sqrt(c (N - c) / N) + 1`` around ``center``'s count ``c`` (of ``N``),
        each step of :data:`CELL_SD` of them (at least one row).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds._cells import cell_ends
    >>> cell_ends(np.array([0.9, 0.5, 0.1]), np.array([1, 2, 2]), np.array([0, 1, 3]), 0.5)
    array([0, 1, 2])
    """
    size = len(thresholds)
    if size <= MAX_CELLS:
        return np.arange(size, dtype=np.int64)
    parts = [np.array([size - 1])]
    at = None
    if center is not None:
        k = int(np.searchsorted(-thresholds, -center, side="right"))
        at = k - 1 if k else None
    for cum in (np.asarray(tp), np.asarray(fp)):
        total = int(cum[-1])
        if total == 0:
            continue
        parts.append(_grid(cum, np.linspace(0, total, QUANTILE_CELLS + 1)[1:]))
        if at is not None:
            c = int(cum[at])
            sd = math.sqrt(c * (total - c) / total) + 1.0
            step = max(1.0, CELL_SD * sd)
            lo, hi = max(0.0, c - WINDOW_SD * sd), min(float(total), c + WINDOW_SD * sd)
            parts.append(_grid(cum, np.arange(lo, hi + step, step)))
    if at is not None:
        parts.append(np.array([at]))
    ends = np.unique(np.concatenate(parts).astype(np.int64))
    return ends[ends < size]
