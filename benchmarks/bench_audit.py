"""Auditing a threshold file on unlabelled traffic: labels needed, and interval coverage.

Run (full size, once)::

    nice .venv/bin/python benchmarks/bench_audit.py --reps 300

A simulated day of traffic (``--rows`` items, one category, ``violence``): prevalence
``--prevalence`` (default 2%); positives score ~ Beta(5, 2) except 15% "hard" ones ~
Beta(1, 6) (the scorer misses them); negatives ~ Beta(0.3, 15) except a plateau of 3%
hard negatives scored like positives, Beta(5, 2) (as in ``bench_coverage.py``: precision
flattens at the top of the score range). The file blocks at 0.7 and reviews from 0.4. Labels
are the simulated truth; the population's true precision, recall and FPR at block are
counted.

1. **Labels needed** for the 90% interval of precision (recall) at block to be at most
   +/-0.05 (median half-width over ``--grid-reps`` samples; from a pilot of 1,000 labels
   the ``1 / sqrt(n)`` law predicts n, measured again until the measurement is within
   10% of its prediction): uniform random sampling; the Neyman design aimed at
   that metric (``metrics=[metric]``) and at all three (the default); the oracle
   allocation (the same strata, allocated with the true labels as the prior).
2. **Coverage** of the 90% intervals over ``--reps`` audits of ``--n`` labels for
   precision, recall and FPR (Neyman, uniform, and adaptive: ``ais`` in two batches),
   and of the refit ``fit_thresholds(..., confidence=0.9, design=sample)`` for
   ``precision>=0.3`` (the plateau caps precision near 0.37) and ``recall>=0.8``: the
   share of refits whose certified constraint holds on the population ("never flag"
   holds; ``certified`` is the share that found a threshold). Goal: at least 0.9 - 2 SE
   (0.865 at 300 repetitions).

Samples are drawn with numpy from the allocation :func:`modkit.audit.draw` chooses
(the design is fixed given the traffic; only the random rows vary); every estimate goes
through :func:`modkit.audit.estimate`. Results: ``benchmarks/results/audit.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import modkit
from modkit import CategoryThreshold, ThresholdSet
from modkit.audit import draw, estimate, strata

CAT = "violence"
BLOCK, REVIEW = 0.7, 0.4
LEVEL = 0.9


def simulate(rows: int, prevalence: float, rng: np.random.Generator) -> pd.DataFrame:
    y = rng.random(rows) < prevalence
    hard_pos = y & (rng.random(rows) < 0.15)
    hard_neg = ~y & (rng.random(rows) < 0.03)
    s = np.where(y, rng.beta(5, 2, rows), rng.beta(0.3, 15, rows))
    s = np.where(hard_pos, rng.beta(1, 6, rows), s)
    s = np.where(hard_neg, rng.beta(5, 2, rows), s)  # the plateau: scored like positives
    return pd.DataFrame(
        {"id": [f"r{i}" for i in range(rows)], "text": "", CAT: s, "truth": y.astype(int)}
    )


def true_rates(traffic: pd.DataFrame, block: float | None) -> dict[str, float]:
    s, y = traffic[CAT].to_numpy(), traffic["truth"].to_numpy() == 1
    f = s >= (np.inf if block is None else block)
    return {
        "precision": float(y[f].mean()) if f.any() else float("nan"),
        "recall": float(f[y].mean()),
        "fpr": float(f[~y].mean()),
    }


class Design:
    """The allocation draw() chose for n labels: strata codes and rows per stratum."""

    def __init__(self, traffic, ts, n, method, metrics, prior=None):
        sample = draw(traffic, ts, n, seed=0, method=method, metrics=metrics, prior=prior)
        if method == "uniform":
            self.codes = np.zeros(len(traffic), dtype=np.int64)
            self.names = np.array(["all"])
        else:
            labels = strata(traffic[[CAT]].to_numpy(), ts, [CAT])
            self.names, self.codes = np.unique(labels, return_inverse=True)
        got = sample["stratum"].value_counts()
        self.alloc = np.array([int(got.get(k, 0)) for k in self.names])
        self.sizes = np.bincount(self.codes, minlength=len(self.names))
        self.pools = [np.flatnonzero(self.codes == k) for k in range(len(self.names))]

    def sample(self, traffic: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        rows = np.concatenate(
            [
                rng.choice(p, size=a, replace=False)
                for p, a in zip(self.pools, self.alloc, strict=True)
                if a
            ]
        )
        out = traffic.iloc[rows][["id", CAT]].copy()
        out["stratum"] = self.names[self.codes[rows]]
        k = self.codes[rows]
        out["inclusion_probability"] = self.alloc[k] / self.sizes[k]
        out["label_" + CAT] = traffic["truth"].to_numpy()[rows]
        return out


def half_widths(design, traffic, ts, reps, rng):
    out = {"precision": [], "recall": []}
    for _ in range(reps):
        f = estimate(design.sample(traffic, rng), ts, confidence=LEVEL).frame.set_index("metric")
        for m in out:
            out[m].append((f.loc[m, "upper"] - f.loc[m, "lower"]) / 2)
    return {m: float(np.nanmedian(v)) for m, v in out.items()}


def adaptive_half_widths(traffic, ts, n, metrics, reps, seed0):
    """Median half-widths of two-batch adaptive audits (n // 2, then the rest)."""
    truth_of = traffic.set_index("id")["truth"]
    out = {"precision": [], "recall": []}
    for r in range(reps):
        first = draw(traffic, ts, n // 2, seed=seed0 + r, method="ais", metrics=metrics)
        first["label_" + CAT] = truth_of.loc[first["id"]].to_numpy()
        both = draw(
            traffic,
            ts,
            n - n // 2,
            seed=seed0 + reps + r,
            method="ais",
            metrics=metrics,
            labelled=first,
        )
        both["label_" + CAT] = truth_of.loc[both["id"]].to_numpy()
        f = estimate(both, ts, confidence=LEVEL).frame.set_index("metric")
        for m in out:
            out[m].append((f.loc[m, "upper"] - f.loc[m, "lower"]) / 2)
    return {m: float(np.nanmedian(v)) for m, v in out.items()}


def labels_needed(traffic, ts, method, metrics, metric, reps, rng, prior=None, target=0.05):
    """Labels for the median half-width to reach ``target``: from a pilot of 1,000,
    the ``1 / sqrt(n)`` law predicts n, which is measured again, until a measurement
    lies within 10% of its prediction (at most 4 rounds); the last prediction."""
    n = 1000
    pred = float("nan")
    for _ in range(4):
        if method == "ais":
            w = adaptive_half_widths(traffic, ts, n, metrics, reps, n * 1000)[metric]
        else:
            d = Design(traffic, ts, n, method, metrics, prior)
            w = half_widths(d, traffic, ts, reps, rng)[metric]
        pred = n * (w / target) ** 2
        nxt = int(min(max(round(pred), 40), len(traffic)))
        if abs(nxt - n) <= 0.1 * n:
            break
        n = nxt
    return float(pred)


def coverage(traffic, ts, truth, n, reps, rng, method):
    hits = {m: [] for m in ("precision", "recall", "fpr")}
    refit = {"precision>=0.3": [], "recall>=0.8": []}
    certified = {g: [] for g in refit}
    design = (
        None if method == "ais" else Design(traffic, ts, n, method, ["precision", "recall", "fpr"])
    )
    truth_of = traffic.set_index("id")["truth"]
    for r in range(reps):
        if design is not None:
            sample = design.sample(traffic, rng)
        else:
            first = draw(traffic, ts, n // 2, seed=r, method="ais")
            first["label_" + CAT] = truth_of.loc[first["id"]].to_numpy()
            sample = draw(traffic, ts, n - n // 2, seed=r + 10_000, method="ais", labelled=first)
            sample["label_" + CAT] = truth_of.loc[sample["id"]].to_numpy()
        f = estimate(sample, ts, confidence=LEVEL).frame.set_index("metric")
        for m in hits:
            hits[m].append(bool(f.loc[m, "lower"] <= truth[m] <= f.loc[m, "upper"]))
        if method == "neyman":
            sample = sample.reset_index(drop=True)
            for goal in refit:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fit = modkit.fit_thresholds(
                        sample[[CAT]],
                        sample[["label_" + CAT]].rename(columns={"label_" + CAT: CAT}),
                        goal,
                        confidence=LEVEL,
                        design=sample,
                        min_positives=1,
                    )
                t = fit[CAT].block
                certified[goal].append(t is not None)
                metric, target = goal.split(">=")
                holds = t is None or true_rates(traffic, t)[metric] >= float(target)
                refit[goal].append(bool(holds))
    out = {m: float(np.mean(v)) for m, v in hits.items()}
    out.update({f"refit {g}": float(np.mean(v)) for g, v in refit.items() if v})
    out.update({f"certified {g}": float(np.mean(v)) for g, v in certified.items() if v})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--prevalence", type=float, default=0.02)
    ap.add_argument("--reps", type=int, default=300, help="audits per coverage cell")
    ap.add_argument("--grid-reps", type=int, default=25, help="samples per measured sample size")
    ap.add_argument("--n", type=int, default=1000, help="labels per audit (coverage)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/results/audit.json")
    ap.add_argument(
        "--parts",
        default="needed,neyman,uniform,ais",
        help="what to run (comma-separated): needed, neyman, uniform, ais",
    )
    args = ap.parse_args()
    t0 = time.time()
    rng = np.random.default_rng(args.seed)
    traffic = simulate(args.rows, args.prevalence, rng)
    ts = ThresholdSet({CAT: CategoryThreshold(BLOCK, review=REVIEW)})
    truth = true_rates(traffic, BLOCK)
    print(f"traffic: {args.rows} rows, prevalence {args.prevalence}, truth {truth}")
    y = traffic["truth"].to_numpy(dtype=float)

    parts = set(args.parts.split(","))
    needed = {}
    for metric in ("precision", "recall") if "needed" in parts else ():
        row = {
            "uniform": labels_needed(traffic, ts, "uniform", [metric], metric, args.grid_reps, rng),
            "neyman (this metric)": labels_needed(
                traffic, ts, "neyman", [metric], metric, args.grid_reps, rng
            ),
            "neyman (all three)": labels_needed(
                traffic, ts, "neyman", ["precision", "recall", "fpr"], metric, args.grid_reps, rng
            ),
            "ais (this metric, 2 batches)": labels_needed(
                traffic, ts, "ais", [metric], metric, max(args.grid_reps // 2, 3), rng
            ),
            "oracle (this metric)": labels_needed(
                traffic, ts, "neyman", [metric], metric, args.grid_reps, rng, prior={CAT: y}
            ),
        }
        needed[metric] = row
        print(metric, {k: round(v) for k, v in row.items()}, f"{time.time() - t0:.0f}s")

    cov = {}
    for method in [m for m in ("neyman", "uniform", "ais") if m in parts]:
        cov[method] = coverage(traffic, ts, truth, args.n, args.reps, rng, method)
        print(method, cov[method], f"{time.time() - t0:.0f}s")

    se = math.sqrt(LEVEL * (1 - LEVEL) / args.reps)
    result = {
        "rows": args.rows,
        "prevalence": args.prevalence,
        "truth": truth,
        "labels_needed": needed,
        "coverage": cov,
        "coverage_goal": LEVEL - 2 * se,
        "reps": args.reps,
        "grid_reps": args.grid_reps,
        "n": args.n,
        "wall_seconds": round(time.time() - t0, 1),
        "loadavg": os.getloadavg(),
        "parts": sorted(parts),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
