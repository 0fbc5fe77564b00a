"""``modkit expand FILE -o prompts.csv``: wildcard templates -> one row per prompt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._errors import InputError
from .._io import check_output
from ..templates import DEFAULT_LIMIT, TemplateSuite, count_prompts, expand, load_wildcards
from ..templates._expand import as_suite
from ._common import write_output


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "expand",
        help="expand wildcard templates into prompts",
        description="Expand the templates of FILE (.yaml/.yml template file, or .txt with one "
        "template per line) into one row per prompt: template_id, text, one column per "
        "slot, then the labels and tags. Writes OUTPUT (.csv/.jsonl/.parquet), ready for "
        "'modkit moderate'.",
    )
    p.add_argument("file", help="template file (.yaml/.yml, or .txt one template per line)")
    p.add_argument(
        "-o",
        "--output",
        help="where to write the prompts (.csv/.jsonl/.parquet; default: CSV on standard output)",
    )
    p.add_argument(
        "--wildcards",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of NAME.txt wildcard lists (repeatable)",
    )
    p.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="draw N distinct prompts instead of the full product",
    )
    p.add_argument("--seed", type=int, metavar="S", help="seed of --sample (reproducible)")
    p.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="L",
        help=f"most prompts allowed (default {DEFAULT_LIMIT:,}; 0 for no limit)",
    )
    p.add_argument(
        "--count", action="store_true", help="only print how many prompts each template makes"
    )
    p.set_defaults(func=run)


def _suite(args: argparse.Namespace) -> TemplateSuite:
    path = Path(args.file)
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise InputError(f"{path}: file not found")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        entries = [
            {"id": f"line{i}", "text": line}
            for i, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not entries:
            raise InputError(f"{path}: no templates in the file")
        suite = as_suite(entries)
    elif path.suffix.lower() in (".yaml", ".yml"):
        suite = as_suite(path)
    else:
        raise InputError(f"{path}: expected a .yaml/.yml template file or a .txt file")
    for folder in args.wildcards:
        suite = suite.with_wildcards(load_wildcards(folder))
    return suite


def run(args: argparse.Namespace) -> int:
    suite = _suite(args)
    if args.count:
        counts = count_prompts(suite, by_template=True)
        assert isinstance(counts, dict)
        for template_id, count in counts.items():
            print(f"{template_id}\t{count}")
        print(f"total\t{sum(counts.values())}")
        return 0
    if args.output:
        check_output(args.output)
    if suite.images:
        raise InputError(
            f"{args.file}: image slots "
            f"({', '.join(suite.images)}) are not written to a table yet; expand them with "
            "modkit.expand in Python"
        )
    frame = expand(suite, sample=args.sample, seed=args.seed, limit=args.limit or None)
    where = write_output(frame, args.output)
    print(
        f"modkit expand: {len(frame):,} prompts from {len(suite)} template(s) -> {where}",
        file=sys.stderr,
    )
    return 0
