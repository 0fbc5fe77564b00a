"""Benchmark: the data path from cache to frame to cross-tab, gap and fit (issue 8 point 5).

Run from the repo root::

    .venv/bin/python benchmarks/bench_data_path.py [--rows 1000000] [--cached 100000]

Every figure is a ratio to a baseline computed in the same process on the same data
(CPU seconds of this process, ``time.process_time``, best of --repeat, so other load on
the machine distorts the ratios less than wall-clock time would), plus the absolute rate
where the target is one:

(a) ``crosstab(frame, by, "flag_rate")`` on a frame as ``moderate`` returns it (the
    endpoint's flags from its ``flagged/<category>`` columns) against a plain pandas
    groupby-mean of boolean columns. Target: within 2x.
    ``fit_thresholds`` on that frame (score, flag, model and ``result_json`` columns)
    against 13 calls of ``sklearn.metrics.precision_recall_curve``. Target: 1.5x.
(b) Warm cache to frame: ``moderate`` over ``--cached`` texts that are all in the cache,
    texts per second (target >= 50,000), and against the same cache without the compact
    columns (rows as modkit 0.1 wrote them: JSON parsed per text).
(c) ``counterfactual_gap`` against a direct wide groupby (mean per template and slot
    value, then max - min per template) at 10k, 100k and 1M rows with 1,000 templates.
    Target: within 3x, and linear growth.

The frames of (a) and (c) are assembled by ``modkit._frame.assemble`` from compact
results, the code path of a warm ``moderate``, without scoring a million texts first.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

import modkit
from modkit import CATEGORIES, Cache, ModerationResult
from modkit._frame import assemble, flag_column
from modkit._result import ResultRows
from modkit.backends import SyncBackend

K = len(CATEGORIES)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def synthetic_frame(n: int, n_templates: int, seed: int = 0) -> pd.DataFrame:
    """A results frame of ``n`` rows as moderate assembles it from a warm cache."""
    rng = np.random.default_rng(seed)
    y = rng.random((n, K)) < 0.05
    scores = np.where(y, rng.beta(4, 2, (n, K)), rng.beta(1, 6, (n, K))).round(6)
    flags = (scores >= 0.5).astype(np.int8)
    keys = [f"k{i}" for i in range(n)]
    raws = [f'{{"flagged":{str(bool(f.any())).lower()}}}' for f in flags]
    rows = ResultRows(keys, scores, flags, flags.any(axis=1), ["m-1"] * n, ["modr-1"] * n, raws)
    groups = np.array(["woman", "man", "Jew", "Christian", "baby", "nurse", "CEO", "teen"])
    inputs = pd.DataFrame(
        {
            "text": keys,
            "template_id": pd.Series(rng.integers(0, n_templates, n)).map("t{}".format),
            "group": groups[rng.integers(0, len(groups), n)],
        }
    )
    frame = assemble(inputs, keys, {}, "not scored", rows=rows)
    frame.attrs["labels"] = pd.DataFrame(np.where(y, 1.0, 0.0), columns=list(CATEGORIES))
    return frame


def part_a(n: int, repeat: int) -> list[tuple[str, str]]:
    from sklearn.metrics import precision_recall_curve

    frame = synthetic_frame(n, 1000)
    labels = frame.attrs.pop("labels")
    cats = list(CATEGORIES)
    fcols = [flag_column(c) for c in cats]

    def groupby_baseline() -> None:
        frame[fcols].astype(float).groupby(frame["group"], sort=False).mean()

    def ours() -> None:
        modkit.crosstab(frame, "group", "flag_rate")

    t_base, t_ours = best(groupby_baseline, repeat), best(ours, repeat)
    y = labels.to_numpy()
    s = frame[cats].to_numpy()

    def sklearn_curves() -> None:
        for j in range(K):
            precision_recall_curve(y[:, j].astype(int), s[:, j])

    def fit() -> None:
        modkit.fit_thresholds(frame, labels, "precision>=0.9", cv=0, bootstrap=0)

    scores_only = frame[cats]

    def fit_scores_only() -> None:
        modkit.fit_thresholds(scores_only, labels, "precision>=0.9", cv=0, bootstrap=0)

    t_sk, t_fit = best(sklearn_curves, repeat), best(fit, repeat)
    t_fit_scores = best(fit_scores_only, repeat)
    return [
        (
            f"(a) crosstab flag_rate (endpoint flags), {n:,} rows / groupby of bool columns",
            f"{t_ours:.2f} s / {t_base:.2f} s = **{t_ours / t_base:.2f}x** (target <= 2x)",
        ),
        (
            f"(a) fit_thresholds on the frame from moderate (cv=0, bootstrap=0), {n:,} rows "
            "/ 13 x precision_recall_curve",
            f"{t_fit:.2f} s / {t_sk:.2f} s = **{t_fit / t_sk:.2f}x** (target <= 1.5x)",
        ),
        (
            "(a) the same fit on the score columns alone / 13 x precision_recall_curve",
            f"{t_fit_scores:.2f} s / {t_sk:.2f} s = {t_fit_scores / t_sk:.2f}x "
            "(what the frame's other columns add: the difference)",
        ),
    ]


class Echo(SyncBackend):
    """Never called on a warm run; defined so the cache keys match."""

    name = "bench"
    model = "bench-1"

    def score_batch(self, texts):  # pragma: no cover - the cache answers
        raise AssertionError("a cached text was sent to the backend")


def part_b(n: int, repeat: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    texts = [f"benchmark text number {i}: the quick brown fox" for i in range(n)]
    backend = Echo()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.sqlite3"
        cache = Cache(path)
        keys, _, _ = modkit._cache.text_keys(texts, backend.cache_namespace, backend.model)
        items = {}
        for key, text in zip(keys, texts, strict=True):
            sc = rng.random(K).round(6)
            items[key] = (
                ModerationResult(
                    bool((sc >= 0.5).any()),
                    {c: bool(v >= 0.5) for c, v in zip(CATEGORIES, sc, strict=True)},
                    {c: float(v) for c, v in zip(CATEGORIES, sc, strict=True)},
                    {c: ["text"] for c in CATEGORIES},
                    "bench-1-snapshot",
                    "modr-bench",
                ),
                text,
            )
        cache.put_many(items, namespace=backend.cache_namespace, model=backend.model)

        def warm() -> None:
            df = modkit.moderate(texts, backend=backend, cache=cache, progress=False)
            assert not df["error"].astype(bool).any()

        wall0 = time.perf_counter()
        t_new = best(warm, repeat)
        wall = (time.perf_counter() - wall0) / repeat
        cache.close()
        con = sqlite3.connect(path)  # the same rows as modkit 0.1 wrote them
        con.execute("UPDATE results SET packed = NULL, snapshot = NULL, rid = NULL")
        con.commit()
        con.close()
        cache = Cache(path)
        t_old = best(warm, 1)
        cache.close()
    return [
        (
            f"(b) warm cache -> frame, {n:,} cached texts (result_json kept)",
            f"**{n / t_new:,.0f} texts/s** CPU ({n / wall:,.0f} texts/s wall, mean) "
            "(target >= 50,000)",
        ),
        (
            "(b) same cache without the compact columns (JSON parsed per text, as 0.1)",
            f"{n / t_old:,.0f} texts/s: compact rows are **{t_old / t_new:.1f}x** faster",
        ),
    ]


def part_c(sizes: list[int], repeat: int) -> list[tuple[str, str]]:
    out = []
    ratios = []
    per_row = []
    for n in sizes:
        frame = synthetic_frame(n, 1000, seed=n)
        frame.attrs.pop("labels")
        cats = list(CATEGORIES)

        def direct(frame: pd.DataFrame = frame, cats: list[str] = cats) -> None:
            per_value = frame.groupby(["template_id", "group"], sort=False)[cats].mean()
            g = per_value.groupby(level=0, sort=False)
            g.max() - g.min()

        def ours(frame: pd.DataFrame = frame) -> None:
            modkit.counterfactual_gap(frame, "group")

        t_base, t_ours = best(direct, repeat), best(ours, repeat)
        ratios.append(t_ours / t_base)
        per_row.append(t_ours / n)
        out.append(
            (
                f"(c) counterfactual_gap, {n:,} rows, 1,000 templates / direct wide groupby",
                f"{t_ours:.3f} s / {t_base:.3f} s = **{t_ours / t_base:.2f}x** (target <= 3x)",
            )
        )
    if len(sizes) > 1:
        out.append(
            (
                f"(c) growth: time per row at {sizes[-1]:,} / at {sizes[0]:,} rows",
                f"{per_row[-1] / per_row[0]:.2f} (1.0 = linear; the ratio to the groupby "
                f"goes {' -> '.join(f'{r:.2f}' for r in ratios)})",
            )
        )
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows for (a) and (c) max")
    p.add_argument("--cached", type=int, default=100_000, help="cached texts for (b)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", choices=["a", "b", "c"])
    args = p.parse_args()
    rows: list[tuple[str, str]] = []
    if args.only in (None, "a"):
        rows += part_a(args.rows, args.repeat)
    if args.only in (None, "b"):
        rows += part_b(args.cached, args.repeat)
    if args.only in (None, "c"):
        sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= args.rows]
        rows += part_c(sizes, args.repeat)
    cmd = " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    print(
        f"`{cmd}` ({platform.machine()}, numpy {np.__version__}, pandas {pd.__version__}; "
        "CPU seconds, best of --repeat)\n"
    )
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
