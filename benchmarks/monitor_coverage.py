"""Coverage of the Clopper-Pearson intervals ``modkit monitor`` reports for rates.

Run: ``.venv/bin/python benchmarks/monitor_coverage.py [--reps 1000]``.

For each true rate p and period size n, draws ``--reps`` binomial counts, computes the 95 %
interval with ``modkit._monitor.clopper_pearson`` and prints the share that holds p (the
method guarantees at least 0.95; it is conservative, most so for small n p).
"""

from __future__ import annotations

import argparse

import numpy as np

from modkit._monitor import clopper_pearson


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    print(f"{args.reps} repetitions per cell, level 0.95")
    print("| p | n=50 | n=200 | n=1000 | n=10000 |")
    print("|---:|---:|---:|---:|---:|")
    worst = 1.0
    for p in (0.001, 0.01, 0.05, 0.2, 0.5):
        cells = []
        for n in (50, 200, 1000, 10000):
            k = rng.binomial(n, p, args.reps)
            lo, hi = clopper_pearson(k, np.full(args.reps, n), 0.95)
            cover = float(np.mean((lo <= p) & (p <= hi)))
            worst = min(worst, cover)
            cells.append(f"{cover:.3f}")
        print(f"| {p} | " + " | ".join(cells) + " |")
    print(f"lowest coverage: {worst:.3f}")


if __name__ == "__main__":
    main()
