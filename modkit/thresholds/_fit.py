"""Fitting per-category thresholds against labelled examples."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from typing import Any, cast

import numpy as np
import pandas as pd

from .._errors import InputError
from .._frame import endpoint_flags as _flags_from_results
from .._frame import has_endpoint_flags
from .._images import APPLIED_PREFIX
from .._labels import align_rows, parse_labels
from .._native import Scale, detect_provider, provider_scale, result_keys
from .._taxonomy import CATEGORIES, api_spelling, check_category_keys, suggest_category
from .._validation import LEVEL, PROB, Interval, SequenceOf, StrOptions, validate_params
from ._core import (
    FitWarning,
    band_shares,
    category_threshold,
    choice_warnings,
    choose,
    counts_at,
    in_sample_at,
    per_category,
    warn_all,
)
from ._design import certify_by_design, design_for, refuse_band_labels
from ._intervals import selection_ci
from ._labels import coerce_labels, coerce_scores, labels_sha256
from ._metrics import METHODS, Curve, binary_curve
from ._objectives import Objective, parse_objective
from ._oof import oof_status, out_of_fold
from ._rates import confusion
from ._rule import actions, as_limits, bands
from ._set import PROFILES, CategoryThreshold, ThresholdSet

__all__ = ["FitWarning", "fit_thresholds", "strictest_certified"]


ObjectiveLike = str | Objective | Mapping[str, Any]


def _category_seed(cat: str) -> int:
    """A category's seed offset, so its numbers do not depend on the other categories."""
    return CATEGORIES.index(cat) if cat in CATEGORIES else len(CATEGORIES)


def _baselines(curve: Curve, y: np.ndarray, flags: np.ndarray | None) -> dict[str, Any]:
    """The endpoint's own flags (``None`` without them) and a fixed 0.5 threshold."""
    tp5, fp5 = counts_at(curve.thresholds, 0.5, curve.tp, curve.fp)
    endpoint = None
    if flags is not None:
        known = ~np.isnan(flags)
        if known.any():
            fy, ff = y[known] == 1, flags[known] == 1
            endpoint = confusion(
                int((fy & ff).sum()), int((~fy & ff).sum()), int(fy.sum()), int((~fy).sum())
            )
    return {
        "endpoint_flagged": endpoint,
        "fixed_0.5": confusion(tp5, fp5, curve.n_pos, curve.n_neg),
    }


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
    method: str,
    min_positives: int,
    random_state: int,
    ci_level: float,
) -> CategoryThreshold:
    """One category's fit on its rows: the core's choice, then folds, intervals, bands."""
    scored = ~np.isnan(s_all)
    lab = scored & ~np.isnan(y_all)
    y = (y_all[lab] == 1).astype(np.int8)
    curve = binary_curve(s_all[lab], y)
    n_pos, n_neg = curve.n_pos, curve.n_neg
    choice = choose(
        obj, rev, curve.thresholds, curve.tp, curve.fp,
        confidence=confidence, method=method, min_positives=min_positives,
    )  # fmt: skip
    warn_all(choice_warnings(cat, choice, obj, rev, n_pos, min_positives))
    insufficient = n_pos < min_positives or n_neg == 0
    fitted = not (insufficient and obj.kind != "fixed")
    extra: dict[str, Any] = {}
    k = min(cv, n_pos, n_neg)
    if k >= 2 and fitted:
        rng = np.random.default_rng([random_state, _category_seed(cat)])
        oof, spread = out_of_fold(
            curve, obj, k=k, rng=rng, confidence=confidence, method=method, ci_level=ci_level
        )
        extra.update(out_of_fold=oof, threshold_spread=spread, oof_status=oof_status(obj, oof))
    elif not insufficient and cv >= 2:
        extra["notes"] = [
            f"no out-of-fold estimate: cv={cv} with {n_pos} positives and {n_neg} negatives"
        ]
    if fitted and n_pos and n_neg:
        rng = np.random.default_rng([random_state, _category_seed(cat), 1])
        extra["selection_ci"] = selection_ci(
            curve, choice.block, obj, confidence, method, bootstrap, ci_level, rng
        )
    if n_pos + n_neg:
        extra["baselines"] = _baselines(curve, y, None if flags_all is None else flags_all[lab])
    return category_threshold(
        choice,
        obj,
        rev,
        confidence=confidence,
        method=method,
        counts=(n_pos, n_neg, int(scored.sum() - lab.sum())),
        in_sample=in_sample_at(curve.thresholds, curve.tp, curve.fp, choice.block),
        bands=band_shares(s_all[scored], choice.block, choice.review),
        **extra,
    )


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
    if not has_endpoint_flags(scores):  # flagged/<category> columns or result_json
        return None
    out = _flags_from_results(scores, cats, strict=False)
    return out if not np.isnan(out).all() else None


def _model(scores: pd.DataFrame) -> str | None:
    if "model" not in scores.columns:
        return None
    names = sorted({str(m) for m in scores["model"].dropna().unique()} - {""})
    return ",".join(names) or None


def _check_columns(
    scores: pd.DataFrame, labels: pd.DataFrame, known: Sequence[str] = CATEGORIES
) -> None:
    """Refuse misspelt category columns; warn about label columns that are ignored."""
    if known is CATEGORIES:
        sdk = [c for c in scores.columns if api_spelling(c) is not None]
        near = [c for c in labels.columns if c not in CATEGORIES and _near_category(c)]
        for name, bad in (("scores", sdk), ("labels", near)):
            if bad:
                check_category_keys(bad[:1], f"fit_thresholds: {name} column")
    ignored = [c for c in labels.columns if c not in known]
    if ignored:
        counts = {c: int(labels[c].notna().sum()) for c in ignored}
        warn_all(
            [
                "labels columns that are not category keys are ignored: "
                + ", ".join(f"{c!r} ({n} non-empty)" for c, n in counts.items())
            ]
        )


def _labels_for(
    scores: pd.DataFrame, labels: pd.DataFrame | None, on: str | None, known: Sequence[str]
) -> pd.DataFrame:
    """The labels as :func:`modkit.parse_labels` reads them (bare category keys, 1.0 /
    0.0 / NaN), beside the table's other columns (warned about as ignored)."""
    if labels is None:
        parsed = parse_labels(scores, columns="prefixed", categories=known, source="scores")
        if not parsed.shape[1]:
            raise InputError(
                "fit_thresholds: no labels: pass labels= (a table with a column per "
                "category key), or keep label_<category> columns beside the scores "
                f"(columns: {list(scores.columns)[:10]})"
            )
        return parsed
    if on is not None:
        labels = align_rows(scores, labels, on)
    parsed = parse_labels(labels, categories=known)
    used = set(parsed.attrs["columns"]) | {on, "id", "text"}
    rest = [c for c in labels.columns if c not in used]
    return pd.concat([parsed, labels[rest]], axis=1) if rest else parsed


def _near_category(column: Any) -> bool:
    return isinstance(column, str) and suggest_category(column) is not None


_OBJECTIVE_LIKE = [str, Objective, Mapping, "callable"]


@validate_params(
    {
        "scores": [pd.DataFrame],
        "labels": [None, pd.DataFrame],
        "objective": [None, *_OBJECTIVE_LIKE],
        "review": [None, *_OBJECTIVE_LIKE],
        "cv": [Interval(Integral, 0, None)],
        "bootstrap": [Interval(Integral, 0, None)],
        "confidence": [None, LEVEL],
        "method": [StrOptions(METHODS)],
        "min_positives": [Interval(Integral, 1, None)],
        "random_state": [Interval(Integral, 0, None)],
        "daily_volume": [None, Interval(Real, 0, None)],
        "profile": [StrOptions(PROFILES)],
        "endpoint_flags": [None, pd.DataFrame],
        "ci_level": [Interval(Real, 0, 1, closed="neither")],
        "provider": [None, str],
        "design": [None, pd.DataFrame],
        "by_input_type": ["boolean"],
        "on": [None, str],
        "progress": ["boolean"],
    }
)
def fit_thresholds(
    scores: pd.DataFrame,
    labels: pd.DataFrame | None = None,
    objective: ObjectiveLike | Mapping[str, ObjectiveLike] | None = None,
    review: ObjectiveLike | Mapping[str, ObjectiveLike] | None = None,
    *,
    cv: int = 5,
    bootstrap: int = 200,
    confidence: float | None = None,
    method: str = "fixed_sequence",
    min_positives: int = 10,
    random_state: int = 0,
    daily_volume: float | None = None,
    profile: str = "input",
    endpoint_flags: pd.DataFrame | None = None,
    ci_level: float = 0.95,
    provider: str | None = None,
    design: pd.DataFrame | None = None,
    by_input_type: bool = False,
    on: str | None = None,
    progress: bool = False,
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
        ``model`` column feeds the file's ``model``; the endpoint's flags (the
        ``flagged/<category>`` columns, or ``result_json``) feed the endpoint-flag
        baseline.
    labels : DataFrame, optional
        Labels per category key: columns named by the bare key or ``label_<key>``,
        values 1/0, true/false, yes/no or blank (not labelled), as
        :func:`modkit.parse_labels` reads them. On the same index as ``scores`` (a
        subset is fine: missing rows are unlabelled), or matched on the column ``on``.
        Default: the ``label_<category>`` columns of ``scores`` itself (labels kept
        beside the texts through :func:`modkit.moderate`). Every category with a label
        column is fitted; NaN rows are left out for that category only.
    objective : str, Objective, dict, or mapping of category to those
        Required. The goal of the ``block`` threshold, e.g. ``"precision>=0.9"``, ``"f1"``,
        ``"fbeta:0.5"``, ``"recall>=0.95"``, ``"fpr<=0.01"``, ``"cost:fp=1,fn=10"``,
        ``"fixed:0.7"`` (see :func:`modkit.thresholds.parse_objective`). A mapping gives
        one per category; ``"*"`` is the default for the others.
    review : same as objective, optional
        The goal of the lower ``review`` threshold (e.g. ``"recall>=0.95"``). When it
        lands above ``block`` it is clamped to ``block`` (``review_clamped``).
    cv : int, default 5
        Folds of the stratified, seeded K-fold that gives ``out_of_fold``: the fitting
        *procedure's* held-out performance (each fold's own threshold counted on its
        held-out rows, pooled), at most the number of positives / negatives; < 2 turns
        it off. It is not an estimate of the exported threshold's rates and carries no
        interval (``interval: "none"``); that is ``selection_ci``'s job.
    bootstrap : int, default 200
        Resamples of the refit bootstrap behind ``selection_ci``: intervals at
        ``ci_level`` for the exported threshold's precision, recall and FPR that account
        for choosing it. Each rate's interval is the hull of (a) the percentile interval
        of the out-of-bag rates of a refit bootstrap (Poisson(1) row weights; the choice
        is re-run on each resample and scored on the rows it left out; the
        leave-one-out bootstrap of Efron & Tibshirani, JASA 1997) and (b) the exact
        Clopper-Pearson interval (Clopper & Pearson 1934, via
        :meth:`scipy.stats.binomtest` ``proportion_ci``) of the exported threshold's
        counts on all labelled rows, so a threshold that flags one or two rows never
        gets a one-point interval. No interval for a ``None`` (never flag) threshold.
        Up to 10,000 labelled rows every row gets its own weight. Above, the weights are
        drawn per cell of neighbouring scores, from the exact joint law of a cell's
        out-of-bag count (Binomial(m, 1/e)) and in-bag weight (a sum of zero-truncated
        Poisson(1) variables; exact up to 32 rows, normal above), and the choice is
        re-run among the cells' edges (every distinct score when there are at most 512;
        else steps of 1/8 standard deviation of each class's count within 6 of the
        exported threshold, and 128 quantiles per class elsewhere): a few hundred cells,
        so the cost stops growing with the rows (at 1M rows x 13 categories the default
        fit costs about 1.2x thirteen scikit-learn ``precision_recall_curve`` calls).
        Coverage of both paths is measured in ``benchmarks/bench_coverage.py`` (parts
        ``selection`` and ``cells``). 0 turns it off.
    confidence : float in (0, 1), optional
        E.g. 0.9: certify a constrained objective (precision, recall, FPR, NPV) with
        Learn then Test (Angelopoulos et al., Ann. Appl. Stat. 2025): the chance that
        the certified threshold misses its target is at most ``delta = 1 -
        confidence``, over the whole search. Each candidate is tested with an exact
        binomial p-value; a candidate needs at least ``ceil(ln delta / ln q)`` trials
        (e.g. flagged rows for ``precision>=q``) to pass at all.
    method : {"fixed_sequence", "holm"}, default "fixed_sequence"
        The multiple-testing procedure with ``confidence``. ``fixed_sequence`` walks the
        candidates in a fixed order (highest threshold down for precision and FPR,
        lowest up for recall and NPV) from the first one that could pass and stops at
        the first failure. ``holm`` tests a label-free geometric grid of the candidates
        that could pass (one per factor 1.1 of flagged rows; unflagged rows for NPV) with
        Holm's step-down correction (Holm 1979) and does not stop at a failure (better
        when the top of the score range is noisy; each test is stricter). The grid is a
        function of the scores alone, so Learn then Test's guarantee, which holds for any
        finite family fixed before the labels are seen, stands.
    min_positives : int, default 10
        Fewer labelled positives (or no negatives) gives ``status="insufficient_data"``
        and no threshold, unless the objective is ``fixed``.
    random_state : int, default 0
        Seeds the folds and the bootstrap (per category, so a category's numbers do not
        depend on which other categories are fitted); an integer >= 0.
    daily_volume : float, optional
        Items per day, for the expected review queue (``review_per_day``).
    profile : {"input", "output"}, default "input"
    endpoint_flags : DataFrame, optional
        The endpoint's own per-category flags (bool / 0 / 1) for the comparison; default:
        the frame's ``flagged/<category>`` columns (as ``moderate`` returns them, also
        with ``result_json=False``), else the ``categories`` of ``result_json``.
    ci_level : float, default 0.95
        Level of the bootstrap intervals.
    provider : str, optional
        Fit on a provider's own categories and scale (a key of :data:`modkit.providers.PROVIDERS`,
        e.g. ``"azure"``): label and score columns are then its categories (``Hate``,
        ``SelfHarm``...), scores lie on its scale, and on an ordinal scale every
        threshold is one of the levels (the candidates are the observed scores). The
        set records the provider, model and scale. Default: detected from the score
        columns (see :func:`modkit.providers.detect_provider`); the API's keys mean OpenAI's [0, 1]
        scores.
    design : DataFrame, optional
        The labelled rows are an audit sample of the traffic (:func:`modkit.audit.draw`):
        a frame on the scores' index with its ``inclusion_probability`` and ``stratum``
        columns (the sample itself). Constrained objectives are then certified for the
        traffic, not the sample: Learn then Test with design-based p-values (the dual
        of the Korn & Graubard interval of a stratified ratio estimator, see
        :func:`modkit.audit.estimate`); needs ``confidence``, and out-of-fold and
        bootstrap intervals (which assume i.i.d. rows) are off. Without it, with
        ``confidence``, labels confined to one score band of the scored rows (the
        review queue's) are refused: they are not a sample of the traffic.
    by_input_type : bool, default False
        Also fit thresholds per input type, from the ``applied/<category>`` columns
        (:func:`modkit.images.applied_input_types`; :func:`modkit.moderate` adds them for
        multimodal inputs): the rows a category was applied to an image (``"image"``,
        ``"text,image"``) form the ``image`` group, the rows applied to text alone (or
        of unknown type: a plain text) the ``text`` group; rows applied to nothing are
        left out of both, and a category whose rows are all of one type keeps one set.
        Each group gets the same objectives, fitted as a category of its own (same
        procedure and certification; no bootstrap), and lands in the category's
        :attr:`~modkit.CategoryThreshold.by_input_type`; a group with too few labelled
        rows (``min_positives``) is left out with a :class:`FitWarning`, and its items
        use the category's own thresholds (fitted on all rows). The band shares
        (``bands``) then follow the per-type thresholds.
    on : str, optional
        A key column of both ``scores`` and ``labels`` (``"id"``) to match rows on,
        instead of the index.
    progress : bool, default False
        Show a ``tqdm.auto`` bar (a widget in a notebook, text in a terminal) over the
        categories: each one's cross-validation and bootstrap take seconds.

    Returns
    -------
    ThresholdSet
        Thresholds chosen on all labelled rows, with per category the status (``ok``
        only when the goal holds: at ``confidence`` when given, else on the point
        estimate), ``oof_status`` (does the out-of-fold estimate meet the goal?), counts,
        in-sample and out-of-fold metrics, threshold spread across folds, baselines
        (endpoint flag, fixed 0.5) and the share of traffic per band. Its
        ``not_fitted`` maps every category of the taxonomy that got no threshold to why
        (no label column, too few positives, no threshold meets the objective); the
        set's ``unthresholded`` policy decides those (default: the backend's own flag).

    Raises
    ------
    InputError
        A parameter is out of range (one wording for all, from
        :mod:`modkit._validation`), a label or score column is spelled as the SDK
        spells attributes (``self_harm_intent``: "did you mean 'self-harm/intent'?"), a
        label does not parse (1/0, true/false, yes/no, blank), a score is not a number
        in [0, 1], labels are not on the scores' index, or (``labels`` omitted) the
        scores have no ``label_<category>`` column; with ``confidence`` and no ``design``,
        labels confined to one score band while the scored rows spread beyond it; with
        ``design``, no ``confidence``, an objective that is not constrained, design rows
        missing, or ``by_input_type``.

    Warns
    -----
    FitWarning
        With counts: label columns that are not category keys (ignored); labelled rows
        dropped for a category because their score is missing; a review threshold
        clamped to ``block``; status ``ok`` from fewer than 10 positives when
        ``min_positives < 10``.

    Notes
    -----
    Ties between equally good thresholds go to the highest one; for ``cost`` "never
    flag" counts as the highest candidate. Precision, recall, FPR, F-beta and cost are
    computed from integer counts, so the choice equals a brute-force search over
    :func:`sklearn.metrics.precision_recall_curve` (or ``roc_curve``) on the same rows.

    Examples
    --------
    Scores and labels for one category (400 rows, 30% positives):

    >>> import numpy as np
    >>> import pandas as pd
    >>> import modkit
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(400) < 0.3
    >>> s = np.clip(np.where(y, rng.normal(0.7, 0.15, 400), rng.normal(0.3, 0.15, 400)), 0, 1)
    >>> scores = pd.DataFrame({"violence": s})
    >>> labels = pd.DataFrame({"violence": y.astype(int)})
    >>> ts = modkit.fit_thresholds(scores, labels, "precision>=0.9", cv=3, bootstrap=0)
    >>> 0.4 < ts["violence"].block < 0.7, ts["violence"].review is None
    (True, True)
    >>> ts.decide({"violence": 0.95}).action
    'block'

    The same labels kept beside the scores (``label_<category>``, as
    :func:`modkit.moderate` keeps a labels file's columns), or in a table matched on ``id``:

    >>> beside = scores.assign(label_violence=np.where(y, "yes", "no"))
    >>> same = modkit.fit_thresholds(beside, objective="precision>=0.9", cv=3, bootstrap=0)
    >>> same["violence"].block == ts["violence"].block
    True
    >>> table = labels.assign(id=range(400)).iloc[::-1]
    >>> joined = modkit.fit_thresholds(
    ...     scores.assign(id=range(400)), table, "precision>=0.9", cv=3, bootstrap=0, on="id"
    ... )
    >>> joined["violence"].block == ts["violence"].block
    True
    """
    cv, bootstrap, min_positives = int(cv), int(bootstrap), int(min_positives)
    if daily_volume is not None and not math.isfinite(daily_volume):
        raise InputError(f"fit_thresholds: daily_volume must be finite; got {daily_volume!r}")
    if objective is None:
        raise InputError("fit_thresholds: objective is required, e.g. 'precision>=0.9'")
    prep = _prepare(scores, labels, objective, review, on, provider, endpoint_flags)
    if design is None and confidence is not None:
        refuse_band_labels(prep.score_matrix, prep.lab_matrix, prep.cats)
    if design is not None:
        if by_input_type:
            raise InputError("design= with by_input_type=True is not supported yet")
        cv, bootstrap = 0, 0  # both assume i.i.d. rows; the design's intervals replace them
    fit = functools.partial(
        _fit_category,
        cv=cv,
        bootstrap=bootstrap,
        confidence=confidence,
        method=method,
        min_positives=min_positives,
        random_state=random_state,
        ci_level=ci_level,
    )
    groups = _input_type_groups(scores, prep.cats) if by_input_type else {}
    cats = {}
    for j, c in enumerate(_progress(prep.cats, progress)):
        cats[c] = _fit_one(prep, j, c, fit, design, groups.get(c, {}), scores.index)
    return _threshold_set(prep, scores, cats, profile, daily_volume)


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """The checked inputs of a fit: one column per fitted category (``cats``)."""

    native: str | None
    known: tuple[str, ...]
    scale: Scale | None
    cats: list[str]
    objectives: dict[str, Objective | None]
    reviews: dict[str, Objective | None]
    score_matrix: np.ndarray
    lab_matrix: np.ndarray
    flags: np.ndarray | None


def _prepare(
    scores: pd.DataFrame,
    labels: pd.DataFrame | None,
    objective: Any,
    review: Any,
    on: str | None,
    provider: str | None,
    endpoint_flags: pd.DataFrame | None,
) -> _Prepared:
    """Check and align scores, labels and objectives (:func:`fit_thresholds`' inputs;
    no ``objective`` gives no objectives)."""
    native = provider if provider is not None else detect_provider(scores.columns)
    if native == "openai":
        native = None
    known = CATEGORIES if native is None else tuple(result_keys(native))
    scale = None if native is None else provider_scale(native, _model(scores))
    labels = _labels_for(scores, labels, on, known)
    _check_columns(scores, labels, known)
    label_cats = _label_categories(scores, labels, known, native)
    objectives = per_category(objective, label_cats, "objective", required=True)
    reviews = per_category(review, label_cats, "review", required=False)
    lab_matrix = coerce_labels(labels, label_cats, source="labels")
    if not labels.index.equals(scores.index):
        lab_matrix = pd.DataFrame(lab_matrix, index=labels.index).reindex(scores.index).to_numpy()
    low, high = (0.0, 1.0) if scale is None else (scale.low, scale.high)
    score_matrix = coerce_scores(scores, label_cats, source="scores", low=low, high=high)
    _warn_dropped(label_cats, score_matrix, lab_matrix)
    return _Prepared(
        native=native,
        known=tuple(known),
        scale=scale,
        cats=label_cats,
        objectives=objectives,
        reviews=reviews,
        score_matrix=score_matrix,
        lab_matrix=lab_matrix,
        flags=_endpoint_flags(scores, label_cats, endpoint_flags),
    )


def _label_categories(
    scores: pd.DataFrame, labels: pd.DataFrame, known: Sequence[str], native: str | None
) -> list[str]:
    """The categories to fit: the taxonomy's keys with a label column, all scored."""
    for name, frame in (("scores", scores), ("labels", labels)):
        if not frame.index.is_unique:
            raise InputError(f"{name}: the index has duplicate labels")
    extra = labels.index.difference(scores.index)
    if len(extra):
        raise InputError(
            f"labels: {len(extra)} rows are not in scores "
            f"(first index {extra[0]!r}); labels must share the scores' index"
        )
    label_cats = [c for c in known if c in labels.columns]
    if not label_cats:
        raise InputError(
            "labels: no category columns (expected "
            + (
                f"API spellings such as {', '.join(CATEGORIES[:4])}"
                if native is None
                else f"{native}'s categories {', '.join(known)}"
            )
            + f"); columns: {list(labels.columns)[:10]}"
        )
    absent = [c for c in label_cats if c not in scores.columns]
    if absent:
        raise InputError(f"labels have columns {absent} that scores lack")
    return label_cats


def _warn_dropped(cats: list[str], score_matrix: np.ndarray, lab_matrix: np.ndarray) -> None:
    """Warn about labelled rows left out of a category for a missing score."""
    missing = (~np.isnan(lab_matrix) & np.isnan(score_matrix)).sum(axis=0)
    dropped = {c: int(n) for c, n in zip(cats, missing, strict=True) if n}
    if dropped:
        warn_all(
            [
                "labelled rows without a score are left out: "
                + ", ".join(f"{c}: {n}" for c, n in dropped.items())
            ]
        )


def _progress(cats: list[str], progress: bool) -> Iterator[str]:
    """The categories, behind a ``tqdm.auto`` bar when ``progress``."""
    if not progress:
        yield from cats
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=len(cats), desc="fit", unit="category")
    for c in cats:
        bar.set_postfix_str(c)
        yield c
        bar.update()
    bar.close()


def _fit_one(
    prep: _Prepared,
    j: int,
    c: str,
    fit: functools.partial[CategoryThreshold],
    design: pd.DataFrame | None,
    groups: Mapping[str, np.ndarray],
    index: pd.Index,
) -> CategoryThreshold:
    """Category ``c`` (column ``j``): fitted, certified by design, and per input type."""
    s, y = prep.score_matrix[:, j], prep.lab_matrix[:, j]
    flags = None if prep.flags is None else prep.flags[:, j]
    obj = cast(Objective, prep.objectives[c])  # required=True: every category has one
    rev = prep.reviews[c]
    with warnings.catch_warnings():
        if design is not None:  # the unweighted choice is replaced below
            warnings.simplefilter("ignore", FitWarning)
        ct = fit(c, s, y, flags, obj, rev)
    if design is not None:
        kw = fit.keywords
        ct = certify_by_design(
            ct, s, y, design_for(design, index), obj, rev,
            confidence=kw["confidence"], method=kw["method"],
        )  # fmt: skip
        if ct.review_clamped:
            warn_all(
                [
                    f"{c}: the certified review threshold is above block "
                    f"{ct.block!r}; review is clamped to block (no review band)"
                ]
            )
    typed: dict[str, dict[str, float | None]] = {}
    for kind, mask in groups.items():
        part = fit(c, s, np.where(mask, y, np.nan), flags, obj, rev, bootstrap=0)
        if part.status == "insufficient_data":
            warn_all(
                [
                    f"{c}: too few labelled {kind} rows ({part.n_pos} positives, "
                    f"{part.n_neg} negatives) for a {kind} threshold; {kind} items use the "
                    "category's own"
                ]
            )
            continue
        typed[kind] = {"block": part.block, "review": part.review}
    return dataclasses.replace(ct, by_input_type=typed) if typed else ct


def _row_limits(
    prep: _Prepared, scores: pd.DataFrame, cats: Mapping[str, CategoryThreshold]
) -> tuple[np.ndarray, np.ndarray]:
    """Block and review limits per category, per row once a category has per-type ones."""
    block_limits = as_limits([cats[c].block for c in prep.cats])
    review_limits = as_limits([cats[c].review for c in prep.cats])
    if not any(cats[c].by_input_type for c in prep.cats):
        return block_limits, review_limits
    n = len(scores)
    block_limits = np.tile(block_limits, (n, 1))
    review_limits = np.tile(review_limits, (n, 1))
    for j, c in enumerate(prep.cats):
        if not cats[c].by_input_type:
            continue
        column = scores.get(APPLIED_PREFIX + c)
        values = [None] * n if column is None else column.tolist()
        for i, value in enumerate(values):
            kinds = None if not isinstance(value, str) else [t for t in value.split(",") if t]
            b, r = cats[c].limits_for(kinds)
            block_limits[i, j], review_limits[i, j] = as_limits([b, r])
    return block_limits, review_limits


def _threshold_set(
    prep: _Prepared,
    scores: pd.DataFrame,
    cats: dict[str, CategoryThreshold],
    profile: str,
    daily_volume: float | None,
) -> ThresholdSet:
    """The fitted set, with the share of all rows per band."""
    n = len(scores)
    action = actions(*bands(prep.score_matrix, *_row_limits(prep, scores, cats)))
    overall = None
    if n:
        overall = {
            "allow": float((action == "allow").sum() / n),
            "review": float((action == "review").sum() / n),
            "block": float((action == "block").sum() / n),
            "unscored": float((action == "unscored").sum() / n),
            "n": n,
        }
    return ThresholdSet(
        cats,
        profile=profile,
        model=_model(scores),
        labels_sha256=labels_sha256(prep.lab_matrix, prep.cats),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        n_rows=n,
        daily_volume=None if daily_volume is None else float(daily_volume),
        bands=overall,
        review_per_day=None
        if (daily_volume is None or overall is None)
        else float(overall["review"] * daily_volume),
        provider=prep.native,
        scale=prep.scale,
        not_fitted=_not_fitted(prep.known, prep.cats, cats),
    )


def _input_type_groups(
    scores: pd.DataFrame, cats: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
    """Per category, ``{"text": mask, "image": mask}`` of rows by the input types the
    category was applied to (``applied/<category>``; unknown counts as text); only
    categories with rows of both types.

    Raises
    ------
    InputError
        If no fitted category has an ``applied/<category>`` column.
    """
    out: dict[str, dict[str, np.ndarray]] = {}
    for c in cats:
        column = scores.get(APPLIED_PREFIX + c)
        if column is None:
            continue
        kinds = [
            None if not isinstance(v, str) else {t for t in v.split(",") if t}
            for v in column.tolist()
        ]
        image = np.array([k is not None and "image" in k for k in kinds], dtype=bool)
        text = np.array([k is None or k == {"text"} for k in kinds], dtype=bool)
        if text.any() and image.any():  # one type alone: the category's own thresholds
            out[c] = {"text": text, "image": image}
    if not any(APPLIED_PREFIX + c in scores.columns for c in cats):
        raise InputError(
            "by_input_type=True needs applied/<category> columns (modkit.moderate adds them "
            "for multimodal inputs; modkit.images.applied_input_types reads them from result_json)"
        )
    return out


def _not_fitted(
    known: Sequence[str], label_cats: list[str], cats: Mapping[str, CategoryThreshold]
) -> dict[str, str]:
    """Each category of the taxonomy without a threshold, and why."""
    out = {}
    for c in known:
        if c == "blocklistsMatch":  # Azure's blocklist column is no category
            continue
        ct = cats.get(c)
        if c not in label_cats:
            out[c] = "no label column"
        elif ct is not None and ct.block is None and ct.review is None:
            counts = f"{ct.n_pos} positives, {ct.n_neg} negatives"
            out[c] = f"{ct.status}: {ct.note}" if ct.note else f"{ct.status} ({counts})"
    return out


#: Constrained metrics :func:`strictest_certified` probes, and their comparison.
_PROBED = {"precision": ">=", "recall": ">=", "npv": ">=", "fpr": "<="}


@validate_params(
    {
        "scores": [pd.DataFrame],
        "labels": [pd.DataFrame],
        "metric": [StrOptions(tuple(_PROBED))],
        "targets": [SequenceOf(PROB)],
        "confidence": [LEVEL],
        "methods": [SequenceOf(StrOptions(METHODS))],
    }
)
def strictest_certified(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    metric: str = "precision",
    targets: Sequence[float] = (0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2),
    confidence: float = 0.9,
    methods: Sequence[str] = METHODS,
) -> pd.DataFrame:
    """Per category, the strictest goal on ``metric`` that the labelled rows certify.

    Tries ``metric>=t`` (``fpr<=t`` for ``fpr``) for every ``t`` in ``targets``, from the
    strictest, with :func:`fit_thresholds` (``confidence``, ``cv=0``, ``bootstrap=0``)
    and each multiple-testing method in ``methods`` in turn; a category's answer is the
    first goal and method that give it a block threshold. The methods fail differently:
    the fixed sequence stops at the first failure from the top of the score range (one
    high-scoring false alarm ends it), Holm tests a grid of candidates at a stricter level, so
    a looser goal can fail where a stricter one passed and both are tried.

    Parameters
    ----------
    scores, labels : DataFrame, shape (n, ...)
        As for :func:`fit_thresholds`: score columns and 1 / 0 / NaN label columns per
        category key; the categories are those of ``labels``.
    metric : {"precision", "recall", "npv", "fpr"}, default "precision"
    targets : sequence of float in [0, 1]
        The goals to try (any order; tried strictest first).
    confidence : float in (0, 1), default 0.9
    methods : sequence of {"fixed_sequence", "holm"}, default both

    Returns
    -------
    DataFrame, shape (n_categories, 3)
        Index ``category``; ``target`` (the strictest certified goal, NaN if none),
        ``method`` (``""`` if none) and ``threshold`` (its block threshold, NaN if none).

    Raises
    ------
    InputError
        As :func:`fit_thresholds`, or for a bad ``metric``, ``targets``, ``confidence``
        or ``methods``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import modkit
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> scores = pd.DataFrame({"hate": np.clip(0.3 * y + rng.random(400) * 0.7, 0, 1)})
    >>> got = modkit.thresholds.strictest_certified(scores, pd.DataFrame({"hate": y}))
    >>> list(got.columns), got.index.tolist()
    (['target', 'method', 'threshold'], ['hate'])
    """
    op = _PROBED[metric]
    order = sorted(set(targets), reverse=op == ">=")
    prep = _prepare(scores, labels, None, None, None, None, None)
    refuse_band_labels(prep.score_matrix, prep.lab_matrix, prep.cats)
    goals = [(float(t), m, parse_objective(f"{metric}{op}{t:g}")) for t in order for m in methods]
    found: dict[str, tuple[float, str, float]] = {}
    for j, c in enumerate(prep.cats):
        s, y = prep.score_matrix[:, j], prep.lab_matrix[:, j]
        lab = ~np.isnan(s) & ~np.isnan(y)
        curve = binary_curve(s[lab], (y[lab] == 1).astype(np.int8))
        for t, m, obj in goals:
            choice = choose(
                obj, None, curve.thresholds, curve.tp, curve.fp,
                confidence=confidence, method=m, min_positives=10,
            )  # fmt: skip
            if choice.block is not None:
                found[c] = (t, m, float(choice.block))
                break
    cats = list(labels.columns)
    return pd.DataFrame(
        {
            "target": [found[c][0] if c in found else np.nan for c in cats],
            "method": [found[c][1] if c in found else "" for c in cats],
            "threshold": [found[c][2] if c in found else np.nan for c in cats],
        },
        index=pd.Index(cats, name="category"),
    )
