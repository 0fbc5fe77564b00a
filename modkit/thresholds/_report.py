"""Threshold reports: the per-category table and the plain-text report of a threshold set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ._objectives import parse_objective

# Duck-typed on ThresholdSet / CategoryThreshold (``_set`` imports this module).
ThresholdSet = Any
CategoryThreshold = Any

__all__ = ["oof_words", "report", "summary"]

_RATES = ("precision", "recall", "fpr")


def _pair(d: Mapping[str, Any] | None, m: str) -> tuple[Any, Any]:
    lo_hi = (d or {}).get(m)
    return (lo_hi[0], lo_hi[1]) if lo_hi else (None, None)


def summary(ts: ThresholdSet) -> pd.DataFrame:
    """One row per category of a threshold set.

    Parameters
    ----------
    ts : ThresholdSet

    Returns
    -------
    pandas.DataFrame
        Indexed by ``category``: ``review``, ``block``, ``objective``, ``status`` (the
        goal holds at the stated confidence, or on the point estimate without one),
        ``confidence``, ``method``, ``oof_status`` (``meets`` / ``misses``: the
        out-of-fold check, separate from ``status``), ``review_objective``,
        ``review_status``, ``n_pos``, ``n_neg``; per rate ``m`` in precision, recall,
        fpr: ``oof_m`` (the fitting procedure's out-of-fold estimate) with
        ``oof_m_lo`` / ``oof_m_hi`` (type in ``oof_interval``; ``"none"``, and so
        missing, for files modkit writes now) and ``sel_m_lo`` / ``sel_m_hi`` (the
        exported threshold's interval that accounts for choosing it);
        ``threshold_min`` / ``threshold_max`` across folds; ``share_allow`` /
        ``share_review`` / ``share_block``; and the endpoint-flag and fixed-0.5
        baselines' precision and recall.

    Examples
    --------
    >>> import modkit
    >>> from modkit.thresholds import summary
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    >>> summary(ts)[["review", "block"]]
              review  block
    category
    violence     0.5    0.8
    """
    rows = []
    for c, ct in ts.categories.items():
        oof = ct.out_of_fold or {}
        sel = ct.selection_ci or {}
        spread = ct.threshold_spread or {}
        bands = ct.bands or {}
        base = ct.baselines or {}
        row: dict[str, Any] = {
            "category": c,
            "review": ct.review,
            "block": ct.block,
            "objective": ct.objective,
            "status": ct.status,
            "confidence": ct.confidence,
            "method": ct.method,
            "oof_status": ct.oof_status,
            "review_objective": ct.review_objective,
            "review_status": ct.review_status,
            "n_pos": ct.n_pos,
            "n_neg": ct.n_neg,
            "oof_interval": oof.get("interval"),
        }
        for m in _RATES:
            row[f"oof_{m}"] = oof.get(m)
            row[f"oof_{m}_lo"], row[f"oof_{m}_hi"] = _pair(oof.get("ci"), m)
        for m in _RATES:
            row[f"sel_{m}_lo"], row[f"sel_{m}_hi"] = _pair(sel, m)
        row["threshold_min"] = spread.get("min")
        row["threshold_max"] = spread.get("max")
        for b in ("allow", "review", "block"):
            row[f"share_{b}"] = bands.get(b)
        for name, key in (("endpoint", "endpoint_flagged"), ("fixed_0.5", "fixed_0.5")):
            conf = base.get(key) or {}
            row[f"{name}_precision"] = conf.get("precision")
            row[f"{name}_recall"] = conf.get("recall")
        rows.append(row)
    return pd.DataFrame(rows).set_index("category") if rows else pd.DataFrame()


def _f(x: Any, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _with_ci(value: Any, lo_hi: Any) -> str:
    return _f(value) + (f" [{_f(lo_hi[0])}, {_f(lo_hi[1])}]" if lo_hi else "")


def oof_words(ct: CategoryThreshold) -> str | None:
    """A sentence when the out-of-fold estimate misses the constrained goal, else None."""
    if ct.oof_status != "misses" or not ct.out_of_fold:
        return None
    try:
        con = parse_objective(ct.objective).constraint
    except Exception:  # a hand-written objective string
        return None
    if con is None:
        return None
    value = ct.out_of_fold.get(con.metric)
    return (
        f"the out-of-fold {con.metric} {_f(value)} misses the goal {ct.objective}: "
        "expect the threshold to miss it on new data"
    )


def _status_words(ct: CategoryThreshold) -> str:
    if ct.status != "ok" or ct.objective in ("manual",):
        return ct.status
    if ct.confidence is not None:
        method = (ct.method or "fixed_sequence").replace("_", "-")
        return f"ok: goal holds at confidence {ct.confidence:g} ({method} test)"
    try:
        constrained = parse_objective(ct.objective).constrained
    except Exception:
        constrained = False
    return "ok: goal holds on the point estimate (no confidence)" if constrained else "ok"


def _category_lines(c: str, ct: CategoryThreshold) -> list[str]:
    """The report's lines for one category: thresholds, out-of-fold and exported-threshold
    intervals, spread across folds, baselines, clamp and note."""
    out: list[str] = []
    head = (
        f"{c:24s} block {_f(ct.block, '.4f'):>6s} review {_f(ct.review, '.4f'):>6s} "
        f"{ct.objective} [{_status_words(ct)}]"
    )
    if ct.n_pos is not None:
        head += f" n_pos={ct.n_pos} n_neg={ct.n_neg}"
    out.append(head)
    oof = ct.out_of_fold
    if oof:
        kind = oof.get("interval", "percentile-bootstrap")
        ci = oof.get("ci") or {}
        what = (
            "procedure, each fold's own threshold; no interval"
            if kind == "none"
            else f"{oof['ci_level']:.0%} {kind}"
        )
        out.append(
            f"    out-of-fold ({oof['folds']} folds, {what}):"
            + "".join(f" {m} {_with_ci(oof.get(m), ci.get(m))}" for m in _RATES)
            + (f" [{ct.oof_status}]" if ct.oof_status else "")
        )
    words = oof_words(ct)
    if words:
        out.append(f"    warning: {words}")
    sel = ct.selection_ci
    if sel:
        out.append(
            f"    exported threshold ({sel['level']:.0%} refit-bootstrap, "
            f"{sel['resamples']} resamples, scored out of bag"
            + (", joined with exact" if sel["method"].endswith("clopper-pearson") else "")
            + "):"
            + "".join(f" {m} [{_f(_pair(sel, m)[0])}, {_f(_pair(sel, m)[1])}]" for m in _RATES)
        )
    sp = ct.threshold_spread
    if sp and sp.get("min") is not None:
        out.append(
            f"    threshold across folds: {_f(sp['min'], '.4f')}..{_f(sp['max'], '.4f')}"
            f" (std {_f(sp['std'], '.4f')}, never-flag folds {sp['never']})"
        )
    for name, key in (("endpoint flagged", "endpoint_flagged"), ("fixed 0.5", "fixed_0.5")):
        conf = (ct.baselines or {}).get(key)
        if conf:
            out.append(
                f"    {name:16s}: precision {_f(conf['precision'])} recall "
                f"{_f(conf['recall'])} fpr {_f(conf['fpr'])}"
            )
    if ct.review_clamped:
        out.append("    review threshold clamped to block")
    if ct.note:
        out.append(f"    note: {ct.note}")
    return out


def report(ts: ThresholdSet) -> str:
    """A short plain-text report of a threshold set.

    One block per category: thresholds, objective and status in words, the out-of-fold
    estimate with its intervals (and a sentence when it misses the goal), the exported
    threshold's selection-aware intervals, the threshold's spread across folds, the
    baselines and notes; then what decides the categories without a threshold (the
    ``unthresholded`` policy) and, for a fitted set, why each was not fitted; then the
    bands and the expected review queue.

    Parameters
    ----------
    ts : ThresholdSet
        A fitted set (a hand-made set reports its thresholds only).

    Returns
    -------
    str
        Newline-separated lines; rates as proportions, the review queue in items per
        day.

    Examples
    --------
    >>> import modkit
    >>> from modkit.thresholds import report
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    >>> print(report(ts).splitlines()[0])
    profile input: flag when score >= threshold
    """
    lines = [
        f"profile {ts.profile}: flag when score >= threshold"
        + (f"; model {ts.model}" if ts.model else "")
    ]
    for c, ct in ts.categories.items():
        lines.extend(_category_lines(c, ct))
    lines.append(ts.describe_policy())
    for c, why in getattr(ts, "not_fitted", {}).items():
        lines.append(f"    not fitted: {c}: {why}")
    if ts.bands:
        b = ts.bands
        lines.append(
            f"bands (share of {b['n']} rows): allow {b['allow']:.2%}, review "
            f"{b['review']:.2%}, block {b['block']:.2%}"
            + (f", unscored {b['unscored']:.2%}" if b.get("unscored") else "")
        )
    if ts.review_per_day is not None:
        lines.append(
            f"expected review queue: {ts.review_per_day:,.0f} per day at "
            f"{ts.daily_volume:,.0f} items per day"
        )
    return "\n".join(lines)
