"""Reading input tables and writing result tables by file extension.

What each format guarantees (also in the docs, how-to "Score texts", "Input and output files"):

* ``.txt`` (input only): UTF-8; one text per line, where a line is everything between
  two LF (``\\n``) characters. A CR right before the LF (a CRLF line end) belongs to the
  line end; a leading UTF-8 byte-order mark is dropped; a final LF does not start an
  empty last text. Every other character (a lone CR, U+2028/U+2029, U+0085, NUL, form
  feed, tabs, quotes) is part of the text, and an empty line is an empty text.
  So a text containing LF, or ending in CR, cannot be written as one ``.txt`` line.
* ``.csv``: RFC 4180 (comma, double quotes, CRLF record ends); every text, whatever it
  holds, is read back exactly; scores are written as the shortest decimal that reads
  back as the same float (bit-exact); a row with more or fewer fields than the header,
  or a stray quote, is an error naming its line.
* ``.jsonl``: one JSON object per line; texts (even lone surrogates, as ``\\udxxx``
  escapes) and scores read back exactly; missing scores are ``null``. The
  ``result_json`` column is written as a nested JSON object (decoded once, like the
  rest of the line); reading accepts it nested or as a string (as older files hold it),
  and gives the compact JSON string either way.
* ``.parquet``: typed columns; texts and scores read back exactly.

CSV and Parquet hold UTF-8, which has no encoding for a lone surrogate: such a text is
written with U+FFFD in its place (a warning says how many), and JSONL keeps it exactly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._taxonomy import CATEGORIES
from ._text import json_text, replace_surrogates, utf8_problem
from ._validation import validate_params

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "atomic_path",
    "find_file",
    "iter_jsonl",
    "read_table",
    "write_table",
]

logger = logging.getLogger("modkit")

INPUT_FORMATS = (".txt", ".csv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")

#: Columns of a results table that hold text even when every value looks like a number.
_TEXT_COLUMNS = ("error", "result_json", "model", "moderation_id")
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE
)
_INTEGER = re.compile(r"[+-]?\d{1,18}")


#: What marks a project's root folder (a source checkout or a user's project).
_ROOT_MARKERS = ("pyproject.toml", ".git")


@validate_params({"path": ["path"], "what": [str], "start": [None, "path"]})
def find_file(
    path: str | os.PathLike[str],
    *,
    what: str = "file",
    start: str | os.PathLike[str] | None = None,
) -> Path:
    """Find a file named relative to a notebook's folder or to the project's root.

    A notebook's kernel runs in the notebook's folder, so ``"data/x.yaml"`` written as
    from the project root is not found there, and ``"../data/x.yaml"`` is not found
    from the root. This tries, in order: the path as given if absolute; else ``start``
    / path, then each project root above ``start`` (a folder holding
    ``pyproject.toml`` or ``.git``, nearest first) / path.

    Parameters
    ----------
    path : str or PathLike
        The file, absolute or relative (``~`` is expanded).
    what : str, default "file"
        Names the file in the error (``"template file"``, ``"labels file"``...).
    start : str or PathLike, optional
        The folder relative paths are read from first (default: the current folder,
        which is the notebook's own folder in Jupyter).

    Returns
    -------
    Path
        The absolute path of the first place holding a file.

    Raises
    ------
    InputError
        When no place holds it: the message names every place tried, in order (or
        that the path is a folder).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "pyproject.toml").write_text("", encoding="utf-8")
    >>> (root / "notebooks").mkdir()
    >>> _ = (root / "prompts.yaml").write_text("x", encoding="utf-8")
    >>> modkit.find_file("prompts.yaml", start=root / "notebooks") == root / "prompts.yaml"
    True
    >>> modkit.find_file("missing.yaml", what="template file", start=root / "notebooks")
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: template file 'missing.yaml' not found; looked in: ...
    """
    given = Path(path).expanduser()
    here = Path(start if start is not None else Path.cwd()).expanduser().absolute()
    if given.is_absolute():
        places = [given]
    else:
        places = [here / given]
        for folder in [here, *here.parents]:
            if any((folder / m).exists() for m in _ROOT_MARKERS):
                places.append(folder / given)
    seen: list[Path] = []
    for place in map(Path, map(os.path.normpath, places)):
        if place in seen:
            continue
        seen.append(place)
        if place.is_file():
            return place
        if place.is_dir():
            raise InputError(f"{what} {str(path)!r}: {place} is a folder, not a file")
    tried = "; ".join(str(p) for p in seen)
    hint = "" if given.is_absolute() else " (a relative path is read from these folders)"
    raise InputError(f"{what} {str(path)!r} not found; looked in: {tried}{hint}")


def _suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"{path}: unsupported {what} format {suffix or '(none)'!r}; "
            f"use one of {', '.join(allowed)}"
        )
    return suffix


@validate_params({"path": ["path"], "text_column": [str]})
def read_table(path: str | os.PathLike[str], *, text_column: str = "text") -> pd.DataFrame:
    """Read a table of inputs: .txt (one text per line), .csv, .jsonl or .parquet.

    Parameters
    ----------
    path : str or PathLike
        The file; its extension picks the format (see the module notes or the docs for
        exactly what each format holds).
    text_column : str, default "text"
        A CSV column that always stays text (never read as numbers). A ``.txt`` file
        gives one column of this name.

    Returns
    -------
    pandas.DataFrame
        One row per text (``.txt``) or record. CSV cells are typed per column: a column
        whose every filled cell is a number is numeric (empty cells NaN), ``True`` /
        ``False`` is boolean, anything else stays text (empty cells ``""``).

    Raises
    ------
    InputError
        The file is missing, not UTF-8, or malformed; the message names the file, line
        and column.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "texts.txt"
    >>> _ = path.write_text("first text\\nsecond text\\n", encoding="utf-8")
    >>> modkit.read_table(path)["text"].tolist()
    ['first text', 'second text']
    >>> modkit.read_table(path.with_suffix(".xlsx"))
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: ...texts.xlsx: unsupported input format '.xlsx'; use one of ...
    """
    path = Path(path)
    suffix = _suffix(path, INPUT_FORMATS, "input")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a bad file
            raise InputError(f"{path}: cannot read parquet: {exc}") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    text = _decode_utf8(path, data)
    if suffix == ".txt":
        return pd.DataFrame({text_column: _column(_txt_lines(text))})
    if suffix == ".jsonl":
        return _read_jsonl(path, text)
    return _read_csv(path, text, text_column)


def _decode_utf8(path: Path, data: bytes) -> str:
    """Decode a whole file, naming the line and byte column of the first bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{path}:{line}:{col}: not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None


def _txt_lines(text: str) -> list[str]:
    """Split ``.txt`` content into texts: on LF only, dropping the CR of a CRLF."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file ends with a line end
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _column(values: list[Any]) -> pd.Series:
    """A column of Python values; texts that pyarrow cannot hold stay Python objects."""
    try:
        return pd.Series(values)
    except UnicodeEncodeError:  # a lone surrogate: not storable as an arrow string
        return pd.Series(values, dtype=object)


def _read_csv(path: Path, text: str, text_column: str) -> pd.DataFrame:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InputError(f"{path}: empty file; expected a header line of column names")
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise InputError(f"{path}:1: column names repeated in the header: {dupes}")
        rows: list[list[str]] = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise InputError(
                    f"{path}:{reader.line_num}: {len(row)} fields where the header has "
                    f"{len(header)} (a text with an unquoted comma or quote? put the field "
                    'in double quotes and double any " inside it)'
                )
            rows.append(row)
    except csv.Error as exc:
        raise InputError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    cells = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    keep = {text_column, *_TEXT_COLUMNS}
    typed = {
        name: _typed(name, list(col), name in keep) for name, col in zip(header, cells, strict=True)
    }
    return pd.DataFrame(typed, columns=header)


def _typed(name: str, cells: list[str], keep_text: bool) -> Any:
    """Type one CSV column: bool, int, float (empty = NaN) or text."""
    if keep_text:
        return _column(cells)
    filled = [c for c in cells if c != ""]
    if not filled:
        return np.full(len(cells), np.nan) if name in CATEGORIES else _column(cells)
    if {c.lower() for c in filled} <= {"true", "false"}:
        flags = [None if c == "" else c.lower() == "true" for c in cells]
        if len(filled) == len(cells) and name != "flagged":
            return np.array(flags, dtype=bool)
        return pd.array(flags, dtype="boolean")
    if all(_NUMBER.fullmatch(c) for c in filled):
        if len(filled) == len(cells) and all(_INTEGER.fullmatch(c) for c in cells):
            return np.array([int(c) for c in cells], dtype=np.int64)
        # float() is correctly rounded: the shortest repr written reads back bit-exactly
        return np.array([float(c) if c else math.nan for c in cells], dtype=float)
    return _column(cells)


def iter_jsonl(
    lines: Iterable[str],
    source: str | os.PathLike[str],
    *,
    error: type[Exception] = InputError,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The one JSON-lines reader: one JSON object per line, blank lines skipped.

    Used by :func:`read_table`, the replay backend and the data set loaders, so a bad
    line reads the same everywhere: ``<source>:<line>:<column>: invalid JSON (<why>)``.

    Parameters
    ----------
    lines : iterable of str
        The file's lines (an open text file, or ``text.split("\n")``).
    source : str or PathLike
        Names the file in errors.
    error : exception type, default InputError
        What to raise (the data set loaders raise :class:`~modkit.DatasetError`).

    Yields
    ------
    (int, dict)
        The 1-based line number and the object on it.

    Raises
    ------
    InputError (or ``error``)
        A line that is not valid JSON (with its column), nested too deeply, or not an
        object.
    """
    for lineno, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")  # so a column number counts within the line
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{source}:{lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
        except RecursionError:
            raise error(f"{source}:{lineno}: JSON nested too deeply") from None
        if not isinstance(rec, dict):
            raise error(f"{source}:{lineno}: expected a JSON object per line")
        yield lineno, rec


#: Columns holding one JSON object per row: nested in ``.jsonl``, a compact JSON string
#: in a frame (and in ``.csv`` / ``.parquet``).
_JSON_COLUMNS = ("result_json",)


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    rows = []
    for lineno, rec in iter_jsonl(text.split("\n"), path):
        for name in _JSON_COLUMNS:
            value = rec.get(name)
            if value is not None and not isinstance(value, str):
                if not isinstance(value, dict):
                    raise InputError(
                        f"{path}:{lineno}: field {name!r} must be a JSON object (or a string "
                        f"holding one), not {type(value).__name__}"
                    )
                rec[name] = json.dumps(value, separators=(",", ":"))
        rows.append(rec)
    names: dict[str, None] = {}
    for rec in rows:
        names.update(dict.fromkeys(rec))
    return pd.DataFrame(
        {n: _json_column([rec.get(n) for rec in rows]) for n in names}, columns=list(names)
    )


def _json_column(values: list[Any]) -> Any:
    """A JSONL column: true/false/null is boolean (null = NA), else as pandas infers."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present) and len(present) < len(values):
        return pd.array(values, dtype="boolean")
    return _column(values)


@validate_params({"frame": [pd.DataFrame], "path": ["path"]})
def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as .csv, .jsonl or .parquet (by extension); returns the path.

    The file is written to a temporary name beside it first and renamed, so a failure
    never leaves a half-written output (nor the temporary file) behind.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or PathLike
        Where to write; its folder is created if missing.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The extension is not an output format, or the path is a directory (or a link
        to one) or cannot be written; the message names the path.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import pandas as pd
    >>> import modkit
    >>> scores = pd.DataFrame({"text": ['a, "quoted" text', 'b'], "violence": [0.25, 0.5]})
    >>> path = modkit.write_table(scores, Path(tempfile.mkdtemp()) / "scores.csv")
    >>> modkit.read_table(path).equals(scores)
    True
    """
    path = check_output(path)
    suffix = path.suffix.lower()
    writer = {".csv": _write_csv, ".jsonl": _write_jsonl, ".parquet": _write_parquet}[suffix]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            try:
                writer(frame, tmp)
            except UnicodeEncodeError:  # only CSV and Parquet: JSON escapes surrogates
                clean, n = _without_surrogates(frame)
                logger.warning(
                    "%s: %d row(s) hold a lone surrogate, which UTF-8 cannot encode: "
                    "written as U+FFFD (use .jsonl to keep such texts exactly)",
                    path,
                    n,
                )
                writer(clean, tmp)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` on success.

    On any failure (an exception, Ctrl-C) the temporary file is removed and ``path`` is
    left as it was, so no half-written output and no temporary file stay behind.

    Parameters
    ----------
    path : str or PathLike
        The final file; its folder must exist.

    Yields
    ------
    Path
        ``.<name>.<pid>.tmp`` in the same folder (same file system, so the rename is
        atomic).
    """
    final = Path(path)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def check_output(path: str | os.PathLike[str]) -> Path:
    """Check, before any work, that a table can be written at ``path``.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    Path

    Raises
    ------
    InputError
        The path is a directory or a link to one, its extension is not an output
        format, a parent is not a folder, or its folder is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"{path}: is a directory{' (a link to one)' if path.is_symlink() else ''}; "
            f"give a file name ending in {', '.join(OUTPUT_FORMATS)}"
        )
    _suffix(path, OUTPUT_FORMATS, "output")
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{path}: cannot write: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write: no permission to create files in {folder}")
    return path


def _without_surrogates(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    out = frame.copy()
    bad = np.zeros(len(frame), dtype=bool)
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        hit = np.array(
            [isinstance(v, str) and utf8_problem(v) is not None for v in frame[col]], bool
        )
        if hit.any():
            pairs = zip(frame[col], hit, strict=True)
            out[col] = [replace_surrogates(v) if h else v for v, h in pairs]
            bad |= hit
    return out, int(bad.sum())


def _cells(series: pd.Series, convert: Callable[[Any], Any]) -> list[Any]:
    """A column as plain Python values; missing values (NaN, None, NA) become None."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"
    if kind == "f":
        return [None if math.isnan(v) else float(v) for v in series.to_numpy()]
    if kind in "iu":
        return [int(v) for v in series.to_numpy()]
    if kind == "b":
        return [bool(v) for v in series.to_numpy()]
    out: list[str | bool | int | float | None] = []
    for v in series.tolist():
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(None)
        elif isinstance(v, str | bool | int | float):
            out.append(v)
        else:
            out.append(convert(v))
    return out


def _plain(v: Any) -> Any:
    """A JSON-able form of one cell (numpy scalars, lists, timestamps...)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, list | tuple | dict):
        return v
    return str(v)


def _csv_cell(v: Any) -> Any:
    plain = _plain(v)
    return json.dumps(plain, ensure_ascii=False) if isinstance(plain, list | dict) else plain


def _write_csv(frame: pd.DataFrame, tmp: Path) -> None:
    columns = [_cells(frame[c], _csv_cell) for c in frame.columns]
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        # QUOTE_MINIMAL with a CRLF terminator quotes every field holding CR, LF, a
        # comma or a quote; floats are written by repr (shortest round-trip decimal).
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow([str(c) for c in frame.columns])
        writer.writerows(zip(*columns, strict=True))


def _nested(value: Any) -> Any:
    """A ``result_json`` cell as the object it holds (a string that is not one stays)."""
    if not isinstance(value, str):
        return value
    try:
        obj = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return value
    return obj if isinstance(obj, dict) else value


def _write_jsonl(frame: pd.DataFrame, tmp: Path) -> None:
    names = [str(c) for c in frame.columns]
    columns = [_cells(frame[c], _plain) for c in frame.columns]
    for i, name in enumerate(names):
        if name in _JSON_COLUMNS:
            columns[i] = [_nested(v) for v in columns[i]]
    with tmp.open("wb") as fh:
        for values in zip(*columns, strict=True):
            record = dict(zip(names, values, strict=True))
            # a lone surrogate: the line is ASCII, with a \udxxx escape; NaN is None
            # already, and +-inf stay ``Infinity`` (the bit-exact round trip of a table)
            line = json_text(record, separators=(",", ":"), allow_nan=True)
            fh.write(line.encode("utf-8") + b"\n")


def _write_parquet(frame: pd.DataFrame, tmp: Path) -> None:
    import pyarrow as pa

    try:
        frame.to_parquet(tmp, index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        if isinstance(exc, UnicodeEncodeError):
            raise
        raise InputError(
            f"cannot write parquet: {exc} (a column mixing types? write .jsonl instead)"
        ) from None
