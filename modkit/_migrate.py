"""Migration: thresholds on backend B whose decisions reproduce backend A's decisions.

A provider that stops serving (Perspective after 2026) leaves its users with thresholds
on a scale nobody computes any more. Score the same texts with the old provider (or
replay its recorded scores) and with a successor; A's decisions at A's thresholds become
the labels, and each of B's mapped categories gets the threshold, on B's native scale,
that agrees best with them (Cohen's kappa). The agreement is estimated out of fold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from ._compare import aligned_results, kappa_from_counts, native_flags, pair_agreement
from ._errors import InputError
from ._native import PROVIDERS, Scale, detect_provider, provider_scale
from ._taxonomy import CATEGORIES
from ._validation import LEVEL, Interval, KeysOf, MappingOf, validate_params
from .thresholds import ThresholdSet
from .thresholds._rule import as_limits
from .thresholds._rule import flags as rule_flags

__all__ = ["Migration", "default_mapping", "fit_migration"]

_STRENGTH = {"exact": 2, "partial": 1}


@validate_params({"source": [KeysOf(PROVIDERS)], "target": [KeysOf(PROVIDERS)]})
def default_mapping(
    source: str,
    target: str,
    source_columns: Iterable[str] | None = None,
    target_columns: Iterable[str] | None = None,
) -> dict[str, str]:
    """``{target category: source category}`` suggested by the crosswalk.

    Each pair of native categories (s, t) that map onto the same API key scores
    ``min(strength(s), strength(t))`` per key (exact 2, partial 1); each target category
    takes the source category with the highest total (ties: crosswalk order). A starting
    point only: pass ``mapping=`` to :func:`fit_migration` to choose. With
    ``source_columns`` / ``target_columns``, only categories among them are paired.

    Parameters
    ----------
    source, target : str
        Keys of :data:`modkit.providers.PROVIDERS`: the provider being left and its successor.
    source_columns, target_columns : iterable of str, optional
        The columns each side's results hold (default: all the provider's categories).

    Returns
    -------
    dict of str to str
        ``{target category: source category}``, in the target's category order; a
        target category that shares no API key with a source category is left out.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    KeyError
        When ``source`` or ``target`` is not a key of :data:`modkit.providers.PROVIDERS`.

    Examples
    --------
    >>> import modkit
    >>> modkit.default_mapping("perspective", "azure")
    {'Hate': 'IDENTITY_ATTACK', 'Sexual': 'SEXUALLY_EXPLICIT', 'Violence': 'THREAT'}
    """
    src, tgt = PROVIDERS[source], PROVIDERS[target]
    s_ok = set(source_columns) if source_columns is not None else set(src.categories)
    t_ok = set(target_columns) if target_columns is not None else set(tgt.categories)
    weight: dict[tuple[str, str], int] = {}
    for key in CATEGORIES:
        for s, rs in src.crosswalk.get(key, ()):
            for t, rt in tgt.crosswalk.get(key, ()):
                if s not in s_ok or t not in t_ok:
                    continue
                w = min(_STRENGTH[rs], _STRENGTH[rt])
                weight[(s, t)] = weight.get((s, t), 0) + w
    out: dict[str, str] = {}
    for t in tgt.categories:
        best = [(w, s) for (s, tt), w in weight.items() if tt == t]
        if best:
            top = max(w for w, _ in best)
            out[t] = next(s for w, s in best if w == top)
    return out


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float | None, float]:
    """The threshold (a distinct score) maximising kappa; ties go to the highest."""
    if len(scores) == 0 or labels.min() == labels.max():
        return None, float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    ends = np.append(np.flatnonzero(s[1:] != s[:-1]), len(s) - 1)
    tp = np.cumsum(y)[ends]
    fp = ends + 1 - tp
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    kappa = kappa_from_counts(tp, fp, n_pos - tp, n_neg - fp)
    kappa = np.where(np.isnan(kappa), -np.inf, kappa)
    i = int(np.argmax(kappa))  # first maximum: the highest threshold among ties
    return float(s[ends[i]]), float(kappa[i])


def _refit_kappa_interval(
    x: np.ndarray, y: np.ndarray, n_boot: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of the out-of-bag kappa of a threshold re-chosen per resample.

    Each resample draws Poisson(1) row weights (the Poisson bootstrap), picks the
    kappa-maximising threshold on the weighted rows (as :func:`_best_threshold` does on
    the data) and scores it on the rows the resample left out (weight 0): the leave-one-out
    bootstrap (Efron & Tibshirani, JASA 1997) of the whole fit, so the interval carries
    the threshold choice's variability as well as the agreement's. Vectorised on the rows
    sorted once. ``(nan, nan)`` when no resample gives a defined kappa.
    """
    n = len(x)
    if n_boot <= 0 or n == 0:
        return float("nan"), float("nan")
    order = np.argsort(-x, kind="stable")
    s, yy = x[order], y[order].astype(np.int64)
    ends = np.append(np.flatnonzero(s[1:] != s[:-1]), n - 1)
    starts = np.r_[0, ends[:-1] + 1]
    ks = np.full(n_boot, np.nan)
    per = max(1, min(n_boot, 2_000_000 // n))
    done = 0
    while done < n_boot:
        nb = min(per, n_boot - done)
        w = rng.poisson(1.0, size=(nb, n))
        o = (w == 0).astype(np.int64)
        tp = np.add.reduceat(w * yy, starts, axis=1).cumsum(axis=1)
        fl = np.add.reduceat(w, starts, axis=1).cumsum(axis=1)
        n_pos, n_all = tp[:, -1:], fl[:, -1:]
        fp = fl - tp
        kap = kappa_from_counts(tp, fp, n_pos - tp, n_all - n_pos - fp)
        kap = np.where(np.isnan(kap), -np.inf, kap)
        i = np.argmax(kap, axis=1)  # first maximum: the highest threshold among ties
        rows = np.arange(nb)
        defined = np.isfinite(kap[rows, i])
        o_tp = np.add.reduceat(o * yy, starts, axis=1).cumsum(axis=1)
        o_fl = np.add.reduceat(o, starts, axis=1).cumsum(axis=1)
        a11, a1 = o_tp[rows, i], o_fl[rows, i]
        op, on = o_tp[:, -1], o_fl[:, -1]
        # a resample whose labels are all one value never (or always) flags, as the folds do
        always = ~defined & (n_pos[:, 0] > 0)
        a11 = np.where(defined, a11, np.where(always, op, 0))
        a1 = np.where(defined, a1, np.where(always, on, 0))
        ks[done : done + nb] = kappa_from_counts(a11, a1 - a11, op - a11, on - op - (a1 - a11))
        done += nb
    ks = ks[np.isfinite(ks)]
    if not len(ks):
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    return float(np.quantile(ks, alpha)), float(np.quantile(ks, 1 - alpha))


def _decide(scores: np.ndarray, threshold: float | None) -> np.ndarray:
    """0/1 per score under the one decision rule (``None`` never fires)."""
    return rule_flags(scores, as_limits([threshold])[0]).astype(int)


@dataclass
class Migration:
    """Thresholds on a target provider fitted to reproduce a source provider's decisions.

    Attributes
    ----------
    source, target : str
        The providers.
    model : str or None
        The target's model (as its results name it).
    scale : Scale
        The target's native scale; every threshold lies on it (ordinal: one of the levels).
    mapping : dict of str to str
        Target category -> the source category whose decisions it reproduces.
    thresholds : dict of str to float or None
        Target category -> threshold in the target's native units (None: never flag,
        because the source never flags).
    report : DataFrame
        Per mapped pair: ``n``, ``source_rate``, ``threshold``, ``target_rate`` (at the
        threshold, in sample), out-of-fold ``agreement`` and ``kappa`` with
        ``kappa_low`` / ``kappa_high`` (the exported threshold's kappa, refit bootstrap
        out of bag), ``folds``.
    diff : DataFrame
        The decision diff: every (row, pair) where the target at its threshold decides
        otherwise than the source; columns ``row``, ``text`` (if known),
        ``target_category``, ``source_category``, ``source``, ``target``,
        ``target_score``.

    Examples
    --------
    Made by :func:`fit_migration`:

    >>> import pandas as pd
    >>> import modkit
    >>> perspective = pd.DataFrame({"THREAT": [0.1, 0.9, 0.8, 0.2]})
    >>> azure = pd.DataFrame({"Violence": [0, 6, 4, 2], "Hate": 0, "SelfHarm": 0, "Sexual": 0})
    >>> migration = modkit.fit_migration(
    ...     perspective,
    ...     azure,
    ...     source_thresholds={"THREAT": 0.5},
    ...     mapping={"Violence": "THREAT"},
    ...     folds=2,
    ...     n_boot=0,
    ... )
    >>> migration.mapping, migration.thresholds
    ({'Violence': 'THREAT'}, {'Violence': 4.0})
    >>> len(migration.diff)
    0
    """

    source: str
    target: str
    model: str | None
    scale: Scale
    mapping: dict[str, str]
    thresholds: dict[str, float | None]
    report: pd.DataFrame
    diff: pd.DataFrame = field(repr=False)

    def to_threshold_set(self, *, profile: str = "input") -> ThresholdSet:
        """The migrated thresholds as a :class:`~modkit.ThresholdSet` on the target's scale.

        The set records the target provider, model and scale, so ``save`` writes a
        threshold file that ``modkit serve --backend <target> --thresholds`` and the
        standard-library consumer apply. Each category's ``block`` is its threshold
        (None: never flag); no review band.

        Parameters
        ----------
        profile : {"input", "output"}, default "input"
            The profile the set is for (what the endpoint scores: prompts or replies).

        Returns
        -------
        ThresholdSet
            One category per mapped target category, thresholds in the target's native
            units.
        """
        return ThresholdSet.from_thresholds(
            dict(self.thresholds),
            profile=profile,
            model=self.model,
            provider=self.target,
            scale=self.scale,
        )

    def summary(self) -> str:
        """A few lines: per pair, the threshold and the out-of-fold agreement.

        Returns
        -------
        str
            Newline-separated: a header naming source, target and model, one line per
            mapped pair (threshold, out-of-fold agreement and kappa with its interval,
            folds, ``n``), and the count of differing in-sample decisions.
        """
        lines = [f"migration {self.source} -> {self.target} ({self.model or 'model unknown'})"]
        for r in self.report.to_dict("records"):
            thr = (
                "never"
                if r["threshold"] is None or pd.isna(r["threshold"])
                else f"{r['threshold']:g}"
            )
            lines.append(
                f"  {r['target_category']} >= {thr} reproduces {r['source_category']}: "
                f"agreement {r['agreement']:.3f}, kappa {r['kappa']:.3f} "
                f"[{r['kappa_low']:.3f}, {r['kappa_high']:.3f}] out of {r['folds']} folds, "
                f"n={r['n']}"
            )
        lines.append(f"  {len(self.diff)} decisions differ (in sample)")
        return "\n".join(lines)


@validate_params(
    {
        "source_results": [pd.DataFrame],
        "target_results": [pd.DataFrame],
        "mapping": [None, MappingOf(str, str)],
        "source_provider": [None, KeysOf(PROVIDERS)],
        "target_provider": [None, KeysOf(PROVIDERS)],
        "folds": [Interval(Integral, 2, None)],
        "n_boot": [Interval(Integral, 0, None)],
        "level": [LEVEL],
        "random_state": [Interval(Integral, 0, None)],
    }
)
def fit_migration(
    source_results: pd.DataFrame,
    target_results: pd.DataFrame,
    *,
    source_thresholds: Any = None,
    mapping: Mapping[str, str] | None = None,
    source_provider: str | None = None,
    target_provider: str | None = None,
    folds: int = 5,
    n_boot: int = 1000,
    level: float = 0.95,
    random_state: int = 0,
) -> Migration:
    """Fit thresholds on the target so its decisions reproduce the source's.

    Parameters
    ----------
    source_results, target_results : DataFrame
        Results frames of the same texts in the same order: backend A (the one being
        left; its recorded scores replayed, say) and backend B (the successor).
    source_thresholds : mapping or ThresholdSet, optional
        A's thresholds in A's native units (default: A's own flags).
    mapping : mapping of str to str, optional
        Target category -> source category (default: :func:`default_mapping`).
    source_provider, target_provider : str, optional
        Default: detected from the columns.
    folds : int, default 5
        Folds of the out-of-fold agreement (rows shuffled with ``random_state``).
    n_boot : int, default 1000
        Resamples of the refit bootstrap behind ``kappa_low`` / ``kappa_high``: an
        interval for the kappa of the exported threshold that accounts for choosing it
        (each resample re-chooses the threshold on Poisson(1)-weighted rows and scores
        it on the rows it left out; percentile interval of those kappas; the
        leave-one-out bootstrap of Efron & Tibshirani, JASA 1997). Coverage is measured
        in ``benchmarks/bench_coverage.py --part migration``.
    level : float, default 0.95
        Confidence level of that interval.
    random_state : int, default 0
        Seed of the fold assignment and the bootstrap.

    Returns
    -------
    Migration
        The fitted thresholds (target's native units), the per-pair report and the
        in-sample decision diff.

    Raises
    ------
    InputError
        Frames of different texts, an unknown provider, a mapping naming a column the
        frames lack, or ``folds`` < 2.

    Notes
    -----
    Each threshold is the distinct target score that maximises Cohen's kappa (Cohen 1960;
    computed from the 2x2 counts as :func:`sklearn.metrics.cohen_kappa_score` does) between
    the target's decisions (score >= threshold) and the source's decisions (ties: the
    highest threshold); on an ordinal scale that is one of the levels. Out of fold, the
    threshold is chosen on the other folds and applied to the held-out one; agreement
    and kappa are computed on the pooled held-out decisions.

    Examples
    --------
    Perspective's THREAT probability (flag at 0.5) reproduced by Azure's Violence severity:

    >>> import pandas as pd
    >>> import modkit
    >>> threat = [0.1, 0.2, 0.9, 0.8, 0.3, 0.95, 0.1, 0.7]
    >>> perspective = pd.DataFrame({"THREAT": threat})
    >>> azure = pd.DataFrame(
    ...     {"Violence": [0, 0, 6, 4, 2, 6, 0, 4], "Hate": 0, "SelfHarm": 0, "Sexual": 0}
    ... )
    >>> migration = modkit.fit_migration(
    ...     perspective, azure, source_thresholds={"THREAT": 0.5}, folds=2, n_boot=20
    ... )
    >>> migration.source, migration.target, migration.thresholds["Violence"]
    ('perspective', 'azure', 4.0)
    """
    if int(folds) < 2:
        raise InputError(f"folds must be at least 2, got {folds!r}")
    frames = aligned_results({"source": source_results, "target": target_results})
    src, tgt = frames["source"], frames["target"]
    sname = source_provider or detect_provider(src.columns)
    tname = target_provider or detect_provider(tgt.columns)
    for role, name in (("source", sname), ("target", tname)):
        if name not in PROVIDERS:
            raise InputError(f"cannot tell the {role} provider: pass {role}_provider=")
    assert sname is not None and tname is not None  # both are in PROVIDERS
    pairs = (
        dict(mapping)
        if mapping is not None
        else default_mapping(sname, tname, src.columns, tgt.columns)
    )
    if not pairs:
        raise InputError(f"no category of {tname} maps onto one of {sname}: pass mapping=")
    for t, s in pairs.items():
        if t not in tgt.columns:
            raise InputError(f"mapping: the target results have no column {t!r}")
        if s not in src.columns:
            raise InputError(f"mapping: the source results have no column {s!r}")
    models = [m for m in tgt.get("model", pd.Series(dtype=object)).tolist() if m]
    model = models[0] if models else None
    scale = provider_scale(tname, model)
    flags = native_flags(src, sorted(set(pairs.values())), source_thresholds)
    rng = np.random.default_rng(random_state)
    fold_of = rng.permutation(len(src)) % int(folds)
    rows, diffs, thresholds = [], [], {}
    for t, s in pairs.items():
        y_all = flags[s].to_numpy(dtype=float) if s in flags else np.full(len(src), np.nan)
        x_all = pd.to_numeric(tgt[t], errors="coerce").to_numpy(dtype=float)
        ok = ~(np.isnan(y_all) | np.isnan(x_all))
        idx = np.flatnonzero(ok)
        x, y, f = x_all[ok], y_all[ok].astype(int), fold_of[ok]
        thr, _ = _best_threshold(x, y)
        if thr is not None:
            thr = scale.check_threshold(thr, f"threshold of {t!r}")
        thresholds[t] = thr
        oof = np.zeros(len(x), dtype=int)
        for k in range(int(folds)):
            train, test = f != k, f == k
            tk, _ = _best_threshold(x[train], y[train])
            if tk is None:  # the training folds never (or always) flag: do likewise
                tk = None if y[train].max(initial=0) == 0 else -np.inf
            oof[test] = _decide(x[test], tk)
        row: dict[str, Any] = {"n": len(y), **pair_agreement(y, oof, 0, level, rng)}
        if np.isfinite(row["kappa"]):
            row["kappa_low"], row["kappa_high"] = _refit_kappa_interval(
                x, y, int(n_boot), level, rng
            )
        row.update(
            target_category=t,
            source_category=s,
            threshold=thr,
            target_rate=float(_decide(x, thr).mean()) if len(x) else np.nan,
            source_rate=float(y.mean()) if len(y) else np.nan,
            folds=int(folds),
        )
        rows.append(row)
        final = _decide(x, thr)
        differ = np.flatnonzero(final != y)
        if len(differ):
            part = pd.DataFrame(
                {
                    "row": idx[differ],
                    "target_category": t,
                    "source_category": s,
                    "source": y[differ],
                    "target": final[differ],
                    "target_score": x[differ],
                }
            )
            if "text" in src:
                part.insert(1, "text", src["text"].to_numpy()[idx[differ]])
            diffs.append(part)
    cols = [
        "target_category",
        "source_category",
        "n",
        "source_rate",
        "threshold",
        "target_rate",
        "agreement",
        "kappa",
        "kappa_low",
        "kappa_high",
        "folds",
    ]
    diff_cols = [
        "row",
        "text",
        "target_category",
        "source_category",
        "source",
        "target",
        "target_score",
    ]
    diff = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame(columns=diff_cols)
    return Migration(sname, tname, model, scale, pairs, thresholds, pd.DataFrame(rows)[cols], diff)
