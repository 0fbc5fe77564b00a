"""``modkit apply thresholds.json SCORES -o decisions.csv``."""

from __future__ import annotations

import argparse
import sys

from .._io import check_output, read_table, write_table
from ..thresholds._set import PROFILES, load_thresholds

_KEEP = ("id", "text")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="decide allow / review / block for scored rows by a threshold file",
        description="Apply one profile of a threshold file to SCORES (the output of 'modkit "
        "moderate') and write one row per input: its id/text columns if any, action "
        "(allow, review, block, or unscored), blocked_categories, review_categories "
        "(comma-separated) and action:<category> per category.",
    )
    p.add_argument("thresholds", help="threshold file (.json)")
    p.add_argument("scores", help="results table (.csv/.jsonl/.parquet)")
    p.add_argument("-o", "--output", required=True, help="decisions table to write")
    p.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    p.add_argument(
        "--ignore-missing",
        action="store_true",
        help="treat categories without a score column as unscored",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    ts = load_thresholds(args.thresholds, profile=args.profile)
    scores = read_table(args.scores)
    decisions = ts.apply(scores, missing="ignore" if args.ignore_missing else "error")
    keep = [c for c in _KEEP if c in scores.columns]
    out = scores[keep].join(decisions) if keep else decisions
    write_table(out, args.output)
    counts = decisions["action"].value_counts()
    summary = ", ".join(
        f"{a} {int(counts.get(a, 0))}" for a in ("allow", "review", "block", "unscored")
    )
    print(f"modkit apply: {len(out)} rows -> {args.output} ({summary})", file=sys.stderr)
    return 0
