"""Per-shard sorted score counts, their exact merge, and thresholds chosen from them.

The threshold fit of :func:`modkit.fit_thresholds` depends on the labelled rows of a
category only through the confusion counts at each distinct score: for every distinct
score, how many positives and negatives have it. Those counts add up across shards, so
a fit on the merged counts picks exactly the thresholds a fit on all rows in one place
would. This module needs no Ray: :mod:`modkit.ray` maps :func:`score_counts` over a
Dataset's blocks and merges them on the driver.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._labels import LABEL_PREFIX, label_column, parse_labels
from .._native import PROVIDERS, provider_scale, result_keys
from .._taxonomy import CATEGORIES
from .._validation import LEVEL, Interval, KeysOf, SequenceOf, StrOptions, validate_params
from ..thresholds import CategoryThreshold, Objective, ThresholdSet
from ..thresholds._core import (
    band_shares,
    category_threshold,
    choice_warnings,
    choose,
    in_sample_at,
    per_category,
    warn_all,
)
from ..thresholds._labels import coerce_scores
from ..thresholds._metrics import METHODS
from ..thresholds._set import PROFILES

__all__ = [
    "ScoreCounts",
    "fit_from_counts",
    "merge_counts",
    "score_counts",
    "warn_label_prefix",
    "with_label_prefix",
]


@dataclass(frozen=True)
class ScoreCounts:
    """One category's counts per distinct score, scores descending.

    Attributes
    ----------
    scores : ndarray of float, shape (k,)
        The distinct scores of the scored rows, highest first.
    pos, neg, unlabelled : ndarray of int64, shape (k,)
        Rows with that score labelled 1, labelled 0, and not labelled.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.ray import ScoreCounts
    >>> counts = ScoreCounts.from_arrays(
    ...     np.array([0.9, 0.2, 0.9, np.nan]), np.array([1.0, 0.0, np.nan, 1.0])
    ... )
    >>> counts.scores.tolist(), counts.pos.tolist(), counts.unlabelled.tolist()
    ([0.9, 0.2], [1, 0], [1, 0])
    >>> counts.n_pos, counts.n_neg
    (1, 1)
    """

    scores: np.ndarray
    pos: np.ndarray
    neg: np.ndarray
    unlabelled: np.ndarray

    @classmethod
    def from_arrays(cls, scores: np.ndarray, labels: np.ndarray) -> ScoreCounts:
        """Count rows per distinct score.

        Parameters
        ----------
        scores : ndarray of float, shape (n,)
            One category's scores; NaN = not scored (the row is left out).
        labels : ndarray of float, shape (n,)
            0/1/NaN on the same rows; NaN = not labelled.

        Returns
        -------
        ScoreCounts
            With shape (k,) arrays, k the number of distinct scores.
        """
        scores = np.asarray(scores, dtype=float)
        labels = np.asarray(labels, dtype=float)
        keep = ~np.isnan(scores)
        s, y = scores[keep], labels[keep]
        uniq, inv = np.unique(-s, return_inverse=True)  # ascending -s: descending s
        k = len(uniq)
        pos = np.bincount(inv[y == 1], minlength=k).astype(np.int64)
        neg = np.bincount(inv[y == 0], minlength=k).astype(np.int64)
        unl = np.bincount(inv[np.isnan(y)], minlength=k).astype(np.int64)
        return cls(-uniq, pos, neg, unl)

    @property
    def n_pos(self) -> int:
        return int(self.pos.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg.sum())


@validate_params(
    {
        "frame": [pd.DataFrame],
        "label_prefix": [str],
        "categories": [None, SequenceOf(str)],
        "provider": [None, KeysOf(PROVIDERS)],
    }
)
def score_counts(
    frame: pd.DataFrame,
    *,
    label_prefix: str = "label_",
    categories: Iterable[str] | None = None,
    provider: str | None = None,
) -> dict[str, ScoreCounts]:
    """Counts per category of one shard: score columns and ``label_prefix + key`` labels.

    Parameters
    ----------
    frame : DataFrame
        Score columns named by category key (as :func:`modkit.moderate` returns) and
        label columns ``label_<key>`` holding labels as :func:`modkit.parse_labels` reads
        them (1/0, true/false, yes/no; blank = not labelled).
    label_prefix : str, default "label_"
        Deprecated (a FutureWarning; removed in modkit 0.3.0): label columns are named
        ``label_<key>``.
    categories : list of str, optional
        Which categories (default: every key that has both a score and a label column).
    provider : str, optional
        Count a provider's own categories on its native scale (a key of
        :data:`modkit.PROVIDERS`, e.g. ``"azure"``), as ``fit_thresholds(provider=...)``
        does; default: the API's category keys, scores in [0, 1].

    Returns
    -------
    dict of str to ScoreCounts

    Raises
    ------
    InputError
        If a label does not parse or a score is not a number on the scale (naming row
        and column), or a named category lacks a column.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.ray import score_counts
    >>> shard = pd.DataFrame({"violence": [0.9, 0.2, 0.9], "label_violence": [1, 0, None]})
    >>> counts = score_counts(shard)["violence"]
    >>> counts.n_pos, counts.n_neg, counts.scores.tolist()
    (1, 1, [0.9, 0.2])
    """
    if label_prefix != LABEL_PREFIX:
        warn_label_prefix(label_prefix)
        frame = with_label_prefix(frame, label_prefix)
    known = CATEGORIES if provider is None else tuple(result_keys(provider))
    labels = parse_labels(frame, columns="prefixed", categories=known, source="shard")
    cats = (
        [c for c in known if c in frame.columns and c in labels.columns]
        if categories is None
        else list(categories)
    )
    for c in cats:
        for col in (c, label_column(c)):
            if col not in frame.columns:
                raise InputError(f"no column {col!r} (columns: {list(frame.columns)[:12]})")
    scale = None if provider is None else provider_scale(provider)
    low, high = (0.0, 1.0) if scale is None else (scale.low, scale.high)
    scores = coerce_scores(frame, cats, source="shard", low=low, high=high)
    return {
        c: ScoreCounts.from_arrays(scores[:, j], labels[c].to_numpy(dtype=float))
        for j, c in enumerate(cats)
    }


def with_label_prefix(frame: pd.DataFrame, label_prefix: str) -> pd.DataFrame:
    """``frame`` with columns ``label_prefix + key`` renamed ``label_<key>``."""
    return frame.rename(
        columns=lambda c: (
            LABEL_PREFIX + c[len(label_prefix) :]
            if isinstance(c, str) and c.startswith(label_prefix)
            else c
        )
    )


def warn_label_prefix(label_prefix: str) -> None:
    """The FutureWarning of a ``label_prefix`` other than ``"label_"``."""
    warnings.warn(
        f"label_prefix={label_prefix!r} is deprecated and will be removed in modkit 0.3.0: "
        f"name label columns {LABEL_PREFIX}<category> (modkit.label_column), the one "
        "spelling modkit reads beside scores",
        FutureWarning,
        stacklevel=3,
    )


def merge_counts(parts: Iterable[Mapping[str, ScoreCounts]]) -> dict[str, ScoreCounts]:
    """Merge shards' counts exactly: per category, add the counts of equal scores.

    Parameters
    ----------
    parts : iterable of dict of str to ScoreCounts
        One mapping per shard (a category may be absent from some).

    Returns
    -------
    dict of str to ScoreCounts
        Categories in canonical order; equal to :func:`score_counts` of all rows at once.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.ray import merge_counts, score_counts
    >>> rows = pd.DataFrame({"violence": [0.9, 0.2, 0.9, 0.4], "label_violence": [1, 0, 1, 0]})
    >>> merged = merge_counts([score_counts(rows.iloc[:2]), score_counts(rows.iloc[2:])])
    >>> whole = score_counts(rows)
    >>> merged["violence"].scores.tolist() == whole["violence"].scores.tolist()
    True
    >>> merged["violence"].pos.tolist(), merged["violence"].neg.tolist()
    ([2, 0, 0], [0, 1, 1])
    """
    grouped: dict[str, list[ScoreCounts]] = {}
    for part in parts:
        for c, sc in part.items():
            grouped.setdefault(c, []).append(sc)
    out = {}
    for c in sorted(grouped, key=lambda k: CATEGORIES.index(k) if k in CATEGORIES else 99):
        items = grouped[c]
        s = np.concatenate([i.scores for i in items])
        uniq, inv = np.unique(-s, return_inverse=True)
        k = len(uniq)

        def add(name: str, inv: np.ndarray = inv, k: int = k, items: list = items) -> np.ndarray:
            w = np.concatenate([getattr(i, name) for i in items])
            return np.bincount(inv, weights=w, minlength=k).astype(np.int64)

        out[c] = ScoreCounts(-uniq, add("pos"), add("neg"), add("unlabelled"))
    return out


_OBJECTIVE_LIKE = [str, Objective, Mapping]


@validate_params(
    {
        "counts": [Mapping],
        "objective": _OBJECTIVE_LIKE,
        "review": [None, *_OBJECTIVE_LIKE],
        "confidence": [None, LEVEL],
        "method": [StrOptions(METHODS)],
        "min_positives": [Interval(Integral, 1, None)],
        "profile": [StrOptions(PROFILES)],
        "model": [None, str],
        "provider": [None, KeysOf(PROVIDERS)],
    }
)
def fit_from_counts(
    counts: Mapping[str, ScoreCounts],
    objective: str | Objective | Mapping[str, Any],
    review: str | Objective | Mapping[str, Any] | None = None,
    *,
    confidence: float | None = None,
    method: str = "fixed_sequence",
    min_positives: int = 10,
    profile: str = "input",
    model: str | None = None,
    provider: str | None = None,
) -> ThresholdSet:
    """Choose ``block`` (and ``review``) thresholds from merged counts.

    The same choice as :func:`modkit.fit_thresholds` on the rows the counts came from,
    through the same core (:mod:`modkit.thresholds._core`: candidates are the distinct
    labelled scores; ties go to the highest threshold; a review threshold above
    ``block`` is clamped to it with a :class:`~modkit.thresholds.FitWarning`), with per
    category the status, ``n_pos``/``n_neg``/``n_unlabelled``, the in-sample confusion
    at ``block`` and the share of scored rows per band. What needs the rows themselves
    is left out: out-of-fold estimates, bootstrap intervals, baselines and the set-wide
    bands (``None``).

    Parameters
    ----------
    counts : dict of str to ScoreCounts
        From :func:`merge_counts`.
    objective, review : str, Objective, or mapping of category to those
        As for :func:`modkit.fit_thresholds` (one objective, or one per category with
        ``"*"`` as the default).
    confidence : float in (0, 1), optional
        Certify constrained objectives with Learn then Test, as
        :func:`modkit.fit_thresholds` does.
    method : {"fixed_sequence", "holm"}, default "fixed_sequence"
        The multiple-testing procedure with ``confidence`` (see :func:`modkit.fit_thresholds`).
    min_positives : int, default 10
        Fewer labelled positives (or no negatives): ``status="insufficient_data"``.
    profile : {"input", "output"}
    model : str, optional
        Recorded in the file (and picks the provider's scale variant).
    provider : str, optional
        The counts are a provider's own categories on its native scale (a key of
        :data:`modkit.PROVIDERS`, counted with ``score_counts(provider=...)``): the set
        records the provider and its scale, as ``fit_thresholds(provider=...)`` does.

    Returns
    -------
    ThresholdSet

    Raises
    ------
    InputError
        For an unknown category key, a bad objective, no objective for a category, or a
        parameter out of range (one wording for all, from :mod:`modkit._validation`).

    Warns
    -----
    FitWarning
        A review threshold clamped to ``block``; status ``ok`` from fewer than 10
        positives when ``min_positives < 10``.

    Examples
    --------
    Counts from two shards give the threshold that fitting all rows at once gives:

    >>> import numpy as np
    >>> import pandas as pd
    >>> import modkit
    >>> from modkit.ray import fit_from_counts, merge_counts, score_counts
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(400) < 0.3
    >>> s = np.clip(np.where(y, rng.normal(0.7, 0.15, 400), rng.normal(0.3, 0.15, 400)), 0, 1)
    >>> rows = pd.DataFrame({"violence": s, "label_violence": y.astype(int)})
    >>> counts = merge_counts([score_counts(rows.iloc[:200]), score_counts(rows.iloc[200:])])
    >>> ts = fit_from_counts(counts, "precision>=0.9")
    >>> labels = rows[["label_violence"]].set_axis(["violence"], axis=1)
    >>> direct = modkit.fit_thresholds(rows[["violence"]], labels, "precision>=0.9", bootstrap=0)
    >>> ts["violence"].block == direct["violence"].block
    True
    """
    cats = list(counts)
    objectives = per_category(objective, cats, "objective", required=True)
    reviews = per_category(review, cats, "review", required=False)
    out = {}
    for c, sc in counts.items():
        obj = objectives[c]
        assert obj is not None  # required=True
        out[c] = _category(c, sc, obj, reviews[c], confidence, method, min_positives)
    return ThresholdSet(
        out,
        profile=profile,
        model=model,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        provider=provider,
        scale=None if provider is None else provider_scale(provider, model),
    )


def _category(
    cat: str,
    sc: ScoreCounts,
    obj: Objective,
    rev: Objective | None,
    confidence: float | None,
    method: str,
    min_positives: int,
) -> CategoryThreshold:
    """One category's fit on its counts, through the core :func:`fit_thresholds` uses."""
    labelled = (sc.pos + sc.neg) > 0
    thresholds = sc.scores[labelled]
    tp = np.cumsum(sc.pos[labelled])
    fp = np.cumsum(sc.neg[labelled])
    choice = choose(
        obj, rev, thresholds, tp, fp,
        confidence=confidence, method=method, min_positives=min_positives,
    )  # fmt: skip
    warn_all(choice_warnings(cat, choice, obj, rev, sc.n_pos, min_positives))
    return category_threshold(
        choice,
        obj,
        rev,
        confidence=confidence,
        method=method,
        counts=(sc.n_pos, sc.n_neg, int(sc.unlabelled.sum())),
        in_sample=in_sample_at(thresholds, tp, fp, choice.block),
        bands=band_shares(sc.scores, choice.block, choice.review, sc.pos + sc.neg + sc.unlabelled),
    )
