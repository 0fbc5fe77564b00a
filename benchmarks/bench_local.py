"""Benchmark of the local scorer: speed, load time, memory, and quality.

Run (a minute or three on 2 cores; the data sets come from the registry)::

    MODKIT_DATA_DIR=../shared/datasets python benchmarks/bench_local.py

Prints Markdown tables: throughput on short texts (HateCheck cases) and long ones
(openai-moderation-1680), cold load time in a fresh process, peak memory, 5-fold
cross-validated AUPRC per category on openai-moderation-1680 (C re-chosen inside each
fold; exact-duplicate prompts never straddle folds) against the MiniLM baseline of
issue 3, and HateCheck AUC for ``hate`` with a table by functionality. HateCheck is
only scored, never trained on. ``--quick`` skips the cross-validation.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from modkit import CATEGORIES
from modkit.backends.local import LocalBackend
from modkit.backends.local._heads import pool_windows
from modkit.backends.local._train import build_tasks, cross_val_scores, load_training_data
from modkit.datasets import load_dataset

#: AUPRC of the MiniLM baseline measured in issue 3 (5-fold CV, openai-moderation-1680).
BASELINE = {
    "sexual": 0.93,
    "hate": 0.58,
    "violence": 0.39,
    "harassment": 0.30,
    "self-harm": 0.72,
    "sexual/minors": 0.64,
    "hate/threatening": 0.43,
    "violence/graphic": 0.23,
}

_LOAD = """
import time
t0 = time.perf_counter()
from modkit.backends.local import LocalBackend
t1 = time.perf_counter()
b = LocalBackend().load()
t2 = time.perf_counter()
b.score(["warm-up"])
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def cold_load(repeats: int) -> list[tuple[float, float, float]]:
    out = []
    for _ in range(repeats):
        res = subprocess.run(
            [sys.executable, "-c", _LOAD], capture_output=True, text=True, check=True
        )
        out.append(tuple(float(x) for x in res.stdout.split()))
    return out


def table(frame: pd.DataFrame, floatfmt: str = ".3f") -> str:
    cols = [str(c) for c in frame.columns]
    lines = [
        "| " + " | ".join([frame.index.name or "", *cols]) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for idx, row in frame.iterrows():
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx), *cells]) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the cross-validation")
    ap.add_argument("--batch-size", type=int, default=256, help="texts per score() call")
    ap.add_argument("--load-repeats", type=int, default=3)
    args = ap.parse_args()

    print(
        f"# bench_local: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}\n")
    try:
        load1 = os.getloadavg()[0]
        print(
            f"load average before the run: {load1:.2f} (other work on the machine slows "
            "every figure)\n"
        )
    except OSError:
        pass

    loads = cold_load(args.load_repeats)
    imp, load, first = (min(x[i] for x in loads) for i in range(3))
    print(f"## Load (fresh process, best of {args.load_repeats})\n")
    print(
        f"import {imp:.2f} s, load (sha256 check + onnxruntime session + heads) "
        f"{load:.2f} s, first call {first:.3f} s\n"
    )

    backend = LocalBackend().load()
    hc = load_dataset("hatecheck")
    data = load_training_data()
    oai_texts = data.oai["text"].astype(str).tolist()

    def run(texts: list[str]) -> tuple[float, list]:
        t0 = time.perf_counter()
        res = []
        for i in range(0, len(texts), args.batch_size):
            res.extend(backend.score(texts[i : i + args.batch_size]))
        return time.perf_counter() - t0, res

    hc_texts = hc["text"].astype(str).tolist()
    backend.score(hc_texts[:64])  # warm-up
    t_short, hc_res = run(hc_texts)
    t0 = time.perf_counter()
    emb, owner = backend.embed(oai_texts)
    t_long = time.perf_counter() - t0
    tok = np.bincount(owner, minlength=len(oai_texts))
    speed = pd.DataFrame(
        {
            "texts": [len(hc_texts), len(oai_texts)],
            "windows": [float("nan"), float(len(owner))],
            "seconds": [t_short, t_long],
            "texts/s": [len(hc_texts) / t_short, len(oai_texts) / t_long],
        },
        index=pd.Index(["short: HateCheck cases", "long: openai-moderation-1680"], name="set"),
    )
    print(
        f"## Throughput (score() in batches of {args.batch_size}; the long set is "
        "encoder + windows, reused below)\n"
    )
    print(table(speed, ".1f"))
    print(f"\nlong texts: {int((tok > 1).sum())} of {len(tok)} need more than one window\n")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process, data sets included): {rss:.0f} MiB\n")

    # quality on HateCheck (never trained on)
    hate = np.array([r.category_scores["hate"] for r in hc_res])
    flag = np.array([r.categories["hate"] for r in hc_res])
    y = (hc["label_gold"] == "hateful").to_numpy().astype(int)
    print(
        f"## HateCheck (out of domain): hate AUC {roc_auc_score(y, hate):.3f} "
        f"(target 0.72), accuracy at the default threshold {np.mean(flag == y):.3f}\n"
    )
    frame = pd.DataFrame(
        {"functionality": hc["functionality"], "y": y, "score": hate, "flag": flag}
    )
    rows = []
    for func, g in frame.groupby("functionality", sort=True):
        rows.append(
            {
                "functionality": func,
                "n": len(g),
                "hateful": int(g["y"].sum()),
                "mean hate score": float(g["score"].mean()),
                "flagged share": float(g["flag"].mean()),
                "accuracy": float((g["flag"] == g["y"]).mean()),
            }
        )
    print(table(pd.DataFrame(rows).set_index("functionality")))
    print()

    if args.quick:
        return 0
    texts = data.texts
    sst_emb, sst_owner = backend.embed(data.sst["text"].astype(str).tolist())
    all_emb = np.vstack([emb, sst_emb])
    all_owner = np.concatenate([owner, sst_owner + len(oai_texts)])
    pooled = pool_windows(all_emb, all_owner, len(texts))
    groups = pd.factorize(pd.Series(texts, dtype=object))[0]
    info = backend.info["categories"]
    rows = []
    for task in build_tasks(data):
        p = cross_val_scores(task, pooled, all_emb, all_owner, groups, seed=0)
        ap_ = average_precision_score(task.y, p)
        rows.append(
            {
                "category": task.category,
                "positives": int(task.y.sum()),
                "n": len(task.y),
                "AUPRC (5-fold)": ap_,
                "baseline": BASELINE.get(task.category, float("nan")),
                "data": "openai-1680" if task.category in BASELINE else "simplesafetytests+",
            }
        )
    for c in CATEGORIES:
        if info[c]["status"] == "derived":
            rows.append(
                {
                    "category": c,
                    "positives": 0,
                    "n": 0,
                    "AUPRC (5-fold)": float("nan"),
                    "baseline": float("nan"),
                    "data": f"derived: {info[c]['rule']} of {', '.join(info[c]['from'])}",
                }
            )
    cv = pd.DataFrame(rows).set_index("category").loc[list(CATEGORIES)]
    print(
        "## Cross-validated AUPRC (nested: C chosen inside each fold; grouped by exact "
        "duplicate text; scored as the backend scores: max over windows and their mean)\n"
    )
    print(table(cv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
