"""Several providers side by side: decisions on the API keys' footing, flag rates, agreement.

Each provider's results keep their native categories; to compare them, every provider's
decision on an API key is the decision of the native categories the crosswalk maps onto
that key (:func:`modkit.providers.crosswalk`): flagged when any of them is flagged. A native
category is flagged by the provider's own flag (``categories`` in ``result_json``) or,
given thresholds in the provider's native units, when its score >= its threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._frame import endpoint_flags
from ._native import PROVIDERS, detect_provider
from ._taxonomy import CATEGORIES
from ._validation import LEVEL, Interval, KeysOf, MappingOf, SequenceOf, validate_params
from .thresholds import as_threshold_set
from .thresholds._rule import flag_values

__all__ = [
    "agreement",
    "aligned_results",
    "compare_providers",
    "pair_agreement",
    "provider_decisions",
    "provider_gaps",
]

_RELATIONS = ("exact", "partial")


def native_flags(
    results: pd.DataFrame, categories: Sequence[str], thresholds: Any = None
) -> pd.DataFrame:
    """1.0 / 0.0 / NaN per native category: the provider's flag, or score >= threshold.

    Parameters
    ----------
    results : DataFrame
        One provider's results frame.
    categories : sequence of str
        Native category columns of ``results``.
    thresholds : ThresholdSet, mapping or path, optional
        Native-unit thresholds, read by :func:`modkit.thresholds.as_threshold_set` with
        the frame's provider (keys must be its categories, numbers on its scale); a
        category without one is left out. Default: the provider's own flags.
    """
    cats = list(categories)
    if thresholds is None:
        flags = endpoint_flags(results, cats, strict=False)
        return pd.DataFrame(flags, columns=cats, index=results.index)
    provider = detect_provider(results.columns)
    block = as_threshold_set(thresholds, provider=provider).block  # keys checked
    thr = {c: v for c, v in block.items() if v is not None}
    out = {}
    for c in cats:
        if c not in thr:
            continue
        scores = pd.to_numeric(results[c], errors="coerce").to_numpy(dtype=float)
        out[c] = flag_values(scores, thr[c])
    return pd.DataFrame(out, index=results.index)


@validate_params(
    {
        "results": [pd.DataFrame],
        "provider": [None, KeysOf(PROVIDERS)],
        "relations": [SequenceOf(str)],
        "categories": [None, SequenceOf(str)],
    }
)
def provider_decisions(
    results: pd.DataFrame,
    *,
    provider: str | None = None,
    thresholds: Any = None,
    relations: Sequence[str] = _RELATIONS,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One provider's decisions on the API keys, through the crosswalk.

    Parameters
    ----------
    results : DataFrame
        A results frame of one provider (native category columns).
    provider : str, optional
        A key of :data:`modkit.providers.PROVIDERS` (default: detected from the columns).
    thresholds : mapping or ThresholdSet, optional
        Native-unit thresholds (default: the provider's own flags).
    relations : sequence of {"exact", "partial"}, default both
        Which crosswalk mappings count.
    categories : sequence of str, optional
        API keys to decide (default: every key the provider maps).

    Returns
    -------
    DataFrame of shape (n_rows, n_keys)
        1.0 flagged, 0.0 not, NaN unknown (no score); columns are API keys.

    Raises
    ------
    InputError
        For an unknown provider or relation, or a frame with no native category.

    Examples
    --------
    Azure AI Content Safety severities (0..7) through the crosswalk to the API's keys:

    >>> import pandas as pd
    >>> import modkit
    >>> azure = pd.DataFrame(
    ...     {"Hate": [0, 4, 2, 6], "Violence": [0, 2, 6, 0], "SelfHarm": 0, "Sexual": 0}
    ... )
    >>> decisions = modkit.provider_decisions(azure, thresholds={"Hate": 4, "Violence": 4})
    >>> decisions[["hate", "violence"]]
       hate  violence
    0   0.0       0.0
    1   1.0       0.0
    2   0.0       1.0
    3   1.0       0.0
    """
    bad = [r for r in relations if r not in _RELATIONS]
    if bad:
        raise InputError(f"relations must be among {_RELATIONS}, got {bad}")
    name = provider or detect_provider(results.columns)
    if name is None or name not in PROVIDERS:
        raise InputError(
            f"cannot tell the provider of a frame with columns {list(results.columns)[:8]}; "
            f"pass provider= one of {list(PROVIDERS)}"
        )
    tax = PROVIDERS[name]
    natives = [c for c in tax.categories if c in results.columns]
    if not natives:
        raise InputError(f"the frame has none of {name}'s categories {list(tax.categories)}")
    flags = native_flags(results, natives, thresholds)
    keys = list(categories) if categories is not None else list(CATEGORIES)
    unknown = [k for k in keys if k not in CATEGORIES]
    if unknown:
        raise InputError(f"unknown API keys {unknown}; use the API's spelling")
    out: dict[str, np.ndarray] = {}
    for key in keys:
        cols = [n for n, r in tax.crosswalk.get(key, ()) if r in relations and n in flags]
        if not cols:
            continue
        block = flags[cols].to_numpy(dtype=float)
        known = ~np.isnan(block)
        out[key] = np.where(
            known.any(axis=1), np.nanmax(np.where(known, block, -1.0), axis=1), np.nan
        )
    return pd.DataFrame(out, index=results.index)


def aligned_results(results: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The frames with a fresh index, after checking they hold the same texts in order."""
    if not isinstance(results, Mapping) or len(results) < 1:
        raise InputError("results must be a mapping of provider name to results frame")
    frames = {str(k): v.reset_index(drop=True) for k, v in results.items()}
    first_name, first = next(iter(frames.items()))
    for name, frame in frames.items():
        if len(frame) != len(first):
            raise InputError(
                f"results[{name!r}] has {len(frame)} rows, results[{first_name!r}] has "
                f"{len(first)}: score the same texts with every provider"
            )
        if "text" in frame and "text" in first and not frame["text"].equals(first["text"]):
            i = int(np.flatnonzero(frame["text"].to_numpy() != first["text"].to_numpy())[0])
            raise InputError(
                f"results[{name!r}] row {i} has another text than results[{first_name!r}]: "
                "score the same texts, in the same order, with every provider"
            )
    return frames


def _all_decisions(
    frames: Mapping[str, pd.DataFrame],
    thresholds: Mapping[str, Any] | None,
    providers: Mapping[str, str] | None,
    relations: Sequence[str],
    categories: Sequence[str] | None,
) -> dict[str, pd.DataFrame]:
    thresholds = thresholds or {}
    providers = providers or {}
    return {
        name: provider_decisions(
            frame,
            provider=providers.get(name, name if name in PROVIDERS else None),
            thresholds=thresholds.get(name),
            relations=relations,
            categories=categories,
        )
        for name, frame in frames.items()
    }


@validate_params(
    {
        "results": [Mapping],
        "by": [str, SequenceOf(str)],
        "thresholds": [None, Mapping],
        "providers": [None, MappingOf(str, str)],
        "relations": [SequenceOf(str)],
        "categories": [None, SequenceOf(str)],
    }
)
def compare_providers(
    results: Mapping[str, pd.DataFrame],
    by: str | Sequence[str],
    *,
    thresholds: Mapping[str, Any] | None = None,
    providers: Mapping[str, str] | None = None,
    relations: Sequence[str] = _RELATIONS,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Flag rates of slot value x provider x API key, from one template suite.

    Parameters
    ----------
    results : mapping of str to DataFrame
        Results frames of the same texts in the same order, one per provider, keyed by a
        name (a :data:`modkit.providers.PROVIDERS` key, or any name with ``providers=``).
    by : str or sequence of str
        Slot columns (of the first frame) to group by.
    thresholds : mapping of str to (mapping or ThresholdSet), optional
        Per provider name, native-unit thresholds (default: each provider's own flags).
    providers : mapping of str to str, optional
        Provider of each name when the names are not provider keys.
    relations, categories
        As in :func:`provider_decisions`.

    Returns
    -------
    DataFrame, shape (n_groups * n_providers * n_keys, len(by) + 5)
        Long form, one row per (slot values, provider, API key): the ``by`` columns,
        ``provider``, ``category`` (API key), ``n`` (rows with a decision), ``flagged``
        and ``flag_rate`` (``flagged / n``, a proportion in [0, 1]; NaN when ``n`` is 0).

    Raises
    ------
    InputError
        When ``results`` is not a non-empty mapping, its frames differ in length or in
        their ``text`` column, a ``by`` column is missing from the first frame, or (as in
        :func:`provider_decisions`) a provider, relation or API key is unknown.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> group = ["x", "x", "y", "y"]
    >>> azure = pd.DataFrame(
    ...     {"group": group, "Hate": [0, 4, 2, 6], "Violence": 0, "SelfHarm": 0, "Sexual": 0}
    ... )
    >>> openai = pd.DataFrame({"group": group, "hate": [0.1, 0.2, 0.3, 0.9], "violence": 0.0})
    >>> table = modkit.compare_providers(
    ...     {"azure": azure, "openai": openai},
    ...     "group",
    ...     thresholds={"azure": {"Hate": 4}, "openai": {"hate": 0.5}},
    ...     categories=["hate"],
    ... )
    >>> table[["group", "provider", "flag_rate"]]
      group provider  flag_rate
    0     x    azure        0.5
    1     y    azure        0.5
    2     x   openai        0.0
    3     y   openai        0.5
    """
    frames = aligned_results(results)
    first = next(iter(frames.values()))
    by_cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by_cols if c not in first.columns]
    if missing:
        raise InputError(f"by: no column {missing} in the results (columns: {list(first.columns)})")
    decisions = _all_decisions(frames, thresholds, providers, relations, categories)
    parts = []
    for name, dec in decisions.items():
        long = dec.assign(**{c: first[c] for c in by_cols}).melt(
            id_vars=by_cols, var_name="category", value_name="decision"
        )
        g = long.groupby([*by_cols, "category"], sort=False, dropna=False)["decision"]
        part = pd.DataFrame({"n": g.count(), "flagged": g.sum(min_count=0)}).reset_index()
        part.insert(len(by_cols), "provider", name)
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    table["flagged"] = table["flagged"].astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["flag_rate"] = np.where(
            table["n"] > 0, table["flagged"] / table["n"].clip(lower=1), np.nan
        )
    return table


@validate_params({"table": [pd.DataFrame]})
def provider_gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Which provider flags which group more often, from :func:`compare_providers`.

    Parameters
    ----------
    table : DataFrame
        The long table :func:`compare_providers` returns (at least the columns
        ``provider``, ``category`` and ``flag_rate``; other columns but ``n`` and
        ``flagged`` are read as slot columns).

    Returns
    -------
    DataFrame, shape (n_groups * n_keys, n_slots + 1 + n_providers + 3)
        One row per (slot values, category): the slot columns, ``category``, each
        provider's flag rate (in [0, 1]) as a column named after the provider, ``most``
        (the provider with the highest rate), ``least`` and ``spread`` (highest minus
        lowest rate), sorted by ``spread`` descending.

    Raises
    ------
    InputError
        When ``table`` lacks one of ``provider``, ``category``, ``flag_rate``.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> group = ["x", "x", "y", "y"]
    >>> azure = pd.DataFrame(
    ...     {"group": group, "Hate": [0, 4, 2, 6], "Violence": 0, "SelfHarm": 0, "Sexual": 0}
    ... )
    >>> openai = pd.DataFrame({"group": group, "hate": [0.1, 0.2, 0.3, 0.9], "violence": 0.0})
    >>> table = modkit.compare_providers(
    ...     {"azure": azure, "openai": openai},
    ...     "group",
    ...     thresholds={"azure": {"Hate": 4}, "openai": {"hate": 0.5}},
    ...     categories=["hate"],
    ... )
    >>> modkit.provider_gaps(table)[["group", "most", "least", "spread"]]
      group   most   least  spread
    0     x  azure  openai     0.5
    1     y  azure   azure     0.0
    """
    need = {"provider", "category", "flag_rate"}
    if not need.issubset(table.columns):
        raise InputError(f"expected a compare_providers table with columns {sorted(need)}")
    by = [
        c for c in table.columns if c not in ("provider", "category", "n", "flagged", "flag_rate")
    ]
    wide = table.pivot_table(
        index=[*by, "category"], columns="provider", values="flag_rate", sort=False, dropna=False
    )
    wide.columns.name = None
    rates = wide.to_numpy(dtype=float)
    has = ~np.isnan(rates).all(axis=1)
    names = np.asarray(wide.columns, dtype=object)
    high = np.where(np.isnan(rates), -np.inf, rates)
    low = np.where(np.isnan(rates), np.inf, rates)
    none = np.array(None, dtype=object)  # (a bare None reads as where's one-argument form)
    wide["most"] = np.where(has, names[np.argmax(high, axis=1)], none)
    wide["least"] = np.where(has, names[np.argmin(low, axis=1)], none)
    spread = np.where(has, high.max(axis=1) - low.min(axis=1), np.nan)
    wide["spread"] = spread
    return wide.sort_values("spread", ascending=False, kind="stable").reset_index()


def kappa_from_counts(
    n11: np.ndarray, n10: np.ndarray, n01: np.ndarray, n00: np.ndarray
) -> np.ndarray:
    """Cohen's kappa from 2x2 counts (vectorised); NaN where chance agreement is 1."""
    n = n11 + n10 + n01 + n00
    with np.errstate(invalid="ignore", divide="ignore"):
        po = (n11 + n00) / n
        pa, pb = (n11 + n10) / n, (n11 + n01) / n
        pe = pa * pb + (1 - pa) * (1 - pb)
        kappa = (po - pe) / (1 - pe)
    return np.where(np.isclose(pe, 1.0), np.nan, kappa)


@validate_params(
    {
        "results": [Mapping],
        "thresholds": [None, Mapping],
        "providers": [None, MappingOf(str, str)],
        "relations": [SequenceOf(str)],
        "categories": [None, SequenceOf(str)],
        "n_boot": [Interval(Integral, 0, None)],
        "level": [LEVEL],
        "random_state": [Interval(Integral, 0, None)],
    }
)
def agreement(
    results: Mapping[str, pd.DataFrame],
    *,
    thresholds: Mapping[str, Any] | None = None,
    providers: Mapping[str, str] | None = None,
    relations: Sequence[str] = _RELATIONS,
    categories: Sequence[str] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Agreement between providers' decisions per API key: Cohen's kappa with intervals.

    Parameters
    ----------
    results, thresholds, providers, relations, categories
        As in :func:`compare_providers`.
    n_boot : int, default 1000
        Bootstrap resamples of the rows (0: no intervals).
    level : float, default 0.95
        Confidence level of the percentile bootstrap interval.
    random_state : int, default 0
        Seed of the bootstrap's generator (:func:`numpy.random.default_rng`).

    Returns
    -------
    DataFrame, shape (n_pairs, 10)
        One row per (category, provider_a, provider_b) both decide: ``n`` (rows both
        decided), ``rate_a``, ``rate_b`` (flag rates in [0, 1]), ``agreement`` (share
        of equal decisions, in [0, 1]), ``kappa`` (in [-1, 1],
        :func:`sklearn.metrics.cohen_kappa_score`; NaN when both are constant),
        ``kappa_low``, ``kappa_high`` (NaN when ``n_boot`` is 0).

    Raises
    ------
    InputError
        When ``level`` is not in (0, 1), ``n_boot`` is negative, or ``results`` fails
        the checks of :func:`compare_providers`.

    Notes
    -----
    Cohen (1960), "A coefficient of agreement for nominal scales". The interval is the
    percentile bootstrap over rows (Efron & Tibshirani 1993), resampling the 2x2 table.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> azure = pd.DataFrame({"Hate": [0, 4, 2, 6], "Violence": 0, "SelfHarm": 0, "Sexual": 0})
    >>> openai = pd.DataFrame({"hate": [0.1, 0.8, 0.3, 0.9], "violence": 0.0})
    >>> table = modkit.agreement(
    ...     {"azure": azure, "openai": openai},
    ...     thresholds={"azure": {"Hate": 4}, "openai": {"hate": 0.5}},
    ...     categories=["hate"],
    ...     n_boot=50,
    ... )
    >>> table[["category", "provider_a", "provider_b", "kappa"]]
      category provider_a provider_b  kappa
    0     hate      azure     openai    1.0
    """
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    if n_boot < 0:
        raise InputError(f"n_boot must be >= 0, got {n_boot!r}")
    frames = aligned_results(results)
    decisions = _all_decisions(frames, thresholds, providers, relations, categories)
    names = list(decisions)
    rng = np.random.default_rng(random_state)
    rows = []
    for key in CATEGORIES:
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                if key not in decisions[a] or key not in decisions[b]:
                    continue
                x, y = decisions[a][key].to_numpy(), decisions[b][key].to_numpy()
                ok = ~(np.isnan(x) | np.isnan(y))
                x, y = x[ok].astype(int), y[ok].astype(int)
                n = len(x)
                row: dict[str, Any] = {"category": key, "provider_a": a, "provider_b": b, "n": n}
                if n == 0:
                    rows.append(row)
                    continue
                row["rate_a"], row["rate_b"] = x.mean(), y.mean()
                row.update(pair_agreement(x, y, n_boot, level, rng))
                rows.append(row)
    cols = [
        "category",
        "provider_a",
        "provider_b",
        "n",
        "rate_a",
        "rate_b",
        "agreement",
        "kappa",
        "kappa_low",
        "kappa_high",
    ]
    return pd.DataFrame(rows, columns=cols)


def pair_agreement(
    a: np.ndarray, b: np.ndarray, n_boot: int, level: float, rng: np.random.Generator
) -> dict[str, Any]:
    """Agreement and Cohen's kappa of two 0/1 decision vectors, with a bootstrap interval.

    Returns ``agreement`` (share equal), ``kappa``
    (:func:`sklearn.metrics.cohen_kappa_score`; NaN when both hold one same value) and
    ``kappa_low`` / ``kappa_high``: the percentile interval at ``level`` of ``n_boot``
    resamples of the rows (drawn as multinomial resamples of the 2x2 table).
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    n = len(a)
    out: dict[str, Any] = {
        "agreement": np.nan,
        "kappa": np.nan,
        "kappa_low": np.nan,
        "kappa_high": np.nan,
    }
    if n == 0:
        return out
    out["agreement"] = float((a == b).mean())
    if len(set(a.tolist()) | set(b.tolist())) == 1:  # chance agreement 1: undefined
        return out
    out["kappa"] = float(cohen_kappa_score(a, b))
    if n_boot:
        cell = a * 2 + b  # 3: both flag, 2: a only, 1: b only, 0: neither
        counts = rng.multinomial(n, np.bincount(cell, minlength=4) / n, size=int(n_boot))
        ks = kappa_from_counts(counts[:, 3], counts[:, 2], counts[:, 1], counts[:, 0])
        ks = ks[~np.isnan(ks)]
        if len(ks):
            alpha = (1 - level) / 2
            out["kappa_low"] = float(np.quantile(ks, alpha))
            out["kappa_high"] = float(np.quantile(ks, 1 - alpha))
    return out
