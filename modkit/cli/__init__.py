"""The ``modkit`` command line: one sub-command per module in this package.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and
sets ``func`` (taking the parsed arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn

from .._errors import ModkitError

__all__ = ["PLUGIN_GROUP", "load_plugins", "main", "one_line"]

#: In workflow order, as ``modkit --help`` lists them: try it, get data, write templates,
#: score, look, fit, ship the file, decide and gate with it.
_COMMANDS = (
    "_demo",
    "_lab",
    "_notebook",
    "_datasets",
    "_expand",
    "_moderate",
    "_analysis",
    "_report",
    "_audit",
    "_train",
    "_fit",
    "_validate",
    "_export",
    "_review",
    "_apply",
    "_check",
    "_serve",
    "_monitor",
)


class _HelpFormatter(argparse.HelpFormatter):
    """Help text with each option's default appended, unless the text already names it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        default = action.default
        if (
            text
            and action.option_strings
            and default not in (None, False, True, argparse.SUPPRESS, [], "")
            and "default" not in text.lower()
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (``modkit fit: error: ...``)
    on stderr with exit status 2; ``--help`` still shows the full usage. Sub-command
    parsers are made by the same class (``add_subparsers`` uses the parent's type)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        text = "; ".join(part.strip() for part in message.splitlines() if part.strip())
        self.exit(2, f"{self.prog}: error: {text}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    import importlib

    from .. import __version__

    parser = _Parser(
        prog="modkit",
        description="Threshold exploration kit for moderation endpoints. Commands are listed "
        "in workflow order: try it (demo, lab, notebook), get data (datasets), write "
        "templates (expand), score (moderate), look (crosstab, gap, bias, report), fit "
        "thresholds (train, fit, validate, export), use them (apply, check, serve).",
    )
    parser.add_argument("--version", action="version", version=f"modkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log retries and timings")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on a failure, print the traceback too (or set MODKIT_DEBUG=1)",
    )
    load_plugins()  # before the sub-commands read the registries
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


#: The entry-point group of modkit plugins: a distribution lists there a module whose
#: import registers backends, export formats, objectives or statistics.
PLUGIN_GROUP = "modkit.plugins"
_LOADED: set[str] = set()


def load_plugins() -> list[str]:
    """Import every module listed in the ``modkit.plugins`` entry-point group, once.

    A plugin is a module whose import calls the registries
    (:func:`modkit.backends.register_backend`,
    :func:`modkit.thresholds.register_export_format`, ...). An installed distribution
    declares it in its ``pyproject.toml``::

        [project.entry-points."modkit.plugins"]
        toy = "toy_modkit_plugin"

    so ``modkit moderate --backend toy`` finds it. A plugin that fails to import is
    named in one warning line on stderr and skipped (the CLI still runs).

    Returns
    -------
    list of str
        The names of the entry points loaded by this call.
    """
    from importlib.metadata import entry_points

    loaded = []
    for point in entry_points(group=PLUGIN_GROUP):
        if point.name in _LOADED:
            continue
        _LOADED.add(point.name)
        try:
            point.load()
        except Exception as exc:  # a broken plugin must not take the CLI down
            print(
                f"modkit: warning: plugin {point.name!r} ({point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        loaded.append(point.name)
    return loaded


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 fine, 1 error, 2 usage, 130 interrupted).

    Every failure, whatever its type, is one line on stderr (``modkit COMMAND: error:
    ...``) and exit status 1; ``--debug`` or ``MODKIT_DEBUG=1`` prints the traceback
    first. Outputs are written to a temporary name and renamed, so a failure leaves
    neither a half-written output nor the temporary file.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("MODKIT_DEBUG", "").strip().lower() in _TRUE
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if args.verbose else logging.WARNING,
        format="modkit: %(message)s",
    )
    try:
        from ..datasets import pin_data_dir

        pin_data_dir()  # a relative MODKIT_DATA_DIR means: relative to where it was set
        with warnings.catch_warnings():
            # Warnings are messages to the user: one 'modkit: ...' line each, through
            # the same logging setup as moderate's (no file, line or source shown).
            warnings.filterwarnings("default", category=UserWarning)
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(
            f"modkit {args.command}: interrupted (results so far are in the cache)",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"modkit {args.command}: error: {_as_options(one_line(exc), args)}", file=sys.stderr)
        return 1


_TRUE = {"1", "true", "yes", "on"}


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    logging.getLogger("modkit").warning("%s", message)


#: "fit_thresholds: min_positives must be ..." as the Python API words a bad argument.
_PARAM_ERROR = re.compile(r"^(?:[a-z][a-z0-9_]*: )?([a-z][a-z0-9_]*)(\[[^\]]*\])? must be ")


def _as_options(text: str, args: argparse.Namespace) -> str:
    """A Python-API message about a parameter, worded for the command line: the
    function's name dropped and the parameter named as its option (``--min-positives``)
    when the command has an option of that name."""
    m = _PARAM_ERROR.match(text)
    if m is None or m.group(1) not in vars(args):
        return text
    option = "--" + m.group(1).replace("_", "-")
    return f"{option}{m.group(2) or ''} must be {text[m.end() :]}"


def one_line(exc: BaseException) -> str:
    """An exception as one line: modkit's own errors by their message, any other
    exception prefixed by its type (``KeyError: 'x'``), newlines joined with ``; ``."""
    text = str(exc).strip()
    if not isinstance(exc, ModkitError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        text += " (an unexpected error: run with --debug for the traceback)"
    return "; ".join(part.strip() for part in text.splitlines() if part.strip())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
