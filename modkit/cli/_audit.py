"""``modkit audit draw SCORES --thresholds FILE -n N`` and ``modkit audit estimate``."""

from __future__ import annotations

import argparse
import json
import sys

from .._io import check_output, write_table
from ..audit import DRAW_METHODS, METRICS, draw, estimate
from ..thresholds._set import PROFILES
from ._common import check_seed, check_suffix, write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "audit",
        help="calibrate on your own traffic: draw rows to label, estimate from the labels",
        description="Audit a threshold file on unlabelled traffic: 'draw' picks the rows a "
        "person should label (stratified by score band and decision), 'estimate' gives "
        "design-weighted precision, recall, FPR and review load with intervals.",
    )
    steps = p.add_subparsers(dest="step", metavar="STEP", required=True)

    d = steps.add_parser(
        "draw",
        help="draw the rows to label",
        description="Draw N rows of SCORES (the output of 'modkit moderate') to label. Each "
        "row carries id, the input and score columns, stratum, inclusion_probability and "
        "decision/<category>; add label_<category> columns (1, 0 or blank) and run "
        "'modkit audit estimate'.",
    )
    d.add_argument("scores", help="results table (.csv/.jsonl/.parquet)")
    d.add_argument("--thresholds", required=True, help="threshold file to audit (.json)")
    d.add_argument("-n", type=int, required=True, help="rows to label")
    d.add_argument("-o", "--output", required=True, help="sample to write (.csv/.jsonl/.parquet)")
    d.add_argument("--seed", type=int, default=None, help="seed of the draw (an integer >= 0)")
    d.add_argument(
        "--method",
        choices=DRAW_METHODS,
        default="neyman",
        help="neyman (default): stratified, optimal allocation; uniform: simple random "
        "sample; ais: adaptive (with --labelled, allocates the next rows by the labels so far)",
    )
    d.add_argument(
        "--metrics",
        default=",".join(METRICS),
        metavar="M,...",
        help="metrics the allocation aims at (default: precision,recall,fpr)",
    )
    d.add_argument("--labelled", metavar="PATH", help="with --method ais: the sample so far")
    d.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    d.set_defaults(func=run_draw)

    e = steps.add_parser(
        "estimate",
        help="estimate precision, recall, FPR and review load from a labelled sample",
        description="Design-weighted estimates, with intervals, of the threshold file's "
        "per-category precision, recall and FPR at block and review load on the traffic "
        "the sample was drawn from (stratified ratio estimator, Korn-Graubard intervals).",
    )
    e.add_argument("labelled", help="the sample with label_<category> columns")
    e.add_argument("--thresholds", required=True, help="threshold file to evaluate (.json)")
    e.add_argument("--json", metavar="OUT.json", help="write the estimates as JSON")
    e.add_argument("--confidence", type=float, default=0.9, help="interval level (default 0.9)")
    e.add_argument(
        "--width",
        type=float,
        default=None,
        help="stopping rule: also print the labels still needed for every interval to be "
        "narrower than this (e.g. 0.1 for +/-0.05)",
    )
    e.add_argument("--population", metavar="SCORES", help="the traffic (review load exact)")
    e.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    e.set_defaults(func=run_estimate)


def run_draw(args: argparse.Namespace) -> int:
    check_seed(args.seed)
    check_output(args.output)
    labelled = None
    if args.labelled:
        from .._io import read_table

        labelled = read_table(args.labelled)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    sample = draw(
        args.scores,
        args.thresholds,
        args.n,
        seed=args.seed,
        method=args.method,
        metrics=metrics,
        labelled=labelled,
        profile=args.profile,
    )
    write_table(sample, args.output)
    print(
        f"modkit audit draw: {len(sample)} rows in {sample['stratum'].nunique()} strata "
        f"-> {args.output}",
        file=sys.stderr,
    )
    return 0


def run_estimate(args: argparse.Namespace) -> int:
    if args.json:
        check_suffix(args.json, ".json")
    est = estimate(
        args.labelled,
        args.thresholds,
        confidence=args.confidence,
        population=args.population,
        profile=args.profile,
    )
    cols = ["category", "metric", "estimate", "lower", "upper", "n_labelled"]
    print(est.frame[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    data = est.to_dict()
    if args.width is not None:
        need = est.labels_needed(args.width)
        data["labels_needed"] = {
            "width": args.width,
            "more": None if need.empty else int(need["labels_needed"].max(skipna=True)),
            "rows": [
                {k: (None if v != v else v) for k, v in r.items()}
                for r in need.to_dict(orient="records")
            ],
        }
        more = data["labels_needed"]["more"]
        print(f"labels still needed for every interval narrower than {args.width:g}: {more}")
    if args.json:
        write_text_file(args.json, json.dumps(data, indent=2) + "\n")
    return 0
