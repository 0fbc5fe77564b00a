"""``modkit check THRESHOLDS --scores NEW | --suite PROMPTS``: a CI gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .._errors import InputError
from .._gate import check_thresholds
from .._io import read_table
from .._labels import parse_labels
from ..thresholds._set import PROFILES, load_thresholds
from ._common import (
    Progress,
    add_backend_options,
    add_cache_options,
    add_quiet_option,
    align_labels,
    backend_from_args,
    cache_from_args,
    row_name,
    write_text_file,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="CI gate: fail when a threshold file's promises or a bias gap no longer hold",
        description="Check THRESHOLDS against new scores: read them (--scores) or score a "
        "pinned suite now (--suite: prompts, or a template file that is expanded). With "
        "--labels, every constrained objective of the file (precision>=P, recall>=R, "
        "fpr<=X) is measured at its threshold on the new rows; with --baseline (the same "
        "prompts scored before), decisions that changed (--max-changed) and gaps that grew "
        "(--gap-tolerance) are checked; --gap-by SLOT checks counterfactual gaps. Writes a "
        "JSON report (standard output unless --json) and a JUnit XML report (--junit); "
        "exit 1 when a check fails.",
    )
    p.add_argument("thresholds", help="threshold file (.json)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--scores", help="new scores (output of 'modkit moderate')")
    src.add_argument("--suite", help="prompts (.csv/.jsonl/.txt/.parquet) or templates (.yaml)")
    p.add_argument("--baseline", help="the same prompts scored before (a results table)")
    p.add_argument(
        "--labels",
        help="labels table for the promise checks: a column per category key (bare or "
        "label_<key>), 1/0, true/false, yes/no or blank; default: the label_<category> "
        "columns of the scores, if any",
    )
    p.add_argument("--on", metavar="COLUMN", help="column matching score and label rows")
    p.add_argument("--profile", choices=PROFILES, default="input", help="default: input")
    p.add_argument(
        "--confidence",
        type=float,
        help="fail a promise only when broken at this confidence (default: point estimate)",
    )
    p.add_argument(
        "--max-changed",
        type=float,
        metavar="SHARE",
        help="with --baseline: most share of prompts that may change action (default 0)",
    )
    p.add_argument("--gap-by", metavar="SLOT", help="check counterfactual gaps over this slot")
    p.add_argument("--max-gap", type=float, help="largest allowed gap (score difference)")
    p.add_argument(
        "--gap-tolerance",
        type=float,
        default=0.05,
        help="with --baseline: how much a gap may grow (default 0.05)",
    )
    p.add_argument("--json", dest="json_out", metavar="FILE", help="write the JSON report here")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report here")
    p.add_argument("--scores-out", metavar="FILE", help="with --suite: keep the new scores")
    add_backend_options(p)
    add_cache_options(p)
    add_quiet_option(p)
    p.set_defaults(func=run)


def _suite_scores(args: argparse.Namespace, progress: Progress) -> pd.DataFrame:
    from .._io import write_table
    from .._runner import moderate
    from ..templates import expand

    path = Path(args.suite)
    prompts = expand(path) if path.suffix.lower() in (".yaml", ".yml") else read_table(path)
    progress.step(f"scoring {len(prompts)} prompts of {path}")
    results = moderate(
        prompts,
        backend=backend_from_args(args),
        cache=cache_from_args(args),
        progress=progress.enabled,
    )
    if args.scores_out:
        write_table(results, args.scores_out)
    return results


def run(args: argparse.Namespace) -> int:
    progress = Progress("check", args)
    progress.step(f"reading {args.thresholds}")
    ts = load_thresholds(args.thresholds, profile=args.profile)
    if args.scores:
        progress.step(f"reading {args.scores}")
        results = read_table(args.scores).reset_index(drop=True)
        source = args.scores
    else:
        results = _suite_scores(args, progress).reset_index(drop=True)
        source = args.suite
    labels = None
    if args.labels:
        raw = read_table(args.labels).reset_index(drop=True)
        parsed = parse_labels(raw, source=args.labels, row_name=row_name(args.labels))
        if not parsed.shape[1]:
            raise InputError(
                f"{args.labels}: no label columns (category keys as the API spells them, "
                "or label_<category>)"
            )
        row_keys = [c for c in dict.fromkeys([args.on, "id"]) if c in raw.columns]
        table = pd.concat([raw[row_keys], parsed], axis=1)
        aligned = align_labels(results, table, args.on, source, args.labels)
        labels = aligned[list(parsed.columns)].reindex(results.index)
    else:  # the label_<category> columns kept beside the texts, if any
        beside = parse_labels(results, columns="prefixed", source=source, row_name=row_name(source))
        labels = beside if beside.shape[1] else None
    baseline = read_table(args.baseline) if args.baseline else None
    max_changed = args.max_changed
    if baseline is not None and max_changed is None:
        max_changed = 0.0
    progress.step(f"checking {len(results)} rows")
    report = check_thresholds(
        ts,
        results,
        labels=labels,
        baseline=baseline,
        confidence=args.confidence,
        max_changed=max_changed,
        gap_by=args.gap_by,
        max_gap=args.max_gap,
        gap_tolerance=args.gap_tolerance,
    )
    report.meta.update({"thresholds": str(args.thresholds), "scores": str(source)})
    if args.json_out:
        write_text_file(args.json_out, report.to_json())
    else:
        sys.stdout.write(report.to_json())
    if args.junit:
        write_text_file(args.junit, report.to_junit_xml())
    print(report.summary(), file=sys.stderr)
    print(f"modkit check: {args.thresholds}: {ts.describe_policy()}", file=sys.stderr)
    progress.done()
    return 0 if report.ok else 1
