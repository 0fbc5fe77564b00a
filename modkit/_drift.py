"""Decision drift: which threshold decisions change between two scorings of the same prompts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._frame import category_columns
from ._validation import StrOptions, validate_params
from .thresholds import ACTIONS, ThresholdSet, as_threshold_set

__all__ = ["DriftReport", "decision_drift"]

ThresholdsLike = ThresholdSet | Mapping[str, Any] | str | os.PathLike[str]


@dataclass
class DriftReport:
    """How decisions under threshold sets change from scoring ``a`` to scoring ``b``.

    Attributes
    ----------
    decisions : pandas.DataFrame
        One row per prompt, indexed by the key: ``action_a``, ``action_b``, ``changed``
        (bool), ``transition`` (``"allow -> block"``; ``""`` when unchanged),
        ``blocked_a``/``blocked_b`` and ``review_a``/``review_b`` (comma-separated
        categories), then per category of the thresholds ``a:<category>``,
        ``b:<category>`` (the scores) and ``delta:<category>`` (``b - a``).
    transitions : pandas.DataFrame
        Counts of prompts by action under ``a`` (rows) and under ``b`` (columns), over
        ``allow``, ``review``, ``block``, ``unscored``, with the totals in ``all``.
    category_flips : pandas.DataFrame
        One row per category of the thresholds: ``n`` (scored in both),
        ``block_a``/``block_b`` (prompts at or above ``block``), ``to_block`` (not
        blocked under ``a``, blocked under ``b``), ``from_block`` (the reverse),
        ``changed`` (any change of that category's allow/review/block), and the score
        deltas ``mean_delta``, ``mean_abs_delta``, ``max_abs_delta``.
    score_deltas : pandas.DataFrame
        Per category scored by both sides: ``n``, ``mean_a``, ``mean_b``, ``mean_delta``,
        ``median_delta``, ``mean_abs_delta``, ``max_abs_delta``, and ``spearman`` (rank
        correlation of the two sides' scores).
    names : tuple of str
        What ``a`` and ``b`` are (default: their model names).
    missing_categories : dict of str to list of str
        Categories of the thresholds that side has no score column for (they never
        fire there, e.g. ``illicit`` on a legacy model).
    duplicates : dict of str to int
        Rows dropped from each side because their key repeated (the first is kept).

    Examples
    --------
    Made by :func:`modkit.decision_drift`:

    >>> import pandas as pd
    >>> import modkit
    >>> old = pd.DataFrame({"text": ["t1", "t2"], "violence": [0.2, 0.95]})
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.9}})
    >>> report = modkit.decision_drift(old, old.assign(violence=[0.92, 0.95]), ts)
    >>> report.n_changed
    1
    >>> report.transition_counts().to_dict()
    {'allow -> block': 1}
    """

    decisions: pd.DataFrame
    transitions: pd.DataFrame
    category_flips: pd.DataFrame
    score_deltas: pd.DataFrame
    names: tuple[str, str] = ("a", "b")
    missing_categories: dict[str, list[str]] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> pd.DataFrame:
        """The rows of :attr:`decisions` whose action changed."""
        return self.decisions[self.decisions["changed"]]

    @property
    def n_changed(self) -> int:
        """How many prompts changed action."""
        return int(self.decisions["changed"].sum())

    def transition_counts(self) -> pd.Series:
        """Counts of each changed transition (``"allow -> block"`` ...), largest first.

        Returns
        -------
        Series, shape (n_transitions,)
            Named ``n``: prompts per transition, indexed by the transition's label; only
            transitions that change the action (empty when nothing changed).
        """
        t = self.decisions.loc[self.decisions["changed"], "transition"]
        return t.value_counts().rename("n")

    def summary(self) -> str:
        """A few lines of plain text: how many decisions changed, and how.

        Returns
        -------
        str
            Newline-separated lines: the count and share of changed decisions, each
            transition's count, per category the prompts newly (no longer) blocked with
            the mean score change, and the categories a side has no score for.
        """
        n = len(self.decisions)
        a, b = self.names
        lines = [
            f"{n} prompts scored by {a!r} and {b!r}: {self.n_changed} decisions changed"
            + (f" ({self.n_changed / n:.1%})" if n else "")
        ]
        for transition, k in self.transition_counts().items():
            lines.append(f"  {transition}: {k}")
        flips = self.category_flips
        for c, row in flips[(flips["to_block"] > 0) | (flips["from_block"] > 0)].iterrows():
            lines.append(
                f"  {c}: {int(row['to_block'])} newly blocked, "
                f"{int(row['from_block'])} no longer blocked"
                f" (mean score change {row['mean_delta']:+.4f})"
            )
        for side, cats in self.missing_categories.items():
            if cats:
                lines.append(f"  {side} has no score for {', '.join(cats)} (never fires there)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"DriftReport({self.names[0]!r} -> {self.names[1]!r}: "
            f"{self.n_changed} of {len(self.decisions)} decisions changed)"
        )


def _as_set(thresholds: Any, profile: str, what: str) -> ThresholdSet:
    return as_threshold_set(thresholds, None, profile=profile, what=what)


def _keyed(results: Any, key: str, side: str) -> tuple[pd.DataFrame, int]:
    if not isinstance(results, pd.DataFrame):
        raise InputError(f"results_{side} must be a pandas DataFrame, not {type(results).__name__}")
    if key not in results.columns:
        raise InputError(
            f"results_{side} has no key column {key!r} (columns: {list(results.columns)[:8]})"
        )
    keys = results[key]
    if keys.isna().any():
        i = results.index[keys.isna().to_numpy()][0]
        raise InputError(f"results_{side}: key column {key!r} is missing at index {i!r}")
    dup = keys.duplicated(keep="first").to_numpy()
    frame = results.loc[~dup].set_index(key, drop=True)
    return frame, int(dup.sum())


def _names(results: pd.DataFrame, default: str) -> str:
    if "model" not in results.columns:
        return default
    models = sorted({str(m) for m in results["model"].dropna() if str(m)})
    return ",".join(models) if models else default


def _short(keys: pd.Index, k: int = 3) -> str:
    shown = ", ".join(repr(str(v)[:60]) for v in keys[:k])
    return shown + (", ..." if len(keys) > k else "")


def _decisions_frame(dec_a: pd.DataFrame, dec_b: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Per prompt: both actions, whether it changed (and how), the categories each blocks
    and sends to review."""
    out = pd.DataFrame(index=index)
    out["action_a"] = dec_a["action"]
    out["action_b"] = dec_b["action"]
    out["changed"] = out["action_a"] != out["action_b"]
    out["transition"] = np.where(
        out["changed"], out["action_a"] + " -> " + out["action_b"], ""
    ).astype(object)
    out["blocked_a"] = dec_a["blocked_categories"]
    out["blocked_b"] = dec_b["blocked_categories"]
    out["review_a"] = dec_a["review_categories"]
    out["review_b"] = dec_b["review_categories"]
    return out


def _drift_names(
    results_a: pd.DataFrame, results_b: pd.DataFrame, names: tuple[str, str] | None
) -> tuple[str, str]:
    """The two sides' labels: given (two different ones), else from the results' models."""
    if names is None:
        names = (_names(results_a, "a"), _names(results_b, "b"))
        if names[0] == names[1]:
            names = (f"{names[0]} (a)", f"{names[1]} (b)")
    elif len(names) != 2 or str(names[0]) == str(names[1]):
        raise InputError(f"names must be two different labels, got {names!r}")
    return names


def _check_same_prompts(a: pd.DataFrame, b: pd.DataFrame, key: str) -> None:
    """Refuse two result sets that do not cover the same prompts (by ``key``)."""
    only_a = a.index.difference(b.index, sort=False)
    only_b = b.index.difference(a.index, sort=False)
    if len(only_a) or len(only_b):
        parts = []
        if len(only_a):
            parts.append(
                f"{len(only_a)} prompts of results_a are missing from results_b ({_short(only_a)})"
            )
        if len(only_b):
            parts.append(
                f"{len(only_b)} prompts of results_b are missing from results_a ({_short(only_b)})"
            )
        raise InputError(
            f"results_a and results_b must cover the same prompts (by {key!r}): " + "; ".join(parts)
        )


def _category_flips(
    c: str,
    sa: pd.Series,
    sb: pd.Series,
    dec_a: pd.DataFrame,
    dec_b: pd.DataFrame,
    index: pd.Index,
) -> dict[str, Any]:
    """One category's row of ``category_flips``: blocks on each side, the flips between
    them, and the score deltas of the prompts scored on both."""
    act_a = dec_a.get(f"action:{c}", pd.Series("", index=index))
    act_b = dec_b.get(f"action:{c}", pd.Series("", index=index))
    both = sa.notna() & sb.notna()
    d = (sb - sa)[both]
    return {
        "category": c,
        "n": int(both.sum()),
        "block_a": int((act_a == "block").sum()),
        "block_b": int((act_b == "block").sum()),
        "to_block": int(((act_a != "block") & (act_b == "block")).sum()),
        "from_block": int(((act_a == "block") & (act_b != "block")).sum()),
        "changed": int((act_a != act_b).sum()),
        "mean_delta": float(d.mean()) if len(d) else np.nan,
        "mean_abs_delta": float(d.abs().mean()) if len(d) else np.nan,
        "max_abs_delta": float(d.abs().max()) if len(d) else np.nan,
    }


@validate_params(
    {
        "results_a": [pd.DataFrame],
        "results_b": [pd.DataFrame],
        "thresholds": [ThresholdSet, Mapping, "path"],
        "thresholds_b": [None, ThresholdSet, Mapping, "path"],
        "key": [str],
        "profile": [StrOptions(("input", "output"))],
        "names": [None, tuple],
    }
)
def decision_drift(
    results_a: pd.DataFrame,
    results_b: pd.DataFrame,
    thresholds: ThresholdsLike,
    *,
    thresholds_b: ThresholdsLike | None = None,
    key: str = "text",
    profile: str = "input",
    names: tuple[str, str] | None = None,
) -> DriftReport:
    """Compare the threshold decisions on the same prompts scored twice.

    Score the same prompts with two backends or model snapshots (with a cache, scoring
    again is cheap), apply a threshold set to both, and see which decisions change
    (``allow -> block`` ...), a transition matrix, per-category flips and score deltas.
    With ``thresholds_b`` it compares two threshold sets instead (pass the same frame
    twice) or both at once.

    Parameters
    ----------
    results_a, results_b : pandas.DataFrame
        Results frames from :func:`modkit.moderate` (one float column per category key)
        covering the same prompts, in any order.
    thresholds : ThresholdSet or path
        The set applied to ``results_a`` (and to ``results_b`` unless ``thresholds_b``).
        A path is read with :func:`modkit.load_thresholds` and ``profile``.
    thresholds_b : ThresholdSet or path, optional
        A different set for ``results_b``.
    key : str, default "text"
        The column that identifies a prompt on both sides. A key repeated within one
        side is kept once (the first row; counted in ``duplicates``).
    profile : {"input", "output"}, default "input"
        The profile read when a threshold argument is a path.
    names : (str, str), optional
        What to call the two sides (default: their ``model`` values, else ``"a"``,
        ``"b"``).

    Returns
    -------
    DriftReport

    Raises
    ------
    InputError
        A frame lacks the key column or has a missing key, or the two frames do not
        cover the same prompts (the message counts what each lacks and names the first
        few keys).

    Notes
    -----
    Decisions follow :meth:`ThresholdSet.apply`: flag when ``score >= threshold``. A
    category a side has no score column for never fires on that side (listed in
    ``missing_categories``); a prompt a side could not score (``error``) is
    ``unscored`` there.

    Examples
    --------
    The same three prompts scored by an old and a new model snapshot:

    >>> import pandas as pd
    >>> import modkit
    >>> old = pd.DataFrame({"text": ["t1", "t2", "t3"], "violence": [0.2, 0.6, 0.95]})
    >>> new = old.assign(violence=[0.3, 0.4, 0.97])
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.9, "review": 0.5}})
    >>> report = modkit.decision_drift(old, new, ts, names=("old", "new"))
    >>> report
    DriftReport('old' -> 'new': 1 of 3 decisions changed)
    >>> report.decisions.loc["t2", ["action_a", "action_b"]].tolist()
    ['review', 'allow']
    >>> report.decisions["delta:violence"].round(2).tolist()
    [0.1, -0.2, 0.02]
    """
    ts_a = _as_set(thresholds, profile, "thresholds")
    ts_b = ts_a if thresholds_b is None else _as_set(thresholds_b, profile, "thresholds_b")
    a, dup_a = _keyed(results_a, key, "a")
    b, dup_b = _keyed(results_b, key, "b")
    _check_same_prompts(a, b, key)
    b = b.loc[a.index]
    names = _drift_names(results_a, results_b, names)

    dec_a = ts_a.apply(a, missing="ignore")
    dec_b = ts_b.apply(b, missing="ignore")
    out = _decisions_frame(dec_a, dec_b, a.index)

    cats = list(dict.fromkeys([*ts_a.categories, *ts_b.categories]))
    flips = []
    for c in cats:
        sa = _scores(a, c)
        sb = _scores(b, c)
        out[f"a:{c}"] = sa
        out[f"b:{c}"] = sb
        out[f"delta:{c}"] = sb - sa
        flips.append(_category_flips(c, sa, sb, dec_a, dec_b, a.index))
    category_flips = pd.DataFrame(flips).set_index("category") if flips else pd.DataFrame()

    transitions = pd.crosstab(
        pd.Categorical(out["action_a"], categories=list(ACTIONS)),
        pd.Categorical(out["action_b"], categories=list(ACTIONS)),
        rownames=[names[0]],
        colnames=[names[1]],
        margins=True,
        margins_name="all",
        dropna=False,
    )

    return DriftReport(
        decisions=out,
        transitions=transitions,
        category_flips=category_flips,
        score_deltas=_score_deltas(a, b),
        names=(str(names[0]), str(names[1])),
        missing_categories={
            names[0]: [c for c in ts_a.categories if c not in a.columns],
            names[1]: [c for c in ts_b.categories if c not in b.columns],
        },
        duplicates={names[0]: dup_a, names[1]: dup_b},
    )


def _scores(frame: pd.DataFrame, c: str) -> pd.Series:
    if c not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    try:
        return pd.to_numeric(frame[c], errors="raise").astype(float)
    except (TypeError, ValueError):
        raise InputError(f"score column {c!r} holds non-numbers") from None


def _score_deltas(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    common = [c for c in category_columns(a) if c in set(category_columns(b))]
    rows = []
    for c in common:
        sa, sb = _scores(a, c), _scores(b, c)
        both = sa.notna() & sb.notna()
        sa, sb = sa[both], sb[both]
        d = sb - sa
        n = int(both.sum())
        spearman = np.nan
        if n >= 2 and sa.nunique() > 1 and sb.nunique() > 1:
            spearman = float(sa.rank().corr(sb.rank()))
        rows.append(
            {
                "category": c,
                "n": n,
                "mean_a": float(sa.mean()) if n else np.nan,
                "mean_b": float(sb.mean()) if n else np.nan,
                "mean_delta": float(d.mean()) if n else np.nan,
                "median_delta": float(d.median()) if n else np.nan,
                "mean_abs_delta": float(d.abs().mean()) if n else np.nan,
                "max_abs_delta": float(d.abs().max()) if n else np.nan,
                "spearman": spearman,
            }
        )
    cols = [
        "n",
        "mean_a",
        "mean_b",
        "mean_delta",
        "median_delta",
        "mean_abs_delta",
        "max_abs_delta",
        "spearman",
    ]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="category"))
    return pd.DataFrame(rows).set_index("category")[cols]
