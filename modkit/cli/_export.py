"""``modkit export FILE --format FORMAT [-o OUT]``: every format registered with
:func:`modkit.thresholds.register_export_format`, with its own options as flags."""

from __future__ import annotations

import argparse
import sys

from .._errors import InputError
from ..thresholds._export import export_format, export_formats, export_thresholds
from ..thresholds._set import load_threshold_file
from ._common import write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    formats = export_formats()  # every registered format, added ones too
    summaries = [f.summary for f in formats]
    listed = (
        ", ".join(summaries[:-1]) + " or " + summaries[-1] if len(formats) > 1 else summaries[0]
    )
    p = sub.add_parser(
        "export",
        help=f"write a threshold file as {listed}",
        description="Write the thresholds of FILE in a form a consuming service reads. Each "
        "form applies the file's rule (flag when score >= threshold) and states its "
        "'unthresholded' policy for categories without a threshold (by default the backend's "
        "own flag decides them; no flag: review).",
    )
    p.add_argument("file", help="threshold file (.json)")
    names = [f.name for f in formats]
    p.add_argument(
        "--format",
        "-f",
        required=True,
        choices=names,
        dest="fmt",
        help="what to write: " + ", ".join(f"{f.name} ({f.summary})" for f in formats),
    )
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument(
        "--profile",
        help="one profile: input, output or a named one of the file (default: every profile)",
    )
    added: set[str] = set()
    for fmt in formats:  # one flag per format option, from its registry entry
        for option, default in fmt.options.items():
            if option in added:
                continue
            added.add(option)
            choices = fmt.option_choices.get(option)
            p.add_argument(
                "--" + option.replace("_", "-"),
                default=default,
                choices=choices,
                metavar=None if choices else _metavar(option),
                help=fmt.option_help.get(option, f"{fmt.name}: {option}"),
            )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tf = load_threshold_file(args.file)
    if args.profile is not None and args.profile not in tf.profiles:
        raise InputError(
            f"{args.file}: no profile {args.profile!r} (profiles: {', '.join(tf.profiles)})"
        )
    spec = export_format(args.fmt)
    options = {option: getattr(args, option) for option in spec.options}
    text = export_thresholds(tf, args.fmt, profile=args.profile, **options)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    out = write_text_file(args.output, text)
    print(f"modkit export: {args.fmt} -> {out}", file=sys.stderr)
    return 0


def _metavar(option: str) -> str:
    """``litellm_api_key_env`` -> ``NAME`` (a variable's name), else the last word."""
    last = option.rsplit("_", 1)[-1]
    return "NAME" if last == "env" else last.upper()
