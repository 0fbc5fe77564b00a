"""Parsers turning each registry file into the documented DataFrame.

A file whose sha256 matches the registry parses cleanly; the checks here are for files
given by hand (:func:`read_dataset_file`), and name the file and line at fault.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import DatasetError
from .._io import iter_jsonl
from .._taxonomy import OPENAI_1680_CODES
from .._validation import validate_params
from ._registry import MHC_LANGUAGES, dataset_info

__all__ = ["read_dataset_file"]

Loader = Callable[[Path], pd.DataFrame]


def _open_text(path: Path) -> io.TextIOBase:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _read_openai_1680(path: Path) -> pd.DataFrame:
    texts: list[str] = []
    labels: dict[str, list[float]] = {key: [] for key in OPENAI_1680_CODES.values()}
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, record in iter_jsonl(fh, path, error=DatasetError):
                prompt = record.get("prompt")
                if not isinstance(prompt, str):
                    raise DatasetError(f"{path}:{lineno}: field 'prompt' missing or not a string")
                texts.append(prompt)
                for code, key in OPENAI_1680_CODES.items():
                    labels[key].append(_label(record.get(code), path, lineno, code))
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        where = f", line {lineno + 1}" if lineno else ""
        raise DatasetError(f"{path}{where}: cannot read: {exc}") from None
    frame = pd.DataFrame({"text": pd.Series(texts, dtype="str")})
    for key, values in labels.items():
        frame[key] = np.asarray(values, dtype=np.float64)
    return frame


def _label(value: object, path: Path, lineno: int, code: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool | int | float) and value in (0, 1):
        return float(value)
    raise DatasetError(f"{path}:{lineno}: label {code!r} must be 0 or 1, got {value!r}")


def _record_line(path: Path, index: int) -> int:
    """The line number on which data record ``index`` (0-based, after the header) starts."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        start = 1
        for i, _row in enumerate(reader):
            if i == index + 1:
                return start
            start = reader.line_num + 1
    return start


def _read_csv(
    path: Path, required: Sequence[str], integers: Sequence[str] = (), floats: Sequence[str] = ()
) -> pd.DataFrame:
    """Read every cell as text (empty cells NaN), then convert the named numeric columns."""
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8"
        )
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise DatasetError(f"{path}: cannot parse CSV: {exc}") from None
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    frame = frame.drop(columns=unnamed)  # a saved pandas index, without a header
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(missing)} (found: "
            f"{', '.join(map(str, frame.columns))})"
        )
    for column in (*integers, *floats):
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if column in integers:
            bad |= values.isna() | (values.notna() & (values % 1 != 0))
        if bad.any():
            index = int(np.flatnonzero(bad.to_numpy())[0])
            kind = "an integer" if column in integers else "a number"
            raise DatasetError(
                f"{path}, line {_record_line(path, index)}: {column} must be {kind}, "
                f"got {frame[column].iloc[index]!r}"
            )
        frame[column] = values.astype(np.int64 if column in integers else np.float64)
    return frame


def _require_text(frame: pd.DataFrame, column: str, path: Path) -> None:
    bad = frame[column].isna()
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(f"{path}, line {_record_line(path, index)}: empty {column!r}")


def _read_hatecheck_cases(path: Path) -> pd.DataFrame:
    required = (
        "functionality",
        "case_id",
        "test_case",
        "label_gold",
        "target_ident",
        "direction",
        "case_templ",
        "templ_id",
    )
    frame = _read_csv(
        path, required, integers=("case_id", "templ_id"), floats=("ref_case_id", "ref_templ_id")
    )
    _require_text(frame, "test_case", path)
    _check_gold(frame, path)
    frame["text"] = frame["test_case"]
    frame["label"] = (frame["label_gold"] == "hateful").astype(np.int64)
    return frame


def _read_multilingual_hatecheck(path: Path) -> pd.DataFrame:
    frame = _read_csv(
        path,
        ("mhc_case_id", "functionality", "test_case", "label_gold", "target_ident"),
        floats=("ref_case_id", "ref_templ_id", "templ_id"),
    )
    _require_text(frame, "test_case", path)
    _check_gold(frame, path)
    frame["text"] = frame["test_case"]
    frame["label"] = (frame["label_gold"] == "hateful").astype(np.int64)
    return frame


def _check_gold(frame: pd.DataFrame, path: Path) -> None:
    gold = frame["label_gold"]
    bad = ~gold.isin(["hateful", "non-hateful"])
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        raise DatasetError(
            f"{path}, line {_record_line(path, index)}: label_gold must be 'hateful' or "
            f"'non-hateful', got {gold.iloc[index]!r}"
        )


def _read_hatecheck_placeholders(path: Path) -> pd.DataFrame:
    raw = _read_csv(path, ())
    columns = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("placeholder", "values") if c not in columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
    placeholders = raw[columns["placeholder"]]
    values = raw[columns["values"]]
    rows_p: list[str] = []
    rows_v: list[list[str]] = []
    for index, (name, fill) in enumerate(zip(placeholders, values, strict=True)):
        if not isinstance(name, str) or not (name.startswith("[") and name.endswith("]")):
            raise DatasetError(
                f"{path}, line {_record_line(path, index)}: placeholder must look like "
                f"[NAME], got {name!r}"
            )
        items = [v.strip() for v in fill.split(",")] if isinstance(fill, str) else []
        items = [v for v in items if v]
        if not items:
            raise DatasetError(f"{path}, line {_record_line(path, index)}: {name} has no values")
        rows_p.append(name)
        rows_v.append(items)
    return pd.DataFrame(
        {"placeholder": pd.Series(rows_p, dtype="str"), "values": pd.Series(rows_v, dtype=object)}
    )


def _read_simplesafetytests(path: Path) -> pd.DataFrame:
    frame = _read_csv(
        path, ("id", "harm_area", "counter", "category", "prompts_final"), integers=("counter",)
    )
    _require_text(frame, "prompts_final", path)
    frame = frame.rename(columns={"prompts_final": "text"})
    return frame[["id", "harm_area", "counter", "category", "text"]]


def _csv_loader(*required: str) -> Loader:
    def load(path: Path) -> pd.DataFrame:
        frame = _read_csv(path, required)
        for column in required:
            _require_text(frame, column, path)
        return frame

    return load


LOADERS: dict[tuple[str, str], Loader] = {
    ("openai-moderation-1680", "samples"): _read_openai_1680,
    ("hatecheck", "test_suite_cases"): _read_hatecheck_cases,
    ("hatecheck", "template_placeholders"): _read_hatecheck_placeholders,
    ("simplesafetytests", "test_cases"): _read_simplesafetytests,
    **{
        ("multilingual-hatecheck", language): _read_multilingual_hatecheck
        for language in MHC_LANGUAGES
    },
    ("dixon-madlibber", "sentence_templates"): _csv_loader("template", "toxicity", "phrase"),
    ("dixon-madlibber", "intersectional_sentence_templates"): _csv_loader(
        "template", "toxicity", "phrase"
    ),
    ("dixon-madlibber", "words"): _csv_loader("type", "connotation", "word"),
}


@validate_params({"path": ["path"], "name": [str], "part": [None, str]})
def read_dataset_file(
    path: str | os.PathLike[str], name: str, part: str | None = None
) -> pd.DataFrame:
    """Parse a file in the format of a registry data set, without checking its sha256.

    For a copy you edited or a newer release; :func:`load_dataset` is the checked path.

    Parameters
    ----------
    path : str or Path
        The file to read (a ``.jsonl`` file may be gzip-compressed or not).
    name : str
        The registry name whose format the file has.
    part : str, optional
        The part whose format the file has (default: the data set's first part).

    Returns
    -------
    pandas.DataFrame
        The same columns :func:`load_dataset` returns.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        Unknown name or part, missing file, or a parse error naming the file and line.

    Examples
    --------
    >>> from modkit.datasets import dataset_path, read_dataset_file
    >>> path = dataset_path("hatecheck", download=False)  # or a copy you edited
    >>> len(read_dataset_file(path, "hatecheck"))
    3728
    """
    info = dataset_info(name)
    entry = info.file(part)
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    return LOADERS[(info.name, entry.part)](path)
