"""Options and helpers shared by the sub-commands (backends, cache, label alignment)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .._cache import Cache
from .._errors import InputError
from .._labels import align_rows
from ..backends import Backend, BackendSpec, backend_spec, backend_specs, make_backend

__all__ = [
    "Progress",
    "add_backend_options",
    "add_cache_options",
    "add_quiet_option",
    "align_labels",
    "backend_from_args",
    "cache_from_args",
    "check_seed",
    "check_suffix",
    "row_name",
    "write_output",
    "write_text_file",
]


def add_backend_options(
    parser: argparse.ArgumentParser, *, key_flag: str = "--api-key-env"
) -> None:
    """Add ``--backend --base-url --model --api-key-env --replay``.

    ``key_flag`` renames the option naming the upstream key's variable (``modkit serve``
    uses ``--api-key-env`` for its own bearer token and ``--upstream-api-key-env`` here).
    """
    group = parser.add_argument_group("backend")
    specs = backend_specs()  # every registered backend, added ones too
    group.add_argument(
        "--backend",
        choices=[s.name for s in specs],
        default="local",
        help="which scorer (default: local, needs no network or key): "
        + "; ".join(f"{s.name}: {s.summary}" if s.summary else s.name for s in specs),
    )
    group.add_argument(
        "--base-url",
        help=f"the endpoint ({_by_backend(specs, 'base_url')})",
    )
    group.add_argument(
        "--model",
        help=f"model to ask for ({_by_backend(specs, 'model')})",
    )
    keys = ", ".join(s.key_env for s in specs if s.key_env)
    group.add_argument(
        key_flag,
        dest="upstream_key_env",
        default=None,
        metavar="NAME",
        help=f"environment variable holding the API key (default: the backend's, e.g. {keys})",
    )
    group.add_argument("--replay", metavar="PATH", help="recorded results (backend replay)")
    group.add_argument(
        "--backend-option",
        "-O",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another option of the backend (VALUE is read as JSON when it parses, else as "
        "text), e.g. -O output_type=FourSeverityLevels -O 'attributes=[\"TOXICITY\"]' "
        "-O policy=policies/hate.md -O reading=loose",
    )


def _by_backend(specs: Sequence[BackendSpec], option: str) -> str:
    """``"openai: any ...; guard, policy: a chat endpoint"``: the backends' own words for
    a shared flag, backends with the same words named together."""
    grouped: dict[str, list[str]] = {}
    for spec in specs:
        if option in spec.cli_help:
            grouped.setdefault(spec.cli_help[option], []).append(spec.name)
    return "; ".join(f"{', '.join(names)}: {text}" for text, names in grouped.items())


def backend_from_args(args: argparse.Namespace, *, api_key_env: str | None = None) -> Backend:
    """Build the backend the options name."""
    options = {"model": args.model, "base_url": args.base_url, "path": args.replay}
    if "api_key_env" in backend_spec(args.backend).options:
        options["api_key_env"] = api_key_env or args.upstream_key_env
    for item in getattr(args, "backend_option", None) or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--backend-option {item!r}: expected KEY=VALUE")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        options[key.strip()] = value
    return make_backend(args.backend, **options)


def add_cache_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache PATH`` and ``--no-cache``."""
    group = parser.add_argument_group("cache")
    group.add_argument(
        "--cache", metavar="PATH", help="sqlite cache file (default: the user cache directory)"
    )
    group.add_argument("--no-cache", action="store_true", help="do not read or write a cache")


def cache_from_args(args: argparse.Namespace) -> Cache | None:
    """Open the cache the options name (``None`` with ``--no-cache``)."""
    if args.no_cache:
        return None
    return Cache(args.cache) if args.cache else Cache()


def check_suffix(path: str, suffix: str) -> None:
    """Refuse, before any work, an output whose extension is not ``suffix`` (``.json``),
    in the words ``modkit moderate`` uses for its tables."""
    got = Path(path).suffix.lower()
    if got != suffix:
        raise InputError(f"{path}: unsupported output format {got or '(none)'!r}; use {suffix}")


def check_seed(seed: int | None) -> None:
    """Refuse a negative ``--seed`` up front, in the words ``modkit expand`` uses."""
    if seed is not None and seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def existing_dir(value: str) -> str:
    """An argparse ``type`` for a folder read from: refuse one that does not exist.

    A mistyped ``--data-dir`` would otherwise be skipped without a word and the data sets
    read (or downloaded) from the next folder of the search path.
    """
    if not Path(value).expanduser().is_dir():
        raise argparse.ArgumentTypeError(f"no such folder: {value}")
    return value


def row_name(path: str) -> Any:
    """How rows of a table file are named in errors (CSV rows also by line)."""
    csv = Path(path).suffix.lower() == ".csv"
    return lambda i: f"row {i + 1} (line {i + 2})" if csv else f"row {i + 1}"


def align_labels(
    scores: pd.DataFrame, labels: pd.DataFrame, on: str | None, scores_path: str, labels_path: str
) -> pd.DataFrame:
    """Labels re-indexed onto the scores' rows: by ``on``, by ``id``, else by position
    (:func:`modkit.align_rows`, with rows named by file line)."""
    key = on or ("id" if "id" in scores.columns and "id" in labels.columns else None)
    return align_rows(
        scores,
        labels,
        key,
        scores_source=scores_path,
        labels_source=labels_path,
        row_name=row_name(labels_path),
        scores_row_name=row_name(scores_path),
        by_position=True,
    )


def write_text_file(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically: a temporary name beside it, then a rename.

    Raises
    ------
    InputError
        The file or its folder cannot be written (the message names the path).
    """
    import os

    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from None
    return out


def add_quiet_option(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet``: no progress lines or bars (they go to stderr, only a terminal)."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress lines or bars (default: shown when stderr is a terminal)",
    )


class Progress:
    """One line per step on stderr (``modkit fit: reading labels.csv``), then the time.

    Shown only when stderr is a terminal and ``--quiet`` is not given, so pipes, logs
    and CI output stay as they were; :attr:`enabled` is what long inner loops pass
    on as their own ``progress=`` (a ``tqdm`` bar).
    """

    def __init__(self, command: str, args: argparse.Namespace) -> None:
        self.command = command
        self.enabled = not getattr(args, "quiet", False) and sys.stderr.isatty()
        self.start = time.monotonic()

    def step(self, what: str) -> None:
        """Say what starts now."""
        if self.enabled:
            print(f"modkit {self.command}: {what}", file=sys.stderr, flush=True)

    def done(self) -> None:
        """Say how long the whole command took."""
        if self.enabled:
            took = time.monotonic() - self.start
            print(f"modkit {self.command}: done in {took:.1f} s", file=sys.stderr, flush=True)


#: How an output is named in messages when it goes to standard output.
STDOUT = "standard output"


def write_output(frame: pd.DataFrame, output: str | None) -> str:
    """Write a table to ``output``, or as CSV to standard output when it is ``None``.

    The CSV is the one :func:`modkit.write_table` writes (RFC 4180, exact texts and
    scores), so ``modkit expand t.yaml > prompts.csv`` equals ``-o prompts.csv``.
    Returns the name to use in messages.
    """
    import tempfile

    from .._io import write_table

    if output is not None:
        write_table(frame, output)
        return output
    with tempfile.TemporaryDirectory() as folder:
        path = write_table(frame, Path(folder) / "out.csv")
        sys.stdout.flush()
        sys.stdout.buffer.write(path.read_bytes())
        sys.stdout.flush()
    return STDOUT
