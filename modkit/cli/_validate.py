"""``modkit validate FILE...``: check threshold files, one line per problem."""

from __future__ import annotations

import argparse
import sys

from ..thresholds._schema import SCHEMA_VERSION, ThresholdFileError, validate_threshold_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check threshold files against the schema",
        description="Check threshold files against the shipped JSON Schema (version "
        f"{SCHEMA_VERSION}) and the rules it cannot express (review <= block). Prints one "
        "line per problem with its JSON path on stderr ('modkit validate: error: FILE: "
        "PATH: problem'); exit status 1 if any file has a problem.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="threshold files (.json)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            doc = validate_threshold_file(path)
        except ThresholdFileError as exc:
            for where, msg in exc.problems:
                print(f"modkit validate: error: {path}: {where}: {msg}", file=sys.stderr)
            status = 1
            continue
        profiles = doc["profiles"]
        n = sum(len(p["categories"]) for p in profiles.values())
        print(
            f"{path}: ok (schema version {doc['schema_version']}; profiles "
            f"{', '.join(profiles)}; {n} category thresholds)",
            file=sys.stderr,
        )
    return status
