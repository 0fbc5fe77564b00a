"""The one implementation of the decision rule.

A category fires when ``score >= threshold`` (scikit-learn's convention); ``None`` (or
``inf``) never fires and a missing score (NaN) fires nothing. With a ``block`` and a
``review`` threshold a category is ``block`` at or above ``block`` and ``review`` at or
above ``review`` but below ``block``. :meth:`ThresholdSet.decide`,
:meth:`ThresholdSet.apply`, the bands of :func:`modkit.fit_thresholds`, the flag
rates of cross-tabs, provider comparisons and migrations all call these functions.
(What decides a category with no threshold at all, the threshold file's ``unthresholded``
policy, is applied on top of these by :class:`~modkit.thresholds.ThresholdSet`.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

__all__ = ["actions", "as_limits", "bands", "flag_values", "flags"]


def as_limits(values: Iterable[float | None]) -> np.ndarray:
    """Thresholds as a float array, ``None`` -> ``inf`` (never fires)."""
    return np.array([math.inf if v is None else float(v) for v in values], dtype=float)


def flags(scores: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """``score >= threshold`` elementwise, False where the score is NaN.

    Parameters
    ----------
    scores : ndarray of float, shape (n,) or (n, k)
    threshold : float or ndarray of shape (k,)
        Broadcast against ``scores``; ``inf`` never fires.
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(scores, dtype=float) >= threshold


def flag_values(scores: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """``score >= threshold`` as 1.0 / 0.0, and NaN where the score is NaN (unknown).

    Parameters
    ----------
    scores : ndarray of float, shape (n,) or (n, k)
    threshold : float or ndarray of shape (k,)
        Broadcast against ``scores``; ``inf`` never fires.

    Returns
    -------
    ndarray of float, the shape of ``scores``
    """
    s = np.asarray(scores, dtype=float)
    return np.where(np.isnan(s), np.nan, flags(s, threshold).astype(float))


def bands(
    scores: np.ndarray, block: np.ndarray, review: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (row, category): in the block band, in the review band, scored at all.

    Parameters
    ----------
    scores : ndarray of float, shape (n, k)
        NaN = not scored.
    block, review : ndarray of float, shape (k,)
        ``inf`` for "never".

    Returns
    -------
    is_block, is_review, scored : ndarray of bool, shape (n, k)
        ``is_review`` excludes ``is_block``.
    """
    is_block = flags(scores, block)
    is_review = flags(scores, review) & ~is_block
    return is_block, is_review, ~np.isnan(scores)


def actions(is_block: np.ndarray, is_review: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """The item's action per row from per-category bands: block > review > allow.

    ``unscored`` when no category of the row has a score.
    """
    action = np.where(
        is_block.any(axis=1), "block", np.where(is_review.any(axis=1), "review", "allow")
    )
    return np.where(scored.any(axis=1), action, "unscored").astype(object)
