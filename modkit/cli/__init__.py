"""The ``modkit`` command line: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .._errors import ModkitError

__all__ = ["main"]

_COMMANDS = (
    "_moderate",
    "_serve",
    "_datasets",
    "_expand",
    "_train",
    "_fit",
    "_validate",
    "_apply",
    "_export",
    "_notebook",
    "_lab",
    "_demo",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    import importlib

    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="modkit", description="Threshold exploration kit for moderation endpoints."
    )
    parser.add_argument("--version", action="version", version=f"modkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log retries and timings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # a sub-command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 fine, 1 error, 2 usage, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="modkit: %(message)s",
    )
    try:
        from ..datasets import pin_data_dir

        pin_data_dir()  # a relative MODKIT_DATA_DIR means: relative to where it was set
        return int(args.func(args) or 0)
    except ModkitError as exc:
        print(f"modkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"modkit {args.command}: interrupted (results so far are in the cache)",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
