"""``modkit validate FILE...``: check threshold files, one line per problem."""

from __future__ import annotations

import argparse
import sys
import warnings

from .._errors import InputError
from ..thresholds._schema import (
    SCHEMA_VERSION,
    UNTHRESHOLDED_DEFAULT,
    ThresholdFileError,
    validate_threshold_file,
)
from ..thresholds._set import ThresholdFile, ThresholdPolicyWarning


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate",
        help="check threshold files against the schema",
        description="Check threshold files against the shipped JSON Schema (version "
        f"{SCHEMA_VERSION}) and the rules it cannot express (review <= block). Prints one "
        "line per problem with its JSON path on stderr ('modkit validate: error: FILE: "
        "PATH: problem'); exit status 1 if any file has a problem. For a valid file, says "
        "per profile which categories have no threshold and what decides them (the "
        "file's 'unthresholded' policy).",
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
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ThresholdPolicyWarning)  # said below
                tf = ThresholdFile.from_dict(doc, source=path)
        except InputError as exc:  # a check beyond the schema (a provider's scale)
            print(f"modkit validate: error: {exc}", file=sys.stderr)
            status = 1
            continue
        # a category listed with block and review both null holds no threshold
        n = sum(
            sum(c not in ts.unthresholded_categories for c in ts.categories)
            for ts in tf.profiles.values()
        )
        print(
            f"{path}: ok (schema version {doc['schema_version']}; profiles "
            f"{', '.join(profiles)}; {n} {'category' if n == 1 else 'categories'} "
            "with a threshold)",
            file=sys.stderr,
        )
        if doc["schema_version"] < SCHEMA_VERSION:
            print(
                f"{path}: note: schema version {doc['schema_version']} states no policy for "
                "categories without a threshold (it never flagged them); modkit reads it "
                f"with unthresholded: {UNTHRESHOLDED_DEFAULT} (the backend's own flag "
                "decides them). Save it again to write version "
                f"{SCHEMA_VERSION}; 'never_flag' keeps the old meaning.",
                file=sys.stderr,
            )
        for ts in tf.profiles.values():
            print(f"{path}: {ts.describe_policy()}", file=sys.stderr)
    return status
