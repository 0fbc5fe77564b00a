"""Reading input tables and writing result tables by file extension."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ._errors import InputError

__all__ = ["INPUT_FORMATS", "OUTPUT_FORMATS", "read_table", "write_table"]

INPUT_FORMATS = (".txt", ".csv", ".jsonl", ".parquet")
OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")


def _suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise InputError(
            f"{path}: unsupported {what} format {suffix or '(none)'!r}; "
            f"use one of {', '.join(allowed)}"
        )
    return suffix


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table of inputs: .txt (one text per line), .csv, .jsonl or .parquet.

    Raises
    ------
    InputError
        The file is missing or malformed; the message names the file and line.
    """
    path = Path(path)
    suffix = _suffix(path, INPUT_FORMATS, "input")
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if suffix == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        return pd.DataFrame({"text": pd.Series(lines, dtype=object)})
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, keep_default_na=False, na_values=[])
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: cannot parse CSV: {exc}") from None
        return _restore_results_types(frame)
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise InputError(f"{path}: cannot read parquet: {exc}") from None


def _restore_results_types(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a results table read from CSV its types back.

    Texts are read exactly (an empty cell or ``NA`` stays a string), but in a table that
    ``modkit moderate`` wrote (it has ``result_json``), the empty score cells of failed
    rows mean "no score": category columns become floats and ``flagged`` a boolean.
    """
    if "result_json" not in frame.columns:
        return frame
    from ._taxonomy import CATEGORIES

    for col in frame.columns:
        if col in CATEGORIES and not pd.api.types.is_numeric_dtype(frame[col].dtype):
            blank = frame[col].astype(str).str.strip() == ""
            frame[col] = pd.to_numeric(frame[col].where(~blank, None), errors="coerce")
    if "flagged" in frame.columns and not pd.api.types.is_bool_dtype(frame["flagged"].dtype):
        flags = frame["flagged"].astype(str).str.strip().str.lower()
        frame["flagged"] = pd.array(
            flags.map({"true": True, "false": False}).astype(object).where(flags != "", None),
            dtype="boolean",
        )
    for col in ("error", "result_json", "model", "moderation_id"):
        if col in frame.columns:
            frame[col] = frame[col].astype(str)
    return frame


def _read_jsonl(path: Path) -> pd.DataFrame:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}:{exc.colno}: invalid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(rec)
    return pd.DataFrame(rows)


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as .csv, .jsonl or .parquet (by extension); returns the path.

    The file is written to a temporary name first and renamed, so a failure never
    leaves a half-written output behind.
    """
    path = Path(path)
    suffix = _suffix(path, OUTPUT_FORMATS, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    elif suffix == ".jsonl":
        frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
