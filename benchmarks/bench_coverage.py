"""Do the threshold file's promises hold? Coverage of fit_thresholds against closed-form truth.

Run (full size: 37 minutes of wall time on this project's 2-core machine under a load
average of 15-19, with ``nice``)::

    nice .venv/bin/python benchmarks/bench_coverage.py --reps 300 --interval-reps 100 --jobs 2

For every cell (family x n x prevalence x objective) the benchmark draws ``--reps`` data
sets, fits with ``confidence=0.9`` (Learn then Test, fixed-sequence; ``--method holm`` for
the other procedure) and computes the *true* precision, recall and FPR of the exported
threshold from the score distributions, which are known in closed form:

* steep: positives ~ Beta(5, 2), negatives ~ Beta(2, 6);
* plateau: the same, except that 3% of negatives are scored like positives, so precision
  flattens near pi / (pi + 0.03 (1 - pi)) at the top (0.787 at prevalence 0.1).

Columns:

* ``coverage``: share of fits whose promise holds on the truth (a "never flag" answer
  holds). Goal: at least 0.9 minus one binomial standard error (``ok``).
* ``certified``: share of fits with status ``ok``.
* ``recall_given_up``: mean true recall of the point-estimate threshold (no confidence)
  minus that of the certified threshold, the price of the guarantee.
* ``sel_cov``: coverage of the exported threshold's true value of the objective's metric
  by the 90% ``selection_ci``, among the first ``--interval-reps`` fits with a threshold
  and an interval (``sel_n`` of them). Goal: at least 0.9 minus two standard errors.

Other parts (``--part``), each over ``--reps`` fits per cell (goal: nominal minus two
standard errors in every interval cell)::

    nice .venv/bin/python benchmarks/bench_coverage.py --part selection --reps 300 --jobs 2 \
        --resamples 50
    nice .venv/bin/python benchmarks/bench_coverage.py --part cells --reps 300 --jobs 2 \
        --resamples 100
    nice .venv/bin/python benchmarks/bench_coverage.py --part holm --reps 300
    nice .venv/bin/python benchmarks/bench_coverage.py --part migration --reps 300 --jobs 2
    nice .venv/bin/python benchmarks/bench_coverage.py --part bias --reps 300 --jobs 2

* ``cells``: the same intervals through the refit bootstrap's cell path (Poisson weights
  drawn per cell of neighbouring scores, as ``fit_thresholds`` does above 10,000 labelled
  rows), with the cutoff lowered to 1,000 rows for the 2,000- and 10,000-row cells, and
  at 100,000 rows (``path`` says which path each cell took).
* ``selection``: the 90% ``selection_ci`` of precision, recall and FPR (each its own
  cell, over the fits that export a threshold), steep family, with certified goals and
  with point-estimate goals whose thresholds can flag one or two rows (``tiny``);
  ``degenerate`` counts one-point intervals and ``none_with_ci`` intervals reported for a
  ``None`` threshold (both must be 0).
* ``holm``: ``method="holm"`` with every distinct score in the family (``all_``, the old
  procedure) and with the label-free geometric grid (``grid_``): coverage of the
  promise, share of fits exporting a threshold and mean true recall.
* ``migration``: ``fit_migration``'s 95% kappa interval against the exported threshold's
  true kappa (source flags ``Z1 >= c``, target score ``Phi(0.8 Z1 + 0.6 Z2)``, closed form
  from the bivariate normal).
* ``bias``: ``bias_metrics``' 95% subgroup / BPSN / BNSP AUC intervals of two disjoint
  subgroups (10% and 5% of rows) against the binormal closed form.

The fast subset (``--fast``) is what ``tests/thresholds/test_coverage.py`` runs.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import beta as beta_dist

from modkit.thresholds import FitWarning, fit_thresholds, parse_objective

CONFIDENCE = 0.9
CI_LEVEL = 0.9
FAMILIES = ("steep", "plateau")
NS = (500, 2000, 10_000)
PREVALENCES = (0.02, 0.1, 0.3)
OBJECTIVES = ("precision>=0.8", "recall>=0.8", "fpr<=0.05")
SHARE = 0.03  # plateau: share of negatives scored like positives
POS = (5.0, 2.0)
NEG = (2.0, 6.0)


@dataclass(frozen=True)
class Cell:
    family: str
    n: int
    prevalence: float
    objective: str


def draw(cell: Cell, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels of one data set of the cell's family."""
    y = (rng.random(cell.n) < cell.prevalence).astype(np.int8)
    like_pos = y == 1
    if cell.family == "plateau":
        like_pos = like_pos | (rng.random(cell.n) < SHARE)
    s = np.where(like_pos, rng.beta(*POS, cell.n), rng.beta(*NEG, cell.n))
    return s, y


def truth(cell: Cell, t: float | None) -> dict[str, float]:
    """True precision, recall and FPR at threshold ``t`` (closed form; None: never flag)."""
    if t is None:
        return {"precision": math.nan, "recall": 0.0, "fpr": 0.0}
    sp = float(beta_dist.sf(t, *POS))
    sn = float(beta_dist.sf(t, *NEG))
    if cell.family == "plateau":
        sn = SHARE * sp + (1 - SHARE) * sn
    pi = cell.prevalence
    flagged = pi * sp + (1 - pi) * sn
    return {
        "precision": pi * sp / flagged if flagged > 0 else math.nan,
        "recall": sp,
        "fpr": sn,
    }


def _holds(cell: Cell, t: float | None) -> bool:
    obj = parse_objective(cell.objective)
    con = obj.constraint
    if t is None:
        return True  # never flagging breaks no promise
    v = truth(cell, t)[con.metric]
    if math.isnan(v):
        return True
    return v >= obj.target if con.op == ">=" else v <= obj.target


def _covers(ci, value: float) -> bool | None:
    if not ci or value is None or math.isnan(value):
        return None
    return ci[0] - 1e-12 <= value <= ci[1] + 1e-12


def run_cell(args: tuple[Cell, int, int, str, int, int]) -> dict[str, object]:
    """All repetitions of one cell; returns the table row.

    The exported threshold does not depend on ``cv`` or ``bootstrap``, so only the first
    ``interval_reps`` repetitions pay for the out-of-fold and refit-bootstrap intervals.
    """
    cell, reps, seed, method, resamples, interval_reps = args
    metric = parse_objective(cell.objective).constraint.metric
    holds = certified = 0
    given_up = []
    sel_hits: list[bool] = []
    for r in range(reps):
        rng = np.random.default_rng([seed, r, cell.n, int(cell.prevalence * 1000)])
        s, y = draw(cell, rng)
        scores, labels = pd.DataFrame({"hate": s}), pd.DataFrame({"hate": y})
        intervals = resamples > 0 and r < interval_reps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            ct = fit_thresholds(
                scores,
                labels,
                cell.objective,
                confidence=CONFIDENCE,
                method=method,
                cv=5 if intervals else 0,
                bootstrap=resamples if intervals else 0,
                ci_level=CI_LEVEL,
                random_state=r,
            )["hate"]
            point = fit_thresholds(scores, labels, cell.objective, cv=0, bootstrap=0)["hate"]
        holds += _holds(cell, ct.block)
        certified += ct.status == "ok"
        given_up.append(truth(cell, point.block)["recall"] - truth(cell, ct.block)["recall"])
        if intervals and ct.block is not None:
            true_value = truth(cell, ct.block)[metric]
            hit = _covers((ct.selection_ci or {}).get(metric), true_value)
            if hit is not None:
                sel_hits.append(hit)
    se = math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / reps)
    cov = holds / reps
    sel_cov = float(np.mean(sel_hits)) if sel_hits else math.nan
    sel_se = math.sqrt(CI_LEVEL * (1 - CI_LEVEL) / len(sel_hits)) if sel_hits else math.nan
    return {
        "family": cell.family,
        "n": cell.n,
        "prevalence": cell.prevalence,
        "objective": cell.objective,
        "reps": reps,
        "coverage": cov,
        "ok": cov >= CONFIDENCE - se,
        "certified": certified / reps,
        "recall_given_up": float(np.mean(given_up)),
        "sel_cov": sel_cov,
        "sel_n": len(sel_hits),
        "sel_ok": (sel_cov >= CI_LEVEL - 2 * sel_se) if sel_hits else None,
    }


def cells(fast: bool = False) -> list[Cell]:
    if fast:
        return [
            Cell("plateau", 2000, 0.1, "precision>=0.8"),
            Cell("steep", 500, 0.1, "precision>=0.8"),
            Cell("steep", 500, 0.3, "recall>=0.8"),
            Cell("steep", 500, 0.1, "fpr<=0.05"),
        ]
    return [Cell(*c) for c in itertools.product(FAMILIES, NS, PREVALENCES, OBJECTIVES)]


def run(
    reps: int,
    *,
    fast=False,
    jobs=1,
    seed=0,
    method="fixed_sequence",
    resamples=50,
    interval_reps=None,
    progress=None,
) -> pd.DataFrame:
    """The table; ``progress(row)`` is called as each cell finishes (in cell order)."""
    ireps = reps if interval_reps is None else interval_reps
    work = [(c, reps, seed, method, resamples, ireps) for c in cells(fast)]
    rows = []
    with ProcessPoolExecutor(jobs) if jobs > 1 else _Serial() as pool:
        for row in pool.map(run_cell, work):
            rows.append(row)
            if progress is not None:
                progress(row)
    return pd.DataFrame(rows)


class _Serial:
    """A stand-in for the process pool when ``jobs=1``."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items):
        return map(fn, items)


def markdown(table: pd.DataFrame) -> str:
    """The table as GitHub markdown (floats with 3 decimals)."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


# --- selection_ci: the exported threshold's precision, recall and FPR ---------------------

#: (objective, confidence) pairs of the interval cells: certified goals, and point
#: estimates whose thresholds can flag one or two rows (the tiny counts).
SEL_GOALS = (
    ("precision>=0.8", CONFIDENCE),
    ("recall>=0.8", CONFIDENCE),
    ("fpr<=0.05", CONFIDENCE),
    ("precision>=0.9", None),
    ("f1", None),
)
SEL_NS = (500, 2000)
SEL_PREVALENCES = (0.02, 0.1)
#: The larger size, for two goals only (the refit bootstrap's cost grows with the rows).
SEL_LARGE = (
    (Cell("steep", 10_000, 0.1, "precision>=0.8"), CONFIDENCE),
    (Cell("steep", 10_000, 0.1, "precision>=0.9"), None),
)
RATES = ("precision", "recall", "fpr")


def sel_cells(fast: bool = False) -> list[tuple[Cell, float | None]]:
    if fast:
        return [(Cell("steep", 500, 0.02, "precision>=0.9"), None)]
    return [
        (Cell("steep", n, pi, goal), conf)
        for n in SEL_NS
        for pi in SEL_PREVALENCES
        for goal, conf in SEL_GOALS
    ] + list(SEL_LARGE)


#: The refit bootstrap's cell path (weights drawn per cell of neighbouring scores, which
#: ``fit_thresholds`` uses above 10,000 labelled rows): the selection cells at 2,000 and
#: 10,000 rows with the cutoff lowered to :data:`CELLS_CUTOFF` rows, and two cells at
#: 100,000 rows above the real cutoff.
CELLS_CUTOFF = 1000
CELLS_LARGE = (
    (Cell("steep", 100_000, 0.02, "precision>=0.8"), CONFIDENCE),
    (Cell("steep", 100_000, 0.02, "f1"), None),
)


def cells_cells(fast: bool = False) -> list[tuple[Cell, float | None]]:
    if fast:
        return [(Cell("steep", 2000, 0.1, "precision>=0.8"), CONFIDENCE)]
    return (
        [(Cell("steep", 2000, pi, g), conf) for pi in SEL_PREVALENCES for g, conf in SEL_GOALS]
        + list(SEL_LARGE)
        + list(CELLS_LARGE)
    )


def run_sel_cell(
    args: tuple[Cell, float | None, int, int, int] | tuple[Cell, float | None, int, int, int, int],
) -> dict[str, object]:
    """Coverage of ``selection_ci`` of each rate over the fits that export a threshold.

    A sixth item lowers the refit bootstrap's cell-path cutoff (``BOOTSTRAP_ROWS``) to
    that many labelled rows for this cell (restored afterwards).
    """
    from modkit.thresholds import _intervals

    saved = _intervals.BOOTSTRAP_ROWS
    if len(args) == 6:
        _intervals.BOOTSTRAP_ROWS = min(saved, args[5])
    try:
        return _sel_cell(*args[:5])
    finally:
        _intervals.BOOTSTRAP_ROWS = saved


def _sel_cell(
    cell: Cell, conf: float | None, reps: int, seed: int, resamples: int
) -> dict[str, object]:
    hits: dict[str, list[bool]] = {m: [] for m in RATES}
    tiny = degenerate = none_with_ci = fits = 0
    for r in range(reps):
        rng = np.random.default_rng([seed, r, cell.n, int(cell.prevalence * 1000), 7])
        s, y = draw(cell, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FitWarning)
            ct = fit_thresholds(
                pd.DataFrame({"hate": s}),
                pd.DataFrame({"hate": y}),
                cell.objective,
                confidence=conf,
                cv=0,
                bootstrap=resamples,
                ci_level=CI_LEVEL,
                random_state=r,
                min_positives=1,
            )["hate"]
        if ct.block is None:
            none_with_ci += ct.selection_ci is not None
            continue
        fits += 1
        tiny += int((s >= ct.block).sum()) <= 2
        t = truth(cell, ct.block)
        for m in RATES:
            ci = ct.selection_ci[m]
            if ci is None:
                continue
            degenerate += ci[0] == ci[1]
            hit = _covers(ci, t[m])
            if hit is not None:
                hits[m].append(hit)
    from modkit.thresholds import _intervals

    row: dict[str, object] = {
        "n": cell.n,
        "path": "cells" if cell.n > _intervals.BOOTSTRAP_ROWS else "rows",
        "prevalence": cell.prevalence,
        "objective": cell.objective,
        "confidence": conf if conf is not None else "-",
        "reps": reps,
        "fits": fits,
        "tiny": tiny,
    }
    for m in RATES:
        h = hits[m]
        cov = float(np.mean(h)) if h else math.nan
        se = math.sqrt(CI_LEVEL * (1 - CI_LEVEL) / len(h)) if h else math.nan
        row[f"{m}_cov"] = cov
        row[f"{m}_ok"] = bool(cov >= CI_LEVEL - 2 * se) if h else None
    row["degenerate"] = degenerate
    row["none_with_ci"] = none_with_ci
    return row


# --- Holm's family: before (every distinct score) and after (label-free grid) ---------------

HOLM_CELLS = (
    Cell("steep", 2000, 0.1, "precision>=0.9"),
    Cell("steep", 2000, 0.1, "precision>=0.8"),
    Cell("steep", 2000, 0.1, "recall>=0.8"),
    Cell("steep", 2000, 0.1, "fpr<=0.05"),
    Cell("plateau", 2000, 0.1, "precision>=0.8"),
    Cell("steep", 10_000, 0.02, "precision>=0.8"),
)


def run_holm_cell(args: tuple[Cell, int, int]) -> dict[str, object]:
    """Coverage, share exporting a threshold and true recall, all candidates vs the grid."""
    from modkit.thresholds import _metrics

    cell, reps, seed = args
    row: dict[str, object] = {
        "family": cell.family,
        "n": cell.n,
        "prevalence": cell.prevalence,
        "objective": cell.objective,
        "reps": reps,
    }
    grid = _metrics.HOLM_GRID_RATIO
    for name, ratio in (("all", 1 + 1e-12), ("grid", grid)):
        holds = exported = 0
        recall = []
        _metrics.HOLM_GRID_RATIO = ratio
        try:
            for r in range(reps):
                rng = np.random.default_rng([seed, r, cell.n, int(cell.prevalence * 1000)])
                s, y = draw(cell, rng)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FitWarning)
                    ct = fit_thresholds(
                        pd.DataFrame({"hate": s}),
                        pd.DataFrame({"hate": y}),
                        cell.objective,
                        confidence=CONFIDENCE,
                        method="holm",
                        cv=0,
                        bootstrap=0,
                    )["hate"]
                holds += _holds(cell, ct.block)
                exported += ct.block is not None
                recall.append(truth(cell, ct.block)["recall"])
        finally:
            _metrics.HOLM_GRID_RATIO = grid
        row[f"{name}_coverage"] = holds / reps
        row[f"{name}_exported"] = exported / reps
        row[f"{name}_recall"] = float(np.mean(recall))
    se = math.sqrt(CONFIDENCE * (1 - CONFIDENCE) / reps)
    row["ok"] = bool(row["grid_coverage"] >= CONFIDENCE - 2 * se)
    return row


# --- fit_migration's kappa interval -------------------------------------------------------

MIG_CELLS = ((500, 0.05), (500, 0.2), (2000, 0.05), (2000, 0.2))
MIG_RHO = 0.8
MIG_LEVEL = 0.95


def mig_truth(p: float, t: float | None, rho: float = MIG_RHO) -> float:
    """True kappa of target flags ``Phi(X) >= t`` against source flags ``Z1 >= c``.

    ``(Z1, X)`` standard bivariate normal with correlation ``rho``; ``c`` puts a share
    ``p`` of source flags above it.
    """
    from scipy.stats import multivariate_normal, norm

    if t is None:
        return 0.0
    c, x = float(norm.isf(p)), float(norm.ppf(t))
    p00 = float(multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf([c, x]))
    pa, pb = p, float(norm.sf(x))
    p11 = 1 - norm.cdf(c) - norm.cdf(x) + p00
    po = p11 + p00
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe)


def run_mig_cell(args: tuple[int, float, int, int, int]) -> dict[str, object]:
    """Coverage of ``kappa_low`` / ``kappa_high`` of the exported threshold's true kappa."""
    from scipy.stats import norm

    from modkit import fit_migration

    n, p, reps, seed, n_boot = args
    hits = []
    for r in range(reps):
        rng = np.random.default_rng([seed, r, n, int(p * 1000), 11])
        z1 = rng.standard_normal(n)
        x = MIG_RHO * z1 + math.sqrt(1 - MIG_RHO**2) * rng.standard_normal(n)
        src = pd.DataFrame({"THREAT": norm.cdf(z1)})
        tgt = pd.DataFrame({"violence": norm.cdf(x)})
        m = fit_migration(
            src,
            tgt,
            source_thresholds={"THREAT": float(norm.cdf(norm.isf(p)))},
            mapping={"violence": "THREAT"},
            source_provider="perspective",
            target_provider="openai",
            n_boot=n_boot,
            level=MIG_LEVEL,
            random_state=r,
        )
        row = m.report.iloc[0]
        hit = _covers([row["kappa_low"], row["kappa_high"]], mig_truth(p, row["threshold"]))
        if hit is not None:
            hits.append(hit)
    cov = float(np.mean(hits)) if hits else math.nan
    se = math.sqrt(MIG_LEVEL * (1 - MIG_LEVEL) / max(len(hits), 1))
    return {
        "n": n,
        "source_rate": p,
        "reps": reps,
        "fits": len(hits),
        "kappa_cov": cov,
        "ok": bool(cov >= MIG_LEVEL - 2 * se),
    }


# --- bias_metrics' intervals ----------------------------------------------------------------

#: Disjoint subgroups: (name, share of rows, prevalence, mean score of negatives,
#: of positives) on the normal scale (scores are their logistic transform).
BIAS_GROUPS = (
    ("none", 0.85, 0.2, 0.0, 1.5),
    ("a", 0.10, 0.2, 0.5, 1.5),
    ("b", 0.05, 0.2, 0.0, 1.0),
)
BIAS_NS = (1000, 4000)
BIAS_LEVEL = 0.95
BIAS_METRICS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")


def bias_truth() -> dict[str, dict[str, float]]:
    """True subgroup, BPSN and BNSP AUCs of subgroups ``a`` and ``b`` (closed form)."""
    from scipy.stats import norm

    def auc(mu_pos: float, mu_neg: float) -> float:
        return float(norm.cdf((mu_pos - mu_neg) / math.sqrt(2)))

    out = {}
    for g, _, _, m0, m1 in BIAS_GROUPS[1:]:
        others = [h for h in BIAS_GROUPS if h[0] != g]
        wp = np.array([sh * pi for _, sh, pi, _, _ in others])
        wn = np.array([sh * (1 - pi) for _, sh, pi, _, _ in others])
        out[g] = {
            "subgroup_auc": auc(m1, m0),
            "bpsn_auc": float(np.dot(wp / wp.sum(), [auc(h[4], m0) for h in others])),
            "bnsp_auc": float(np.dot(wn / wn.sum(), [auc(m1, h[3]) for h in others])),
        }
    return out


def run_bias_cell(args: tuple[int, int, int, int]) -> dict[str, object]:
    """Coverage of each bias AUC interval of subgroups a and b."""
    from modkit import bias_metrics

    n, reps, seed, resamples = args
    want = bias_truth()
    hits: dict[tuple[str, str], list[bool]] = {}
    names = [g[0] for g in BIAS_GROUPS]
    shares = [g[1] for g in BIAS_GROUPS]
    for r in range(reps):
        rng = np.random.default_rng([seed, r, n, 13])
        gi = rng.choice(len(BIAS_GROUPS), size=n, p=shares)
        pi = np.array([g[2] for g in BIAS_GROUPS])[gi]
        y = (rng.random(n) < pi).astype(int)
        mu_neg, mu_pos = (np.array([g[k] for g in BIAS_GROUPS]) for k in (3, 4))
        z = np.where(y == 1, mu_pos[gi], mu_neg[gi])
        score = 1 / (1 + np.exp(-(z + rng.standard_normal(n))))
        frame = pd.DataFrame(
            {
                "group": [names[i] if i else None for i in gi],
                "label": y,
                "hate": score,
            }
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = bias_metrics(
                frame,
                "group",
                "label",
                "hate",
                subgroups=["a", "b"],
                bootstrap=resamples,
                ci_level=BIAS_LEVEL,
                random_state=r,
            )
        for _, row in table.iterrows():
            for m in BIAS_METRICS:
                hit = _covers([row[f"{m}_lo"], row[f"{m}_hi"]], want[row["subgroup"]][m])
                if hit is not None:
                    hits.setdefault((row["subgroup"], m), []).append(hit)
    out: dict[str, object] = {"n": n, "reps": reps}
    ok = True
    for (g, m), h in sorted(hits.items()):
        cov = float(np.mean(h))
        se = math.sqrt(BIAS_LEVEL * (1 - BIAS_LEVEL) / len(h))
        out[f"{g}:{m}"] = cov
        ok &= cov >= BIAS_LEVEL - 2 * se
    out["ok"] = bool(ok)
    return out


PARTS = ("promise", "selection", "cells", "holm", "migration", "bias")


def run_part(
    part: str, reps: int, *, fast=False, jobs=1, seed=0, resamples=100, progress=None
) -> pd.DataFrame:
    """One part's table (``promise`` is :func:`run`)."""
    if part == "selection":
        fn, work = run_sel_cell, [(c, conf, reps, seed, resamples) for c, conf in sel_cells(fast)]
    elif part == "cells":
        fn = run_sel_cell
        work = [(c, conf, reps, seed, resamples, CELLS_CUTOFF) for c, conf in cells_cells(fast)]
    elif part == "holm":
        fn, work = run_holm_cell, [(c, reps, seed) for c in HOLM_CELLS[: 1 if fast else None]]
    elif part == "migration":
        fn, work = run_mig_cell, [(n, p, reps, seed, resamples) for n, p in MIG_CELLS]
    elif part == "bias":
        fn, work = run_bias_cell, [(n, reps, seed, resamples) for n in BIAS_NS]
    else:
        raise ValueError(part)
    rows = []
    with ProcessPoolExecutor(jobs) if jobs > 1 else _Serial() as pool:
        for row in pool.map(fn, work):
            rows.append(row)
            if progress is not None:
                progress(row)
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="promise", choices=PARTS)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="fixed_sequence", choices=("fixed_sequence", "holm"))
    ap.add_argument(
        "--resamples",
        type=int,
        default=None,
        help="bootstrap resamples per fit (default 50 for promise, 100 for the others)",
    )
    ap.add_argument(
        "--interval-reps",
        type=int,
        default=100,
        help="promise: repetitions per cell that also measure selection_ci (default 100)",
    )
    ap.add_argument("--fast", action="store_true", help="the test's subset of cells")
    ap.add_argument("--out", help="also write the table as CSV here")
    args = ap.parse_args()
    t0 = time.time()
    load = os.getloadavg()

    def progress(row: dict[str, object]) -> None:
        if args.out:
            pd.DataFrame([row]).to_csv(
                args.out, mode="a", header=not os.path.exists(args.out), index=False
            )
        print(f"{time.time() - t0:6.0f} s  {row}", flush=True)

    if args.out and os.path.exists(args.out):
        os.remove(args.out)
    if args.part != "promise":
        resamples = 100 if args.resamples is None else args.resamples
        table = run_part(
            args.part,
            args.reps,
            fast=args.fast,
            jobs=args.jobs,
            seed=args.seed,
            resamples=resamples,
            progress=progress,
        )
        print(
            f"part {args.part}: {args.reps} reps per cell, {resamples} resamples; "
            f"{time.time() - t0:.0f} s wall; load average at start "
            f"{load[0]:.2f}, at end {os.getloadavg()[0]:.2f}"
        )
        print(markdown(table))
        return
    resamples = 50 if args.resamples is None else args.resamples
    table = run(
        args.reps,
        fast=args.fast,
        jobs=args.jobs,
        seed=args.seed,
        method=args.method,
        resamples=resamples,
        interval_reps=args.interval_reps,
        progress=progress,
    )
    print(
        f"confidence {CONFIDENCE}, method {args.method}, {args.reps} reps per cell "
        f"({args.interval_reps} with intervals, {resamples} refit-bootstrap resamples); "
        f"{time.time() - t0:.0f} s wall"
    )
    print(markdown(table))
    print(
        f"coverage goal met in {int(table['ok'].sum())} of {len(table)} cells; "
        f"selection intervals in {int(table['sel_ok'].fillna(True).sum())} of {len(table)}"
    )


if __name__ == "__main__":
    main()
