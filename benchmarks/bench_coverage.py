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
* ``oof_cov`` / ``sel_cov``: coverage of the exported threshold's true value of the
  objective's metric by the 90% out-of-fold Clopper-Pearson interval and by the 90%
  refit-bootstrap interval (``selection_ci``), among the first ``--interval-reps`` fits
  with a threshold and an interval (``sel_n`` of them). Goal for ``sel_cov``: at least
  0.9 minus two standard errors.

The fast subset (``--fast``) is what ``tests/test_coverage.py`` runs.
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
    oof_hits: list[bool] = []
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
            hit = _covers((ct.out_of_fold or {}).get("ci", {}).get(metric), true_value)
            if hit is not None:
                oof_hits.append(hit)
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
        "oof_cov": float(np.mean(oof_hits)) if oof_hits else math.nan,
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="fixed_sequence", choices=("fixed_sequence", "holm"))
    ap.add_argument("--resamples", type=int, default=50, help="refit-bootstrap resamples")
    ap.add_argument(
        "--interval-reps",
        type=int,
        default=100,
        help="repetitions per cell that also measure the intervals (default 100)",
    )
    ap.add_argument("--fast", action="store_true", help="the test's subset of cells")
    ap.add_argument("--out", help="also write the table as CSV here")
    args = ap.parse_args()
    t0 = time.time()

    def progress(row: dict[str, object]) -> None:
        if args.out:
            pd.DataFrame([row]).to_csv(
                args.out, mode="a", header=not os.path.exists(args.out), index=False
            )
        print(
            f"{time.time() - t0:6.0f} s  {row['family']:8s} n={row['n']:<6d} "
            f"prevalence={row['prevalence']:<5g} {row['objective']:15s} "
            f"coverage={row['coverage']:.3f}",
            flush=True,
        )

    if args.out and os.path.exists(args.out):
        os.remove(args.out)
    table = run(
        args.reps,
        fast=args.fast,
        jobs=args.jobs,
        seed=args.seed,
        method=args.method,
        resamples=args.resamples,
        interval_reps=args.interval_reps,
        progress=progress,
    )
    print(
        f"confidence {CONFIDENCE}, method {args.method}, {args.reps} reps per cell "
        f"({args.interval_reps} with intervals, {args.resamples} refit-bootstrap resamples); "
        f"{time.time() - t0:.0f} s wall"
    )
    print(markdown(table))
    print(
        f"coverage goal met in {int(table['ok'].sum())} of {len(table)} cells; "
        f"selection intervals in {int(table['sel_ok'].fillna(True).sum())} of {len(table)}"
    )


if __name__ == "__main__":
    main()
