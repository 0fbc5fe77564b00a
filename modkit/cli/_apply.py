"""``modkit apply thresholds.json SCORES -o decisions.csv``."""

from __future__ import annotations

import argparse
import sys

from .._errors import InputError
from .._frame import category_columns, is_result_column
from .._io import check_output, read_table
from ..thresholds._set import PROFILES, load_thresholds
from ._common import Progress, add_quiet_option, write_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="decide allow / review / block for scored rows by a threshold file",
        description="Apply one profile of a threshold file to SCORES (the output of 'modkit "
        "moderate') and write one row per input: every input column (template_id, text, "
        "slot and label columns...; not the score and result columns unless --keep-scores), "
        "the error column when a row could not be scored, then action (allow, review, "
        "block, or unscored), blocked_categories, review_categories (comma-separated), "
        "action:<category> and rule:<category> per category (rule: threshold, or for a "
        "category without one the file's 'unthresholded' policy that decided it from the "
        "backend's own flag: backend_flag, review, never_flag, or no_backend_flag: review).",
    )
    p.add_argument("thresholds", help="threshold file (.json)")
    p.add_argument("scores", help="results table (.csv/.jsonl/.parquet)")
    p.add_argument(
        "-o",
        "--output",
        help="decisions table to write (.csv/.jsonl/.parquet; default: CSV on standard output)",
    )
    p.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    p.add_argument(
        "--ignore-missing",
        action="store_true",
        help="treat categories with a threshold but no score column as unscored",
    )
    p.add_argument(
        "--keep-scores",
        action="store_true",
        help="also keep the score columns and flagged, flagged/<category>, applied/<category>, "
        "model, moderation_id and result_json",
    )
    p.add_argument(
        "--columns",
        metavar="COL,...",
        help="keep only these input columns (comma-separated; default: all of them)",
    )
    add_quiet_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.output is not None:
        check_output(args.output)
    progress = Progress("apply", args)
    progress.step(f"reading {args.thresholds} and {args.scores}")
    ts = load_thresholds(args.thresholds, profile=args.profile)
    scores = read_table(args.scores)
    progress.step(f"deciding {len(scores)} rows")
    decisions = ts.apply(scores, missing="ignore" if args.ignore_missing else "error")
    scores_cols = set(category_columns(scores))
    if args.columns:
        keep = [c.strip() for c in args.columns.split(",") if c.strip()]
        unknown = [c for c in keep if c not in scores.columns]
        if unknown:
            raise InputError(f"{args.scores}: no column {unknown[0]!r} (--columns)")
    else:
        keep = [
            c
            for c in scores.columns
            if args.keep_scores or not (c in scores_cols or is_result_column(c))
        ]
        # an unscored row says why: its error message stays next to it
        unscored = decisions["action"] == "unscored"
        if "error" in scores.columns and "error" not in keep and unscored.any():
            keep.append("error")
    clash = [c for c in keep if c in decisions.columns]
    if clash:
        raise InputError(
            f"{args.scores}: input column {clash[0]!r} has the name of a decision column; "
            "rename it or leave it out with --columns"
        )
    out = scores[keep].join(decisions)
    progress.step(f"writing {args.output or 'to standard output'}")
    where = write_output(out, args.output)
    counts = decisions["action"].value_counts()
    summary = ", ".join(
        f"{a} {int(counts.get(a, 0))}" for a in ("allow", "review", "block", "unscored")
    )
    print(f"modkit apply: {len(out)} rows -> {where} ({summary})", file=sys.stderr)
    print(f"modkit apply: {args.thresholds}: {ts.describe_policy()}", file=sys.stderr)
    rules = decisions[[c for c in decisions.columns if c.startswith("rule:")]]
    for rule, what in (
        ("backend_flag", "decided by the backend's own flag"),
        ("review", "sent to review by the backend's flag policy"),
        ("never_flag", "allowed by the file's never_flag opt-out"),
        ("no_backend_flag", "sent to review: no threshold and no backend flag"),
    ):
        hit = (rules == rule).sum()
        hit = hit[hit > 0]
        if len(hit):
            cats = ", ".join(f"{str(c).removeprefix('rule:')} {int(n)}" for c, n in hit.items())
            print(f"modkit apply: {what}: {cats} (rows)", file=sys.stderr)
    progress.done()
    return 0
