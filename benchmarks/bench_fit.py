"""Cost of fit_thresholds versus scikit-learn's precision_recall_curve, and of the bootstrap.

Run: .venv/bin/python benchmarks/bench_fit.py [--rows 1000000] [--repeat 3]

The default row (``cv=5, bootstrap=200``, what ``fit_thresholds(scores, labels, objective)``
does) is the one with a goal: at most 1.5x the baseline (issue 20). The refit bootstrap
re-runs the threshold choice on each resample; above 10,000 labelled rows it draws its
Poisson weights per cell of neighbouring scores (a few hundred cells, fine around the
exported threshold) instead of per row, so its cost no longer grows with the rows.

Synthetic data: 13 categories, scores on a 1e-6 grid (many ties, like real endpoint
scores), 5% positives, 10% of labels missing. Reported as ratios to 13 calls of
``sklearn.metrics.precision_recall_curve`` on the same labelled rows, in CPU seconds of
this process (``time.process_time``, best of --repeat), so other load on the machine
distorts the ratios less than wall-clock time would.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from modkit import CATEGORIES
from modkit.thresholds import fit_thresholds


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n, cats = args.rows, list(CATEGORIES)
    y = (rng.random((n, len(cats))) < 0.05).astype(float)
    s = np.where(y == 1, rng.beta(4, 2, y.shape), rng.beta(1, 6, y.shape)).round(6)
    y[rng.random(y.shape) < 0.1] = np.nan
    scores, labels = pd.DataFrame(s, columns=cats), pd.DataFrame(y, columns=cats)
    masks = [~np.isnan(y[:, j]) for j in range(len(cats))]
    pairs = [(y[m, j].astype(int), s[m, j]) for j, m in enumerate(masks)]

    def sklearn_curves():
        for yt, st in pairs:
            precision_recall_curve(yt, st)

    def fit(cv, b, review=None, confidence=None):
        return lambda: fit_thresholds(
            scores, labels, "precision>=0.9", review, cv=cv, bootstrap=b, confidence=confidence
        )

    load_start = os.getloadavg()
    base = best(sklearn_curves, args.repeat)
    rows = [
        ("13 x precision_recall_curve", base),
        ("fit, cv=0, bootstrap=0", best(fit(0, 0), args.repeat)),
        ("fit + review band, cv=0", best(fit(0, 0, "recall>=0.95"), args.repeat)),
        ("fit, cv=5, bootstrap=0", best(fit(5, 0), args.repeat)),
        ("fit, cv=5, bootstrap=0, confidence=0.9", best(fit(5, 0, None, 0.9), args.repeat)),
        ("**default: fit, cv=5, bootstrap=200** (goal <= 1.5)", best(fit(5, 200), args.repeat)),
        ("fit, cv=5, bootstrap=200, confidence=0.9", best(fit(5, 200, None, 0.9), args.repeat)),
    ]
    if n <= 50_000:  # the former default: per-row weights up to 50,000 labelled rows
        rows.append(("default with per-row bootstrap weights (before)", per_row(fit, args.repeat)))
    load_end = os.getloadavg()
    print(
        f"{n:,} rows x {len(cats)} categories; best of {args.repeat}; "
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}; "
        f"load average (1, 5, 15 min) at start {', '.join(f'{x:.2f}' for x in load_start)}, "
        f"at end {', '.join(f'{x:.2f}' for x in load_end)}"
    )
    print("| what | CPU seconds | ratio to sklearn |")
    print("|---|---:|---:|")
    for name, t in rows:
        ratio = f"{t / base:.2f}"
        print(f"| {name} | {t:.3f} | {f'**{ratio}**' if name.startswith('**') else ratio} |")
    widths(s[masks[0], 0], y[masks[0], 0].astype(np.int8))


def widths(s: np.ndarray, y: np.ndarray, resamples: int = 200) -> None:
    """The refit bootstrap's 95% interval widths on one category: the cell path against
    the former procedure (per-row weights on a stratified 50,000-row subsample), and the
    Clopper-Pearson interval at the exported threshold; CPU seconds of each bootstrap."""
    from modkit.thresholds import binary_curve, parse_objective
    from modkit.thresholds._intervals import exact_ci, refit_bootstrap

    n, curve = len(s), binary_curve(s, y)
    print(f"\nrefit bootstrap on one category ({n:,} labelled rows, {resamples} resamples, 95%)")
    print("| goal | rate | cells: width | 50,000-row subsample: width | Clopper-Pearson: width |")
    print("|---|---|---:|---:|---:|")
    frame_s, frame_y = pd.DataFrame({"hate": s}), pd.DataFrame({"hate": y})
    for goal in ("precision>=0.9", "recall>=0.8", "f1"):
        obj = parse_objective(goal)
        block = fit_thresholds(frame_s, frame_y, goal, cv=0, bootstrap=0)["hate"].block
        t0 = time.process_time()
        new = refit_bootstrap(curve, obj, None, "fixed_sequence", resamples, 0.95, rng(1), block)
        t_new = time.process_time() - t0
        r, keep = rng(1), np.zeros(n, dtype=bool)
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            keep[r.choice(idx, size=round(len(idx) * 50_000 / n), replace=False)] = True
        t0 = time.process_time()
        sub = binary_curve(s[keep], y[keep])
        old = refit_bootstrap(sub, obj, None, "fixed_sequence", resamples, 0.95, r, block)
        t_old = time.process_time() - t0
        tp, fp = int((s[y == 1] >= block).sum()), int((s[y == 0] >= block).sum())
        exact = {
            "precision": exact_ci(tp, tp + fp, 0.95),
            "recall": exact_ci(tp, int(y.sum()), 0.95),
            "fpr": exact_ci(fp, int((y == 0).sum()), 0.95),
        }
        for m in ("precision", "recall", "fpr"):
            w = [ci[1] - ci[0] for ci in (new[m], old[m], exact[m])]
            print(f"| `{goal}` | {m} | {w[0]:.5f} | {w[1]:.5f} | {w[2]:.5f} |")
        print(f"| `{goal}` | CPU s | {t_new:.3f} | {t_old:.3f} | - |")


def per_row(fit, repeat: int) -> float:
    """The default fit with the refit bootstrap's per-row path at every size (the cutoff
    raised above the rows, as it was at 50,000 before issue 20)."""
    from modkit.thresholds import _intervals

    saved, _intervals.BOOTSTRAP_ROWS = _intervals.BOOTSTRAP_ROWS, 10**12
    try:
        return best(fit(5, 200), repeat)
    finally:
        _intervals.BOOTSTRAP_ROWS = saved


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


if __name__ == "__main__":
    main()
