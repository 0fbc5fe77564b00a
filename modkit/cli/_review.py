"""``modkit review export|import|status``: an audit sample out to reviewers, verdicts back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .._errors import InputError
from .._io import check_output, read_table, write_table
from ..review import (
    EXPORT_FORMATS,
    LABEL_PREFIX,
    RESOLUTIONS,
    ReviewStore,
    export_sample,
    label_studio_config,
    sample_categories,
)
from ._common import write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "review",
        help="send an audit sample to reviewers (Label Studio, Argilla, CSV) and read "
        "their verdicts back",
        description="Review an audit sample ('modkit audit draw'): export it for the review "
        "tool your team runs, import the verdicts back into a review store (SQLite) or "
        "straight into a labelled sample (label_<category> columns) for 'modkit audit "
        "estimate' and 'modkit fit'.",
    )
    cmds = p.add_subparsers(dest="review_command", metavar="ACTION", required=True)

    e = cmds.add_parser(
        "export",
        help="write the sample as Label Studio tasks, Argilla records or a CSV to fill",
        description="Write SAMPLE (.csv/.jsonl/.parquet from 'modkit audit draw') for a review "
        "tool. label-studio: a JSON task list (and NAME.label-config.xml beside it, the "
        "labeling config to paste into the project); argilla: Argilla v2 records JSON; csv: "
        "the sample with reviewer and label_<category> columns to fill with 1, 0 or unsure. "
        "modkit's decisions go along as predictions / suggestions, and verdicts already "
        "given (label_<category> columns, or --store) as annotations / responses.",
    )
    e.add_argument("sample", help="the audit sample")
    e.add_argument(
        "--format",
        "-f",
        required=True,
        choices=EXPORT_FORMATS,
        dest="fmt",
        help="what to write: " + ", ".join(EXPORT_FORMATS),
    )
    e.add_argument("-o", "--output", required=True, help="file to write (.json, or .csv)")
    e.add_argument("--store", help="also export the verdicts in this review store")
    e.add_argument(
        "--reviewer",
        default="modkit",
        help="who the sample's own label_ columns are attributed to (default: modkit)",
    )
    e.set_defaults(func=run_export)

    i = cmds.add_parser(
        "import",
        help="read verdicts (Label Studio export, Argilla records, CSV) into a store or a "
        "labelled sample",
        description="Read the verdicts in FILE (Label Studio's JSON export, Argilla v2 records "
        "JSON, or the CSV of 'modkit review export --format csv' filled in), check every row "
        "against the sample (unknown ids or categories, duplicate or conflicting verdicts "
        "are an error naming the file, row and field) and store them in one transaction: on "
        "an error nothing is stored. With -o, write the labelled sample.",
    )
    i.add_argument("file", help="verdicts file (.json or .csv)")
    i.add_argument("--store", help="review store (.sqlite) to add the verdicts to")
    i.add_argument("--sample", help="the audit sample (needed without --store, or for a new store)")
    i.add_argument("-o", "--output", help="labelled sample to write (.csv/.jsonl/.parquet)")
    i.add_argument("--reviewer", help="reviewer of CSV rows whose reviewer cell is empty")
    i.add_argument(
        "--fit-labels",
        metavar="PATH",
        help="also write the labels table 'modkit fit' reads: id and one 0/1/blank column "
        "per category",
    )
    i.add_argument(
        "--resolution",
        choices=RESOLUTIONS,
        default="unanimous",
        help="how several reviewers' verdicts become one label (default: unanimous; "
        "disagreements are NaN and listed)",
    )
    i.set_defaults(func=run_import)

    s = cmds.add_parser(
        "status",
        help="progress per reviewer, agreement on the overlap, conflicts",
        description="Show a review store's progress per reviewer, the reviewers' agreement "
        "per category (Cohen's kappa, Krippendorff's alpha) and the conflicting verdicts; "
        "with -o, write the labelled sample.",
    )
    s.add_argument("store", help="review store (.sqlite)")
    s.add_argument("-o", "--output", help="labelled sample to write (.csv/.jsonl/.parquet)")
    s.add_argument(
        "--resolution",
        choices=RESOLUTIONS,
        default="unanimous",
        help="how several reviewers' verdicts become one label",
    )
    s.add_argument(
        "--fit-labels",
        metavar="PATH",
        help="also write the labels table 'modkit fit' reads: id and one 0/1/blank column "
        "per category",
    )
    s.set_defaults(func=run_status)


def read_sample(path: str) -> pd.DataFrame:
    """An audit sample file, its ``id`` column read as text (never as numbers)."""
    frame = read_table(path)
    if "id" not in frame.columns:
        raise InputError(f"{path}: no 'id' column (write the sample with 'modkit audit draw')")
    if Path(path).suffix.lower() == ".csv":
        ids = pd.read_csv(path, usecols=["id"], dtype={"id": str}, keep_default_na=False)["id"]
        frame["id"] = ids.to_numpy()
    else:
        frame["id"] = frame["id"].astype(str)
    return frame


def _existing_store(path: str) -> ReviewStore:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such review store")
    store = ReviewStore(path)
    if not store.categories:
        store.close()
        raise InputError(f"{path}: the review store holds no sample")
    return store


def run_export(args: argparse.Namespace) -> int:
    suffix = ".csv" if args.fmt == "csv" else ".json"
    if Path(args.output).suffix.lower() != suffix:
        raise InputError(f"{args.output}: the {args.fmt} format is written as {suffix}")
    sample = read_sample(args.sample)
    verdicts = None
    if args.store:
        with _existing_store(args.store) as store:
            verdicts = store.verdicts()
            known = set(store.ids())
        unknown = sorted(set(sample["id"]) - known)
        if unknown:
            raise InputError(
                f"{args.sample}: id {unknown[0]!r} is not in the review store {args.store}"
            )
    text = export_sample(sample, args.fmt, verdicts=verdicts, reviewer=args.reviewer)
    out = write_text_file(args.output, text)
    print(f"modkit review export: {len(sample)} items ({args.fmt}) -> {out}", file=sys.stderr)
    if args.fmt == "label-studio":
        config = out.with_name(out.stem + ".label-config.xml")
        write_text_file(config, label_studio_config(sample_categories(sample)))
        print(f"modkit review export: labeling config -> {config}", file=sys.stderr)
    return 0


def _report(store: ReviewStore, resolution: str) -> pd.DataFrame:
    labelled = store.labelled(resolution=resolution)
    agreement = store.agreement()
    shared = agreement[agreement["n_items"] > 0]
    if len(shared):
        print("agreement on items two or more reviewers labelled:", file=sys.stderr)
        print(shared.round(3).to_string(index=False), file=sys.stderr)
    conflicts = store.conflicts()
    if len(conflicts):
        print(
            f"{len(conflicts)} conflicting verdict(s), label NaN under --resolution {resolution}:",
            file=sys.stderr,
        )
        print(conflicts.head(20).to_string(index=False), file=sys.stderr)
    return labelled


def _write_outputs(args: argparse.Namespace, labelled: pd.DataFrame, cats: list[str]) -> None:
    name = f"modkit review {args.review_command}"
    if args.output:
        out = write_table(labelled, args.output)
        print(f"{name}: labelled sample -> {out}", file=sys.stderr)
    if args.fit_labels:
        table = labelled[["id", *(LABEL_PREFIX + c for c in cats)]]
        out = write_table(
            table.rename(columns=lambda c: c.removeprefix(LABEL_PREFIX)), args.fit_labels
        )
        print(f"{name}: labels for 'modkit fit ... --on id' -> {out}", file=sys.stderr)


def _check_outputs(args: argparse.Namespace) -> None:
    for path in (args.output, args.fit_labels):
        if path:
            check_output(path)


def run_import(args: argparse.Namespace) -> int:
    if not args.store and not args.output and not args.fit_labels:
        raise InputError("give --store STORE.sqlite, -o LABELLED.csv, or both")
    _check_outputs(args)
    if not args.store and not args.sample:
        raise InputError("--sample is needed without --store (the ids to check against)")
    sample = read_sample(args.sample) if args.sample else None
    store = ReviewStore(args.store or ":memory:")
    try:
        if sample is not None:
            store.add_sample(sample)
        elif not store.categories:
            raise InputError(f"{args.store}: a new review store: give --sample SAMPLE")
        n = store.import_verdicts(args.file, reviewer=args.reviewer)
        where = args.store or "memory"
        print(f"modkit review import: {n} verdicts from {args.file} -> {where}", file=sys.stderr)
        labelled = _report(store, args.resolution)
        cats = list(store.categories)
    finally:
        store.close()
    _write_outputs(args, labelled, cats)
    return 0


def run_status(args: argparse.Namespace) -> int:
    _check_outputs(args)
    with _existing_store(args.store) as store:
        print(store.progress().to_string(index=False))
        labelled = _report(store, args.resolution)
        cats = list(store.categories)
    _write_outputs(args, labelled, cats)
    return 0
