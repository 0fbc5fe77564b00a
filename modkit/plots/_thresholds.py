"""Figures of one category's threshold choice: PR and ROC curves, score distributions."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._labels import label_column
from .._validation import Interval, validate_params
from ..thresholds import Counts, ThresholdSet, as_threshold_set, binary_curve, rates
from ..thresholds._labels import coerce_labels, coerce_scores
from ._figures import SCORE_FMT
from ._figures import load_plotly as _plotly

__all__ = ["labelled_scores", "pr_curve", "roc_curve", "score_distribution"]

_COLORS = {"block": "#d62728", "review": "#ff7f0e", "curve": "#1f77b4"}


def _column(obj: Any, category: str, what: str) -> pd.DataFrame:
    """A one-column frame named ``category`` from a frame, Series or array."""
    if isinstance(obj, pd.DataFrame):
        if category not in obj.columns:
            raise InputError(
                f"{what} have no column {category!r} (columns: {list(obj.columns)[:10]})"
            )
        return obj[[category]]
    if isinstance(obj, pd.Series):
        return obj.rename(category).to_frame()
    try:
        arr = np.asarray(obj)
    except Exception:
        arr = None
    if arr is None or arr.ndim != 1:
        raise InputError(f"{what} must be a DataFrame, a Series or a 1-d array")
    return pd.DataFrame({category: arr})


def labelled_scores(
    scores: Any, labels: Any, category: str
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """The rows of one category with a finite score and a 0/1 label.

    Parameters
    ----------
    scores : DataFrame, Series or array
        A results frame (one column per category key) or one category's scores.
    labels : DataFrame, Series or array
        On the same index (frames and Series are aligned by index; arrays by position):
        1/0, true/false, yes/no or blank (not labelled). A frame's column is
        ``label_<category>`` when it has one (labels beside the scores), else the key.
    category : str
        The category key.

    Returns
    -------
    scores, labels : ndarray
        Float scores and int 0/1 labels of the usable rows.
    index : pandas.Index
        Their index labels.

    Raises
    ------
    InputError
        A column is missing, a label does not parse (1/0, true/false, yes/no, blank),
        a score is outside [0, 1], or the two inputs have different lengths (arrays) or
        no common rows.
    """
    s = _column(scores, category, "scores")
    beside = label_column(category)
    if isinstance(labels, pd.DataFrame) and beside in labels.columns:
        labels = labels[[beside]].set_axis([category], axis=1)  # labels beside the scores
    y = _column(labels, category, "labels")
    if isinstance(scores, pd.DataFrame | pd.Series) and isinstance(
        labels, pd.DataFrame | pd.Series
    ):
        if not s.index.is_unique or not y.index.is_unique:
            raise InputError("scores and labels must have unique index labels")
        y = y.reindex(s.index)
    elif len(s) != len(y):
        raise InputError(f"scores have {len(s)} rows but labels have {len(y)}")
    else:
        y.index = s.index
    sv = coerce_scores(s, [category], source="scores")[:, 0]
    yv = coerce_labels(y, [category], source="labels")[:, 0]
    keep = ~np.isnan(sv) & ~np.isnan(yv)
    return sv[keep], yv[keep].astype(np.int64), s.index[keep]


def _thresholds_of(thresholds: Any, category: str) -> dict[str, Any]:
    """``{"block": t, "review": t, "oof": dict or None}`` from a set, a mapping or a number."""
    if thresholds is None:
        return {"block": None, "review": None, "oof": None}
    ts = as_threshold_set(thresholds, [category])
    if category not in ts.categories:
        return {"block": None, "review": None, "oof": None}
    ct = ts[category]
    return {"block": ct.block, "review": ct.review, "oof": ct.out_of_fold}


def _rates(s: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    flag = s >= t
    tp = int((flag & (y == 1)).sum())
    fp = int((flag & (y == 0)).sum())
    r = rates(Counts(tp, fp, int((y == 1).sum()), int((y == 0).sum())))
    return {**{m: float(r[m]) for m in ("precision", "recall", "fpr")}, "flagged": tp + fp}


def _curve_points(s: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    c = binary_curve(s, y)
    r = rates(Counts(c.tp, c.fp, c.n_pos, c.n_neg))
    return {
        "threshold": c.thresholds.astype(float),
        **{m: r[m] for m in ("precision", "recall", "fpr")},
    }


def _check(s: np.ndarray, y: np.ndarray, category: str, need_both: bool) -> None:
    if len(s) == 0:
        raise InputError(f"category {category!r}: no rows with both a score and a label")
    if need_both and (y.min() == y.max()):
        which = "positive" if y[0] == 0 else "negative"
        raise InputError(f"category {category!r}: no {which} labels, so no curve can be drawn")


def _ci_errors(oof: dict[str, Any], metric: str) -> dict[str, Any] | None:
    ci = (oof.get("ci") or {}).get(metric)
    v = oof.get(metric)
    if not ci or v is None:
        return None
    lo, hi = ci
    return {
        "type": "data",
        "symmetric": False,
        "array": [max(0.0, hi - v)],
        "arrayminus": [max(0.0, v - lo)],
        "color": _COLORS["block"],
    }


def _chosen_traces(
    go: Any, s: np.ndarray, y: np.ndarray, th: dict[str, Any], x: str, yk: str, category: str
) -> list[Any]:
    traces = []
    for name in ("review", "block"):
        t = th[name]
        if t is None:
            continue
        r = _rates(s, y, t)
        traces.append(
            go.Scatter(
                x=[r[x]],
                y=[r[yk]],
                mode="markers",
                name=f"{name} {t:.4g} (these rows)",
                marker={"size": 12, "color": _COLORS[name], "symbol": "circle"},
                customdata=[[t, r["flagged"]]],
                hovertemplate=(
                    f"{name} threshold %{{customdata[0]:.4f}}<br>{x} %{{x:.3f}}<br>"
                    f"{yk} %{{y:.3f}}<br>flagged %{{customdata[1]}}<extra></extra>"
                ),
                meta={"kind": name, "threshold": t},
            )
        )
    oof = th["oof"]
    if th["block"] is not None and oof and oof.get(x) is not None and oof.get(yk) is not None:
        level = oof.get("ci_level")
        label = f"block, out-of-fold ({oof.get('folds')} folds"
        kind = oof.get("interval", "percentile-bootstrap")
        if kind == "none":  # the procedure's estimate: no interval is claimed
            label += ", each fold's own threshold; no interval)"
        else:
            label += f", {level:.0%} {kind} CI)" if level else ")"
        traces.append(
            go.Scatter(
                x=[oof[x]],
                y=[oof[yk]],
                mode="markers",
                name=label,
                marker={
                    "size": 12,
                    "color": "white",
                    "symbol": "diamond",
                    "line": {"color": _COLORS["block"], "width": 2},
                },
                error_x=_ci_errors(oof, x),
                error_y=_ci_errors(oof, yk),
                hovertemplate=(
                    f"out-of-fold estimate of the fitting procedure<br>{x} %{{x:.3f}}<br>"
                    f"{yk} %{{y:.3f}}"
                    "<extra></extra>"
                ),
                meta={"kind": "block_oof"},
            )
        )
    return traces


@validate_params(
    {
        "thresholds": [None, ThresholdSet, Real, Mapping],
        "category": [str],
        "title": [None, str],
    }
)
def pr_curve(
    scores: Any,
    labels: Any,
    thresholds: ThresholdSet | float | dict[str, Any] | None,
    category: str,
    *,
    title: str | None = None,
) -> Any:
    """Precision-recall curve of one category with the chosen thresholds marked.

    Parameters
    ----------
    scores : DataFrame, Series or array
        A results frame of :func:`modkit.moderate` (or one category's scores).
    labels : DataFrame, Series or array
        On the same index: the key's column or ``label_<key>`` (labels beside the
        scores: pass the results frame itself); 1/0, true/false, yes/no, blank =
        not labelled (left out).
    thresholds : ThresholdSet, float, mapping, or None
        A :class:`~modkit.ThresholdSet` (its ``review`` and ``block`` are marked, and the
        out-of-fold precision / recall at ``block`` with their confidence intervals), a
        number (one block threshold), ``{category: t or {"block": t, "review": t}}``,
        or ``None`` for the curve alone.
    category : str
        The category key.
    title : str, optional
        Default names the category and the counts of positives and negatives.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace ``curve``: one point per distinct score (flag when ``score >= threshold``),
        ``x`` recall, ``y`` precision, ``customdata`` the threshold. Then one marker per
        chosen threshold at its precision / recall on these rows, and the out-of-fold
        estimate with error bars.

    Raises
    ------
    InputError
        As :func:`labelled_scores`: a missing column, a label that does not parse, a score
        outside [0, 1], inputs that do not line up; or no labelled row with a
        score, or no positive label.
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Notes
    -----
    The markers on the curve are measured on the rows given, which are usually the
    rows the thresholds were fitted on (optimistic); the out-of-fold marker is the
    honest estimate from :func:`modkit.fit_thresholds`.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.plots import pr_curve
    >>> scores = pd.DataFrame({"violence": [0.9, 0.6, 0.8, 0.1]})
    >>> labels = pd.Series([1, 0, 1, 0])
    >>> fig = pr_curve(scores, labels, 0.5, "violence")
    >>> fig.layout.xaxis.title.text, fig.layout.yaxis.title.text
    ('recall', 'precision')
    """
    go = _plotly().graph_objects
    s, y, _ = labelled_scores(scores, labels, category)
    _check(s, y, category, need_both=False)
    if y.sum() == 0:
        raise InputError(f"category {category!r}: no positive labels, so no PR curve")
    pts = _curve_points(s, y)
    th = _thresholds_of(thresholds, category)
    base = float(y.mean())
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=pts["recall"],
            y=pts["precision"],
            mode="lines",
            line={"shape": "hv", "color": _COLORS["curve"]},
            name="precision-recall",
            customdata=pts["threshold"],
            hovertemplate=(
                "threshold %{customdata:.4f}<br>recall %{x:.3f}<br>precision %{y:.3f}"
                "<extra></extra>"
            ),
            meta={"kind": "curve"},
        )
    )
    fig.add_hline(
        y=base,
        line={"dash": "dot", "color": "grey"},
        annotation_text=f"positive rate {base:.3f}",
        annotation_position="bottom right",
    )
    for tr in _chosen_traces(go, s, y, th, "recall", "precision", category):
        fig.add_trace(tr)
    counts = f"n_pos={int(y.sum())}, n_neg={int((y == 0).sum())}"
    fig.update_layout(
        title={"text": title or f"{category}: precision vs recall ({counts})"},
        xaxis={"title": {"text": "recall"}, "range": [-0.02, 1.02]},
        yaxis={"title": {"text": "precision"}, "range": [-0.02, 1.05]},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


@validate_params(
    {
        "thresholds": [None, ThresholdSet, Real, Mapping],
        "category": [str],
        "title": [None, str],
    }
)
def roc_curve(
    scores: Any,
    labels: Any,
    thresholds: ThresholdSet | float | dict[str, Any] | None,
    category: str,
    *,
    title: str | None = None,
) -> Any:
    """ROC curve (recall vs false positive rate) of one category with the chosen points.

    Parameters
    ----------
    scores, labels, thresholds, category, title
        As for :func:`pr_curve`.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace ``curve``: the point (0, 0) then one point per distinct score, ``x`` FPR,
        ``y`` recall (TPR), ``customdata`` the threshold (``inf`` for the first point).
        Then the chosen thresholds and the out-of-fold estimate at ``block`` with its
        confidence intervals, as in :func:`pr_curve`. The area under the curve (the
        trapezoidal rule over these points, as :func:`sklearn.metrics.roc_auc_score`)
        is in the title.

    Raises
    ------
    InputError
        As :func:`labelled_scores`: a missing column, a label that does not parse, a score
        outside [0, 1], inputs that do not line up; or no labelled row with a
        score, or labels of one class only.
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.plots import roc_curve
    >>> scores = pd.DataFrame({"violence": [0.9, 0.6, 0.8, 0.1]})
    >>> labels = pd.Series([1, 0, 1, 0])
    >>> fig = roc_curve(scores, labels, {"violence": 0.5}, "violence")
    >>> fig.layout.xaxis.title.text
    'false positive rate'
    """
    go = _plotly().graph_objects
    s, y, _ = labelled_scores(scores, labels, category)
    _check(s, y, category, need_both=True)
    pts = _curve_points(s, y)
    fpr = np.concatenate([[0.0], pts["fpr"]])
    tpr = np.concatenate([[0.0], pts["recall"]])
    thr = np.concatenate([[np.inf], pts["threshold"]])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    th = _thresholds_of(thresholds, category)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=fpr,
            y=tpr,
            mode="lines",
            line={"color": _COLORS["curve"]},
            name=f"ROC (AUC {auc:.3f})",
            customdata=thr,
            hovertemplate=(
                "threshold %{customdata:.4f}<br>FPR %{x:.3f}<br>recall %{y:.3f}<extra></extra>"
            ),
            meta={"kind": "curve", "auc": auc},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dot", "color": "grey"},
            name="chance",
            hoverinfo="skip",
            meta={"kind": "chance"},
        )
    )
    for tr in _chosen_traces(go, s, y, th, "fpr", "recall", category):
        fig.add_trace(tr)
    fig.update_layout(
        title={"text": title or f"{category}: ROC, AUC {auc:.3f}"},
        xaxis={"title": {"text": "false positive rate"}, "range": [-0.02, 1.02]},
        yaxis={"title": {"text": "recall (true positive rate)"}, "range": [-0.02, 1.05]},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _threshold_lines(
    fig: Any, s: np.ndarray, y: np.ndarray, th: Mapping[str, float | None]
) -> None:
    """A vertical line per threshold (review dashed, block solid), labelled with its
    precision and recall."""
    for name in ("review", "block"):
        t = th[name]
        if t is None:
            continue
        r = _rates(s, y, t)
        fig.add_vline(
            x=t,
            line={
                "color": _COLORS[name],
                "width": 2,
                "dash": "dash" if name == "review" else "solid",
            },
            annotation_text=(
                f"{name} {t:{SCORE_FMT}}: P {r['precision']:{SCORE_FMT}} "
                f"R {r['recall']:{SCORE_FMT}}"
            ),
            # the label reads away from the nearer edge (never over the axis), review
            # below block so the two never overlap
            annotation_position=("bottom" if name == "review" else "top")
            + (" right" if t < 0.5 else " left"),
        )


@validate_params(
    {
        "thresholds": [None, ThresholdSet, Real, Mapping],
        "category": [str],
        "nbins": [Interval(Integral, 1, None)],
        "log_y": ["boolean"],
        "title": [None, str],
    }
)
def score_distribution(
    scores: Any,
    labels: Any,
    thresholds: ThresholdSet | float | dict[str, Any] | None,
    category: str,
    *,
    nbins: int = 50,
    log_y: bool = False,
    title: str | None = None,
) -> Any:
    """Histograms of one category's scores by label, with the thresholds drawn.

    Parameters
    ----------
    scores, labels, thresholds, category
        As for :func:`pr_curve` (only rows with a label are drawn).
    nbins : int, default 50
        Equal-width bins over [0, 1].
    log_y : bool, default False
        A log count axis (the positives are often a small minority).
    title : str, optional
        Default names the category.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Histogram`` trace per label present (``label 0``, ``label 1``), overlaid,
        in counts; vertical lines at ``review`` and ``block`` (flag when
        ``score >= threshold``) as layout shapes.

    Raises
    ------
    InputError
        As :func:`labelled_scores`: a missing column, a label that does not parse, a score
        outside [0, 1], inputs that do not line up; or no labelled row with a
        score, or ``nbins`` not a positive integer.
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.plots import score_distribution
    >>> scores = pd.DataFrame({"violence": [0.9, 0.6, 0.8, 0.1]})
    >>> labels = pd.Series([1, 0, 1, 0])
    >>> fig = score_distribution(scores, labels, 0.5, "violence", nbins=10)
    >>> [trace.name for trace in fig.data]
    ['label 0 (negative), n=2', 'label 1 (positive), n=2']
    """
    go = _plotly().graph_objects
    s, y, _ = labelled_scores(scores, labels, category)
    _check(s, y, category, need_both=False)
    th = _thresholds_of(thresholds, category)
    fig = go.Figure()
    size = 1.0 / nbins
    for lab, name, color in (
        (0, "label 0 (negative)", "#7f7f7f"),
        (1, "label 1 (positive)", "#9467bd"),
    ):
        sel = s[y == lab]
        if len(sel) == 0:
            continue
        fig.add_trace(
            go.Histogram(
                x=sel,
                name=f"{name}, n={len(sel)}",
                xbins={"start": 0.0, "end": 1.0 + 1e-9, "size": size},
                marker={"color": color},
                opacity=0.6,
                meta={"kind": "histogram", "label": lab},
            )
        )
    _threshold_lines(fig, s, y, th)
    fig.update_layout(
        barmode="overlay",
        title={"text": title or f"{category}: scores by label (flag when score >= threshold)"},
        xaxis={"title": {"text": f"{category} score"}, "range": [0, 1]},
        yaxis={"title": {"text": "rows"}, "type": "log" if log_y else "linear"},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
