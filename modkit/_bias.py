"""Bias views of a results frame: counterfactual gaps and identity-term metrics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import pandas as pd

from ._bias_uncertainty import (
    BiasBootstrap,
    delong_interval,
    estimate_interval,
    jigsaw_final_metric,
    power_mean,
)
from ._errors import InputError
from ._frame import check_columns, check_frame, resolve_categories, scored_mask, scored_rows
from ._validation import PROB, Interval, SequenceOf, validate_params

__all__ = ["bias_metrics", "counterfactual_gap"]

#: The note for an interval widened to reach its estimate (the resamples lie almost all
#: on one side of it, typically because of a subgroup of a few rows).
_WIDENED = (
    "{0}: the resamples lie almost all on one side of the estimate (subgroups of a few "
    "rows); the interval is the percentile interval widened to the estimate"
)


#: The value columns of :func:`counterfactual_gap` (the others are its ``by`` keys).
GAP_COLUMNS = (
    "category",
    "gap",
    "max_value",
    "max_score",
    "min_value",
    "min_score",
    "mean",
    "n_values",
    "n",
)


@validate_params(
    {
        "results": [pd.DataFrame],
        "slot": [str],
        "by": [None, str, SequenceOf(str)],
        "categories": [None, str, SequenceOf(str)],
        "detail": ["boolean"],
    }
)
def counterfactual_gap(
    results: pd.DataFrame,
    slot: str,
    *,
    by: str | Sequence[str] | None = "template_id",
    categories: Sequence[str] | None = None,
    detail: bool = False,
) -> pd.DataFrame:
    """How much a template's scores move when only one slot's value changes.

    For each template (each group of ``by``) and category, the score of each value of
    ``slot`` is the mean over that value's prompts (prompts that differ in other slots
    are averaged; put those slots in ``by`` to hold them fixed instead). The gap is
    the largest minus the smallest of these per-value scores. A template none of whose
    rows has a value for ``slot`` (missing, or the empty string a CSV round trip leaves)
    does not have the slot and is left out; in a template that has it, an empty
    string is a value like any other (an empty alternative, ``{|really}``).

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame from :func:`modkit.moderate` of expanded prompts.
    slot : str
        The slot column whose values are swapped, e.g. ``"group"``.
    by : str, list of str or None, default "template_id"
        What identifies "the same sentence". ``None``: the whole frame is one group.
    categories : list of str, optional
        Category keys (default: every category column).
    detail : bool, default False
        Return one row per group, slot value and category instead, with the value's
        ``score``, its ``diff`` from the group mean (``score - mean``) and ``n``.

    Returns
    -------
    pandas.DataFrame
        Summary (default), sorted by ``gap`` descending: ``by...``, ``category``,
        ``gap``, ``max_value``, ``max_score``, ``min_value``, ``min_score``, ``mean``
        (mean of the per-value scores, each value weighted equally), ``n_values``
        (slot values with a score) and ``n`` (scored prompts). With ``detail=True``:
        ``by...``, ``slot``'s column, ``category``, ``score``, ``mean``, ``diff``, ``n``.
        ``attrs["n_excluded"]`` counts rows left out because their ``error`` is set,
        ``attrs["n_missing_slot"]`` scored rows left out because they lack the slot
        (their template does not have it) or a ``by`` value.

    Raises
    ------
    InputError
        If ``slot``, a ``by`` column or a category is not in the results, or no row
        has a value for ``slot``.

    Examples
    --------
    Two fillings of one slot, scored (here by hand) and compared within the template:

    >>> import modkit
    >>> prompts = modkit.expand("I want to hurt a {group: woman|man}. {verb: Help|Stop} me.")
    >>> prompts["violence"] = [0.9, 0.8, 0.3, 0.2]
    >>> gap = modkit.counterfactual_gap(prompts, "group", categories=["violence"])
    >>> gap[["template_id", "category", "gap", "max_value", "min_value"]].round(2)
      template_id  category  gap max_value min_value
    0          t1  violence  0.6     woman       man
    """
    frame = check_frame(results)
    (slot_col,) = check_columns(frame, [slot], "slot")
    if by == "template_id" and by not in frame.columns:
        raise InputError(
            "counterfactual_gap: the results have no 'template_id' column; pass by= the "
            "column(s) naming the template, or by=None to treat all rows as one template"
        )
    by_cols = [] if by is None else check_columns(frame, by)
    if slot_col in by_cols:
        raise InputError(f"slot {slot_col!r} is also listed in by; remove it from by")
    cats = resolve_categories(frame, categories, None)
    key_cols = [*by_cols, slot_col]
    sel, n_excluded, n_missing_slot = _gap_rows(frame, by_cols, slot_col)
    pair, pair_values, uniques = _pair_codes(frame, key_cols, sel)
    n_pairs = len(pair_values)
    if not n_pairs:
        empty = pd.DataFrame(columns=[*by_cols, *GAP_COLUMNS])
        if detail:
            empty = pd.DataFrame(
                columns=[*by_cols, slot_col, "category", "score", "mean", "diff", "n"]
            )
        empty.attrs.update(n_excluded=n_excluded, n_missing_slot=n_missing_slot, slot=slot_col)
        return empty
    score, n_cnt = _pair_scores(frame, cats, sel, pair, n_pairs)
    keys, tcode = _pair_keys(pair_values, key_cols, uniques, bool(by_cols))
    per = _per_template(score, n_cnt, tcode)
    if detail:
        detailed = _gap_detail(keys, by_cols, slot_col, cats, score, n_cnt, tcode, per, n_excluded)
        detailed.attrs["n_missing_slot"] = n_missing_slot
        return detailed
    out = _gap_summary(keys, by_cols, slot_col, cats, per)
    out.attrs["n_excluded"] = n_excluded
    out.attrs["n_missing_slot"] = n_missing_slot
    out.attrs["slot"] = slot_col
    return out


def _gap_rows(
    frame: pd.DataFrame, by_cols: list[str], slot_col: str
) -> tuple[np.ndarray, int, int]:
    """Positions of the rows that count (scored, keys present, their template has the
    slot), the number of unscored rows, and of scored rows left out for a missing slot."""
    blank = frame[slot_col].isna().to_numpy() | (frame[slot_col] == "").to_numpy()
    if blank.all():
        raise InputError(f"slot {slot_col!r}: no row has a value for it")
    ok = scored_mask(frame)
    n_excluded = int((~ok).sum())
    scored_ok = ok.copy()
    ok &= frame[[*by_cols, slot_col]].notna().all(axis=1).to_numpy()
    if blank.any() and by_cols:  # leave out the templates that lack the slot
        filled = pd.Series(~blank, index=frame.index).groupby(
            [frame[c] for c in by_cols], sort=False, dropna=False
        )
        ok &= filled.transform("any").to_numpy(dtype=bool)
    n_missing_slot = int((scored_ok & ~ok).sum())
    return np.flatnonzero(ok), n_excluded, n_missing_slot


def _pair_codes(
    frame: pd.DataFrame, key_cols: list[str], sel: np.ndarray
) -> tuple[np.ndarray, Any, list[Any]]:
    """One code per (template, slot value) pair of the rows ``sel`` (first-seen order),
    the pairs' mixed-radix values, and each key column's unique values."""
    # Integer codes once per key column (first-seen order), then one code per
    # (template, slot value) pair: no groupby over Arrow strings, no copy of the frame.
    codes, uniques = [], []
    for c in key_cols:
        code, uniq = pd.factorize(frame[c].take(sel) if len(sel) < len(frame) else frame[c])
        codes.append(code.astype(np.int64))
        uniques.append(uniq)
    combined = np.zeros(len(sel), dtype=np.int64)
    for code, uniq in zip(codes, uniques, strict=True):
        combined = combined * max(len(uniq), 1) + code
    pair, pair_values = pd.factorize(combined)  # per-value rows, first-seen order
    return pair, pair_values, uniques


def _pair_scores(
    frame: pd.DataFrame, cats: list[str], sel: np.ndarray, pair: np.ndarray, n_pairs: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean score and number of scored prompts, shape (pairs, categories)."""
    score = np.empty((n_pairs, len(cats)))
    n_cnt = np.empty((n_pairs, len(cats)), dtype=np.int64)
    for j, c in enumerate(cats):
        v = frame[c].to_numpy(dtype=float, na_value=np.nan)[sel]
        present = ~np.isnan(v)
        n_cnt[:, j] = np.bincount(pair, weights=present, minlength=n_pairs)
        total = np.bincount(pair, weights=np.where(present, v, 0.0), minlength=n_pairs)
        with np.errstate(invalid="ignore", divide="ignore"):
            score[:, j] = total / n_cnt[:, j]
    return score, n_cnt


def _pair_keys(
    pair_values: Any, key_cols: list[str], uniques: list[Any], has_by: bool
) -> tuple[pd.DataFrame, np.ndarray]:
    """The key values of each pair (decoded from the mixed-radix code) and its template code."""
    rest = np.asarray(pair_values, dtype=np.int64)
    parts = []
    for code_uniq in reversed(uniques):
        radix = max(len(code_uniq), 1)
        parts.append(rest % radix)
        rest = rest // radix
    parts.reverse()
    keys = pd.DataFrame(
        {c: uniq.take(part) for c, uniq, part in zip(key_cols, uniques, parts, strict=True)}
    )
    if has_by:
        tcode = pd.factorize(np.asarray(pair_values, dtype=np.int64) // max(len(uniques[-1]), 1))[0]
    else:
        tcode = np.zeros(len(keys), dtype=np.int64)
    return keys, tcode


def _gap_summary(
    keys: pd.DataFrame,
    by_cols: list[str],
    slot_col: str,
    cats: list[str],
    per: dict[str, np.ndarray],
) -> pd.DataFrame:
    """One row per (template, category) with a score, gap descending (ties category-major)."""
    has = per["n_values"] > 0  # (template, category) pairs with a score
    cat_idx, t_idx = np.nonzero(has.T)  # category-major, templates in first-seen order
    gap = per["max"][t_idx, cat_idx] - per["min"][t_idx, cat_idx]
    order = np.argsort(-gap, kind="stable")  # gap descending, ties in that order
    cat_idx, t_idx, gap = cat_idx[order], t_idx[order], gap[order]
    first_row = per["first"][t_idx]
    slot_values = keys[slot_col].array
    columns: dict[str, Any] = {c: keys[c].array.take(first_row) for c in by_cols}
    columns["category"] = pd.array(cats).take(cat_idx)
    columns.update(
        gap=gap,
        max_value=slot_values.take(per["argmax"][t_idx, cat_idx]),
        max_score=per["max"][t_idx, cat_idx],
        min_value=slot_values.take(per["argmin"][t_idx, cat_idx]),
        min_score=per["min"][t_idx, cat_idx],
        mean=per["mean"][t_idx, cat_idx],
        n_values=per["n_values"][t_idx, cat_idx].astype(np.int64),
        n=per["n"][t_idx, cat_idx].astype(np.int64),
    )
    return pd.DataFrame(columns, columns=[*by_cols, *GAP_COLUMNS])


def _per_template(score: np.ndarray, n: np.ndarray, tcode: np.ndarray) -> dict[str, np.ndarray]:
    """Per template (rows of the result) and category (columns), without a Python loop:
    max, min and the first per-value row reaching them, mean of the per-value scores,
    how many values have a score, scored prompts, and each template's first row."""
    order = np.argsort(tcode, kind="stable")  # a template's values stay in first-seen order
    t_sorted = tcode[order]
    starts = np.flatnonzero(np.r_[True, t_sorted[1:] != t_sorted[:-1]])
    s = score[order]
    present = ~np.isnan(s)
    gid = np.cumsum(np.r_[True, t_sorted[1:] != t_sorted[:-1]]) - 1
    with np.errstate(invalid="ignore"):
        gmax = np.fmax.reduceat(s, starts, axis=0)
        gmin = np.fmin.reduceat(s, starts, axis=0)
    n_values = np.add.reduceat(present, starts, axis=0)
    total = np.add.reduceat(np.where(present, s, 0.0), starts, axis=0)
    rows = np.arange(len(s))[:, None]
    big = len(s)
    at_max = np.minimum.reduceat(np.where(s == gmax[gid], rows, big), starts, axis=0)
    at_min = np.minimum.reduceat(np.where(s == gmin[gid], rows, big), starts, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n_values
    return {
        "max": gmax,
        "min": gmin,
        "mean": mean,
        "n_values": n_values,
        "n": np.add.reduceat(n[order], starts, axis=0),
        "argmax": order[np.minimum(at_max, big - 1)],
        "argmin": order[np.minimum(at_min, big - 1)],
        "first": order[starts],
    }


def _gap_detail(
    keys: pd.DataFrame,
    by_cols: list[str],
    slot_col: str,
    cats: list[str],
    score: np.ndarray,
    n: np.ndarray,
    tcode: np.ndarray,
    per: dict[str, np.ndarray],
    n_excluded: int,
) -> pd.DataFrame:
    """One row per template, slot value and category (with a score), category-major."""
    cat_idx, row_idx = np.nonzero(~np.isnan(score).T)
    out = keys.loc[row_idx, [*by_cols, slot_col]].reset_index(drop=True)
    out["category"] = np.asarray(cats, dtype=object)[cat_idx]
    out["score"] = score[row_idx, cat_idx]
    out["mean"] = per["mean"][tcode[row_idx], cat_idx]
    out["diff"] = out["score"] - out["mean"]
    out["n"] = n[row_idx, cat_idx].astype(np.int64)
    out = out[[*by_cols, slot_col, "category", "score", "mean", "diff", "n"]]
    out.attrs["n_excluded"] = n_excluded
    out.attrs["slot"] = slot_col
    return out


@validate_params(
    {
        "results": [pd.DataFrame],
        "subgroup_col": [str],
        "label_col": [str],
        "category": [str],
        "threshold": [PROB],
        "sep": [None, str],
        "bootstrap": [Interval(Integral, 0, None)],
        "ci_level": [Interval(Real, 0, 1, closed="neither")],
        "random_state": [Interval(Integral, None, None)],
    }
)
def bias_metrics(
    results: pd.DataFrame,
    subgroup_col: str,
    label_col: str,
    category: str,
    *,
    threshold: float = 0.5,
    pos_label: Any = 1,
    subgroups: Sequence[Any] | None = None,
    sep: str | None = None,
    bootstrap: int = 200,
    ci_level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Per-subgroup AUCs (Borkan et al. 2019) and error rates (Dixon et al. 2018).

    Parameters
    ----------
    results : pandas.DataFrame
        A results frame with a label column, e.g. HateCheck through
        :func:`modkit.moderate`.
    subgroup_col : str
        The column naming each row's identity subgroup (e.g. ``"target_ident"``).
        A cell may hold one value, a list/tuple/set of values, or (with ``sep``)
        several values joined by ``sep``; a row belongs to each value it holds.
        Rows with no value (missing, or a blank string as a CSV round trip leaves)
        are never a subgroup of their own; they belong to the background of every
        subgroup, and ``attrs["n_missing_by"]`` counts them.
    label_col : str
        The ground-truth column; a row is positive when it equals ``pos_label``.
    category : str
        The category whose score is the classifier output (e.g. ``"hate"``).
    threshold : float in [0, 1], default 0.5
        Flag when score >= threshold, for the false positive / negative rates.
    pos_label : default 1
        The positive label value (``1``, ``"hateful"``, ``"toxic"``...).
    subgroups : list, optional
        Which subgroups to report (default: every value, in order of appearance).
    sep : str, optional
        Split string cells of ``subgroup_col`` on this separator.
    bootstrap : int, default 200
        Resamples for the intervals (0 turns them off). Rows are resampled within
        strata (the exact set of subgroups a row belongs to, the background being one,
        crossed with the label), so every subgroup keeps its size and its numbers of
        positives and negatives: an AUC defined on the data is defined in every
        resample. The intervals are bias-corrected percentile intervals (Efron &
        Tibshirani 1993, 14.3), as the power means and small subgroups' AUCs have
        skewed resampling distributions. Where the resamples lie almost all on one
        side of the estimate the interval is the percentile interval widened to reach
        the estimate, and ``note`` says so: an interval always contains its estimate.
        Resampling within fixed strata leaves out the variation of the strata
        themselves (how many background positives come from which other subgroup),
        and alone covered as little as 0.88 at 95% in that benchmark; so each
        subgroup, BPSN and BNSP AUC interval is joined (hull) with the studentised
        logit-DeLong interval of :func:`modkit._bias_uncertainty.delong_interval`
        (DeLong et al. 1988), and that is what ``benchmarks/bench_coverage.py --part
        bias`` measures. The ``fpr_diff`` / ``fnr_diff``, ``auc_ci`` and
        ``final_metric_ci`` intervals are
        the bootstrap's alone; their coverage is not measured.
    ci_level : float in (0, 1), default 0.95
    random_state : int, default 0
        Seeds the resampling.

    Returns
    -------
    pandas.DataFrame
        One row per subgroup: ``subgroup``, ``n``, ``n_pos``, ``n_neg``,
        ``subgroup_auc`` (AUC within the subgroup), ``bpsn_auc`` (background positives
        + subgroup negatives), ``bnsp_auc`` (background negatives + subgroup
        positives), ``fpr`` and ``fnr`` at ``threshold`` within the subgroup,
        ``fpr_diff`` and ``fnr_diff`` (``|overall rate - subgroup rate|``) and ``note``
        (why a value is NaN, e.g. "subgroup_auc: subgroup has no negatives"). With
        ``bootstrap``, each of ``subgroup_auc``, ``bpsn_auc``, ``bnsp_auc``,
        ``fpr_diff`` and ``fnr_diff`` has ``<metric>_lo`` / ``<metric>_hi``; a widened
        interval is named in ``note`` (in ``attrs["overall"]["note"]`` for ``auc_ci``
        and ``final_metric_ci``).
        ``attrs["overall"]`` holds ``n``, ``n_pos``, ``auc``, ``fpr``, ``fnr``, ``fped``
        and ``fned`` (the false positive / negative equality differences: the sums of
        ``fpr_diff`` and ``fnr_diff`` over subgroups where they are defined; NaN if
        none is), ``power_means`` (the generalised power mean, p = -5, of each bias
        AUC over subgroups), ``final_metric`` (the Jigsaw Unintended Bias competition's
        summary: 0.25 × overall AUC + 0.25 × the sum of the three power means; Borkan
        et al. 2019), ``auc_ci`` and ``final_metric_ci`` (with ``bootstrap``),
        ``threshold``, ``category``, ``ci_level``, ``bootstrap`` and ``n_excluded``
        (rows without a score or label).

    Raises
    ------
    InputError
        If a column is missing, the threshold is not a number in [0, 1], or no row
        is left.

    Notes
    -----
    AUCs use :func:`sklearn.metrics.roc_auc_score`. An AUC needs both classes: when
    one is missing the AUC is NaN and ``note`` says why; no exception is raised.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> results = pd.DataFrame(
    ...     {
    ...         "group": ["women", "women", "women", "men", "men", "men"],
    ...         "label": [1, 1, 0, 1, 0, 0],
    ...         "violence": [0.9, 0.4, 0.6, 0.8, 0.1, 0.3],
    ...     }
    ... )
    >>> table = modkit.bias_metrics(results, "group", "label", "violence", threshold=0.5)
    >>> table[["subgroup", "n", "subgroup_auc", "fpr", "fnr"]]
      subgroup  n  subgroup_auc  fpr  fnr
    0    women  3           0.5  1.0  0.5
    1      men  3           1.0  0.0  0.0
    """
    frame = check_frame(results)
    check_columns(frame, [subgroup_col], "subgroup_col")
    check_columns(frame, [label_col], "label_col")
    check_columns(frame, [category], "category")
    y, s, members, n_excluded = _labelled_scores(
        frame, label_col, category, pos_label, sep, subgroup_col
    )
    names = _subgroup_names(members, subgroups)
    pred = s >= float(threshold)
    everyone = np.ones(len(y), dtype=bool)
    overall_notes: list[str] = []
    overall_auc = _auc(y, s, everyone, "auc", overall_notes)
    overall_fpr, overall_fnr = _rates(y, pred, everyone, "the whole set", overall_notes)
    out, masks = _subgroup_table(names, members, y, s, pred, overall_fpr, overall_fnr)
    out.attrs["subgroup_col"] = subgroup_col
    # rows with no subgroup value: never a row of their own (as groupby(dropna=True)),
    # but part of every subgroup's background
    out.attrs["n_missing_by"] = sum(1 for m in members if not m)
    overall: dict[str, Any] = {
        "category": category,
        "threshold": float(threshold),
        "n": len(y),
        "n_pos": int(y.sum()),
        "auc": overall_auc,
        "fpr": overall_fpr,
        "fnr": overall_fnr,
        "fped": float(out["fpr_diff"].sum(min_count=1)),
        "fned": float(out["fnr_diff"].sum(min_count=1)),
        "power_means": {m: power_mean(out[m].to_numpy(dtype=float)) for m in _AUC_COLS},
        "final_metric": jigsaw_final_metric(
            overall_auc,
            *(out[col].to_numpy(dtype=float) for col in _AUC_COLS),  # type: ignore[arg-type]
        ),
        "ci_level": ci_level,
        "bootstrap": int(bootstrap),
        "n_excluded": n_excluded,
        "note": "; ".join(overall_notes),
    }
    if bootstrap and len(names):
        draws = _bootstrap_draws(s, y, members, names, float(threshold), bootstrap, random_state)
        _add_subgroup_intervals(out, draws, masks, s, y, ci_level)
        _add_overall_intervals(overall, draws, ci_level)
    out.attrs["overall"] = overall
    return out


#: The AUC columns of :func:`bias_metrics`.
_AUC_COLS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")

#: The columns of :func:`bias_metrics` (before the intervals).
_BIAS_COLUMNS = [
    "subgroup",
    "n",
    "n_pos",
    "n_neg",
    "subgroup_auc",
    "bpsn_auc",
    "bnsp_auc",
    "fpr",
    "fnr",
    "fpr_diff",
    "fnr_diff",
    "note",
]


def _labelled_scores(
    frame: pd.DataFrame,
    label_col: str,
    category: str,
    pos_label: Any,
    sep: str | None,
    subgroup_col: str,
) -> tuple[np.ndarray, np.ndarray, list[frozenset[Any]], int]:
    """The usable rows' labels (bool), scores, subgroup sets, and how many rows are left out."""
    scored, n_error = scored_rows(frame)
    score = pd.to_numeric(scored[category], errors="coerce")
    label = scored[label_col]
    usable = score.notna() & label.notna()
    n_excluded = n_error + int((~usable).sum())
    if not usable.any():
        raise InputError(
            f"no row has both a {category!r} score and a {label_col!r} label "
            f"({n_excluded} rows excluded)"
        )
    y = (label[usable] == pos_label).to_numpy()
    s = score[usable].to_numpy(dtype=float)
    members = [_members(v, sep) for v in scored.loc[usable, subgroup_col].tolist()]
    return y, s, members, n_excluded


def _subgroup_names(members: list[frozenset[Any]], subgroups: Sequence[Any] | None) -> list[Any]:
    """The subgroups to report: those asked for, else every value in order of appearance."""
    if subgroups is not None:
        return list(subgroups)
    order: dict[Any, None] = {}
    for m in members:
        order.update(dict.fromkeys(m))
    return list(order)


def _auc(y: np.ndarray, s: np.ndarray, mask: np.ndarray, what: str, notes: list[str]) -> float:
    """ROC AUC of the rows in ``mask``; NaN (and a note) without both classes."""
    from sklearn.metrics import roc_auc_score

    yy = y[mask]
    if yy.size == 0:
        notes.append(f"{what}: no rows")
        return math.nan
    if yy.all() or not yy.any():
        missing = "negatives" if yy.all() else "positives"
        notes.append(f"{what}: no {missing}")
        return math.nan
    return float(roc_auc_score(yy, s[mask]))


def _rates(
    y: np.ndarray, pred: np.ndarray, mask: np.ndarray, what: str, notes: list[str]
) -> tuple[float, float]:
    """False positive and false negative rates in ``mask`` (NaN and a note if undefined)."""
    neg, pos = mask & ~y, mask & y
    if neg.any():
        fpr = float(pred[neg].mean())
    else:
        fpr = math.nan
        notes.append(f"fpr: {what} has no negatives")
    if pos.any():
        fnr = float(1.0 - pred[pos].mean())
    else:
        fnr = math.nan
        notes.append(f"fnr: {what} has no positives")
    return fpr, fnr


def _subgroup_table(
    names: list[Any],
    members: list[frozenset[Any]],
    y: np.ndarray,
    s: np.ndarray,
    pred: np.ndarray,
    overall_fpr: float,
    overall_fnr: float,
) -> tuple[pd.DataFrame, dict[str, list[np.ndarray]]]:
    """One row per subgroup (AUCs, rates, notes) and the row masks of each AUC."""
    rows = []
    masks: dict[str, list[np.ndarray]] = {c: [] for c in _AUC_COLS}
    for name in names:
        in_group = np.fromiter((name in m for m in members), dtype=bool, count=len(members))
        notes: list[str] = []
        masks["subgroup_auc"].append(in_group)
        masks["bpsn_auc"].append((~in_group & y) | (in_group & ~y))
        masks["bnsp_auc"].append((~in_group & ~y) | (in_group & y))
        aucs = {c: _auc(y, s, masks[c][-1], c, notes) for c in _AUC_COLS}
        fpr, fnr = _rates(y, pred, in_group, "subgroup", notes)
        rows.append(
            {
                "subgroup": name,
                "n": int(in_group.sum()),
                "n_pos": int((in_group & y).sum()),
                "n_neg": int((in_group & ~y).sum()),
                **aucs,
                "fpr": fpr,
                "fnr": fnr,
                "fpr_diff": abs(overall_fpr - fpr),
                "fnr_diff": abs(overall_fnr - fnr),
                "note": "; ".join(notes),
            }
        )
    return pd.DataFrame(rows, columns=_BIAS_COLUMNS), masks


def _bootstrap_draws(
    s: np.ndarray,
    y: np.ndarray,
    members: list[frozenset[Any]],
    names: list[Any],
    threshold: float,
    bootstrap: int,
    random_state: int,
) -> dict[str, np.ndarray]:
    """The stratified resamples' metrics (:class:`BiasBootstrap`)."""
    groups = np.array([[name in m for m in members] for name in names], dtype=bool).reshape(
        len(names), len(members)
    )
    rng = np.random.default_rng(random_state)
    return BiasBootstrap(s, y, groups, threshold, int(bootstrap), rng).run()


def _add_subgroup_intervals(
    out: pd.DataFrame,
    draws: dict[str, np.ndarray],
    masks: dict[str, list[np.ndarray]],
    s: np.ndarray,
    y: np.ndarray,
    ci_level: float,
) -> None:
    """Insert ``<metric>_lo`` / ``<metric>_hi`` after each metric of ``out``, in place;
    the AUCs' intervals joined with the logit-DeLong interval; widened ones noted."""
    row_notes = [[n] if n else [] for n in out["note"]]
    for col in (*_AUC_COLS, "fpr_diff", "fnr_diff"):
        estimate = out[col].to_numpy(dtype=float)
        lo, hi, widened = estimate_interval(draws[col], estimate, ci_level)
        if col in masks:  # joined with the studentised (logit DeLong) interval
            for j, mask in enumerate(masks[col]):
                if np.isfinite(estimate[j]):
                    d_lo, d_hi = delong_interval(s[mask & y], s[mask & ~y], ci_level)
                    lo[j], hi[j] = min(lo[j], d_lo), max(hi[j], d_hi)
        at = cast(int, out.columns.get_loc(col))  # a unique column: its position
        out.insert(at + 1, f"{col}_lo", lo)  # NaN where the estimate is NaN
        out.insert(at + 2, f"{col}_hi", hi)
        for i in np.flatnonzero(widened):
            row_notes[i].append(_WIDENED.format(col))
    out["note"] = ["; ".join(n) for n in row_notes]


def _add_overall_intervals(
    overall: dict[str, Any], draws: dict[str, np.ndarray], ci_level: float
) -> None:
    """``auc_ci`` and ``final_metric_ci`` into ``overall``, in place (widened ones noted)."""
    for key, col in (("auc_ci", "auc"), ("final_metric_ci", "final_metric")):
        lo, hi, widened = estimate_interval(draws[col], overall[col], ci_level)
        overall[key] = [float(lo[0]), float(hi[0])]
        if widened[0]:
            overall["note"] = "; ".join(filter(None, [str(overall["note"]), _WIDENED.format(key)]))


def _members(value: Any, sep: str | None) -> frozenset[Any]:
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return frozenset(v for v in value if not _missing(v))
    if _missing(value):
        return frozenset()
    if sep is not None and isinstance(value, str):
        return frozenset(p.strip() for p in value.split(sep) if p.strip())
    return frozenset([value])


def _missing(value: Any) -> bool:
    """No subgroup: NaN/None, or a blank string (what a CSV round trip leaves)."""
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
