"""Design-weighted estimates of a threshold file's metrics from a labelled audit sample."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._io import read_table
from .._taxonomy import suggest_category
from .._validation import LEVEL, Interval, StrOptions, validate_params
from ..thresholds._coerce import as_threshold_set
from ..thresholds._design import design_from_frame, stratified_ratio
from ..thresholds._labels import coerce_labels, coerce_scores
from ._draw import LABEL_PREFIX, file_rows, load_traffic

__all__ = ["AUDIT_METRICS", "INTERVAL_METHOD", "AuditEstimate", "estimate"]

#: Rows of :attr:`AuditEstimate.frame` per category.
AUDIT_METRICS = ("precision", "recall", "fpr", "review_load")
#: The interval of every labelled metric (see :mod:`modkit.thresholds._design`).
INTERVAL_METHOD = "stratified-ratio/korn-graubard"


@dataclass(frozen=True)
class AuditEstimate:
    """Estimates of a threshold file's metrics on the traffic, from an audit sample.

    Parameters
    ----------
    frame : DataFrame
        One row per category x metric (``precision``, ``recall``, ``fpr`` at the
        ``block`` threshold and ``review_load``, the traffic's share in the review
        band): ``category``, ``metric``, ``threshold``, ``estimate``, ``lower``,
        ``upper`` (the interval at ``confidence``; NaN when undefined, e.g. no
        flagged row labelled), ``n_labelled`` (rows labelled for the category),
        ``n_effective`` (the interval's effective sample size), ``method`` and
        ``note``.
    confidence : float
        The intervals' two-sided level.
    rows : int
        Rows of the sample.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.audit import AuditEstimate
    >>> est = AuditEstimate(pd.DataFrame({"category": ["hate"], "metric": ["precision"],
    ...     "estimate": [0.8], "lower": [0.6], "upper": [0.9], "n_labelled": [40]}), 0.9, 40)
    >>> int(est.labels_needed(0.1)["labels_needed"].iloc[0])  # (0.3 / 0.1)^2 * 40 - 40
    320
    """

    frame: pd.DataFrame
    confidence: float
    rows: int

    def labels_needed(self, width: float) -> pd.DataFrame:
        """The stopping rule: label until every interval is narrower than ``width``.

        An interval's width shrinks as ``1 / sqrt(labels)`` under the same design, so
        a category with ``n`` labels and an interval of width ``W`` needs about
        ``n (W / width)^2`` labels in all (Cochran 1977, sec. 4.4): keep labelling the
        sample in its order (or draw more with ``method="ais"``) until this is 0.

        Parameters
        ----------
        width : float in (0, 1]
            The widest acceptable interval (``upper - lower``; +/-0.05 is 0.1).

        Returns
        -------
        DataFrame
            Per category x metric with an interval: ``category``, ``metric``,
            ``width`` (now), ``target`` and ``labels_needed`` (more labels, 0 when
            narrow enough; NaN when the interval is undefined).

        Raises
        ------
        InputError
            ``width`` is not a number in (0, 1].

        Examples
        --------
        >>> import pandas as pd
        >>> from modkit.audit import AuditEstimate
        >>> est = AuditEstimate(pd.DataFrame({"category": ["hate"], "metric": ["recall"],
        ...     "estimate": [0.8], "lower": [0.75], "upper": [0.82], "n_labelled": [40]}),
        ...     0.9, 40)
        >>> int(est.labels_needed(0.1)["labels_needed"].iloc[0])
        0
        """
        if not isinstance(width, Real) or not 0 < float(width) <= 1:
            raise InputError(f"width must be a number in (0, 1]; got {width!r}")
        f = self.frame
        if "method" in f.columns:
            f = f[f["method"] != "exact"]
        now = (f["upper"] - f["lower"]).to_numpy(dtype=float)
        n = f["n_labelled"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            more = np.where(now <= width, 0.0, np.ceil(n * (now / width) ** 2 - n - 1e-9))
        return pd.DataFrame(
            {
                "category": f["category"].to_numpy(),
                "metric": f["metric"].to_numpy(),
                "width": now,
                "target": float(width),
                "labels_needed": np.where(np.isfinite(now), np.maximum(more, 0), np.nan),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The estimates as JSON-ready data (what ``modkit audit estimate --json`` writes).

        Returns
        -------
        dict
            ``confidence``, ``rows``, ``method`` and ``estimates`` (the frame's records,
            NaN as ``None``).

        Examples
        --------
        >>> import pandas as pd
        >>> from modkit.audit import AuditEstimate
        >>> d = AuditEstimate(pd.DataFrame({"estimate": [float("nan")]}), 0.9, 0).to_dict()
        >>> d["estimates"], d["method"]
        ([{'estimate': None}], 'stratified-ratio/korn-graubard')
        """
        records = [
            {
                k: (None if isinstance(v, float) and math.isnan(v) else _plain(v))
                for k, v in r.items()
            }
            for r in self.frame.to_dict(orient="records")
        ]
        return {
            "confidence": self.confidence,
            "rows": self.rows,
            "method": INTERVAL_METHOD,
            "estimates": records,
        }


def _plain(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if math.isnan(float(v)) else float(v)
    return v


@validate_params(
    {
        "confidence": [LEVEL],
        "profile": [StrOptions(("input", "output"))],
        "min_labels": [Interval(Real, 0, None)],
    }
)
def estimate(
    labelled: Any,
    thresholds: Any,
    *,
    confidence: float = 0.9,
    population: Any = None,
    profile: str = "input",
    min_labels: float = 0,
) -> AuditEstimate:
    """Precision, recall, FPR and review load of a threshold file on the traffic.

    From an audit sample (:func:`modkit.audit.draw`) with ``label_<category>``
    columns: per category, design-weighted (Horvitz-Thompson) ratio estimates of the
    ``block`` threshold's precision, recall and FPR on the traffic the sample was drawn
    from, with the linearisation variance of a stratified ratio estimator and a
    Korn & Graubard (1998) interval: Clopper-Pearson at the design's effective sample
    size. The same sample audits any thresholds on the same scores (a candidate file,
    a refit): the design does not depend on the file estimated.

    Parameters
    ----------
    labelled : DataFrame or path
        The sample with its ``label_<category>`` columns (1 / 0 / blank for unsure or
        not reviewed), the score columns, ``inclusion_probability`` and ``stratum``.
        Blank labels are left out, the labelled rows of a stratum standing for it.
    thresholds : ThresholdSet, path or mapping
        The thresholds to evaluate.
    confidence : float in (0, 1), default 0.9
        Two-sided level of the intervals.
    population : DataFrame, path or Cache, optional
        The traffic itself: the review load is then exact (counted, not estimated).
    profile : {"input", "output"}, default "input"
        The profile of a threshold file to read.
    min_labels : float, default 0
        Intervals resting on fewer labelled rows in their domain (flagged rows for
        precision, positives for recall...) are reported with a ``note``.

    Returns
    -------
    AuditEstimate

    Raises
    ------
    InputError
        No ``label_<category>`` column for the file's categories, a misspelt one
        (``label_self_harm``), a label that is not 1/0/blank or a score that is not a
        number (naming the file, row and column), a missing score column,
        ``inclusion_probability`` or ``stratum`` problems.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from modkit.audit import draw, estimate
    >>> rng = np.random.default_rng(0)
    >>> s = rng.beta(0.3, 6, 5000)
    >>> traffic = pd.DataFrame({"text": [f"t{i}" for i in range(5000)], "violence": s})
    >>> ts = {"violence": 0.5}
    >>> sample = draw(traffic, ts, 300, seed=1)
    >>> sample["label_violence"] = (rng.random(300) < sample["violence"]).astype(int)
    >>> est = estimate(sample, ts)
    >>> est.frame.set_index("metric").loc["precision", ["lower", "upper"]].between(0, 1).all()
    np.True_
    """
    source, frame = _read_labelled(labelled)
    ts = as_threshold_set(thresholds, profile=profile)
    design = design_from_frame(frame, source=source)
    row_name = file_rows(source)
    cats = _labelled_categories(frame, ts, source)
    low, high = (0.0, 1.0) if ts.scale is None else (ts.scale.low, ts.scale.high)
    labels = coerce_labels(
        frame, [LABEL_PREFIX + c for c in cats], source=source, row_name=row_name
    )
    scores = coerce_scores(frame, cats, source=source, row_name=row_name, low=low, high=high)
    pop_scores = None
    if population is not None:
        pop, pop_source = load_traffic(population)
        have = [c for c in cats if c in pop.columns]
        pop_scores = pd.DataFrame(
            coerce_scores(pop, have, source=pop_source, low=low, high=high), columns=have
        )

    rows = []
    level = float(confidence)
    for j, c in enumerate(cats):
        ct = ts[c]
        s, y = scores[:, j], labels[:, j]
        block = np.inf if ct.block is None else ct.block
        review = block if ct.review is None else min(ct.review, block)
        f = np.nan_to_num(s, nan=-np.inf) >= block
        rows.extend(_flag_rows(c, ct.block, s, y, f, design, level, (low, high), min_labels))
        if review >= block:
            rows.append(_exact(c, ct.review, 0.0, "no review band"))
        elif pop_scores is not None and c in pop_scores.columns:
            ps = pop_scores[c].to_numpy()
            ps = ps[~np.isnan(ps)]
            share = float(((ps >= review) & (ps < block)).mean()) if len(ps) else float("nan")
            rows.append(_exact(c, ct.review, share, f"counted on the {len(ps)} traffic rows"))
        else:
            rows.append(_review_load_row(c, ct.review, s, f, review, design, level))
    return AuditEstimate(pd.DataFrame(rows), level, len(frame))


def _read_labelled(labelled: Any) -> tuple[str, pd.DataFrame]:
    """The sample's name (its path, or ``"labelled"``) and frame."""
    if isinstance(labelled, str | os.PathLike):
        return str(labelled), read_table(labelled)
    if isinstance(labelled, pd.DataFrame):
        return "labelled", labelled
    raise InputError(
        f"labelled must be a DataFrame or a path to a sample file, not {type(labelled).__name__}"
    )


def _labelled_categories(frame: pd.DataFrame, ts: Any, source: str) -> list[str]:
    """The thresholds' categories with a label column; :class:`InputError` for a
    misspelt label column or none at all."""
    label_cols = [c for c in frame.columns if isinstance(c, str) and c.startswith(LABEL_PREFIX)]
    for col in label_cols:
        key = col[len(LABEL_PREFIX) :]
        if key not in ts.categories:
            near = suggest_category(key)
            if near is not None and near != key:
                raise InputError(
                    f"{source} column {col!r}: not a category key; did you mean "
                    f"'{LABEL_PREFIX}{near}'?"
                )
    cats = [c for c in ts.categories if LABEL_PREFIX + c in frame.columns]
    if not cats:
        raise InputError(
            f"{source}: no label column for the thresholds' categories (expected "
            f"{', '.join(LABEL_PREFIX + c for c in list(ts.categories)[:3])}...); "
            f"columns: {list(frame.columns)[:12]}"
        )
    absent = [c for c in cats if c not in frame.columns]
    if absent:
        raise InputError(f"{source}: no score column {absent[0]!r} for {LABEL_PREFIX}{absent[0]}")
    return cats


def _flag_rows(
    c: str,
    threshold: float | None,
    s: np.ndarray,
    y: np.ndarray,
    f: np.ndarray,
    design: Any,
    level: float,
    bounds: tuple[float, float],
    min_labels: float,
) -> list[dict[str, Any]]:
    """Precision, recall and FPR of the flags ``f`` (one row each): stratified ratio
    estimates of the labelled rows, floored by the score prior."""
    low, high = bounds
    known = ~np.isnan(y) & ~np.isnan(s)
    pos = y == 1
    a = np.column_stack([f & pos, f & pos, f & (y == 0)]).astype(float)
    b = np.column_stack([f, pos, y == 0]).astype(float)
    prior = np.clip((np.nan_to_num(s, nan=low) - low) / (high - low), 0, 1)
    ff = f.astype(float)
    da = np.column_stack([ff, ff, -ff])
    db = np.column_stack([np.zeros(len(s)), np.ones(len(s)), -np.ones(len(s))])
    r = stratified_ratio(
        a, b, design, level=level, labelled=known, floor=(np.nan_to_num(y), prior, da, db)
    )
    n_lab = int(known.sum())
    empty = _unlabelled_strata(design, known)
    rows = []
    for k, metric in enumerate(("precision", "recall", "fpr")):
        notes = []
        if empty:
            notes.append(f"no label yet in strata {empty[:3]}: the estimate leaves them out")
        if r.n_domain[k] < min_labels:
            notes.append(f"rests on {int(r.n_domain[k])} labelled rows")
        rows.append(_row(c, metric, threshold, r, k, n_lab, INTERVAL_METHOD, "; ".join(notes)))
    return rows


def _review_load_row(
    c: str,
    threshold: float | None,
    s: np.ndarray,
    f: np.ndarray,
    review: float,
    design: Any,
    level: float,
) -> dict[str, Any]:
    """The review band's share of the traffic, estimated from the sample (no label needed)."""
    band = (np.nan_to_num(s, nan=-np.inf) >= review) & ~f
    rl = stratified_ratio(
        band.astype(float), np.ones(len(s)), design, level=level, labelled=~np.isnan(s)
    )
    return _row(
        c,
        "review_load",
        threshold,
        rl,
        0,
        int((~np.isnan(s)).sum()),
        INTERVAL_METHOD,
        "no label needed (the decisions are known)",
    )


def _exact(c: str, threshold: float | None, share: float, note: str) -> dict[str, Any]:
    return {
        "category": c,
        "metric": "review_load",
        "threshold": threshold,
        "estimate": share,
        "lower": share,
        "upper": share,
        "n_labelled": 0,
        "n_effective": float("nan"),
        "method": "exact",
        "note": note,
    }


def _row(
    c: str, metric: str, threshold: float | None, r: Any, k: int, n: int, method: str, note: str
) -> dict[str, Any]:
    return {
        "category": c,
        "metric": metric,
        "threshold": threshold,
        "estimate": float(r.estimate[k]),
        "lower": float(r.lower[k]),
        "upper": float(r.upper[k]),
        "n_labelled": n,
        "n_effective": float(r.n_effective[k]),
        "method": method,
        "note": note,
    }


def _unlabelled_strata(design: Any, known: np.ndarray) -> list[str]:
    h = len(design.names)
    sampled = np.bincount(design.codes, minlength=h)
    got = np.bincount(design.codes[known], minlength=h)
    return [design.names[k] for k in range(h) if sampled[k] and not got[k]]
