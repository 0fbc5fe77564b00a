"""``modkit report SCORES --by SLOT [--labels FILE] [--thresholds FILE] -o report.html``."""

from __future__ import annotations

import argparse
import os
import sys

from .._errors import InputError
from .._io import read_table
from ..thresholds._set import PROFILES, load_thresholds
from ._common import Progress, add_quiet_option, align_labels, check_suffix, write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="a self-contained offline HTML report: cross-tabs, gaps, bias, thresholds",
        description="Write one HTML page (plotly.js embedded, opens offline) with, per slot "
        "(--by), a cross-tab heatmap, the counterfactual gaps and, with a label column, "
        "bias metrics (subgroup/BPSN/BNSP AUC, FPR/FNR); with --thresholds, block rates, "
        "the file's table and each category's scores against its thresholds.",
    )
    p.add_argument("scores", help="results table (output of 'modkit moderate')")
    p.add_argument("--by", action="append", required=True, metavar="SLOT", help="slot column(s)")
    p.add_argument("-o", "--output", required=True, help="the .html file to write")
    p.add_argument("--labels", help="labels table: a label column and/or 0/1 per category")
    p.add_argument("--on", metavar="COLUMN", help="column matching score and label rows")
    p.add_argument(
        "--label-column",
        help="0/1 harmful label for bias metrics (default: 'label' if there is one; a named "
        "column must exist)",
    )
    p.add_argument("--thresholds", help="threshold file (.json)")
    p.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    p.add_argument(
        "--category", action="append", metavar="KEY", help="categories shown (default: all)"
    )
    p.add_argument(
        "--bias-category", action="append", metavar="KEY", help="classifier for bias (hate)"
    )
    p.add_argument("--bias-threshold", type=float, help="threshold for FPR/FNR")
    p.add_argument("--stat", default="p95", help="heatmap statistic (default p95)")
    p.add_argument("--title", help="page title")
    add_quiet_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..plots import html_report

    check_suffix(args.output, ".html")
    progress = Progress("report", args)
    progress.step(f"reading {args.scores}")
    results = read_table(args.scores).reset_index(drop=True)
    labels = None
    if args.labels:
        raw = read_table(args.labels).reset_index(drop=True)
        labels = align_labels(results, raw, args.on, args.scores, args.labels)
        labels = labels.reindex(results.index)
    if args.label_column is not None:
        where = [f for f in (labels, results) if f is not None]
        if not any(args.label_column in f.columns for f in where):
            files = f"{args.labels} or {args.scores}" if labels is not None else args.scores
            raise InputError(f"--label-column {args.label_column!r}: no such column in {files}")
    ts = load_thresholds(args.thresholds, profile=args.profile) if args.thresholds else None
    progress.step(f"building the report of {len(results)} rows by {', '.join(args.by)}")
    page = html_report(
        results,
        args.by,
        labels=labels,
        label_column=args.label_column or "label",
        thresholds=ts,
        categories=args.category,
        bias_categories=args.bias_category,
        bias_threshold=args.bias_threshold,
        stat=args.stat,
        title=args.title,
        source=os.path.basename(args.scores),
    )
    out = write_text_file(args.output, page)
    print(f"modkit report: {len(results)} rows -> {out} ({len(page) // 1024} KiB)", file=sys.stderr)
    progress.done()
    return 0
