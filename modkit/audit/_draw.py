"""Drawing the rows a person should label: stratified, Neyman-allocated, adaptive."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from .._cache import Cache
from .._decision_log import is_decision_log, read_decision_log
from .._errors import InputError
from .._frame import category_columns, is_result_column
from .._io import read_table
from .._result import ModerationResult
from .._validation import Interval, SequenceOf, StrOptions, validate_params
from ..thresholds._coerce import as_threshold_set
from ..thresholds._labels import coerce_labels, coerce_scores
from ..thresholds._set import ThresholdSet

__all__ = ["DRAW_METHODS", "METRICS", "allocate", "draw", "load_traffic", "strata"]

#: Sampling designs of :func:`draw`.
DRAW_METHODS = ("neyman", "uniform", "ais")
#: Metrics at the block threshold the allocation aims at.
METRICS = ("precision", "recall", "fpr")
#: Quantiles of the allow region's scores that cut it into bands (finer at the top,
#: where the missed positives are).
ALLOW_CUTS = (0.5, 0.8, 0.95, 0.99)
#: Prior probabilities are kept in [FLOOR, 1 - FLOOR] (a score of 0 is no proof).
FLOOR = 0.002
#: Pseudo-rows of the score-based prior per stratum in the adaptive update.
PRIOR_STRENGTH = 10.0
LABEL_PREFIX = "label_"
DECISION_PREFIX = "decision/"


def load_traffic(scores: Any) -> tuple[pd.DataFrame, str]:
    """A results frame from a frame, a results file, a decision log or a :class:`~modkit.Cache`.

    Parameters
    ----------
    scores : DataFrame, str, PathLike or Cache
        A results frame (:func:`modkit.moderate`), a path to one (.csv/.jsonl/.parquet),
        a decision log (``modkit serve --decision-log``, read with
        :func:`modkit.read_decision_log`), or a cache that stores texts
        (``Cache(store_texts=True)``; ``id`` is the key).

    Returns
    -------
    frame : DataFrame
        The results rows.
    source : str
        How errors name it (the path, or ``"scores"``).

    Raises
    ------
    InputError
        The file cannot be read, or a cache holds no texts.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.audit import load_traffic
    >>> frame, source = load_traffic(pd.DataFrame({"text": ["a"], "violence": [0.1]}))
    >>> source, len(frame)
    ('scores', 1)
    """
    if isinstance(scores, pd.DataFrame):
        return scores, "scores"
    if isinstance(scores, Cache):
        return _from_cache(scores), str(scores.path)
    if isinstance(scores, str | os.PathLike):
        if is_decision_log(scores):
            return read_decision_log(scores), str(scores)
        return read_table(scores), str(scores)
    raise InputError(
        "scores must be a results DataFrame, a path to a results file or a Cache; "
        f"got {type(scores).__name__}"
    )


def _from_cache(cache: Cache) -> pd.DataFrame:
    try:
        with sqlite3.connect(f"file:{cache.path}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT key, text, result FROM results WHERE text IS NOT NULL ORDER BY key"
            ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{cache.path}: cannot read the cache ({exc})") from None
    if not rows:
        raise InputError(
            f"{cache.path}: the cache stores no texts to label (cache with "
            "Cache(store_texts=True), or draw from the results file 'modkit moderate' wrote)"
        )
    records = []
    for key, text, blob in rows:
        result = ModerationResult.from_dict(json.loads(blob), where=f"{cache.path} key {key}")
        records.append({"id": key, "text": text, **result.category_scores})
    return pd.DataFrame(records)


def file_rows(source: str) -> Any:
    """How errors name row ``i`` (0-based) of ``source``: CSV rows also by line.

    Parameters
    ----------
    source : str
        A path or a name such as ``"scores"``.

    Returns
    -------
    callable
        ``i -> "row 3 (line 4)"`` for a .csv, ``"row 3"`` otherwise.

    Examples
    --------
    >>> from modkit.audit._draw import file_rows
    >>> file_rows("sample.csv")(2), file_rows("scores")(2)
    ('row 3 (line 4)', 'row 3')
    """
    csv = source.lower().endswith(".csv")
    return lambda i: f"row {i + 1} (line {i + 2})" if csv else f"row {i + 1}"


def _row_ids(frame: pd.DataFrame, inputs: list[str], source: str) -> np.ndarray:
    if "id" in frame.columns:
        ids = frame["id"].astype(object)
        blank = ids.isna().to_numpy() | (ids.astype(str).str.strip() == "").to_numpy()
        if blank.any():
            i = int(blank.argmax())
            raise InputError(f"{source} {file_rows(source)(i)} column 'id': empty")
        text = ids.astype(str)
        dup = text.duplicated().to_numpy()
        if dup.any():
            i = int(dup.argmax())
            raise InputError(
                f"{source} {file_rows(source)(i)} column 'id': duplicate value {text.iloc[i]!r}"
            )
        return text.to_numpy(dtype=object)
    cols = inputs or list(frame.columns)
    seen: dict[str, int] = {}
    out = []
    for values in frame[cols].astype(object).itertuples(index=False, name=None):
        payload = json.dumps([None if pd.isna(v) else str(v) for v in values], ensure_ascii=False)
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]
        k = seen.get(digest, 0) + 1
        seen[digest] = k
        out.append(digest if k == 1 else f"{digest}-{k}")
    return np.array(out, dtype=object)


def _band_ranks(s: np.ndarray, block: float | None, review: float | None) -> np.ndarray:
    """Band rank per row for one category: 0-4 allow (by score quantile), 5-6 review,
    7-8 block (each halved at its median); NaN scores are rank 0."""
    rank = np.zeros(len(s), dtype=np.int64)
    ok = ~np.isnan(s)
    high = np.inf if block is None else block
    low = high if review is None or review >= high else review
    allow = ok & (s < low)
    if allow.any():
        cuts = np.unique(np.quantile(s[allow], ALLOW_CUTS))
        rank[allow] = np.searchsorted(cuts, s[allow], side="left")
    for sel, base in ((ok & (s >= low) & (s < high), 5), (ok & (s >= high), 7)):
        if sel.any():
            rank[sel] = base + (s[sel] > np.median(s[sel]))
    return rank


_BAND_NAMES = {
    **{k: f"allow-{k + 1}" for k in range(5)},
    5: "review-1",
    6: "review-2",
    7: "block-1",
    8: "block-2",
}


@validate_params({"score_matrix": [np.ndarray], "ts": [ThresholdSet], "cats": [SequenceOf(str)]})
def strata(score_matrix: np.ndarray, ts: ThresholdSet, cats: Sequence[str]) -> np.ndarray:
    """The stratum of each row: its most severe band over the categories.

    Per category the scores fall in bands: allow (cut at the 50th, 80th, 95th and 99th
    percentiles of the allowed scores), review and block (each halved at its median).
    A row belongs to the category whose band ranks highest (block above review above
    the upper allow bands; the file's category order breaks ties), e.g.
    ``"violence:block-2"`` or ``"hate:allow-5"`` (the top 1% of hate's allowed scores).

    Parameters
    ----------
    score_matrix : ndarray of float, shape (n, len(cats))
        Scores (NaN: not scored).
    ts : ThresholdSet
        The thresholds whose decisions are audited.
    cats : sequence of str
        The categories, in the order of ``score_matrix``'s columns.

    Returns
    -------
    ndarray of str, shape (n,)

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit import CategoryThreshold, ThresholdSet
    >>> from modkit.audit import strata
    >>> ts = ThresholdSet({"violence": CategoryThreshold(0.8)})
    >>> strata(np.array([[0.9], [0.1]]), ts, ["violence"]).tolist()
    ['violence:block-1', 'violence:allow-1']
    """
    codes, names = _strata_codes(score_matrix, ts, cats)
    return np.asarray(names, dtype=object)[codes]


def _strata_codes(
    score_matrix: np.ndarray, ts: ThresholdSet, cats: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Stratum codes 0..H-1 (in the order of the sorted names) and the names."""
    ranks = np.column_stack(
        [
            _band_ranks(score_matrix[:, j], ts.categories[c].block, ts.categories[c].review)
            for j, c in enumerate(cats)
        ]
    )
    best = ranks.argmax(axis=1)
    top = ranks[np.arange(len(ranks)), best]
    keys, codes = np.unique(best * 9 + top, return_inverse=True)
    names = [f"{cats[int(k) // 9]}:{_BAND_NAMES[int(k) % 9]}" for k in keys]
    order = np.argsort(names, kind="stable")
    remap = np.empty(len(order), dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[codes], [names[i] for i in order]


def _anticipated_s2(
    codes: np.ndarray,
    h: int,
    flags: np.ndarray,
    prior: np.ndarray,
    metrics: Sequence[str],
) -> np.ndarray:
    """Per stratum, the anticipated within-stratum variance of the linearised metrics
    (summed over metrics and categories) when labels are Bernoulli(prior)."""
    counts = np.bincount(codes, minlength=h).astype(float)
    total = np.zeros(h)
    for j in range(flags.shape[1]):
        f, p = flags[:, j], prior[:, j]
        q = p * (1 - p)
        n_f, n_p, n_n = f.sum(), p.sum(), (1 - p).sum()
        terms = []
        if "precision" in metrics and n_f > 0:
            p0 = (f * p).sum() / n_f
            terms.append((f * (p - p0) / n_f, f * q / n_f**2))
        if "recall" in metrics and n_p > 0:
            r0 = (f * p).sum() / n_p
            terms.append((p * (f - r0) / n_p, (f - r0) ** 2 * q / n_p**2))
        if "fpr" in metrics and n_n > 0:
            f0 = (f * (1 - p)).sum() / n_n
            terms.append(((1 - p) * (f - f0) / n_n, (f - f0) ** 2 * q / n_n**2))
        for mean, var in terms:
            s1 = np.bincount(codes, weights=mean, minlength=h)
            s2 = np.bincount(codes, weights=mean * mean, minlength=h)
            sv = np.bincount(codes, weights=var, minlength=h)
            with np.errstate(invalid="ignore", divide="ignore"):
                between = np.where(counts > 0, s2 / counts - (s1 / counts) ** 2, 0)
                within = np.where(counts > 0, sv / counts, 0)
            total += np.maximum(between, 0) + within
    return total


@validate_params(
    {
        "sizes": [np.ndarray, SequenceOf(Real)],
        "sd": [np.ndarray, SequenceOf(Real)],
        "n": [Interval(Integral, 0, None)],
        "lower": [None, np.ndarray, SequenceOf(Real)],
    }
)
def allocate(
    sizes: np.ndarray, sd: np.ndarray, n: int, lower: np.ndarray | None = None
) -> np.ndarray:
    """Neyman allocation: ``n_h`` proportional to ``N_h S_h``, within ``[lower_h, N_h]``.

    Parameters
    ----------
    sizes : ndarray of int, shape (H,)
        Rows per stratum ``N_h``.
    sd : ndarray of float, shape (H,)
        Anticipated standard deviation per stratum ``S_h`` (all zero: proportional).
    n : int
        Total sample size, at most ``sizes.sum()``.
    lower : ndarray of int, shape (H,), optional
        Minimum rows per stratum (default 0), summing to at most ``n``.

    Returns
    -------
    ndarray of int, shape (H,)
        Summing to ``n`` (Neyman 1934; Cochran 1977, sec. 5.5; integers by largest
        remainder).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.audit import allocate
    >>> allocate(np.array([1000, 100]), np.array([0.1, 0.5]), 30).tolist()
    [20, 10]
    """
    sizes = np.asarray(sizes, dtype=float)
    lo = np.zeros_like(sizes) if lower is None else np.minimum(np.asarray(lower, float), sizes)
    key = sizes * np.asarray(sd, dtype=float)
    if not (key > 0).any():
        key = sizes.copy()
    lo_c, hi_c = 0.0, 1.0
    while np.clip(hi_c * key, lo, sizes).sum() < n and hi_c < 1e300:
        hi_c *= 2
    for _ in range(200):
        mid = (lo_c + hi_c) / 2
        if np.clip(mid * key, lo, sizes).sum() < n:
            lo_c = mid
        else:
            hi_c = mid
    x = np.clip(hi_c * key, lo, sizes)
    base = np.floor(x).astype(np.int64)
    base = np.maximum(base, np.ceil(lo - 1e-9).astype(np.int64))
    short = int(n - base.sum())
    room = sizes.astype(np.int64) - base
    order = np.argsort(-(x - np.floor(x)), kind="stable")
    for i in order:
        if short <= 0:
            break
        if room[i] > 0:
            base[i] += 1
            short -= 1
    while short > 0:  # (only when rounding met every cap on the first pass)
        i = int(np.argmax(sizes.astype(np.int64) - base))
        step = min(short, int(sizes[i]) - int(base[i]))
        base[i] += step
        short -= step
    while short < 0:  # rounding of the lower bounds overshot
        extra = base - np.ceil(lo).astype(np.int64)
        i = int(np.argmax(extra))
        base[i] -= 1
        short += 1
    return base


def _traffic(
    scores: Any, ts: ThresholdSet
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str], list[str], list[str]]:
    """The scored rows of the traffic: frame, score matrix of the thresholds' categories,
    row ids, those categories, the input columns kept, and the score columns."""
    frame, source = load_traffic(scores)
    cats = [c for c in ts.categories if c in frame.columns]
    if not cats:
        raise InputError(
            f"{source}: no score column for the thresholds' categories {list(ts.categories)[:6]}"
        )
    low, high = (0.0, 1.0) if ts.scale is None else (ts.scale.low, ts.scale.high)
    matrix = coerce_scores(
        frame, cats, source=source, row_name=file_rows(source), low=low, high=high
    )
    score_cols = category_columns(frame)
    inputs = [
        c
        for c in frame.columns
        if c not in score_cols
        and not is_result_column(c)
        and c not in ("id", "error", "stratum", "inclusion_probability")
        and not str(c).startswith((LABEL_PREFIX, DECISION_PREFIX))
    ]
    ids = _row_ids(frame, inputs, source)
    scored = ~np.isnan(matrix).all(axis=1)
    frame, matrix, ids = frame[scored], matrix[scored], ids[scored]
    return frame, matrix, ids, cats, inputs, score_cols


def _draw_rows(
    rng: np.random.Generator, codes: np.ndarray, alloc: np.ndarray, prev_rows: np.ndarray
) -> np.ndarray:
    """New rows, drawn without replacement in each stratum up to its allocation (the
    rows already drawn count toward it), in random order."""
    taken = np.zeros(len(codes), dtype=bool)
    taken[prev_rows] = True
    new: list[np.ndarray] = []
    for k in range(len(alloc)):
        pool = np.flatnonzero((codes == k) & ~taken)
        want = int(alloc[k]) - int(taken[codes == k].sum())
        if want > 0:
            new.append(rng.choice(pool, size=want, replace=False))
    return rng.permutation(np.concatenate(new)) if new else np.zeros(0, dtype=np.int64)


def _neyman_alloc(
    matrix: np.ndarray,
    ts: ThresholdSet,
    cats: list[str],
    codes: np.ndarray,
    sizes: np.ndarray,
    previous: tuple[Mapping[str, Any] | None, pd.DataFrame | None, np.ndarray],
    metrics: list[str],
    min_per_stratum: int,
    n: int,
    total: int,
) -> np.ndarray:
    """Rows per stratum: Neyman allocation on the anticipated variances (from the priors,
    updated by the rows already labelled for the adaptive design), at least
    ``min_per_stratum`` (and the rows already drawn) per stratum."""
    prior, labelled, prev_rows = previous
    h, big_n = len(sizes), len(matrix)
    priors = _priors(matrix, cats, prior, big_n)
    if labelled is not None:
        priors = _posterior(priors, codes, h, prev_rows, labelled, cats)
    flags = np.column_stack(
        [
            np.nan_to_num(matrix[:, j]) >= (np.inf if ts[c].block is None else ts[c].block)
            for j, c in enumerate(cats)
        ]
    ).astype(float)
    s2 = _anticipated_s2(codes, h, flags, priors, metrics)
    prev_counts = np.bincount(codes[prev_rows], minlength=h)
    lower = np.maximum(np.minimum(min_per_stratum, sizes), prev_counts)
    if lower.sum() > total:
        raise InputError(
            f"n={n} is too small for {h} strata with at least {min_per_stratum} rows "
            f"each (needs n >= {int(lower.sum()) - len(prev_rows)}); raise n or use "
            "method='uniform'"
        )
    return allocate(sizes, np.sqrt(s2), total, lower)


@validate_params(
    {
        "n": [Interval(Integral, 1, None)],
        "seed": [None, Interval(Integral, 0, None)],
        "method": [StrOptions(DRAW_METHODS)],
        "metrics": [SequenceOf(StrOptions(METRICS))],
        "labelled": [None, pd.DataFrame],
        "min_per_stratum": [Interval(Integral, 1, None)],
        "profile": [StrOptions(("input", "output"))],
    }
)
def draw(
    scores: Any,
    thresholds: Any,
    n: int,
    *,
    seed: int | None = None,
    method: str = "neyman",
    metrics: Sequence[str] = METRICS,
    labelled: pd.DataFrame | None = None,
    prior: Mapping[str, Any] | None = None,
    min_per_stratum: int = 2,
    profile: str = "input",
) -> pd.DataFrame:
    """Draw the rows of scored, unlabelled traffic a person should label.

    The traffic is cut into strata by score band and decision (see :func:`strata`) and
    a stratified simple random sample without replacement is drawn, so that the
    per-category precision, recall and FPR of the file's ``block`` thresholds (and of
    nearby candidates) are estimated with few labels by :func:`modkit.audit.estimate`.

    Parameters
    ----------
    scores : DataFrame, str, PathLike or Cache
        The traffic: a results frame (:func:`modkit.moderate`, or a decision log read
        by :func:`modkit.read_decision_log`), a path to one (.csv/.jsonl/.parquet, or
        the decision log itself), or a cache storing texts.
        Rows without any score of the file's categories are left out.
    thresholds : ThresholdSet, path or mapping
        The thresholds to audit (a file as :func:`modkit.load_thresholds` reads).
    n : int
        Rows to label (at most the scored rows; the adaptive method adds ``n`` to the
        ones already labelled).
    seed : int, optional
        Seeds the draw (an integer >= 0; the same seed and inputs give the same rows).
    method : {"neyman", "uniform", "ais"}, default "neyman"
        ``neyman``: rows per stratum proportional to ``N_h S_h`` (Neyman 1934), where
        ``S_h`` is the stratum's anticipated spread of the linearised metrics when each
        label is Bernoulli(score) (Bennett & Carvalho 2010 stratify by score for
        precision the same way). ``uniform``: a simple random sample, the reference.
        ``ais``: adaptive; without ``labelled`` as ``neyman``, with it the stratum
        probabilities are updated by the labels so far (a Beta posterior around the
        scores, as OASIS does, Marchant & Rubinstein 2017) and the next ``n`` rows
        are allocated for the whole sample.
    metrics : sequence of {"precision", "recall", "fpr"}, default all
        The metrics the allocation minimises the summed variance of.
    labelled : DataFrame, optional
        With ``method="ais"``: the sample labelled so far (an earlier :func:`draw`
        with ``label_<category>`` columns); it is returned again, with the new rows.
    prior : mapping of category to array of float, optional
        Your own P(label = 1) per traffic row (default: the scores; true labels give
        the oracle allocation).
    min_per_stratum : int, default 2
        Fewest rows drawn from a stratum (2 lets its variance be estimated).
    profile : {"input", "output"}, default "input"
        The profile of a threshold file to read.

    Returns
    -------
    DataFrame, shape (n, ...)
        One row per item to label, in a random order (label them in this order; a
        partial review stays a random sample of each stratum): ``id``, the input
        columns (``text``, slots...), the score columns, ``stratum``,
        ``inclusion_probability`` (in (0, 1]: ``n_h / N_h`` of the row's stratum, so
        the probabilities of all traffic rows sum to ``n`` and the weights
        ``1 / inclusion_probability`` of the sample to the traffic's rows) and
        ``decision/<category>`` (``allow``/``review``/``block``, as
        :meth:`ThresholdSet.apply`) per category of the file. With ``labelled``, its
        rows come first, with their labels, and the probabilities are those of the
        whole sample.

    Raises
    ------
    InputError
        A bad parameter; no score column for the file's categories; ``n`` above the
        scored rows or below ``min_per_stratum`` per stratum; a duplicate or empty
        ``id``; ``labelled`` rows that are not in the traffic.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from modkit.audit import draw
    >>> rng = np.random.default_rng(0)
    >>> traffic = pd.DataFrame({"text": [f"t{i}" for i in range(2000)],
    ...                         "violence": rng.beta(0.3, 6, 2000)})
    >>> sample = draw(traffic, {"violence": 0.5}, 100, seed=1)
    >>> len(sample), round(float((1 / sample["inclusion_probability"]).sum()))
    (100, 2000)
    >>> sorted(sample["stratum"].unique())[:2]
    ['violence:allow-1', 'violence:allow-2']
    """
    metrics = list(metrics)
    ts = as_threshold_set(thresholds, profile=profile)
    frame, matrix, ids, cats, inputs, score_cols = _traffic(scores, ts)
    big_n = len(frame)
    rng = np.random.default_rng(seed)

    if method == "uniform":
        names = np.array(["all"], dtype=object)
        codes = np.zeros(big_n, dtype=np.int64)
    else:
        codes, name_list = _strata_codes(matrix, ts, cats)
        names = np.array(name_list, dtype=object)
    h = len(names)
    sizes = np.bincount(codes, minlength=h)

    prev_rows = np.zeros(0, dtype=np.int64)
    if labelled is not None:
        if method != "ais":
            raise InputError("labelled is for method='ais' (the adaptive design)")
        prev_rows = _previous_rows(labelled, ids)
    total = n + len(prev_rows)
    if total > big_n:
        raise InputError(f"n={n}: more rows than the {big_n} scored rows left to draw from")

    if method == "uniform":
        alloc = np.array([total])
    else:
        alloc = _neyman_alloc(
            matrix, ts, cats, codes, sizes, (prior, labelled, prev_rows), metrics,
            min_per_stratum, n, total,
        )  # fmt: skip

    new_rows = _draw_rows(rng, codes, alloc, prev_rows)
    pi = alloc / sizes

    decisions = ts.apply(frame.iloc[new_rows][cats], missing="ignore")
    out = frame.iloc[new_rows][inputs + score_cols].copy()
    out.insert(0, "id", ids[new_rows])
    out["stratum"] = names[codes[new_rows]].astype(str)
    out["inclusion_probability"] = pi[codes[new_rows]]
    for c in cats:
        out[DECISION_PREFIX + c] = decisions[f"action:{c}"].to_numpy()
    out = out.reset_index(drop=True)
    if labelled is not None:
        old = labelled.reset_index(drop=True).copy()
        old["inclusion_probability"] = pi[codes[prev_rows]]
        old["stratum"] = names[codes[prev_rows]].astype(str)
        out = pd.concat([old, out], ignore_index=True)
    return out


def _priors(
    matrix: np.ndarray, cats: list[str], prior: Mapping[str, Any] | None, n: int
) -> np.ndarray:
    out = np.clip(np.nan_to_num(matrix, nan=0.0), FLOOR, 1 - FLOOR)
    for c, values in (prior or {}).items():
        if c not in cats:
            raise InputError(f"prior: {c!r} is not one of the audited categories {cats}")
        arr = np.asarray(values, dtype=float)
        if arr.shape != (n,) or not np.all((arr >= 0) & (arr <= 1)):
            raise InputError(f"prior[{c!r}]: expected {n} probabilities in [0, 1]")
        out[:, cats.index(c)] = arr
    return out


def _previous_rows(labelled: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    if "id" not in labelled.columns:
        raise InputError("labelled: no 'id' column (pass the frame draw returned, labelled)")
    where = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
    got = labelled["id"].astype(str)
    unknown = ~got.isin(where.index)
    if unknown.any():
        i = int(unknown.to_numpy().argmax())
        raise InputError(f"labelled row {i + 1} column 'id': {got.iloc[i]!r} is not in the traffic")
    return where.reindex(pd.Index(got.to_numpy())).to_numpy()


def _posterior(
    priors: np.ndarray,
    codes: np.ndarray,
    h: int,
    rows: np.ndarray,
    labelled: pd.DataFrame,
    cats: list[str],
) -> np.ndarray:
    """Scale each stratum's priors to the Beta posterior mean of its positive rate."""
    out = priors.copy()
    have = [c for c in cats if LABEL_PREFIX + c in labelled.columns]
    if not have:
        raise InputError(f"labelled: no label_<category> column for {cats[:4]}")
    labels = coerce_labels(labelled, [LABEL_PREFIX + c for c in have], source="labelled")
    sizes = np.bincount(codes, minlength=h).astype(float)
    for j, c in enumerate(have):
        col = cats.index(c)
        y = labels[:, j]
        known = ~np.isnan(y)
        mean_p = np.bincount(codes, weights=priors[:, col], minlength=h) / np.maximum(sizes, 1)
        x = np.bincount(codes[rows][known], weights=y[known], minlength=h)
        m = np.bincount(codes[rows][known], minlength=h)
        post = (PRIOR_STRENGTH * mean_p + x) / (PRIOR_STRENGTH + m)
        ratio = np.divide(post, mean_p, out=np.ones(h), where=mean_p > 0)
        out[:, col] = np.clip(priors[:, col] * ratio[codes], FLOOR, 1 - FLOOR)
    return out
