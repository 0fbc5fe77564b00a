"""``modkit monitor LOG [--baseline LOG_OR_SCORES] --json OUT --junit OUT --html OUT``."""

from __future__ import annotations

import argparse
import sys

from .._text import json_text, null_nonfinite
from ._common import write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor",
        help="rates, shadow would-block vs did-block, review load and score drift of a "
        "decision log, with limits for cron or CI",
        description="Read a decision log (modkit serve --decision-log) and report per period: "
        "flag and review rates per category with Clopper-Pearson intervals, would-block "
        "(the logged file) against did-block (the enforced decision), review load against the "
        "threshold file's forecast, and score drift per category against --baseline (a "
        "decision log or a results file of scores; default the log's first period) as the "
        "population stability index and a two-sample Kolmogorov-Smirnov test. Exit 1 when a "
        "--max-* limit is crossed, 0 otherwise.",
    )
    p.add_argument("log", help="the decision log (its rotated files are read too) or a folder")
    p.add_argument("--baseline", metavar="LOG_OR_SCORES", help="what drift compares with")
    p.add_argument("--thresholds", metavar="FILE", help="threshold file (review forecast)")
    p.add_argument("--period", choices=("day", "hour"), default="day", help="default day")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--bins", type=int, default=10, help="PSI quantile bins (default 10)")
    p.add_argument("--max-psi", type=float, metavar="X", help="limit on PSI per category")
    p.add_argument(
        "--max-flag-rate-change",
        type=float,
        metavar="X",
        help="limit on |flag rate - baseline flag rate| per category (0.02 = 2 points)",
    )
    p.add_argument(
        "--max-review-load",
        type=float,
        metavar="X",
        help="limit on review rate / the file's forecast review rate (needs --thresholds)",
    )
    p.add_argument("--json", metavar="OUT", help="write the JSON report here ('-': stdout)")
    p.add_argument("--junit", metavar="OUT", help="write a JUnit XML report here")
    p.add_argument("--html", metavar="OUT", help="write an offline HTML view here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._monitor import monitor

    report = monitor(
        args.log,
        args.baseline,
        period=args.period,
        thresholds=args.thresholds,
        level=args.level,
        bins=args.bins,
        max_psi=args.max_psi,
        max_flag_rate_change=args.max_flag_rate_change,
        max_review_load=args.max_review_load,
    )
    # valid JSON whatever the log held: NaN / infinities as null, a lone surrogate escaped
    text = json_text(null_nonfinite(report.to_dict()), indent=2) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    elif args.json:
        write_text_file(args.json, text)
    if args.junit:
        write_text_file(args.junit, report.to_junit_xml())
    if args.html:
        from ..plots import monitor_html

        write_text_file(args.html, monitor_html(report, title=f"modkit monitor: {args.log}"))
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1
