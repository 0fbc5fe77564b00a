"""Label and score tables: coercion with errors that name the row and column, and the hash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .._errors import InputError
from .._labels import label_values
from .._validation import SequenceOf, validate_params

__all__ = ["coerce_labels", "coerce_scores", "labels_sha256"]

RowName = Callable[[int], str]


def _default_row_name(index: pd.Index) -> RowName:
    return lambda i: f"row {index[i]!r}"


def _blank(obj: pd.Series) -> np.ndarray:
    return (obj.isna() | obj.map(lambda x: isinstance(x, str) and not x.strip())).to_numpy(bool)


def coerce_labels(
    frame: pd.DataFrame,
    categories: Sequence[str],
    *,
    source: str = "labels",
    row_name: RowName | None = None,
) -> np.ndarray:
    """Labels as a float matrix (rows x categories) of 1.0, 0.0 and NaN (not labelled).

    The columns named ``categories`` are read by :func:`modkit.label_values` (the one
    parser of label values): 1/0, true/false, yes/no, and blank for "not labelled".

    Raises
    ------
    InputError
        Naming the source, row and column of the first bad value.
    """
    out = np.full((len(frame), len(categories)), np.nan, order="F")  # columns contiguous
    for j, c in enumerate(categories):
        out[:, j] = label_values(frame[c], source=source, name=c, row_name=row_name)
    return out


def coerce_scores(
    frame: pd.DataFrame,
    categories: Sequence[str],
    *,
    source: str = "scores",
    row_name: RowName | None = None,
    low: float = 0.0,
    high: float = 1.0,
) -> np.ndarray:
    """Scores as a float matrix; blank / NaN = not scored. Values must lie in [low, high].

    ``low`` / ``high`` default to [0, 1]; a provider's native scale widens them (Azure's
    severities: [0, 7]).

    Raises
    ------
    InputError
        Naming the source, row and column of the first non-number or out-of-range value.
    """
    row_name = row_name or _default_row_name(frame.index)
    out = np.full((len(frame), len(categories)), np.nan, order="F")  # columns contiguous
    for j, c in enumerate(categories):
        col = frame[c]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            values = col.to_numpy(dtype=float, na_value=np.nan)
        else:
            obj = col.astype(object)
            blank = _blank(obj)
            num = pd.to_numeric(obj.where(~blank, None), errors="coerce")
            values = num.to_numpy(dtype=float, na_value=np.nan)
            bad = ~blank & np.isnan(values)
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(
                    f"{source} {row_name(i)} column {c!r}: score {obj.iloc[i]!r} is not a number"
                )
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(values) & ~((values >= low) & (values <= high))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(
                f"{source} {row_name(i)} column {c!r}: score {float(values[i])!r} is outside "
                f"[{low:g}, {high:g}]"
            )
        out[:, j] = values
    return out


@validate_params({"labels": [np.ndarray], "categories": [SequenceOf(str)]})
def labels_sha256(labels: np.ndarray, categories: Sequence[str]) -> str:
    """A stable sha256 of labelled data.

    It is the sha256 of this canonical CSV text (UTF-8, ``\\n`` line ends): a header of
    the category keys in sorted order joined by ``,``, then one line per row (in the
    scores' row order) with each cell ``1``, ``0`` or empty (not labelled).

    Parameters
    ----------
    labels : ndarray
        Rows x categories of 1.0 / 0.0 / NaN.
    categories : sequence of str
        The column names of ``labels``.

    Returns
    -------
    str
        64 lower-case hex digits; the same for the same labels whatever the column
        order.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds import labels_sha256
    >>> digest = labels_sha256(np.array([[1], [0]]), ["violence"])
    >>> len(digest), digest == labels_sha256(np.array([[1], [0]]), ["violence"])
    (64, True)
    """
    cats = list(categories)
    order = sorted(range(len(cats)), key=lambda j: cats[j])
    h = hashlib.sha256((",".join(cats[j] for j in order) + "\n").encode())
    if len(cats) == 0:
        return h.hexdigest()
    n, k = len(labels), len(order)
    cells = np.empty((n, 2 * k), dtype=np.uint8)  # "1," / "0," / "," (0 = no byte)
    for jj, j in enumerate(order):
        col, out = labels[:, j], cells[:, 2 * jj]
        out[:] = 0
        out[col == 1] = ord("1")
        out[col == 0] = ord("0")
    cells[:, 1::2] = ord(",")
    cells[:, -1] = ord("\n")
    flat = cells.ravel()
    h.update(flat[flat != 0].tobytes())
    return h.hexdigest()
