"""``modkit export FILE --format env|yaml|litellm|rego|json-flat [-o OUT]``."""

from __future__ import annotations

import argparse
import sys

from .._errors import InputError
from ..thresholds._export import EXPORT_FORMATS, export_thresholds
from ..thresholds._set import load_threshold_file
from ._common import write_text_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="write a threshold file as env vars, YAML, a LiteLLM guardrail, Rego or flat JSON",
        description="Write the thresholds of FILE in a form a consuming service reads. Each "
        "form applies the file's rule (flag when score >= threshold) and states its "
        "'unthresholded' policy for categories without a threshold (by default the backend's "
        "own flag decides them; no flag: review).",
    )
    p.add_argument("file", help="threshold file (.json)")
    p.add_argument(
        "--format",
        "-f",
        required=True,
        choices=EXPORT_FORMATS,
        dest="fmt",
        help="what to write: " + ", ".join(EXPORT_FORMATS),
    )
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.add_argument(
        "--profile",
        help="one profile: input, output or a named one of the file (default: every profile)",
    )
    p.add_argument("--env-prefix", default="MODKIT_", help="env: variable prefix")
    p.add_argument("--rego-package", default="modkit.thresholds", help="rego: package name")
    p.add_argument(
        "--litellm-api-base",
        default="http://127.0.0.1:8000/v1",
        help="litellm: where 'modkit serve --thresholds FILE' answers",
    )
    p.add_argument(
        "--litellm-output-api-base",
        default="http://127.0.0.1:8001/v1",
        help="litellm: where the output profile is served, when both are exported",
    )
    p.add_argument(
        "--litellm-api-key-env",
        default="MODKIT_SERVE_API_KEY",
        metavar="NAME",
        help="litellm: variable holding the server's key (the key is never written)",
    )
    p.add_argument(
        "--litellm-review",
        choices=("pass", "block"),
        default="pass",
        help="litellm: what happens to an item whose action is review (LiteLLM has no review "
        "band): pass (default; record it with serve --decision-log) or block (serve with "
        "--flag-review)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tf = load_threshold_file(args.file)
    if args.profile is not None and args.profile not in tf.profiles:
        raise InputError(
            f"{args.file}: no profile {args.profile!r} (profiles: {', '.join(tf.profiles)})"
        )
    text = export_thresholds(
        tf,
        args.fmt,
        profile=args.profile,
        env_prefix=args.env_prefix,
        rego_package=args.rego_package,
        litellm_api_base=args.litellm_api_base,
        litellm_output_api_base=args.litellm_output_api_base,
        litellm_api_key_env=args.litellm_api_key_env,
        litellm_review=args.litellm_review,
    )
    if args.output is None:
        sys.stdout.write(text)
        return 0
    out = write_text_file(args.output, text)
    print(f"modkit export: {args.fmt} -> {out}", file=sys.stderr)
    return 0
