"""``modkit fit SCORES LABELS -o thresholds.json --objective 'precision>=0.9'``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import InputError
from .._io import read_table
from .._labels import parse_labels
from .._taxonomy import CATEGORIES
from ..thresholds._fit import fit_thresholds
from ..thresholds._labels import coerce_scores
from ..thresholds._schema import UNTHRESHOLDED, UNTHRESHOLDED_DEFAULT
from ..thresholds._set import POLICY_MEANING, PROFILES, ThresholdFile
from ._common import Progress, add_quiet_option, align_labels, check_seed, check_suffix, row_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit",
        help="fit per-category thresholds against labelled examples",
        description="Choose per-category block (and review) thresholds from SCORES (the "
        "output of 'modkit moderate') and labels: the label_<category> columns SCORES kept "
        "from its input, or a LABELS table (1/0, true/false, yes/no or blank per category "
        "key). LABELS rows are matched by the --on column, by an 'id' column if both tables "
        "have one, else by position. Decision rule: flag when score >= threshold.",
    )
    p.add_argument("scores", help="results table (.csv/.jsonl/.parquet)")
    p.add_argument(
        "labels",
        nargs="?",
        help="labels table: a column per category key (bare or label_<key>), 1/0, "
        "true/false, yes/no or blank; default: the label_<category> columns of SCORES",
    )
    p.add_argument(
        "-o",
        "--output",
        help="threshold file to write (.json; default: the file on standard output, the "
        "report on stderr)",
    )
    p.add_argument(
        "--objective",
        required=True,
        help="goal of the block threshold: f1, fbeta:B, precision>=P, recall>=R, "
        "fpr<=X, cost:fp=A,fn=B, fixed:T",
    )
    p.add_argument("--review", help="goal of the lower review threshold (e.g. 'recall>=0.95')")
    p.add_argument(
        "--objective-for",
        action="append",
        default=[],
        metavar="CATEGORY=OBJ",
        help="a different block objective for one category (repeatable)",
    )
    p.add_argument(
        "--review-for",
        action="append",
        default=[],
        metavar="CATEGORY=OBJ",
        help="a different review objective for one category (repeatable)",
    )
    p.add_argument(
        "--confidence", type=float, help="meet constrained objectives at this confidence (e.g. 0.9)"
    )
    p.add_argument(
        "--cv",
        type=int,
        default=5,
        help="folds for the fitting procedure's out-of-fold estimate (default 5; no interval)",
    )
    p.add_argument(
        "--method",
        choices=("fixed_sequence", "holm"),
        default="fixed_sequence",
        help="multiple-testing procedure with --confidence (Learn then Test; default "
        "fixed_sequence; holm for noisy score tops)",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=200,
        help="refit-bootstrap resamples for the exported threshold's intervals, selection_ci "
        "(default 200)",
    )
    p.add_argument(
        "--min-positives",
        type=int,
        default=10,
        help="fewer labelled positives gives no threshold (default 10)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--daily-volume", type=float, help="items per day, for the review queue")
    p.add_argument(
        "--profile",
        choices=PROFILES,
        default="input",
        help="input (user messages) or output (model responses)",
    )
    p.add_argument(
        "--merge-into",
        metavar="EXISTING",
        help="keep the other profile of this threshold file in the output",
    )
    p.add_argument("--on", metavar="COLUMN", help="column to match SCORES and LABELS rows on")
    p.add_argument(
        "--by-input-type",
        action="store_true",
        help="also fit text and image thresholds per category from the applied/<category> "
        "columns (multimodal results)",
    )
    p.add_argument(
        "--unthresholded",
        choices=UNTHRESHOLDED,
        default=UNTHRESHOLDED_DEFAULT,
        help="what decides a category left without a threshold: backend_flag (the "
        "backend's own flag; default), review (its flag sends to review) or never_flag "
        "(an explicit opt-out)",
    )
    p.add_argument(
        "--unthresholded-for",
        action="append",
        default=[],
        metavar="CATEGORY=POLICY",
        help="that policy for one category (repeatable), e.g. sexual=never_flag",
    )
    add_quiet_option(p)
    p.set_defaults(func=run)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        cat, sep, obj = item.partition("=")
        if not sep or not cat:
            raise InputError(f"{flag} {item!r}: expected CATEGORY=OBJECTIVE")
        if cat not in CATEGORIES:
            raise InputError(
                f"{flag} {item!r}: unknown category {cat!r} (one of {', '.join(CATEGORIES)})"
            )
        out[cat] = obj
    return out


def run(args: argparse.Namespace) -> int:
    check_seed(args.seed)
    if args.output is not None:
        check_suffix(args.output, ".json")
    progress = Progress("fit", args)
    progress.step(f"reading {args.scores}" + (f" and {args.labels}" if args.labels else ""))
    scores = read_table(args.scores).reset_index(drop=True)
    if args.labels is None:
        # labels beside the scores: the label_<category> columns 'modkit moderate' kept
        labels = parse_labels(
            scores, columns="prefixed", source=args.scores, row_name=row_name(args.scores)
        )
        if not labels.shape[1]:
            raise InputError(
                f"{args.scores}: no label_<category> columns; keep labels beside the texts "
                "when scoring (docs: how-to 'Prepare a labels file') or give a LABELS table"
            )
        cats = list(labels.columns)
        passed = cats
    else:
        raw = read_table(args.labels).reset_index(drop=True)
        # One parser for every label table: bare keys or label_<key>, 1/0, true/false,
        # yes/no, blank; a misspelt key is refused with "did you mean".
        parsed = parse_labels(raw, source=args.labels, row_name=row_name(args.labels))
        cats = list(parsed.columns)
        if not cats:
            raise InputError(
                f"{args.labels}: no label columns (expected category keys as the API spells "
                f"them, such as {', '.join(CATEGORIES[:4])}, or label_<category>)"
            )
        # Other columns go to fit_thresholds, which warns that it ignores them.
        keys = {"id", "text", args.on, *parsed.attrs["columns"]}
        others = [c for c in raw.columns if c not in keys]
        passed = [*cats, *others]
        row_keys = [c for c in dict.fromkeys([args.on, "id"]) if c in raw.columns]
        table = pd.concat([raw[row_keys], parsed, raw[others]], axis=1)
        labels = align_labels(scores, table, args.on, args.scores, args.labels)
    missing = [c for c in cats if c not in scores.columns]
    if missing:
        raise InputError(
            f"{args.labels or args.scores} has labels of {missing} that {args.scores} has no "
            "scores for"
        )
    coerce_scores(scores, cats, source=args.scores, row_name=row_name(args.scores))

    objective: Any = args.objective
    per = _pairs(args.objective_for, "--objective-for")
    if per:
        objective = {"*": args.objective, **per}
    review: Any = args.review
    rper = _pairs(args.review_for, "--review-for")
    if rper:
        review = {**({"*": args.review} if args.review else {}), **rper}
    existing = ThresholdFile.load(args.merge_into) if args.merge_into else None
    progress.step(
        f"fitting {len(cats)} categories on {len(scores)} rows ({args.cv}-fold, "
        f"{args.bootstrap} bootstrap resamples)"
    )
    ts = fit_thresholds(
        scores,
        labels[passed],
        objective,
        review,
        cv=args.cv,
        bootstrap=args.bootstrap,
        confidence=args.confidence,
        method=args.method,
        min_positives=args.min_positives,
        random_state=args.seed,
        daily_volume=args.daily_volume,
        profile=args.profile,
        progress=progress.enabled,
        by_input_type=args.by_input_type,
    )
    not_fitted = ts.not_fitted
    ts = ts.with_policy(args.unthresholded)
    by_policy: dict[str, list[str]] = {}
    for cat, policy in _pairs(args.unthresholded_for, "--unthresholded-for").items():
        if policy not in UNTHRESHOLDED:
            raise InputError(
                f"--unthresholded-for {cat}={policy}: policy must be one of "
                f"{', '.join(UNTHRESHOLDED)}"
            )
        by_policy.setdefault(policy, []).append(cat)
    for policy, cats_ in by_policy.items():
        ts = ts.with_policy(policy, cats_)
    profiles = dict(existing.profiles) if existing else {}
    profiles[args.profile] = ts
    # the file goes to stdout without -o: then the report goes to stderr
    report_to = sys.stdout if args.output is not None else sys.stderr
    if args.output is not None:
        ThresholdFile(profiles).save(args.output)
    else:
        with tempfile.TemporaryDirectory() as folder:
            text = ThresholdFile(profiles).save(Path(folder) / "t.json").read_text("utf-8")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    print(ts.report(), file=report_to)
    if not_fitted:
        print(
            f"modkit fit: warning: {len(not_fitted)} categories not fitted ("
            + "; ".join(f"{c}: {why}" for c, why in not_fitted.items())
            + "); without a threshold they are decided by "
            + "; ".join(
                f"{POLICY_MEANING[p]} (unthresholded: {p})"
                for p in dict.fromkeys(ts.policy_for(c) for c in not_fitted)
            ),
            file=sys.stderr,
        )
    where = args.output or "standard output"
    print(f"wrote {where} (profiles: {', '.join(sorted(profiles))})", file=report_to)
    progress.done()
    return 0
