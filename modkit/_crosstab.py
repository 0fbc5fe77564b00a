"""Cross-tabs of category scores: rows = values of a column, columns = categories."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ._errors import InputError
from ._frame import (
    check_columns,
    check_frame,
    endpoint_flags,
    flag_column,
    group_codes,
    has_endpoint_flags,
    lacks_slot,
    resolve_categories,
    scored_rows,
)
from ._taxonomy import check_category_keys
from ._validation import PROB, KeysOf, MappingOf, SequenceOf, validate_params
from .thresholds._rule import flag_values

__all__ = ["STATISTICS", "STATS", "StatInput", "Statistic", "crosstab", "register_statistic"]


@dataclass(frozen=True)
class StatInput:
    """What a statistic is computed from: one group per value of ``by``.

    Attributes
    ----------
    scores : pandas.core.groupby.DataFrameGroupBy
        The scored rows' category scores (float, NaN where missing), grouped.
    flags : pandas.core.groupby.DataFrameGroupBy or None
        1.0 flagged / 0.0 not / NaN unknown per row and category, grouped; only for a
        statistic with ``on_flags=True``.
    """

    scores: Any
    flags: Any = None


@dataclass(frozen=True)
class Statistic:
    """One cross-tab statistic: a name, how it is computed, the range of its values.

    Attributes
    ----------
    name : str
        What ``stat=`` takes and the long frame's ``stat`` column shows.
    compute : callable
        ``compute(StatInput) -> DataFrame`` (index = groups, columns = categories).
    range : tuple of (float or None, float or None)
        The values' range when scores lie in [0, 1]; ``None``: unbounded on that side.
        ``(0, 1)`` puts a heatmap on a fixed 0..1 colour scale.
    integer : bool
        Values are counts (shown without decimals).
    on_flags : bool
        Computed over the per-row flags (``thresholds=`` or the endpoint's), not the
        scores; its ``n`` counts rows with a known flag.
    description : str
        One line for the docs and the widgets.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit import Statistic
    >>> def spread(scores):
    ...     return scores.max() - scores.min()
    >>> stat = Statistic.from_callable(spread)
    >>> stat.name, stat.range
    ('spread', (None, None))
    """

    name: str
    compute: Callable[[StatInput], pd.DataFrame]
    range: tuple[float | None, float | None] = (0.0, 1.0)
    integer: bool = False
    on_flags: bool = False
    description: str = ""

    @classmethod
    def from_callable(cls, func: Callable[[np.ndarray], float]) -> Statistic:
        """A statistic from ``func(scores) -> float``, called per group and category.

        Parameters
        ----------
        func : callable
            ``func(scores) -> float``, called with the non-NaN scores of one group and
            category as a 1-d float ndarray of shape (n_scored,) (never empty: an empty
            group's cell is NaN without calling it).

        Returns
        -------
        Statistic
            Named ``func.__name__`` (the type's name for a callable object), with an
            unknown range ``(None, None)``; register it with :func:`register_statistic`.
        """
        name = getattr(func, "__name__", None) or type(func).__name__

        def one(col: pd.Series) -> float:
            arr = col.dropna().to_numpy(dtype=float)
            return float(func(arr)) if arr.size else np.nan

        return cls(name, lambda g: g.scores.agg(one), range=(None, None), description=name)


#: The statistics :func:`crosstab` knows by name, in display order. Add one with
#: :func:`register_statistic`; this table is the only list (plots and widgets read it).
STATISTICS: dict[str, Statistic] = {}


@validate_params({"stat": [Statistic]})
def register_statistic(stat: Statistic) -> None:
    """Make a statistic available by name to :func:`crosstab`, plots and widgets.

    Parameters
    ----------
    stat : Statistic
        Registered under ``stat.name``, replacing a statistic of that name (the registry
        is process-wide).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    A statistic over the scores of each group (here the 90th percentile), then asked for
    by name; :meth:`Statistic.from_callable` builds one from ``f(scores) -> float``:

    >>> import pandas as pd
    >>> import modkit
    >>> from modkit import Statistic, register_statistic
    >>> register_statistic(
    ...     Statistic("p90", lambda g: g.scores.quantile(0.9), description="90th percentile")
    ... )
    >>> frame = pd.DataFrame({"group": ["x", "x", "y"], "violence": [0.1, 0.5, 0.3]})
    >>> modkit.crosstab(frame, "group", stat="p90")
    category  violence
    group
    x             0.46
    y             0.30
    >>> from modkit._crosstab import STATISTICS
    >>> del STATISTICS["p90"]  # the registry is process-wide: leave it as it was
    """
    STATISTICS[stat.name] = stat


def _quantile(q: float) -> Callable[[StatInput], pd.DataFrame]:
    return lambda g: g.scores.quantile(q, interpolation="linear")


def _flag_rate(g: StatInput) -> pd.DataFrame:
    return g.flags.mean()


for _stat in (
    Statistic("mean", lambda g: g.scores.mean(), description="mean score"),
    Statistic("median", lambda g: g.scores.median(), description="median score"),
    Statistic("max", lambda g: g.scores.max(), description="highest score"),
    Statistic("p95", _quantile(0.95), description="95th percentile (linear, as numpy)"),
    Statistic("p99", _quantile(0.99), description="99th percentile (linear, as numpy)"),
    Statistic(
        "std",
        lambda g: g.scores.std(ddof=1),
        range=(0.0, None),
        description="sample standard deviation (ddof=1; NaN for one score)",
    ),
    Statistic(
        "count",
        lambda g: g.scores.count().astype("int64"),
        range=(0.0, None),
        integer=True,
        description="scored rows",
    ),
    Statistic(
        "flag_rate",
        _flag_rate,
        on_flags=True,
        description="share of rows flagged (endpoint flags, or score >= threshold)",
    ),
):
    register_statistic(_stat)

#: The names of :data:`STATISTICS` (a live view: registered statistics appear here).
STATS = STATISTICS.keys()

_STAT = [KeysOf(STATISTICS), "callable"]


@validate_params(
    {
        "results": [pd.DataFrame],
        "by": [str, SequenceOf(str)],
        "stat": [*_STAT, SequenceOf(_STAT)],
        "categories": [None, str, SequenceOf(str)],
        "thresholds": [None, PROB, MappingOf(str, PROB)],
        "long": ["boolean"],
    }
)
def crosstab(
    results: pd.DataFrame,
    by: str | Sequence[str],
    stat: str | Callable[[np.ndarray], float] | Sequence[Any] = "mean",
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
    stat : str, callable, or list of them, default "mean"
        Names from :data:`STATISTICS`: ``mean``, ``median``, ``max``, ``p95`` / ``p99``
        (95th / 99th percentile, numpy's default ``"linear"`` interpolation, as
        ``numpy.percentile``), ``std`` (sample standard deviation, ``ddof=1`` as
        pandas; NaN for a single score), ``count`` (scored rows) and ``flag_rate``
        (share of rows flagged); more with :func:`register_statistic`. A callable
        ``f(scores) -> float`` is called per group and category with the non-NaN
        scores (a 1-d float array), as pandas' ``agg``, and named by its
        ``__name__`` (like scikit-learn's ``scoring`` or fairlearn's ``MetricFrame``).
    categories : list of str, optional
        Category keys to show (API spelling). Default: every category column of
        ``results``; when every statistic counts flags (``flag_rate``) and
        ``thresholds`` is a mapping, the mapping's keys.
    thresholds : float or dict of str to float, optional
        For ``flag_rate``: flag when score >= threshold, with one threshold in [0, 1]
        for all categories or one per category. Default: the endpoint's own per-category flags,
        read from ``result_json``. Next to a score statistic (``mean``...), a category the
        mapping has no threshold for gets NaN flag statistics.
    long : bool, default False
        Return a tidy frame with columns ``by..., category, stat, value, n`` (``n``:
        the scored rows behind the cell) instead of the wide table.

    Returns
    -------
    pandas.DataFrame
        Wide (default): index = the ``by`` values (in order of first appearance),
        columns = categories; with several stats, columns are a MultiIndex
        ``(stat, category)``. ``attrs`` holds ``stat``, ``by``, ``n_excluded`` (rows left
        out because their ``error`` is set) and ``n_missing_by`` (scored rows left out
        because they lack a ``by`` value: see Notes); ``derived`` (category -> how it is
        computed) when ``results.attrs`` marks some of its categories as derived from
        others (the local scorer's), so plots can label them.

    Raises
    ------
    InputError
        If a column, category, statistic or threshold is unknown or malformed (a
        threshold outside [0, 1] included), naming the parameter and the value.

    Notes
    -----
    Rows whose ``error`` is non-empty were not scored and are excluded from every
    statistic; a NaN score is ignored for its own category only. Rows that lack a
    ``by`` value are dropped, as pandas' ``groupby(dropna=True)`` does, and counted in
    ``attrs["n_missing_by"]``: a missing value, or a blank one (``""``, what a CSV
    round trip leaves of a missing value) when no row of the same ``template_id`` has a
    value, i.e. the rows of templates without that slot. In a template that has the
    slot, ``""`` is a value (an empty alternative).

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> results = pd.DataFrame(
    ...     {
    ...         "group": ["women", "women", "men"],
    ...         "violence": [0.9, 0.7, 0.2],
    ...         "hate": [0.2, 0.4, 0.0],
    ...     }
    ... )
    >>> modkit.crosstab(results, "group")
    category  violence  hate
    group
    women          0.8   0.3
    men            0.2   0.0
    >>> modkit.crosstab(results, "group", "max", long=True).head(2)
       group  category stat  value  n
    0  women  violence  max    0.9  2
    1  women      hate  max    0.4  2
    """
    frame = check_frame(results)
    by_cols = check_columns(frame, by)
    stats = _check_stats(stat)
    if isinstance(thresholds, Mapping):  # a key that is no column must be an API key
        check_category_keys(
            [k for k in thresholds if k not in frame.columns], "crosstab: thresholds"
        )
    only_flags = all(s.on_flags for s in stats)
    cats = resolve_categories(frame, categories, thresholds if only_flags else None)
    scored, n_excluded = scored_rows(frame)
    try:
        codes, index = group_codes(scored, by_cols)  # the by values factorised once
    except TypeError:
        raise InputError(
            f"by: column(s) {by_cols} hold values that cannot be grouped (lists?); "
            "use columns of plain values"
        ) from None
    present = (codes >= 0) & ~lacks_slot(scored, by_cols)  # as groupby(dropna=True)
    n_missing_by = int((~present).sum())
    if n_missing_by:
        scored, codes = scored.loc[present], codes[present]

    values = scored[cats]
    if not all(values[c].dtype == np.float64 for c in cats):
        values = values.astype(float)
    grouped = values.groupby(codes, sort=False)
    flags = None
    if any(s.on_flags for s in stats):
        flag_frame = _flags(scored, cats, thresholds, partial=not only_flags)
        flags = flag_frame.groupby(codes, sort=False)
    tables, ns = _stat_tables(stats, StatInput(grouped, flags), cats, index)
    names = [s.name for s in stats]
    attrs = {
        "stat": names[0] if len(names) == 1 else names,
        "by": by_cols[0] if len(by_cols) == 1 else list(by_cols),
        "n_excluded": n_excluded,
        "n_missing_by": n_missing_by,
        "thresholds": _describe_thresholds(thresholds),
    }
    derived = {c: d for c, d in results.attrs.get("derived", {}).items() if c in cats}
    if derived:  # categories the scorer computes from others (a results frame note)
        attrs["derived"] = derived
    if long:
        out = _to_long(tables, ns, by_cols)
    elif len(names) == 1:
        out = tables[names[0]]
    else:
        out = pd.concat(tables, axis=1, names=["stat", "category"])
    out.attrs.pop("derived", None)  # pandas may carry the results' note over: filter it
    out.attrs.update(attrs)
    return out


def _stat_tables(
    stats: list[Statistic], data: StatInput, cats: list[str], index: pd.Index
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Each statistic's table and its row counts (per group and category), labelled with
    the categories and the groups' ``by`` values."""
    grouped, flags = data.scores, data.flags
    counts = None
    tables: dict[str, pd.DataFrame] = {}
    ns: dict[str, pd.DataFrame] = {}
    for s in stats:
        tables[s.name] = s.compute(data).astype(float) if s.on_flags else s.compute(data)
        if s.on_flags and flags is not None:
            ns[s.name] = flags.count()
        else:
            counts = grouped.count() if counts is None else counts
            ns[s.name] = counts
    for table in {id(t): t for t in [*tables.values(), *ns.values()]}.values():
        table.columns = pd.Index(cats, name="category")
        table.index = index.take(table.index.to_numpy())
    return tables, ns


def _check_stats(stat: Any) -> list[Statistic]:
    """The statistics asked for (names already checked by the validator)."""
    items = [stat] if isinstance(stat, str) or callable(stat) else list(stat)
    if not items:
        raise InputError("crosstab: stat must name at least one statistic")
    stats = [STATISTICS[s] if isinstance(s, str) else Statistic.from_callable(s) for s in items]
    names = [s.name for s in stats]
    if len(set(names)) != len(names):
        raise InputError(f"crosstab: stat lists a statistic twice: {names}")
    return stats


def _flags(
    scored: pd.DataFrame,
    cats: list[str],
    thresholds: float | Mapping[str, float] | None,
    *,
    partial: bool = False,
) -> pd.DataFrame:
    """A float frame: 1.0 flagged, 0.0 not, NaN unknown (with ``partial``, also where
    a ``thresholds`` mapping has no threshold for the category)."""
    if thresholds is None:
        return _endpoint_flags(scored, cats)
    if isinstance(thresholds, Mapping):
        missing = [c for c in cats if c not in thresholds]
        if missing and not partial:
            raise InputError(f"thresholds: no threshold for category {missing[0]!r}")
        limits = {c: float(thresholds[c]) for c in cats if c in thresholds}
    else:
        limits = dict.fromkeys(cats, float(thresholds))
    out = pd.DataFrame(index=scored.index)
    for c in cats:
        values = scored[c].to_numpy(dtype=float)
        out[c] = flag_values(values, limits[c]) if c in limits else np.full(len(values), np.nan)
    return out


def _endpoint_flags(scored: pd.DataFrame, cats: list[str]) -> pd.DataFrame:
    names = [flag_column(c) for c in cats]
    if all(n in scored.columns and str(scored[n].dtype) in ("boolean", "bool") for n in names):
        return scored[names].set_axis(cats, axis=1)  # the columns as they are: no parsing
    if not has_endpoint_flags(scored):
        raise InputError(
            "flag_rate without thresholds reads the endpoint's flags from the "
            "'flagged/<category>' columns (or 'result_json'), which the results lack; "
            "pass thresholds="
        )
    return pd.DataFrame(endpoint_flags(scored, cats), index=scored.index, columns=cats)


def _describe_thresholds(thresholds: float | Mapping[str, float] | None) -> Any:
    if thresholds is None:
        return "endpoint"
    if isinstance(thresholds, Mapping):
        return dict(thresholds)
    return float(thresholds)


def _to_long(
    tables: dict[str, pd.DataFrame], ns: dict[str, pd.DataFrame], by_cols: list[str]
) -> pd.DataFrame:
    parts = []
    for name, table in tables.items():
        # one level of columns (the categories): stacking gives a Series
        value = cast(pd.Series, table.stack(future_stack=True)).rename("value")
        n = cast(pd.Series, ns[name].stack(future_stack=True)).rename("n")
        part = pd.concat([value, n], axis=1).reset_index()
        part.insert(len(by_cols) + 1, "stat", name)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float)
    out["n"] = out["n"].astype("int64")
    return out[[*by_cols, "category", "stat", "value", "n"]]
