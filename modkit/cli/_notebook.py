"""``modkit notebook NOTEBOOK -o DIR -p name=value``: run a notebook headless."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

from .._errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "notebook",
        help="execute a notebook headless with parameters, export offline HTML",
        description="Execute NOTEBOOK top to bottom (parameters override the cell tagged "
        "'parameters') and write the executed notebook and an offline HTML report to -o DIR.",
    )
    p.add_argument("notebook", help="the .ipynb file")
    p.add_argument("-o", "--output-dir", default="reports", help="output folder (default reports)")
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter (VALUE is a Python literal, else a string; a relative "
        "path given to a parameter named *_file or *_dir is resolved against this folder)",
    )
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell (default 900)")
    p.set_defaults(func=run)


def parse_parameter(item: str) -> tuple[str, object]:
    """Parse ``NAME=VALUE``; VALUE is a Python literal if it parses as one, else a string."""
    name, sep, raw = item.partition("=")
    if not sep or not name.strip():
        raise InputError(f"parameter {item!r}: expected NAME=VALUE")
    try:
        value: object = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


def resolve_path_parameters(params: dict[str, object]) -> dict[str, object]:
    """Make relative paths absolute for parameters named ``*_file`` or ``*_dir``.

    The kernel runs in the notebook's folder; a path typed on the command line means a
    path relative to the folder the command runs in.
    """
    out = dict(params)
    for name, value in params.items():
        if name.endswith(("_file", "_dir")) and isinstance(value, str) and value:
            path = Path(value).expanduser()
            out[name] = str(path if path.is_absolute() else Path.cwd() / path)
    return out


def run(args: argparse.Namespace) -> int:
    from .._notebooks import run_notebook

    params = resolve_path_parameters(dict(parse_parameter(p) for p in args.parameter))
    paths = run_notebook(args.notebook, args.output_dir, parameters=params, timeout=args.timeout)
    for kind, path in paths.items():
        print(f"{kind}: {path}", file=sys.stdout)
    return 0
