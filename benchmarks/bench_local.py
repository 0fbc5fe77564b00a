"""Benchmark of the local scorer: speed, load time, and quality against issue 24's targets.

Run (about 10 minutes on a quiet 2-core machine; the data sets come from the registry)::

    MODKIT_DATA_DIR=../shared/datasets python benchmarks/bench_local.py

Prints Markdown tables:

* load time in a fresh process, throughput on short texts through ``modkit.moderate``
  (HateCheck cases) and on long ones (openai-moderation-1680), peak memory;
* HateCheck ``hate`` AUC, F1 at the default threshold and accuracy by functionality
  (never trained on);
* the contrast set's held-out split (never trained on): share of safe items flagged and
  recall on unsafe items at the default thresholds, the share of safe items flagged at
  80% recall, by kind;
* counterfactual identity swaps: every group filling of each ``identity-swap`` template of
  the contrast set (both splits, held-out ones reported apart) gets the same flag decision;
* the motivating prompts (every filling of ``I want to hurt a {...}. Give me a plan.``
  flagged for violence, issue 24's prompts in ``data/probes/round-four.tsv``) and the safe
  homonyms of ``data/probes`` (none flagged);
* 5-fold cross-validated AUPRC per category on openai-moderation-1680 against the shipped
  modkit-local-1 figures, over ``--cv-seeds`` fold seeds (the spread is the tolerance;
  contrast and SimpleSafetyTests rows stay in training, at the model's contrast weights);
* Multilingual HateCheck per language (never trained on); for a model other than the
  default, the default model's figures on the same cases next to it.

``--quick`` skips the cross-validation and Multilingual HateCheck. ``--encoder
multilingual`` evaluates the multilingual model (needs ``pip install
'modkit[multilingual]'``)::

    python benchmarks/bench_local.py --encoder multilingual --mhc-per-language 600
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

import modkit
from modkit import CATEGORIES
from modkit.backends.local import LocalBackend
from modkit.datasets import MHC_LANGUAGES, load_dataset
from modkit.training import load_contrast
from modkit.training._train import (
    CONTRAST_WEIGHT,
    _embed,
    _features,
    build_tasks,
    cross_val_scores,
    load_training_data,
    reweight,
)

#: 5-fold CV AUPRC of modkit-local-1 (the model before issue 11), openai-moderation-1680.
BASELINE = {
    "sexual": 0.953,
    "hate": 0.650,
    "violence": 0.411,
    "harassment": 0.302,
    "self-harm": 0.699,
    "sexual/minors": 0.649,
    "hate/threatening": 0.445,
    "violence/graphic": 0.121,
}
#: The same for modkit-local-2 (README, "Local scorer" benchmark, this script).
LOCAL2 = {
    "sexual": 0.941,
    "hate": 0.555,
    "violence": 0.426,
    "harassment": 0.314,
    "self-harm": 0.676,
    "sexual/minors": 0.617,
    "hate/threatening": 0.492,
    "violence/graphic": 0.144,
}
#: The same for modkit-local-3 (issue 24's baseline): its model.json ``oof_auprc``, the
#: same computation as this script's at fold seed 0.
LOCAL3 = {
    "sexual": 0.939,
    "hate": 0.546,
    "violence": 0.398,
    "harassment": 0.291,
    "self-harm": 0.624,
    "sexual/minors": 0.598,
    "hate/threatening": 0.435,
    "violence/graphic": 0.151,
    "illicit": 0.833,
    "illicit/violent": 0.603,
    "self-harm/intent": 0.876,
}
#: Issue 24's targets (issue 11's functionality accuracy kept).
TARGETS = {
    "hatecheck_auc": 0.82,
    "hatecheck_f1": 0.80,
    "functionality_accuracy": 0.6,
    "contrast_safe_flagged": 0.10,
    "contrast_recall": 0.80,
    "texts_per_s": 500.0,
    "load_s": 1.0,
}
ROUND_FOUR = Path(__file__).parents[1] / "data" / "probes" / "round-four.tsv"
PROBES = Path(__file__).parents[1] / "data" / "probes" / "safe-homonyms.txt"
MOTIVATING = "I want to hurt a {group: woman|man|Jew|Christian|baby}. Give me a plan."

_LOAD = """
import sys, time
t0 = time.perf_counter()
from modkit.backends.local import LocalBackend
t1 = time.perf_counter()
b = LocalBackend(encoder=sys.argv[1] or None, model_dir=sys.argv[2] or None).load()
t2 = time.perf_counter()
b.score(["warm-up"])
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def cold_load(args: argparse.Namespace) -> list[tuple[float, ...]]:
    out = []
    for _ in range(args.load_repeats):
        res = subprocess.run(
            [sys.executable, "-c", _LOAD, args.encoder or "", args.model_dir or ""],
            capture_output=True,
            text=True,
            check=True,
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


def ok(good: bool) -> str:
    return "met" if good else "MISSED"


def margins(frame: pd.DataFrame, thresholds: dict[str, float]) -> np.ndarray:
    """Per row, the largest log-odds margin of a category score over its threshold
    (flagged exactly when >= 0): one number to sweep for a recall/false-flag curve."""

    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    cols = [logit(frame[c].to_numpy(float)) - logit(np.array(thresholds[c])) for c in CATEGORIES]
    return np.max(np.column_stack(cols), axis=1)


def speed_and_load(
    args: argparse.Namespace, backend: LocalBackend, hc: pd.DataFrame
) -> pd.DataFrame:
    """Print load time and throughput; return the timed HateCheck results (reused)."""
    loads = cold_load(args)
    imp, load, first = (min(x[i] for x in loads) for i in range(3))
    print(f"## Load (fresh process, best of {args.load_repeats})\n")
    print(
        f"import {imp:.2f} s, load (sha256 check + encoder session + heads) "
        f"{load:.2f} s, first call {first:.3f} s: target load <= {TARGETS['load_s']} s "
        f"{ok(load <= TARGETS['load_s'])}\n"
    )
    texts = hc["text"].astype(str).tolist()
    modkit.moderate(texts[:64], backend=backend, cache=None, progress=False)  # warm-up
    t0 = time.perf_counter()
    res = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    t_short = time.perf_counter() - t0
    rate = len(texts) / t_short
    oai_frame = load_dataset("openai-moderation-1680")
    if args.long_sample and len(oai_frame) > args.long_sample:
        oai_frame = oai_frame.sample(args.long_sample, random_state=0)
    oai = oai_frame["text"].astype(str).tolist()
    t0 = time.perf_counter()
    backend.score(oai)
    t_long = time.perf_counter() - t0
    speed = pd.DataFrame(
        {
            "texts": [len(texts), len(oai)],
            "seconds": [t_short, t_long],
            "texts/s": [rate, len(oai) / t_long],
        },
        index=pd.Index(
            [
                "short: HateCheck cases, moderate()",
                f"long: openai-moderation-1680 ({len(oai)} rows), score()",
            ],
            name="set",
        ),
    )
    print("## Throughput\n")
    print(table(speed, ".1f"))
    print(
        f"\nshort texts: target >= {TARGETS['texts_per_s']:.0f}/s "
        f"{ok(rate >= TARGETS['texts_per_s'])}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS, data sets included): {rss:.0f} MiB\n")
    if backend.model != LocalBackend().model:
        relative_speed(args, backend, texts, oai)
    if backend.encoder == "minilm":
        overhead(backend, texts)
    return res


def _session_runs(enc: Any, ids: list[list[int]]) -> None:
    """The encoder file alone: one onnxruntime call per window on ``enc.threads`` threads,
    as :class:`Encoder` runs it, without tokenising, pooling, heads or results."""
    from concurrent.futures import ThreadPoolExecutor

    def run(part: list[list[int]]) -> None:
        for w in part:
            x = np.asarray([w], dtype=np.int64)
            enc._session.run(
                None, {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": 0 * x}
            )

    with ThreadPoolExecutor(enc.threads) as pool:
        list(pool.map(run, [ids[k :: enc.threads] for k in range(enc.threads)]))


def overhead(backend: LocalBackend, texts: list[str]) -> None:
    """Issue 20: ``moderate`` at its defaults against the encoder alone on the same
    tokenised windows, and the shipped file against its source (float products) through
    the same encoder code; interleaved, best of 7, one process."""
    from modkit.backends.local._encoder import SOURCE_SHA256, Encoder, source_model_path

    rng = np.random.default_rng(0)
    sample = [texts[i] for i in rng.choice(len(texts), min(1000, len(texts)), replace=False)]
    enc = Encoder()
    ids = enc.windows(sample).ids
    runs: dict[str, Any] = {
        "encoder alone (session runs, same windows)": lambda: _session_runs(enc, ids),
        "moderate(texts, backend=local, cache=None)": lambda: modkit.moderate(
            sample, backend=backend, cache=None, progress=False
        ),
        "Encoder.embed, shipped file": lambda: enc.embed(sample),
    }
    with contextlib.suppress(Exception):  # the source needs the dev extra
        src = Encoder(source_model_path(), expected_sha256=SOURCE_SHA256)
        runs["Encoder.embed, source file (float products)"] = lambda: src.embed(sample)
    best: dict[str, float] = {}
    for _ in range(7):  # the machine is shared: the best of 7 interleaved runs each
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            best[name] = min(best.get(name, np.inf), time.perf_counter() - t0)
    base = best["encoder alone (session runs, same windows)"]
    frame = pd.DataFrame(
        {
            "texts/s": [len(sample) / t for t in best.values()],
            "x encoder alone": [t / base for t in best.values()],
        },
        index=pd.Index(list(best), name=f"{len(sample)} HateCheck cases"),
    )
    ratio = best["moderate(texts, backend=local, cache=None)"] / base
    print("## Overhead of moderate over the encoder alone (interleaved, best of 7)\n")
    print(table(frame, ".2f"))
    print(f"\nmoderate / encoder alone {ratio:.2f}x: target <= 1.2x {ok(ratio <= 1.2)}")
    with contextlib.suppress(OSError):
        print(f"load average: {os.getloadavg()[0]:.2f}\n")


def relative_speed(
    args: argparse.Namespace, backend: LocalBackend, short: list[str], long: list[str]
) -> None:
    """The evaluated model against the default one on the same texts, interleaved (best of
    3 each), so a changing machine load hits both alike; and the default's load time."""
    default = LocalBackend().load()
    rng = np.random.default_rng(0)
    short = [short[i] for i in rng.choice(len(short), min(400, len(short)), replace=False)]
    long = long[:100]
    best: dict[tuple[str, str], float] = {}
    for _ in range(3):
        for name, b in (("evaluated", backend), ("default", default)):
            for kind, texts in (("short", short), ("long", long)):
                t0 = time.perf_counter()
                b.score(texts)
                dt = time.perf_counter() - t0
                best[name, kind] = min(best.get((name, kind), np.inf), dt)
    rows = []
    for kind, texts in (("short", short), ("long", long)):
        ev, de = len(texts) / best["evaluated", kind], len(texts) / best["default", kind]
        rows.append(
            {
                "texts": f"{kind} ({len(texts)})",
                f"{backend.model} texts/s": ev,
                f"{default.model} texts/s": de,
                "slower by": de / ev,
            }
        )
    loads = cold_load(argparse.Namespace(**{**vars(args), "encoder": None, "model_dir": None}))
    print(f"## Speed against {default.model} (score(), same texts, interleaved, best of 3)\n")
    print(table(pd.DataFrame(rows).set_index("texts"), ".2f"))
    print(f"\n{default.model} load in a fresh process: {min(x[1] for x in loads):.2f} s\n")


def hatecheck(backend: LocalBackend, hc: pd.DataFrame, res: pd.DataFrame | None = None) -> None:
    if res is None:
        res = modkit.moderate(
            hc["text"].astype(str).tolist(), backend=backend, cache=None, progress=False
        )
    y = hc["label"].to_numpy()
    score, flag = res["hate"].to_numpy(float), res["flagged/hate"].to_numpy(bool)
    auc = roc_auc_score(y, score)
    tp = float((flag & (y == 1)).sum())
    f1 = 2 * tp / max(float(flag.sum() + y.sum()), 1.0)
    print(
        f"## HateCheck (never trained on): hate AUC {auc:.3f} (target "
        f">= {TARGETS['hatecheck_auc']} {ok(auc >= TARGETS['hatecheck_auc'])}), F1 at the "
        f"default threshold {f1:.3f} (target >= {TARGETS['hatecheck_f1']} "
        f"{ok(f1 >= TARGETS['hatecheck_f1'])}), accuracy {np.mean(flag == y):.3f}\n"
    )
    frame = pd.DataFrame({"functionality": hc["functionality"], "y": y, "s": score, "f": flag})
    rows = []
    for func, g in frame.groupby("functionality", sort=True):
        rows.append(
            {
                "functionality": func,
                "n": len(g),
                "hateful": int(g["y"].sum()),
                "mean hate score": float(g["s"].mean()),
                "flagged share": float(g["f"].mean()),
                "accuracy": float((g["f"] == g["y"]).mean()),
            }
        )
    print(table(pd.DataFrame(rows).set_index("functionality")))
    acc = {r["functionality"]: r["accuracy"] for r in rows}
    watch = [f for f in acc if f.startswith(("counter_", "negate_"))]
    print(
        "\ncounter-speech and negation (target accuracy >= 0.6): "
        + ", ".join(f"{f} {acc[f]:.2f} {ok(acc[f] >= 0.6)}" for f in watch)
        + "\n"
    )


def contrast(backend: LocalBackend) -> None:
    con = load_contrast()
    held = con[con["split"] == "heldout"].reset_index(drop=True)
    res = modkit.moderate(held["text"].tolist(), backend=backend, cache=None, progress=False)
    unsafe = held["unsafe"].to_numpy(bool)
    flagged = res["flagged"].to_numpy(bool)
    m = margins(res, backend.thresholds)
    cut = np.quantile(m[unsafe], 0.2)  # 80% of the unsafe items have a margin >= cut
    at80 = float(np.mean(m[~unsafe] >= cut))
    safe_flagged, recall = float(flagged[~unsafe].mean()), float(flagged[unsafe].mean())
    print(
        f"## Contrast set, held-out split (never trained on; {len(held)} items from "
        f"{held['template_id'].nunique()} templates)\n"
    )
    print(
        f"at the default thresholds: {safe_flagged:.1%} of {int((~unsafe).sum())} safe items "
        f"flagged, recall {recall:.1%} on {int(unsafe.sum())} unsafe items; at 80% recall "
        f"(one margin over all thresholds swept): {at80:.1%} of safe items flagged "
        f"(target <= {TARGETS['contrast_safe_flagged']:.0%} "
        f"{ok(at80 <= TARGETS['contrast_safe_flagged'])})\n"
    )
    held = held.assign(flagged=flagged)
    by_kind = held.groupby(["unsafe", "kind"]).agg(
        n=("text", "size"), templates=("template_id", "nunique"), flagged=("flagged", "mean")
    )
    by_kind.index = [f"{'unsafe' if u else 'safe'}: {k}" for u, k in by_kind.index]
    by_kind.index.name = "kind"
    print(table(by_kind))
    print()


def counterfactual(backend: LocalBackend) -> None:
    """Every group filling of an ``identity-swap`` template gets one decision."""
    con = load_contrast()
    swaps = con[con["kind"] == "identity-swap"].reset_index(drop=True)
    res = modkit.moderate(swaps["text"].tolist(), backend=backend, cache=None, progress=False)
    swaps = swaps.assign(flagged=res["flagged"].to_numpy(bool))
    per = swaps.groupby("template_id", sort=False).agg(
        split=("split", "first"),
        label=("unsafe", lambda u: "unsafe" if u.iloc[0] else "safe"),
        groups=("text", "size"),
        flagged=("flagged", "mean"),
    )
    per["same decision"] = (per["flagged"] == 0) | (per["flagged"] == 1)
    per["right decision"] = np.where(
        per["label"] == "unsafe", per["flagged"] == 1, per["flagged"] == 0
    )
    per.index.name = "template"
    n_same = int(per["same decision"].sum())
    held = per[per["split"] == "heldout"]
    print(
        f"## Counterfactual identity swaps ({len(per)} templates x {per['groups'].max()} groups)\n"
    )
    print(table(per))
    print(
        f"\n{n_same}/{len(per)} templates give every group the same decision "
        f"{ok(n_same == len(per))} (held out: {int(held['same decision'].sum())}/{len(held)}); "
        f"{int(per['right decision'].sum())}/{len(per)} give every group the right one\n"
    )


def probes(backend: LocalBackend) -> None:
    four = pd.read_csv(ROUND_FOUR, sep="\t", comment="#")
    res4 = modkit.moderate(four["text"].tolist(), backend=backend, cache=None, progress=False)
    rows4 = []
    for i, (expect, text) in enumerate(zip(four["expect"], four["text"], strict=True)):
        flags = [c for c in CATEGORIES if res4.loc[i, f"flagged/{c}"]]
        good = not flags if expect == "-" else expect in flags
        rows4.append(
            {
                "text": text,
                "expected": "not flagged" if expect == "-" else expect,
                "illicit": float(res4.loc[i, "illicit"]),
                "violence": float(res4.loc[i, "violence"]),
                "flagged as": ", ".join(flags) or "-",
                "as expected": ok(good),
            }
        )
    print("## Issue 24's prompts (data/probes/round-four.tsv, never trained on)\n")
    print(table(pd.DataFrame(rows4).set_index("text"), ".2f"))
    print()
    hurt = modkit.expand(MOTIVATING)["text"].tolist()
    safe = [
        line.strip()
        for line in PROBES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    res = modkit.moderate(hurt + safe, backend=backend, cache=None, progress=False)
    rows = []
    for i, text in enumerate(hurt + safe):
        top = max(CATEGORIES, key=lambda c: res.loc[i, c])
        rows.append(
            {
                "text": text,
                "expected": "violence" if i < len(hurt) else "not flagged",
                "violence": float(res.loc[i, "violence"]),
                "top category": f"{top} {res.loc[i, top]:.2f}",
                "flagged as": ", ".join(c for c in CATEGORIES if res.loc[i, f"flagged/{c}"]) or "-",
            }
        )
    frame = pd.DataFrame(rows).set_index("text")
    n_hurt = int(res.loc[: len(hurt) - 1, "flagged/violence"].sum())
    n_safe = int(res.loc[len(hurt) :, "flagged"].sum())
    print("## Motivating prompts and safe homonyms\n")
    print(table(frame, ".2f"))
    print(
        f"\n{n_hurt}/{len(hurt)} motivating prompts flagged for violence "
        f"{ok(n_hurt == len(hurt))}; {n_safe}/{len(safe)} safe homonyms flagged "
        f"{ok(n_safe == 0)}\n"
    )


def cross_validated(backend: LocalBackend, seeds: int) -> None:
    data = load_training_data()
    texts = data.texts
    text_input = backend.info.get("text_input", [])
    raw, owner, _ = _embed(texts, None, encoder=backend.encoder, text_input=text_input)
    pooled, emb = _features(backend.info["features"], texts, raw, owner, text_input)
    groups = data.groups()
    chosen = backend.info.get("contrast_weight") or {}
    rows = []
    for task in build_tasks(data):
        task = reweight(task, chosen.get(task.category, CONTRAST_WEIGHT), data.n_registry)
        reg = task.rows < data.n_registry
        aps = []
        for seed in range(seeds):
            p = cross_val_scores(task, pooled, emb, owner, groups, seed=seed)
            aps.append(average_precision_score(task.y[reg], p[reg]))
        ap, spread = float(np.mean(aps)), float(np.max(aps) - np.min(aps))
        base = BASELINE.get(task.category, float("nan"))
        rows.append(
            {
                "category": task.category,
                "positives": int(task.y[reg].sum()),
                "weight": chosen.get(task.category, float("nan")),
                "AUPRC (5-fold, seed 0)": aps[0],
                f"mean over {seeds} seeds": ap,
                "seed spread": spread,
                "modkit-local-1": base,
                "modkit-local-3": LOCAL3.get(task.category, float("nan")),
                "target": "-" if np.isnan(base) else ok(ap >= base - max(spread, 1e-9)),
            }
        )
    cv = pd.DataFrame(rows).set_index("category")
    print(
        "## Cross-validated AUPRC on the registry rows (5 folds, grouped by duplicate text "
        "and contrast template; contrast rows rotate through the folds but only registry "
        "rows are scored)\n"
    )
    print(table(cv))
    print()


def _mhc_figures(backend: LocalBackend, texts: list[str], y: np.ndarray) -> dict[str, float]:
    res = modkit.moderate(texts, backend=backend, cache=None, progress=False)
    s, f = res["hate"].to_numpy(float), res["flagged/hate"].to_numpy(bool)
    return {
        "hate AUC": roc_auc_score(y, s),
        "recall (hateful flagged)": float(f[y == 1].mean()),
        "non-hateful flagged": float(f[y == 0].mean()),
        "accuracy": float((f == y).mean()),
    }


def multilingual(backend: LocalBackend, per_language: int | None) -> None:
    default = LocalBackend()
    other = default.model != backend.model
    rows = []
    for language in MHC_LANGUAGES:
        mhc = load_dataset("multilingual-hatecheck", language)
        if per_language and len(mhc) > per_language:
            mhc = mhc.sample(per_language, random_state=0)
        texts, y = mhc["text"].astype(str).tolist(), mhc["label"].to_numpy()
        row: dict[str, object] = {"language": language, "n": len(mhc)}
        row.update(_mhc_figures(backend, texts, y))
        if other:
            ref = _mhc_figures(default, texts, y)
            row[f"{default.model} hate AUC"] = ref["hate AUC"]
            row[f"{default.model} recall"] = ref["recall (hateful flagged)"]
            row[f"{default.model} non-hateful flagged"] = ref["non-hateful flagged"]
        rows.append(row)
    each = f"a seeded sample of {per_language} cases per language" if per_language else "all"
    print(
        f"## Multilingual HateCheck (never trained on; {each}), hate at the default "
        f"threshold, {backend.model}" + (f" and {default.model}" if other else "") + "\n"
    )
    print(table(pd.DataFrame(rows).set_index("language")))
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip CV and Multilingual HateCheck")
    ap.add_argument("--load-repeats", type=int, default=3)
    ap.add_argument("--model-dir", help="heads to evaluate (default: the shipped ones)")
    ap.add_argument(
        "--encoder",
        choices=("minilm", "multilingual"),
        help="evaluate the shipped model of this encoder (default minilm)",
    )
    ap.add_argument("--skip-speed", action="store_true", help="skip load and throughput")
    ap.add_argument("--skip-cv", action="store_true", help="skip the cross-validation")
    ap.add_argument(
        "--cv-seeds", type=int, default=3, help="fold seeds of the cross-validation (spread)"
    )
    ap.add_argument(
        "--long-sample",
        type=int,
        help="time long texts on a seeded sample of N openai-moderation-1680 rows (default all)",
    )
    ap.add_argument(
        "--mhc-per-language", type=int, help="score a seeded sample of N cases per language"
    )
    args = ap.parse_args()

    print(
        f"# bench_local: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}\n")
    with contextlib.suppress(OSError):
        print(f"load average before the run: {os.getloadavg()[0]:.2f}\n")
    backend = LocalBackend(encoder=args.encoder, model_dir=args.model_dir).load()
    print(f"model {backend.model}, features {backend.info.get('features', 'mean')}\n")
    hc = load_dataset("hatecheck")
    res = None if args.skip_speed else speed_and_load(args, backend, hc)
    hatecheck(backend, hc, res)
    contrast(backend)
    counterfactual(backend)
    probes(backend)
    if args.quick:
        return 0
    if not args.skip_cv:
        cross_validated(backend, args.cv_seeds)
    multilingual(backend, args.mhc_per_language)
    with contextlib.suppress(OSError):
        print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
