"""Cost of one decision: ``ThresholdSet.decide`` on a dict against the frame path.

Run: ``.venv/bin/python benchmarks/bench_decide.py [--calls 2000]``.

One threshold set (two categories with block/review thresholds, one by input type, the
rest decided by the ``backend_flag`` policy) and one result of the 13 API categories with
the backend's flags, as ``modkit serve`` sees it. Times, in the same process:

* ``decide`` on plain dicts (no DataFrame);
* ``decide_many`` on a request of 4 and of 64 results, per result;
* the old frame path of ``decide`` (a reference copy below: a one-row DataFrame per call
  to reuse the frame validator, then the same rule);
* ``apply`` on a one-row frame of the same result (the frame API, for scale).

Prints the median over repeats of the per-call time, the ratio frame / dict, and the
1-minute load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

import modkit
from modkit import CATEGORIES
from modkit._taxonomy import order_categories
from modkit.thresholds._labels import coerce_scores
from modkit.thresholds._rule import actions, as_limits
from modkit.thresholds._set import _decide_bands


def frame_decide(ts, category_scores, applied, flags):
    """Reference copy of the old ``decide`` body (checks of keys left out): a one-row
    DataFrame through ``coerce_scores``, then the rule."""
    cats = order_categories({*ts.categories, *category_scores, *flags})
    row = {c: np.nan if category_scores.get(c) is None else category_scores[c] for c in cats}
    frame = pd.DataFrame([row], columns=cats)
    low, high = 0.0, 1.0
    scores = coerce_scores(
        frame, cats, source="decide", row_name=lambda i: "scores", low=low, high=high
    )
    limits = [
        ts.categories[c].limits_for(applied.get(c)) if c in ts.categories else (None, None)
        for c in cats
    ]
    flag_row = np.array([[np.nan if flags.get(c) is None else float(flags[c]) for c in cats]])
    is_block, is_review, decided, _ = _decide_bands(
        scores,
        flag_row,
        as_limits(b for b, _ in limits),
        as_limits(r for _, r in limits),
        [ts.policy_for(c) for c in cats],
    )
    return str(actions(is_block, is_review, decided)[0])


def per_call(fn, calls: int, repeats: int = 5) -> float:
    """Median over ``repeats`` of the mean time of ``calls`` calls, in ms."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls * 1000)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    ts = modkit.ThresholdSet(
        {
            "violence": modkit.CategoryThreshold(
                0.8, review=0.4, by_input_type={"image": {"block": 0.6}}
            ),
            "hate": modkit.CategoryThreshold(0.3),
        }
    )
    rng = np.random.default_rng(0)
    scores = {
        c: float(v) for c, v in zip(CATEGORIES, rng.uniform(0, 1, len(CATEGORIES)), strict=True)
    }
    flags = {c: v >= 0.5 for c, v in scores.items()}
    applied = {c: ["text"] for c in CATEGORIES}
    frame = pd.DataFrame(
        [
            {
                **scores,
                **{f"flagged/{c}": f for c, f in flags.items()},
                **{f"applied/{c}": "text" for c in CATEGORIES},
            }
        ]
    )
    want = ts.decide(scores, applied, categories=flags)
    got = ts.apply(frame).iloc[0]
    assert got["action"] == want.action == frame_decide(ts, scores, applied, flags)
    print(f"load average before: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    dict_ms = per_call(lambda: ts.decide(scores, applied, categories=flags), args.calls)
    frame_ms = per_call(lambda: frame_decide(ts, scores, applied, flags), max(args.calls // 4, 20))
    apply_ms = per_call(lambda: ts.apply(frame), max(args.calls // 10, 20))
    rows = [
        ("decide (dict)", dict_ms),
        ("old decide (one-row frame, reference copy)", frame_ms),
        ("apply (one-row frame)", apply_ms),
    ]
    for n in (4, 64):
        batch = ([scores] * n, [applied] * n)
        ms = per_call(
            lambda b=batch, n=n: ts.decide_many(b[0], b[1], categories=[flags] * n),
            max(args.calls // n, 20),
        )
        rows.append((f"decide_many, {n} results (per result)", ms / n))
    print("| path | ms per decision |")
    print("|---|---:|")
    for name, ms in rows:
        print(f"| {name} | {ms:.3f} |")
    print(f"old frame path / dict path: {frame_ms / dict_ms:.1f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
