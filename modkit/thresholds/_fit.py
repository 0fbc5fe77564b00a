"""Fitting per-category thresholds against labelled examples."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._frame import endpoint_flags as _flags_from_results
from .._taxonomy import CATEGORIES
from ._labels import coerce_labels, coerce_scores, labels_sha256
from ._metrics import Curve, Selection, binary_curve, confusion, select_threshold
from ._objectives import Objective, parse_objective
from ._set import PROFILES, CategoryThreshold, ThresholdSet

__all__ = ["fit_thresholds"]

ObjectiveLike = str | Objective | Mapping[str, Any]


def _is_objective_dict(spec: Any) -> bool:
    return isinstance(spec, Mapping) and "kind" in spec


def _per_category(
    spec: Any, cats: list[str], what: str, required: bool
) -> dict[str, Objective | None]:
    if spec is None:
        return dict.fromkeys(cats)
    if isinstance(spec, Mapping) and not _is_objective_dict(spec):
        unknown = [k for k in spec if k != "*" and k not in CATEGORIES]
        if unknown:
            raise InputError(
                f"{what}: unknown category keys {unknown} "
                f"(use API spellings such as {CATEGORIES[:3]}, or '*')"
            )
        default = parse_objective(spec["*"]) if "*" in spec else None
        out = {c: parse_objective(spec[c]) if c in spec else default for c in cats}
        missing = [c for c, o in out.items() if o is None]
        if required and missing:
            raise InputError(
                f"{what}: no objective for labelled categories {missing}; add them or a '*' default"
            )
        return out
    obj = parse_objective(spec)
    return dict.fromkeys(cats, obj)


def _flagged_counts(
    curve: Curve, threshold: float | None, tp_at: np.ndarray, n_at: np.ndarray
) -> tuple[int, int]:
    """(tp, fp) at ``threshold`` from cumulative counts at the curve's group ends."""
    k = curve.n_flagged(threshold)
    if k == 0:
        return 0, 0
    g = int(np.searchsorted(curve.ends, k - 1))
    return int(tp_at[g]), int(n_at[g] - tp_at[g])


def _select(
    obj: Objective,
    curve: Curve,
    tp: np.ndarray,
    fp: np.ndarray,
    n_pos: int,
    n_neg: int,
    confidence: float | None,
    present: np.ndarray | None = None,
) -> Selection:
    return select_threshold(
        obj,
        curve.thresholds,
        tp,
        fp,
        n_pos,
        n_neg,
        confidence=confidence if obj.constrained else None,
        present=present,
    )


def _percentile_ci(values: np.ndarray, level: float) -> list[float] | None:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return None
    lo, hi = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return [float(lo), float(hi)]


def _bootstrap(
    counts: tuple[int, int, int, int], b: int, level: float, rng: np.random.Generator
) -> dict[str, list[float] | None]:
    """Percentile CIs of precision, recall and FPR from resampling rows (multinomial)."""
    n = sum(counts)
    if b <= 0 or n == 0:
        return {"precision": None, "recall": None, "fpr": None}
    draws = rng.multinomial(n, np.asarray(counts, dtype=float) / n, size=b).astype(float)
    tp, fp, fn, tn = draws.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "precision": _percentile_ci(tp / (tp + fp), level),
            "recall": _percentile_ci(tp / (tp + fn), level),
            "fpr": _percentile_ci(fp / (fp + tn), level),
        }


def _folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified fold ids: each class's fold ids (dealt round-robin) shuffled over its rows."""
    fold = np.empty(len(y), dtype=np.int64)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        fold[idx] = rng.permutation((np.arange(len(idx)) % k).astype(np.int8))
    return fold


def _fit_category(
    cat: str,
    s_all: np.ndarray,
    y_all: np.ndarray,
    flags_all: np.ndarray | None,
    obj: Objective,
    rev: Objective | None,
    *,
    cv: int,
    bootstrap: int,
    confidence: float | None,
    min_positives: int,
    random_state: int,
    ci_level: float,
) -> CategoryThreshold:
    scored = ~np.isnan(s_all)
    lab = scored & ~np.isnan(y_all)
    y = (y_all[lab] == 1).astype(np.int8)
    curve = binary_curve(s_all[lab], y)
    n_pos, n_neg = curve.n_pos, curve.n_neg
    n_at = curve.ends + 1
    notes = []
    insufficient = n_pos < min_positives or n_neg == 0
    why = (
        f"{n_pos} positives and {n_neg} negatives labelled; fitting needs at least "
        f"{min_positives} positives and 1 negative"
    )

    def choose(o: Objective | None) -> tuple[float | None, str | None, str]:
        if o is None:
            return None, None, ""
        if o.kind == "fixed":
            return float(o.target), "fixed", ""
        if insufficient:
            return None, "insufficient_data", why
        sel = _select(o, curve, curve.tp, curve.fp, n_pos, n_neg, confidence)
        return sel.threshold, sel.status, sel.note

    block, status, note = choose(obj)
    if note:
        notes.append(note)
    review, review_status, rnote = choose(rev)
    if rnote and rnote != note:
        notes.append(f"review: {rnote}")
    clamped = block is not None and review is not None and review > block
    if clamped:
        review = block

    in_sample = None
    if n_pos + n_neg:
        tp, fp = _flagged_counts(curve, block, curve.tp, n_at)
        in_sample = confusion(tp, fp, n_pos, n_neg)

    cat_seed = CATEGORIES.index(cat) if cat in CATEGORIES else len(CATEGORIES)
    out_of_fold = spread = None
    k = min(cv, n_pos, n_neg)
    if k >= 2 and not (insufficient and obj.kind != "fixed"):
        # Folds are dealt in row order (so ties in the sort cannot change them).
        rng = np.random.default_rng([random_state, cat_seed])
        fold_sorted = _folds(y, k, rng)[curve.order]
        # Held-out counts per (distinct score, fold) from two bincounts, then cumulated.
        n_groups = len(curve.ends)
        group = np.repeat(np.arange(n_groups), np.diff(curve.ends, prepend=-1))
        key = fold_sorted * n_groups + group
        ho_n_all = np.bincount(key, minlength=n_groups * k).reshape(k, n_groups).cumsum(axis=1)
        ho_tp_all = (
            np.bincount(key[curve.sorted_labels == 1], minlength=n_groups * k)
            .reshape(k, n_groups)
            .cumsum(axis=1)
        )
        chosen: list[float | None] = []
        tp_oof = fp_oof = 0
        for f in range(k):
            ho_n, ho_tp = ho_n_all[f], ho_tp_all[f]
            tr_tp, tr_n = curve.tp - ho_tp, n_at - ho_n
            present = np.diff(tr_n, prepend=0) > 0
            tr_pos, tr_neg = int(tr_tp[-1]), int(tr_n[-1] - tr_tp[-1])
            if obj.kind == "fixed":
                t = float(obj.target)
            else:
                t = _select(
                    obj, curve, tr_tp, tr_n - tr_tp, tr_pos, tr_neg, confidence, present
                ).threshold
            chosen.append(t)
            tp_f, fp_f = _flagged_counts(curve, t, ho_tp, ho_n)
            tp_oof += tp_f
            fp_oof += fp_f
        counts = (tp_oof, fp_oof, n_pos - tp_oof, n_neg - fp_oof)
        rng = np.random.default_rng([random_state, cat_seed, 1])
        out_of_fold = {
            "folds": k,
            **confusion(tp_oof, fp_oof, n_pos, n_neg),
            "ci_level": ci_level,
            "bootstrap": int(bootstrap),
            "ci": _bootstrap(counts, bootstrap, ci_level, rng),
        }
        ts = np.array([t for t in chosen if t is not None], dtype=float)
        spread = {
            "min": float(ts.min()) if len(ts) else None,
            "max": float(ts.max()) if len(ts) else None,
            "std": float(ts.std()) if len(ts) else None,
            "never": len(chosen) - len(ts),
        }
    elif not insufficient and cv >= 2:
        notes.append(
            f"no out-of-fold estimate: cv={cv} with {n_pos} positives and {n_neg} negatives"
        )

    baselines = None
    if n_pos + n_neg:
        tp5, fp5 = _flagged_counts(curve, 0.5, curve.tp, n_at)
        endpoint = None
        if flags_all is not None:
            fl = flags_all[lab]
            known = ~np.isnan(fl)
            if known.any():
                fy, ff = y[known] == 1, fl[known] == 1
                endpoint = confusion(
                    int((fy & ff).sum()), int((~fy & ff).sum()), int(fy.sum()), int((~fy).sum())
                )
        baselines = {"endpoint_flagged": endpoint, "fixed_0.5": confusion(tp5, fp5, n_pos, n_neg)}

    sb = s_all[scored]
    bands = None
    if len(sb):
        is_block = sb >= _inf(block)
        is_review = (sb >= _inf(review)) & ~is_block
        nb = len(sb)
        bands = {
            "allow": float(1 - (is_block.sum() + is_review.sum()) / nb),
            "review": float(is_review.sum() / nb),
            "block": float(is_block.sum() / nb),
            "n": int(nb),
        }

    return CategoryThreshold(
        block=block,
        review=review,
        objective=str(obj),
        review_objective=None if rev is None else str(rev),
        confidence=confidence
        if (confidence is not None and (obj.constrained or (rev is not None and rev.constrained)))
        else None,
        status=status or "ok",
        review_status=review_status,
        review_clamped=clamped,
        note="; ".join(notes),
        n_pos=n_pos,
        n_neg=n_neg,
        n_unlabelled=int(scored.sum() - lab.sum()),
        in_sample=in_sample,
        out_of_fold=out_of_fold,
        threshold_spread=spread,
        baselines=baselines,
        bands=bands,
    )


def _inf(t: float | None) -> float:
    return math.inf if t is None else t


def _endpoint_flags(
    scores: pd.DataFrame, cats: list[str], endpoint_flags: pd.DataFrame | None
) -> np.ndarray | None:
    if endpoint_flags is not None:
        if not isinstance(endpoint_flags, pd.DataFrame):
            raise InputError("endpoint_flags must be a DataFrame with one column per category")
        flags = endpoint_flags.reindex(scores.index)
        out = np.full((len(scores), len(cats)), np.nan)
        for j, c in enumerate(cats):
            if c in flags.columns:
                out[:, j] = coerce_labels(flags, [c], source="endpoint_flags")[:, 0]
        return out
    if "result_json" not in scores.columns:
        return None
    out = _flags_from_results(scores, cats, strict=False)
    return out if not np.isnan(out).all() else None


def _model(scores: pd.DataFrame) -> str | None:
    if "model" not in scores.columns:
        return None
    names = sorted({str(m) for m in scores["model"].dropna() if str(m)})
    return ",".join(names) or None


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def fit_thresholds(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    objective: ObjectiveLike | Mapping[str, ObjectiveLike],
    review: ObjectiveLike | Mapping[str, ObjectiveLike] | None = None,
    *,
    cv: int = 5,
    bootstrap: int = 1000,
    confidence: float | None = None,
    min_positives: int = 10,
    random_state: int = 0,
    daily_volume: float | None = None,
    profile: str = "input",
    endpoint_flags: pd.DataFrame | None = None,
    ci_level: float = 0.95,
) -> ThresholdSet:
    """Choose per-category ``block`` (and ``review``) thresholds against labelled examples.

    Decision rule: flag when ``score >= threshold``. The candidates are the distinct
    observed scores of the labelled rows, so tied scores are flagged together; a
    threshold of ``None`` means "never flag".

    Parameters
    ----------
    scores : DataFrame
        One float column per category key (API spelling), as :func:`modkit.moderate`
        returns; NaN = not scored (the row is left out for that category). Optional
        ``model`` and ``result_json`` columns feed the file's ``model`` and the
        endpoint-flag baseline.
    labels : DataFrame
        On the same index (a subset is fine: missing rows are unlabelled): 0/1/NaN per
        category key. Every category with a label column is fitted; NaN rows are left
        out for that category only.
    objective : str, Objective, dict, or mapping of category to those
        The goal of the ``block`` threshold, e.g. ``"precision>=0.9"``, ``"f1"``,
        ``"fbeta:0.5"``, ``"recall>=0.95"``, ``"fpr<=0.01"``, ``"cost:fp=1,fn=10"``,
        ``"fixed:0.7"`` (see :func:`modkit.thresholds.parse_objective`). A mapping gives
        one per category; ``"*"`` is the default for the others.
    review : same as objective, optional
        The goal of the lower ``review`` threshold (e.g. ``"recall>=0.95"``). When it
        lands above ``block`` it is clamped to ``block`` (``review_clamped``).
    cv : int, default 5
        Folds of the stratified, seeded K-fold that gives the out-of-fold estimates
        (at most the number of positives / negatives; < 2 turns them off).
    bootstrap : int, default 1000
        Percentile-bootstrap resamples of the out-of-fold predictions for CIs of
        precision, recall and FPR (0 turns them off).
    confidence : float, optional
        E.g. 0.9: a constrained objective must hold for the one-sided Clopper-Pearson
        bound at this level (lower bound for precision / recall, upper for FPR), not
        the point estimate. For ``precision>=p`` the candidates are walked from the
        highest threshold down and the walk stops at the first one whose bound fails.
    min_positives : int, default 10
        Fewer labelled positives (or no negatives) gives ``status="insufficient_data"``
        and no threshold, unless the objective is ``fixed``.
    random_state : int, default 0
        Seeds the folds and the bootstrap (per category, so a category's numbers do not
        depend on which other categories are fitted).
    daily_volume : float, optional
        Items per day, for the expected review queue (``review_per_day``).
    profile : {"input", "output"}, default "input"
    endpoint_flags : DataFrame, optional
        The endpoint's own per-category flags (bool / 0 / 1) for the comparison; default:
        the ``categories`` of the ``result_json`` column, when present.
    ci_level : float, default 0.95
        Level of the bootstrap intervals.

    Returns
    -------
    ThresholdSet
        Thresholds chosen on all labelled rows, with per category the status, counts,
        in-sample and out-of-fold metrics, threshold spread across folds, baselines
        (endpoint flag, fixed 0.5) and the share of traffic per band.

    Notes
    -----
    Ties between equally good thresholds go to the highest one; for ``cost`` "never
    flag" counts as the highest candidate. Precision, recall, FPR, F-beta and cost are
    computed from integer counts, so the choice equals a brute-force search over
    :func:`sklearn.metrics.precision_recall_curve` (or ``roc_curve``) on the same rows.
    """
    if not isinstance(scores, pd.DataFrame) or not isinstance(labels, pd.DataFrame):
        raise InputError("scores and labels must be pandas DataFrames")
    if profile not in PROFILES:
        raise InputError(f"profile must be one of {PROFILES}, got {profile!r}")
    cv = _check_int("cv", cv, 0)
    bootstrap = _check_int("bootstrap", bootstrap, 0)
    min_positives = _check_int("min_positives", min_positives, 1)
    if confidence is not None and not (0 < confidence < 1):
        raise InputError(f"confidence must be in (0, 1), got {confidence!r}")
    if not (0 < ci_level < 1):
        raise InputError(f"ci_level must be in (0, 1), got {ci_level!r}")
    if daily_volume is not None and not (daily_volume >= 0 and math.isfinite(daily_volume)):
        raise InputError(f"daily_volume must be a number >= 0, got {daily_volume!r}")
    s_src, l_src = "scores", "labels"
    for name, frame in ((s_src, scores), (l_src, labels)):
        if not frame.index.is_unique:
            raise InputError(f"{name}: the index has duplicate labels")
    extra = labels.index.difference(scores.index)
    if len(extra):
        raise InputError(
            f"{l_src}: {len(extra)} rows are not in {s_src} "
            f"(first index {extra[0]!r}); labels must share the scores' index"
        )
    label_cats = [c for c in CATEGORIES if c in labels.columns]
    if not label_cats:
        raise InputError(
            f"{l_src}: no category columns (expected API spellings such as "
            f"{', '.join(CATEGORIES[:4])}); columns: {list(labels.columns)[:10]}"
        )
    absent = [c for c in label_cats if c not in scores.columns]
    if absent:
        raise InputError(f"{l_src} have columns {absent} that {s_src} lack")
    objectives = _per_category(objective, label_cats, "objective", required=True)
    reviews = _per_category(review, label_cats, "review", required=False)
    lab_matrix = coerce_labels(labels, label_cats, source=l_src)
    lab_matrix = pd.DataFrame(lab_matrix, index=labels.index).reindex(scores.index).to_numpy()
    score_matrix = coerce_scores(scores, label_cats, source=s_src)
    flags = _endpoint_flags(scores, label_cats, endpoint_flags)

    cats = {}
    for j, c in enumerate(label_cats):
        cats[c] = _fit_category(
            c,
            score_matrix[:, j],
            lab_matrix[:, j],
            None if flags is None else flags[:, j],
            objectives[c],
            reviews[c],
            cv=cv,
            bootstrap=bootstrap,
            confidence=confidence,
            min_positives=min_positives,
            random_state=random_state,
            ci_level=ci_level,
        )

    block = np.array([_inf(cats[c].block) for c in label_cats])
    rev = np.array([_inf(cats[c].review) for c in label_cats])
    n = len(scores)
    is_block = (score_matrix >= block).any(axis=1)
    is_review = ((score_matrix >= rev) & ~(score_matrix >= block)).any(axis=1) & ~is_block
    unscored = np.isnan(score_matrix).all(axis=1)
    bands = None
    if n:
        bands = {
            "allow": float((~is_block & ~is_review & ~unscored).sum() / n),
            "review": float(is_review.sum() / n),
            "block": float(is_block.sum() / n),
            "unscored": float(unscored.sum() / n),
            "n": n,
        }
    return ThresholdSet(
        cats,
        profile=profile,
        model=_model(scores),
        labels_sha256=labels_sha256(lab_matrix, label_cats),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        n_rows=n,
        daily_volume=None if daily_volume is None else float(daily_volume),
        bands=bands,
        review_per_day=None
        if (daily_volume is None or bands is None)
        else float(bands["review"] * daily_volume),
    )
