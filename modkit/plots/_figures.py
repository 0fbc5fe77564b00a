"""The figure functions of :mod:`modkit.plots`."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._crosstab import STATISTICS
from .._errors import InputError
from .._frame import check_columns, check_frame, scored_rows
from .._validation import Interval, SequenceOf, validate_params

__all__ = ["bias_chart", "counterfactual_gap_chart", "heatmap", "score_strip"]

#: One number format for scores and rates in every figure (cells, hovers, annotations).
SCORE_FMT = ".3f"
#: Figure heights in pixels: fixed, so a figure never collapses in a notebook output area.
DEFAULT_HEIGHT = 420


def load_plotly() -> Any:
    """Import plotly, or say how to install it."""
    try:
        import plotly
        import plotly.graph_objects
        import plotly.io
    except ImportError as exc:
        raise ImportError(
            "modkit.plots needs plotly: pip install 'modkit[notebook]' (or pip install plotly)"
        ) from exc
    return plotly


def row_label(value: Any) -> str:
    """How a cross-tab row value is written on an axis (tuples joined by ' · ')."""
    if isinstance(value, tuple):
        return " · ".join(str(v) for v in value)
    return str(value)


def _wide(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """A wide cross-tab from a wide or long :func:`modkit.crosstab` frame."""
    if {"category", "stat", "value"}.issubset(frame.columns):
        stats = frame["stat"].unique()
        if len(stats) != 1:
            raise InputError(
                f"heatmap: the long cross-tab holds several stats {list(stats)}; "
                "select one, e.g. frame[frame['stat'] == 'mean']"
            )
        by = [c for c in frame.columns if c not in ("category", "stat", "value", "n")]
        wide = frame.pivot_table(
            index=by, columns="category", values="value", sort=False, dropna=False
        )
        return wide, str(stats[0])
    if isinstance(frame.columns, pd.MultiIndex):
        raise InputError(
            "heatmap: the cross-tab has several stats (MultiIndex columns); "
            "select one, e.g. frame['mean']"
        )
    stat = frame.attrs.get("stat")
    return frame, stat if isinstance(stat, str) else None


@validate_params(
    {
        "crosstab_frame": [pd.DataFrame],
        "title": [None, str],
        "zmin": [None, Real],
        "zmax": [None, Real],
        "colorscale": [str],
        "show_values": ["boolean"],
    }
)
def heatmap(
    crosstab_frame: pd.DataFrame,
    *,
    title: str | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    colorscale: str = "Reds",
    show_values: bool = True,
) -> Any:
    """A heatmap of a cross-tab: rows = the ``by`` values, columns = categories.

    Parameters
    ----------
    crosstab_frame : pandas.DataFrame
        The result of :func:`modkit.crosstab` with one stat (wide, or long filtered
        to one stat).
    title : str, optional
        Default: names the statistic.
    zmin, zmax : float, optional
        Colour range. Default 0 and 1 for scores and rates, the data range for counts.
    colorscale : str, default "Reds"
        A plotly colour scale name.
    show_values : bool, default True
        Write each cell's value in it.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace whose ``z`` equals the cross-tab's values (NaN as None),
        ``x`` the categories and ``y`` the row labels, first row at the top. A category
        the cross-tab's ``attrs["derived"]`` marks (computed by the scorer from others,
        see :func:`modkit.moderate`) is labelled ``"<key> (derived)"`` and its rule is
        written under the axis title, so it never reads as an independent finding.

    Raises
    ------
    InputError
        When ``crosstab_frame`` is not a DataFrame, or holds several statistics (long
        form with several ``stat`` values, or MultiIndex columns).
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> from modkit.plots import heatmap
    >>> results = pd.DataFrame(
    ...     {"group": ["women", "women", "men", "men"], "violence": [0.9, 0.6, 0.8, 0.1]}
    ... )
    >>> fig = heatmap(modkit.crosstab(results, "group"), title="mean violence")
    >>> fig.data[0].type, list(fig.data[0].y), list(fig.data[0].x)
    ('heatmap', ['women', 'men'], ['violence'])
    """
    go = load_plotly().graph_objects
    wide, stat = _wide(check_frame(crosstab_frame))
    spec = STATISTICS.get(stat) if stat is not None else None
    if stat is None or (spec is not None and spec.range == (0.0, 1.0)):
        zmin = 0.0 if zmin is None else zmin
        zmax = 1.0 if zmax is None else zmax
    z = wide.to_numpy(dtype=float)
    z_list = [[None if np.isnan(v) else float(v) for v in row] for row in z]
    y = [row_label(v) for v in wide.index]
    derived = crosstab_frame.attrs.get("derived") or {}
    x = [f"{c} (derived)" if c in derived else str(c) for c in wide.columns]
    fmt = ".0f" if spec is not None and spec.integer else SCORE_FMT
    trace = go.Heatmap(
        z=z_list,
        x=x,
        y=y,
        zmin=zmin,
        zmax=zmax,
        colorscale=colorscale,
        colorbar={"title": {"text": stat or "value"}},
        hovertemplate="%{y}<br>%{x}: %{z:" + fmt + "}<extra></extra>",
        texttemplate="%{z:" + fmt + "}" if show_values else None,
        xgap=1,
        ygap=1,
    )
    fig = go.Figure(trace)
    by_name = ", ".join(str(n) for n in wide.index.names if n is not None)
    # the columns' own name when the table has one (e.g. "target_ident" after unstack)
    col_name = wide.columns.name if wide.columns.name is not None else "category"
    note = "; ".join(f"{c} = {rule}" for c, rule in derived.items() if c in wide.columns)
    fig.update_layout(
        title={"text": title if title is not None else f"{stat or 'value'} by {by_name}"},
        xaxis={
            "title": {
                "text": str(col_name) + (f"<br>derived, not independent: {note}" if note else "")
            },
            "side": "top",
            "tickangle": -35,
            "automargin": True,
        },
        yaxis={
            "title": {"text": by_name},
            "autorange": "reversed",
            "type": "category",
            "automargin": True,
        },
        height=max(DEFAULT_HEIGHT, 160 + 28 * len(y)),
        margin={"t": 160},
    )
    return fig


@validate_params(
    {
        "results": [pd.DataFrame],
        "by": [str],
        "category": [str],
        "threshold": [None, Real],
        "title": [None, str],
    }
)
def score_strip(
    results: pd.DataFrame,
    by: str,
    category: str,
    *,
    threshold: float | None = None,
    title: str | None = None,
) -> Any:
    """Box plot with every point: one box per value of ``by``, for one category.

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame from :func:`modkit.moderate`.
    by : str
        The column whose values make the boxes (e.g. a slot).
    category : str
        The category key whose scores are drawn.
    threshold : float, optional
        Draw a dashed line at this threshold (a score, in [0, 1] for the API's scores).
    title : str, optional
        Default names the category and says how many rows were excluded.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Box`` trace per value (in order of first appearance) holding that
        value's scores; hovering a point shows its prompt text.

    Raises
    ------
    InputError
        When ``results`` is not a DataFrame or lacks the ``by`` or ``category`` column.
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.plots import score_strip
    >>> results = pd.DataFrame(
    ...     {"group": ["women", "women", "men", "men"], "violence": [0.9, 0.6, 0.8, 0.1]}
    ... )
    >>> fig = score_strip(results, "group", "violence", threshold=0.5)
    >>> [trace.type for trace in fig.data]
    ['box', 'box']
    """
    go = load_plotly().graph_objects
    frame = check_frame(results)
    (by_col,) = check_columns(frame, [by])
    check_columns(frame, [category], "category")
    scored, n_excluded = scored_rows(frame)
    scored = scored[scored[by_col].notna() & scored[category].notna()]
    fig = go.Figure()
    texts = scored["text"] if "text" in scored.columns else pd.Series("", index=scored.index)
    for value, grp in scored.groupby(by_col, sort=False):
        fig.add_trace(
            go.Box(
                y=grp[category].astype(float).tolist(),
                name=str(value),
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                text=texts.loc[grp.index].astype(str).tolist(),
                hovertemplate="%{text}<br>score %{y:"
                + SCORE_FMT
                + "}<extra>"
                + str(value)
                + "</extra>",
                showlegend=False,
            )
        )
    if threshold is not None:
        fig.add_hline(
            y=float(threshold),
            line_dash="dash",
            annotation_text=f"threshold {float(threshold):{SCORE_FMT}}",
            annotation_position="top left",
        )
    note = f" ({n_excluded} unscored rows excluded)" if n_excluded else ""
    fig.update_layout(
        title={"text": title if title is not None else f"{category} score by {by_col}{note}"},
        yaxis={"title": {"text": f"{category} score"}, "range": [-0.02, 1.08]},
        xaxis={"title": {"text": by_col}, "automargin": True},
        height=DEFAULT_HEIGHT,
    )
    return fig


def _gap_traces(go: Any, frame: pd.DataFrame, labels: list[str]) -> Any:
    """A figure with one grey line per row from its lowest to its highest score, and
    the two ends as labelled markers."""
    line_x: list[float | None] = []
    line_y: list[str | None] = []
    for label, lo, hi in zip(labels, frame["min_score"], frame["max_score"], strict=True):
        line_x += [float(lo), float(hi), None]
        line_y += [label, label, None]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=line_x,
            y=line_y,
            mode="lines",
            name="gap",
            line={"color": "#bbbbbb", "width": 4},
            hoverinfo="skip",
        )
    )
    for end, colour in (("min", "#4c78a8"), ("max", "#e45756")):
        fig.add_trace(
            go.Scatter(
                x=frame[f"{end}_score"].astype(float).tolist(),
                y=labels,
                mode="markers+text",
                name=end,
                marker={"color": colour, "size": 11},
                text=frame[f"{end}_value"].astype(str).tolist(),
                # above / below the marker: the labels stay over the [0, 1] axis
                textposition="bottom center" if end == "min" else "top center",
                cliponaxis=False,
                customdata=frame["gap"].astype(float).tolist(),
                hovertemplate="%{text}: %{x:"
                + SCORE_FMT
                + "}<br>gap %{customdata:"
                + SCORE_FMT
                + "}<extra>"
                + end
                + "</extra>",
            )
        )
    return fig


@validate_params(
    {
        "gap_frame": [pd.DataFrame],
        "top": [None, Interval(Integral, 1, None)],
        "title": [None, str],
    }
)
def counterfactual_gap_chart(
    gap_frame: pd.DataFrame, *, top: int | None = 20, title: str | None = None
) -> Any:
    """A dumbbell chart of counterfactual gaps: one line per template and category.

    Parameters
    ----------
    gap_frame : pandas.DataFrame
        The summary of :func:`modkit.counterfactual_gap` (not ``detail=True``).
    top : int or None, default 20
        Keep the ``top`` largest gaps (``None``: all rows).
    title : str, optional
        Default names the slot.

    Returns
    -------
    plotly.graph_objects.Figure
        Three traces: the lines (``"gap"``), the lowest-scoring value (``"min"``) and
        the highest (``"max"``); the marker labels name the slot values. The x axis
        is the score, in [0, 1].

    Raises
    ------
    InputError
        When ``gap_frame`` is not a DataFrame or lacks a summary column (``category``,
        ``gap``, ``min_value``, ``min_score``, ``max_value``, ``max_score``).
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import modkit
    >>> from modkit.plots import counterfactual_gap_chart
    >>> prompts = modkit.expand("I want to hurt a {group: woman|man}.")
    >>> prompts["violence"] = [0.9, 0.3]
    >>> gaps = modkit.counterfactual_gap(prompts, "group", categories=["violence"])
    >>> fig = counterfactual_gap_chart(gaps)
    >>> type(fig).__name__
    'Figure'
    """
    go = load_plotly().graph_objects
    frame = check_frame(gap_frame)
    need = ["category", "gap", "min_value", "min_score", "max_value", "max_score"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(
            f"counterfactual_gap_chart: the frame lacks {missing}; pass the summary of "
            "modkit.counterfactual_gap(...) (detail=False)"
        )
    if top is not None:
        frame = frame.nlargest(top, "gap", keep="first")
    key_cols = [c for c in frame.columns if c not in (*need, "mean", "n_values", "n")]
    labels = [
        " · ".join(str(v) for v in (*row[key_cols].tolist(), row["category"]))
        for _, row in frame.iterrows()
    ]
    fig = _gap_traces(go, frame, labels)
    slot = frame.attrs.get("slot", gap_frame.attrs.get("slot", "slot"))
    cats = frame["category"].unique()
    x_title = f"{cats[0]} score" if len(cats) == 1 else "score (per category)"
    fig.update_layout(
        title={"text": title if title is not None else f"counterfactual gap across {slot}"},
        xaxis={
            "title": {"text": x_title},
            "range": [0, 1],  # scores lie in [0, 1]: the axis says so
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1],
            "showline": True,
            "mirror": True,
        },
        yaxis={"autorange": "reversed", "type": "category", "automargin": True},
        height=max(DEFAULT_HEIGHT, 120 + 44 * len(labels)),
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def _metric_bar(go: Any, frame: pd.DataFrame, m: str, x: list[str], custom: list) -> Any:
    """One metric's bars per subgroup, with its bootstrap interval when the frame has one."""
    vals = [None if pd.isna(v) else float(v) for v in frame[m]]
    error = None
    if f"{m}_lo" in frame.columns and f"{m}_hi" in frame.columns:  # bootstrap intervals
        error = {
            "type": "data",
            "symmetric": False,
            "array": (frame[f"{m}_hi"] - frame[m]).clip(lower=0).tolist(),
            "arrayminus": (frame[m] - frame[f"{m}_lo"]).clip(lower=0).tolist(),
        }
    return go.Bar(
        x=x,
        y=vals,
        name=m,
        error_y=error,
        customdata=custom,
        hovertemplate="%{x}<br>" + m + " %{y:" + SCORE_FMT + "}<br>n %{customdata[0]}, "
        "positives %{customdata[1]}<extra></extra>",
    )


def _bias_rows(
    frame: pd.DataFrame, metrics: list[str], sort_by: str | None, ascending: bool
) -> pd.DataFrame:
    """The bias frame checked for the columns the chart reads, sorted by ``sort_by``."""
    missing = [m for m in [*metrics, "subgroup", "n", "n_pos"] if m not in frame.columns]
    if missing:
        raise InputError(
            f"bias_chart: the frame lacks {missing}; pass the result of modkit.bias_metrics"
        )
    if sort_by is not None:
        if sort_by not in frame.columns:
            raise InputError(f"bias_chart: sort_by {sort_by!r} is not a column of the frame")
        frame = frame.sort_values(sort_by, ascending=ascending, na_position="last", kind="stable")
    return frame


@validate_params(
    {
        "bias_frame": [pd.DataFrame],
        "metrics": [str, SequenceOf(str)],
        "title": [None, str],
        "sort_by": [None, str],
        "ascending": ["boolean"],
        "height": [Interval(Integral, 1, None)],
    }
)
def bias_chart(
    bias_frame: pd.DataFrame,
    *,
    metrics: Sequence[str] = ("subgroup_auc", "bpsn_auc", "bnsp_auc"),
    title: str | None = None,
    sort_by: str | None = None,
    ascending: bool = False,
    height: int = DEFAULT_HEIGHT,
) -> Any:
    """Grouped bars of per-subgroup bias metrics.

    Parameters
    ----------
    bias_frame : pandas.DataFrame
        The result of :func:`modkit.bias_metrics`.
    metrics : list of str, default the three AUCs
        Columns to draw, e.g. ``("fpr", "fnr")``.
    title : str, optional
        Default names the category and threshold from ``attrs["overall"]``.
    sort_by : str, optional
        Order the bars by this column (as ``frame.sort_values(sort_by)`` would, NaN
        last), so the chart reads like a table sorted the same way. Default: the
        frame's own row order.
    ascending : bool, default False
        Sort direction for ``sort_by``.
    height : int, default 420
        Figure height in pixels (fixed, so the chart keeps its size in any notebook).

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` trace per metric, x = subgroups; hovering shows ``n`` and
        ``n_pos``. A dotted line marks the overall AUC (AUC metrics) when known. The x
        axis is titled with the subgroup column's name (``attrs["subgroup_col"]``) when
        the frame records it.

    Raises
    ------
    InputError
        When ``bias_frame`` is not a DataFrame, lacks a metric or ``subgroup`` /
        ``n`` / ``n_pos``, or ``sort_by`` is not one of its columns.
    ImportError
        When plotly is not installed (the ``notebook`` extra).

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> from modkit.plots import bias_chart
    >>> results = pd.DataFrame(
    ...     {
    ...         "group": ["women", "women", "men", "men"],
    ...         "label": [1, 0, 1, 0],
    ...         "violence": [0.9, 0.6, 0.8, 0.1],
    ...     }
    ... )
    >>> fig = bias_chart(modkit.bias_metrics(results, "group", "label", "violence"))
    >>> [trace.name for trace in fig.data]
    ['subgroup_auc', 'bpsn_auc', 'bnsp_auc']
    """
    go = load_plotly().graph_objects
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    frame = _bias_rows(check_frame(bias_frame), metrics, sort_by, ascending)
    x = frame["subgroup"].astype(str).tolist()
    custom = frame[["n", "n_pos"]].to_numpy().tolist()
    fig = go.Figure()
    for m in metrics:
        fig.add_trace(_metric_bar(go, frame, m, x, custom))
    overall = frame.attrs.get("overall") or {}
    if any(m.endswith("auc") for m in metrics) and pd.notna(overall.get("auc", np.nan)):
        fig.add_hline(
            y=float(overall["auc"]),
            line_dash="dot",
            annotation_text=f"overall AUC {float(overall['auc']):{SCORE_FMT}}",
            annotation_position="top left",
        )
    if title is None:
        title = "bias metrics by subgroup"
        if overall:
            thr = overall.get("threshold")
            at = f" at threshold {float(thr):{SCORE_FMT}}" if thr is not None else ""
            title += f" — {overall.get('category')}{at}"
            if pd.notna(overall.get("final_metric", np.nan)):
                ci = overall.get("final_metric_ci")
                title += f"; final metric {overall['final_metric']:{SCORE_FMT}}" + (
                    f" [{ci[0]:{SCORE_FMT}}, {ci[1]:{SCORE_FMT}}]" if ci else ""
                )
                if "final_metric_ci: the resamples lie" in str(overall.get("note")):
                    title += " (interval widened to the estimate: small subgroups)"
    aucs = all(m.endswith("auc") for m in metrics)
    rates = all(m in ("fpr", "fnr", "fpr_diff", "fnr_diff") for m in metrics)
    y_title = "AUC" if aucs else "rate" if rates else ", ".join(metrics)
    fig.update_layout(
        title={"text": title},
        barmode="group",
        yaxis={"range": [0, 1.1], "title": {"text": y_title}},
        xaxis={
            "title": {"text": str(frame.attrs.get("subgroup_col", "subgroup"))},
            "automargin": True,
            "tickangle": -45 if len(x) > 12 else 0,
        },
        height=height,
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig
