"""``modkit crosstab | gap | bias SCORES ...``: the analysis views as tables."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from .._bias import bias_metrics, counterfactual_gap
from .._crosstab import crosstab
from .._io import read_table, write_table
from ..thresholds._set import PROFILES, load_thresholds


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="table to write (.csv/.jsonl/.parquet; default: print)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crosstab",
        help="statistics of each category's scores per value of a slot",
        description="One row per value of --by, one column per category (and statistic).",
    )
    p.add_argument("scores", help="results table")
    p.add_argument(
        "--by", action="append", required=True, metavar="COLUMN", help="slot column (repeatable)"
    )
    p.add_argument(
        "--stat",
        action="append",
        metavar="NAME",
        help="mean, median, max, p95, std, count, flag_rate (repeatable; default mean)",
    )
    p.add_argument(
        "--category", action="append", metavar="KEY", help="categories shown (default: all)"
    )
    p.add_argument(
        "--thresholds",
        help="threshold file: flag_rate at its block thresholds (with flag_rate alone, only "
        "the file's categories are shown; next to other statistics, categories without a "
        "threshold get an empty flag_rate)",
    )
    p.add_argument("--profile", choices=PROFILES, default="input", help="profile of --thresholds")
    _output(p)
    p.set_defaults(func=run_crosstab)

    g = sub.add_parser(
        "gap",
        help="counterfactual gaps: how far a template's scores move over a slot",
        description="Per template (template_id) and category: the mean score of each value "
        "of --slot, and the gap between the highest and the lowest.",
    )
    g.add_argument("scores", help="results table")
    g.add_argument("--slot", required=True, help="the slot whose values are swapped")
    g.add_argument("--category", action="append", metavar="KEY", help="categories (default: all)")
    g.add_argument("--detail", action="store_true", help="one row per slot value")
    _output(g)
    g.set_defaults(func=run_gap)

    b = sub.add_parser(
        "bias",
        help="per-subgroup AUCs and FPR/FNR (Borkan et al. 2019; Dixon et al. 2018)",
        description="Bias metrics of one category's score against a 0/1 label column.",
    )
    b.add_argument("scores", help="results table with a label column")
    b.add_argument("--by", required=True, metavar="COLUMN", help="the subgroup column")
    b.add_argument("--label", default="label", metavar="COLUMN", help="0/1 label column")
    b.add_argument(
        "--category", default="hate", metavar="KEY", help="category whose score classifies"
    )
    b.add_argument(
        "--threshold", type=float, default=0.5, help="flag when score >= threshold, for FPR/FNR"
    )
    b.add_argument("--pos-label", default="1", help="the positive label value")
    _output(b)
    b.set_defaults(func=run_bias)


def _emit(table: pd.DataFrame, args: argparse.Namespace, index: bool = True) -> int:
    if args.output:
        write_table(table.reset_index() if index else table, args.output)
        print(f"modkit {args.command}: {len(table)} rows -> {args.output}", file=sys.stderr)
    else:
        with pd.option_context("display.max_rows", 500, "display.width", 200):
            print(table.to_string(index=index, float_format=lambda v: f"{v:.3f}"))
    return 0


def run_crosstab(args: argparse.Namespace) -> int:
    results = read_table(args.scores)
    thresholds = None
    if args.thresholds:
        ts = load_thresholds(args.thresholds, profile=args.profile)
        thresholds = {c: float(t) for c, t in ts.block.items() if t is not None}
    stats = args.stat or ["mean"]
    table = crosstab(
        results,
        args.by,
        stats if len(stats) > 1 else stats[0],
        categories=args.category,
        thresholds=thresholds,
    )
    lacking = int(table.attrs.get("n_missing_by", 0))
    if lacking:
        print(
            f"modkit crosstab: {lacking} scored rows have no {', '.join(args.by)} value "
            "(templates without the slot), left out",
            file=sys.stderr,
        )
    if isinstance(table.columns, pd.MultiIndex):
        table.columns = [f"{s}:{c}" for s, c in table.columns]
    return _emit(table, args)


def run_gap(args: argparse.Namespace) -> int:
    results = read_table(args.scores)
    by = "template_id" if "template_id" in results.columns else None
    table = counterfactual_gap(
        results, args.slot, by=by, categories=args.category, detail=args.detail
    )
    lacking = int(table.attrs.get("n_missing_slot", 0))
    if lacking:
        print(
            f"modkit gap: {lacking} scored rows have no {args.slot} value (templates "
            "without the slot), left out",
            file=sys.stderr,
        )
    return _emit(table, args, index=False)


def run_bias(args: argparse.Namespace) -> int:
    results = read_table(args.scores)
    pos: object = args.pos_label
    if args.label in results.columns and pd.api.types.is_numeric_dtype(results[args.label]):
        pos = float(args.pos_label)
    table = bias_metrics(
        results, args.by, args.label, args.category, threshold=args.threshold, pos_label=pos
    )
    lacking = int(table.attrs.get("n_missing_by", 0))
    if lacking:
        print(
            f"modkit bias: {lacking} rows have no {args.by} value: never a subgroup, part of "
            "every subgroup's background",
            file=sys.stderr,
        )
    return _emit(table, args, index=False)
