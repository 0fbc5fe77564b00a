"""Cross-tabs of category scores: rows = values of a column, columns = categories."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._frame import (
    check_columns,
    check_frame,
    endpoint_flags,
    resolve_categories,
    scored_rows,
)
from ._validation import PROB, MappingOf, SequenceOf, StrOptions, validate_params

__all__ = ["STATS", "crosstab"]

#: The statistics :func:`crosstab` knows, in display order.
STATS: tuple[str, ...] = ("mean", "median", "max", "p95", "std", "count", "flag_rate")


@validate_params(
    {
        "results": [pd.DataFrame],
        "by": [str, SequenceOf(str)],
        "stat": [StrOptions(STATS), SequenceOf(StrOptions(STATS))],
        "categories": [None, str, SequenceOf(str)],
        "thresholds": [None, PROB, MappingOf(str, PROB)],
        "long": ["boolean"],
    }
)
def crosstab(
    results: pd.DataFrame,
    by: str | Sequence[str],
    stat: str | Sequence[str] = "mean",
    *,
    categories: Sequence[str] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    long: bool = False,
) -> pd.DataFrame:
    """Summarise category scores by the values of one or more columns.

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame from :func:`modkit.moderate` (input columns, one float column
        per category key, ``error``, ``result_json``...).
    by : str or list of str
        The column(s) whose values make the rows, e.g. a slot column such as
        ``"group"``, or ``["template_id", "group"]``.
    stat : str or list of str, default "mean"
        One or more of ``mean``, ``median``, ``max``, ``p95`` (95th percentile,
        numpy's default ``"linear"`` interpolation, as ``numpy.percentile``),
        ``std`` (sample standard deviation, ``ddof=1`` as pandas; NaN for a single
        score), ``count`` (scored rows) and ``flag_rate`` (share of rows flagged).
    categories : list of str, optional
        Category keys to show (API spelling). Default: every category column of
        ``results``; with a ``thresholds`` mapping, the mapping's keys.
    thresholds : float or dict of str to float, optional
        For ``flag_rate``: flag when score >= threshold, with one threshold in [0, 1]
        for all categories or one per category. Default: the endpoint's own per-category flags,
        read from ``result_json``.
    long : bool, default False
        Return a tidy frame with columns ``by..., category, stat, value, n`` (``n``:
        the scored rows behind the cell) instead of the wide table.

    Returns
    -------
    pandas.DataFrame
        Wide (default): index = the ``by`` values (in order of first appearance),
        columns = categories; with several stats, columns are a MultiIndex
        ``(stat, category)``. ``attrs`` holds ``stat``, ``by``, ``n_excluded`` (rows left
        out because their ``error`` is set) and ``n_missing_by`` (rows left out because
        a ``by`` value is missing).

    Raises
    ------
    InputError
        If a column, category, statistic or threshold is unknown or malformed (a
        threshold outside [0, 1] included), naming the parameter and the value.

    Notes
    -----
    Rows whose ``error`` is non-empty were not scored and are excluded from every
    statistic; a NaN score is ignored for its own category only.
    """
    frame = check_frame(results)
    by_cols = check_columns(frame, by)
    stats = _check_stats(stat)
    cats = resolve_categories(frame, categories, thresholds)
    scored, n_excluded = scored_rows(frame)
    present = scored[by_cols].notna().all(axis=1)
    n_missing_by = int((~present).sum())
    scored = scored.loc[present]

    values = scored[cats].astype(float)
    flags = None
    if "flag_rate" in stats:
        flags = _flags(scored, cats, thresholds)

    keys = [scored[c] for c in by_cols]
    grouped = values.groupby(keys, sort=False, dropna=True)
    try:
        counts = grouped.count()
    except TypeError:
        raise InputError(
            f"by: column(s) {by_cols} hold values that cannot be grouped (lists?); "
            "use columns of plain values"
        ) from None
    counts.columns = pd.Index(cats, name="category")
    tables: dict[str, pd.DataFrame] = {}
    for s in stats:
        if s == "mean":
            tables[s] = grouped.mean()
        elif s == "median":
            tables[s] = grouped.median()
        elif s == "max":
            tables[s] = grouped.max()
        elif s == "p95":
            tables[s] = grouped.quantile(0.95, interpolation="linear")
        elif s == "std":
            tables[s] = grouped.std(ddof=1)
        elif s == "count":
            tables[s] = counts.astype("int64")
        else:  # flag_rate
            assert flags is not None
            fgroup = flags.groupby(keys, sort=False, dropna=True)
            tables[s] = fgroup.mean()
            tables["_flag_n"] = fgroup.count()
    for table in tables.values():
        table.columns = pd.Index(cats, name="category")
        if len(by_cols) == 1:
            table.index = pd.Index(table.index, name=by_cols[0])
        else:
            table.index = table.index.set_names(by_cols)
    attrs = {
        "stat": stats[0] if len(stats) == 1 else list(stats),
        "by": by_cols[0] if len(by_cols) == 1 else list(by_cols),
        "n_excluded": n_excluded,
        "n_missing_by": n_missing_by,
        "thresholds": _describe_thresholds(thresholds),
    }
    if long:
        out = _to_long(tables, counts, stats, by_cols)
    elif len(stats) == 1:
        out = tables[stats[0]]
    else:
        out = pd.concat({s: tables[s] for s in stats}, axis=1, names=["stat", "category"])
    out.attrs.update(attrs)
    return out


def _check_stats(stat: str | Sequence[str]) -> list[str]:
    stats = [stat] if isinstance(stat, str) else list(stat)
    if not stats:
        raise InputError("stat must name at least one statistic")
    for s in stats:
        if s not in STATS:
            raise InputError(f"unknown stat {s!r}: choose from {', '.join(STATS)}")
    if len(set(stats)) != len(stats):
        raise InputError(f"stat lists a statistic twice: {stats}")
    return stats


def _flags(
    scored: pd.DataFrame, cats: list[str], thresholds: float | Mapping[str, float] | None
) -> pd.DataFrame:
    """A float frame: 1.0 flagged, 0.0 not, NaN unknown."""
    if thresholds is None:
        return _endpoint_flags(scored, cats)
    if isinstance(thresholds, Mapping):
        missing = [c for c in cats if c not in thresholds]
        if missing:
            raise InputError(f"thresholds: no threshold for category {missing[0]!r}")
        limits = {c: float(thresholds[c]) for c in cats}
    else:
        limits = dict.fromkeys(cats, float(thresholds))
    out = pd.DataFrame(index=scored.index)
    for c in cats:
        s = scored[c].astype(float)
        out[c] = np.where(s.isna(), np.nan, (s >= limits[c]).astype(float))
    return out


def _endpoint_flags(scored: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    if "result_json" not in scored.columns:
        raise InputError(
            "flag_rate without thresholds reads the endpoint's flags from the "
            "'result_json' column, which the results lack; pass thresholds="
        )
    return pd.DataFrame(endpoint_flags(scored, cats), index=scored.index, columns=cats)


def _describe_thresholds(thresholds: float | Mapping[str, float] | None) -> Any:
    if thresholds is None:
        return "endpoint"
    if isinstance(thresholds, Mapping):
        return dict(thresholds)
    return float(thresholds)


def _to_long(
    tables: dict[str, pd.DataFrame], counts: pd.DataFrame, stats: list[str], by_cols: list[str]
) -> pd.DataFrame:
    parts = []
    for s in stats:
        n_table = tables["_flag_n"] if s == "flag_rate" else counts
        value = tables[s].stack(future_stack=True).rename("value")
        n = n_table.stack(future_stack=True).rename("n")
        part = pd.concat([value, n], axis=1).reset_index()
        part.insert(len(by_cols) + 1, "stat", s)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float)
    out["n"] = out["n"].astype("int64")
    return out[[*by_cols, "category", "stat", "value", "n"]]
