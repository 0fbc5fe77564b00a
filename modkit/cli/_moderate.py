"""``modkit moderate INPUT -o OUTPUT``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Literal

import pandas as pd

from .._batch import BatchAPI
from .._conversation import is_conversation
from .._errors import InputError
from .._io import check_output, read_table
from .._labels import LABEL_PREFIX, labels_beside_texts
from .._runner import moderate
from ._common import (
    add_backend_options,
    add_cache_options,
    backend_from_args,
    cache_from_args,
    row_name,
    write_output,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "moderate",
        help="score texts with a moderation backend",
        description="Score every text of INPUT (.txt one per line, .csv/.jsonl/.parquet with "
        "a 'text' column) and write one row per input to OUTPUT (.csv/.jsonl/.parquet).",
    )
    p.add_argument("input", help="texts to score")
    p.add_argument(
        "-o",
        "--output",
        help="where to write the results (.csv/.jsonl/.parquet; default: CSV on standard output)",
    )
    p.add_argument("--text-column", default="text", help="column holding the texts")
    p.add_argument(
        "--labels-from",
        action="append",
        metavar="COLUMN[=CATEGORY],...",
        help="the input columns that hold labels (repeatable or comma-separated; "
        "COLUMN=CATEGORY names the category of a column named otherwise). Default: "
        "label_<category> columns and columns named by a bare category key. Label "
        "columns are written as label_<category> (1.0 / 0.0 / empty) for 'modkit fit'",
    )
    add_backend_options(p)
    add_cache_options(p)
    p.add_argument(
        "--batch-size",
        type=int,
        help="texts per request (default: 32; the local scorer 256)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--max-retries", type=int, default=8, help="retries of transient failures")
    p.add_argument(
        "--no-progress",
        "-q",
        "--quiet",
        dest="no_progress",
        action="store_true",
        help="hide the progress bar (default: shown when stderr is a terminal)",
    )
    p.add_argument(
        "--no-result-json",
        action="store_true",
        help="leave out the result_json column (scores and per-category flags are kept)",
    )
    p.add_argument(
        "--conversation",
        metavar="STRATEGY",
        help="how conversations (lists of role/content messages) are scored: native, "
        "per_message, last_turn or window:K (default: native for guard models, else "
        "per_message)",
    )
    group = p.add_argument_group("OpenAI Batch API (--backend openai)")
    group.add_argument(
        "--batch-api",
        action="store_true",
        help="score through the Batch API (24 h window, its own rate limits); an "
        "interrupted run resumes its batches when run again with the same cache",
    )
    group.add_argument(
        "--poll-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds between polls of open batches (default 30)",
    )
    group.add_argument(
        "--max-wait",
        type=float,
        metavar="SECONDS",
        help="stop polling after this long; unfinished rows say so and a rerun collects "
        "them (default: wait for every batch; 0: submit and exit)",
    )
    p.set_defaults(func=run)


def _labels_from(items: list[str] | None) -> dict[str, str] | None:
    """``--labels-from a,b=violence`` as {column: category}."""
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            col, sep, cat = part.strip().partition("=")
            if not col or (sep and not cat):
                raise InputError(f"--labels-from {item!r}: expected COLUMN or COLUMN=CATEGORY")
            out[col] = cat if sep else col.removeprefix(LABEL_PREFIX)
    return out


def run(args: argparse.Namespace) -> int:
    via = _via(args)
    if args.output is not None:
        check_output(args.output)  # before any work: never score what cannot be written
    frame = _read_input(args)
    backend = backend_from_args(args)
    cache = cache_from_args(args)
    try:
        results = moderate(
            frame,
            backend=backend,
            cache=cache,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            max_retries=args.max_retries,
            progress=not args.no_progress and sys.stderr.isatty(),
            text_column=args.text_column,
            result_json=not args.no_result_json,
            via=via,
            conversation=args.conversation,
        )
    except Exception as exc:
        _write_partial(exc, args.output)
        raise
    finally:
        backend.close()  # made here, so closed here: moderate never closes a caller's
        if cache is not None:
            cache.close()
    where = write_output(results, args.output)
    failed = int(results["error"].astype(bool).sum())
    print(
        f"modkit moderate: {len(results)} rows -> {where}"
        + (f" ({failed} failed; see the 'error' column)" if failed else "")
        + _parse_rate(backend),
        file=sys.stderr,
    )
    return 0


def _via(args: argparse.Namespace) -> Literal["requests"] | BatchAPI:
    """How to send the requests: one by one, or (``--batch-api``) through the Batch API."""
    if not args.batch_api:
        return "requests"
    if args.backend != "openai":
        raise InputError(f"--batch-api needs --backend openai, not {args.backend}")
    if args.no_cache:
        raise InputError(
            "--batch-api needs a cache (results and open batch ids are kept there); drop --no-cache"
        )
    return BatchAPI(poll_interval=args.poll_interval, max_wait=args.max_wait)


def _read_input(args: argparse.Namespace) -> pd.DataFrame:
    """The input table, conversations decoded, labels beside the texts checked and renamed
    (a rename is said on stderr), before any scoring."""
    frame = read_table(args.input, text_column=args.text_column)
    if str(args.input).lower().endswith(".csv"):
        frame = _decode_conversations(frame, args.text_column)
    # labels beside the texts, checked before any scoring (errors name file, row, column)
    frame = labels_beside_texts(
        frame,
        args.text_column,
        _labels_from(args.labels_from),
        source=args.input,
        row_name=row_name(args.input),
    )
    renamed = frame.attrs.get("renamed") or {}
    if renamed:
        print(
            "modkit moderate: label columns "
            + ", ".join(f"{old!r} -> {new!r}" for old, new in renamed.items())
            + " (a bare category key names the score column)",
            file=sys.stderr,
        )
    return frame


def _write_partial(exc: Exception, output: Any) -> None:
    """Write what a failed run scored (the exception's ``partial`` frame), if any."""
    partial = getattr(exc, "partial", None)
    if partial is None:
        return
    scored = int((~partial["error"].astype(bool)).sum())
    where = write_output(partial, output)
    print(
        f"modkit moderate: partial results written to {where} "
        f"({scored} of {len(partial)} rows scored)",
        file=sys.stderr,
    )


def _decode_conversations(frame: Any, column: str) -> Any:
    """A CSV column of conversations written as JSON (as ``modkit expand`` writes them)
    becomes lists of messages again: only when every non-empty value is one."""
    if column not in frame.columns:
        return frame
    values = frame[column].tolist()
    decoded = []
    for value in values:
        if not isinstance(value, str) or not value.startswith("[{"):
            return frame
        try:
            parsed = json.loads(value)
        except ValueError:
            return frame
        if not is_conversation(parsed):
            return frame
        decoded.append(parsed)
    if not decoded:
        return frame
    out = frame.copy()
    out[column] = pd.Series(decoded, index=frame.index, dtype=object)
    return out


def _parse_rate(backend: object) -> str:
    """``; answers without a label: k of n (r%)`` for a backend that counts them."""
    counts = getattr(backend, "parse_counts", None)
    if not counts or not counts.get("answers"):
        return ""
    n, k = int(counts["answers"]), int(counts.get("failures", 0))
    return f"; model answers without a label (parse failures): {k} of {n} ({k / n:.1%})"
