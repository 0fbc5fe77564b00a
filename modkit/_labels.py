"""Labels: the one parser of label columns and values, and the join of a labels table.

modkit has one label convention, used by :func:`modkit.moderate`, :func:`modkit.fit_thresholds`,
:func:`modkit.check_thresholds`, :mod:`modkit.ray`, the CLI (``moderate``, ``fit``,
``check``) and the notebooks:

* **Beside the texts** (and so beside the scores in a results frame), a label is a column
  ``label_<category>`` (:data:`LABEL_PREFIX`; ``label_violence``,
  ``label_self-harm/intent``). A table whose label columns are named by the bare category
  key (``id,text,violence,hate``) is read by :func:`modkit.moderate` with those columns
  renamed to ``label_<category>``: a results frame names its score columns by the bare key.
* **A separate labels table** names its columns by the bare key or ``label_<key>`` (both are
  read) and is matched to the scores' rows by a key column (``on="id"``), else by index.
* **Values**: ``1`` / ``0`` (also ``1.0`` / ``0.0``), ``true`` / ``false``, ``yes`` / ``no``
  (any case, spaces around ignored) and blank (empty, NaN, None: *not labelled*, which is
  not "no"). They parse to the canonical frame: one float column per category key, 1.0 /
  0.0 / NaN.

Bad input raises :class:`modkit.InputError` naming the source (file), the row and the
column: a value that is none of the above, or a label column naming a near miss of a
category key (``label_violense``: "did you mean 'label_violence'?").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._native import is_known_category
from ._taxonomy import CATEGORIES, suggest_category
from ._validation import MappingOf, SequenceOf, validate_params

__all__ = [
    "LABEL_PREFIX",
    "LABEL_VALUES",
    "align_rows",
    "label_column",
    "label_values",
    "labels_beside_texts",
    "parse_labels",
]

#: What precedes the category key in a label column's name: ``label_violence``.
LABEL_PREFIX = "label_"
#: The accepted label spellings (strings compared case-insensitively, stripped) and what
#: they mean; a blank cell (empty, NaN, None) means "not labelled".
LABEL_VALUES: Mapping[str, float] = {
    "1": 1.0,
    "1.0": 1.0,
    "true": 1.0,
    "yes": 1.0,
    "0": 0.0,
    "0.0": 0.0,
    "false": 0.0,
    "no": 0.0,
}
_ACCEPTED = "1/0, true/false, yes/no or blank (blank = not labelled)"

RowName = Callable[[int], str]


def label_column(category: str) -> str:
    """The name of the label column of ``category`` beside texts and scores.

    Parameters
    ----------
    category : str
        A category key as the API spells it.

    Returns
    -------
    str
        ``"label_" + category``.

    Examples
    --------
    >>> from modkit import label_column
    >>> label_column("self-harm/intent")
    'label_self-harm/intent'
    """
    return LABEL_PREFIX + category


def _known(name: object, categories: Sequence[str] | None) -> bool:
    if not isinstance(name, str):
        return False
    if categories is not None:
        return name in categories
    return name in CATEGORIES or is_known_category(name)


def _row_namer(index: pd.Index, row_name: RowName | None) -> RowName:
    return row_name or (lambda i: f"row {index[i]!r}")


def _shown(value: object) -> object:
    item = getattr(value, "item", None)
    value = item() if callable(item) else value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a CSV column with blanks reads as floats: show "2", not "2.0"
    return value


def label_values(
    column: pd.Series,
    *,
    source: str = "labels",
    name: object = None,
    row_name: RowName | None = None,
) -> np.ndarray:
    """One label column as floats: 1.0, 0.0, or NaN (not labelled).

    Parameters
    ----------
    column : pandas.Series
        The cells: 0 / 1, True / False, the strings of :data:`LABEL_VALUES` (any case),
        or blank (empty string, NaN, None, pandas NA).
    source : str, default "labels"
        What the column was read from (a file name), for the error.
    name : object, optional
        The column's name in the error (default: ``column.name``).
    row_name : callable, optional
        ``row_name(i) -> str`` names the i-th row (0-based position) in the error;
        default ``"row <index label>"``.

    Returns
    -------
    ndarray of float64, shape (n_rows,)

    Raises
    ------
    InputError
        ``"<source> <row> column '<name>': label 'maybe' is not 1/0, true/false, yes/no
        or blank"`` for the first bad cell.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit import label_values
    >>> label_values(pd.Series(["yes", "No", "", None, 1, "TRUE", 0.0])).tolist()
    [1.0, 0.0, nan, nan, 1.0, 1.0, 0.0]
    """
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(column.dtype):
        out = column.to_numpy(dtype=float, na_value=np.nan, copy=True)
        bad = ~np.isnan(out) & (out != 0) & (out != 1)
    else:
        # one vectorised pass: every cell as lower-case text ("True" -> "true", 1 -> "1")
        text = column.astype(object).astype("string").str.strip().str.lower()
        blank = text.isna() | (text == "")
        got = text.map(LABEL_VALUES, na_action="ignore").astype("Float64")
        out = got.to_numpy(dtype=float, na_value=np.nan)
        bad = (~blank & got.isna()).to_numpy(dtype=bool, na_value=False)
    if bad.any():
        i = int(np.argmax(bad))
        where = _row_namer(column.index, row_name)(i)
        col = column.name if name is None else name
        raise InputError(
            f"{source} {where} column {col!r}: label {_shown(column.iloc[i])!r} is not {_ACCEPTED}"
        )
    return out


def _label_columns(
    frame: pd.DataFrame,
    columns: str | Sequence[str] | Mapping[str, str],
    categories: Sequence[str] | None,
    source: str,
) -> dict[Any, str]:
    """Which columns of ``frame`` are labels, and of which category."""
    if isinstance(columns, Mapping) or (not isinstance(columns, str)):
        pairs = (
            dict(columns)
            if isinstance(columns, Mapping)
            else {c: _category_of(c, categories) or c for c in columns}
        )
        for col, cat in pairs.items():
            if col not in frame.columns:
                raise InputError(
                    f"{source}: no column {col!r} to read labels from "
                    f"(columns: {list(frame.columns)[:12]})"
                )
            if not _known(cat, categories):
                raise InputError(
                    f"{source}: column {col!r}: {cat!r} is not a category key"
                    + _hint(str(cat), categories)
                )
        return pairs
    if columns not in ("any", "prefixed"):
        raise InputError(f"columns must be 'any', 'prefixed', a list or a mapping; got {columns!r}")
    out: dict[Any, str] = {}
    for col in frame.columns:
        if not isinstance(col, str):
            continue
        if col.startswith(LABEL_PREFIX):
            cat = col[len(LABEL_PREFIX) :]
            if _known(cat, categories):
                out[col] = cat
            elif _suggest(cat, categories):
                raise InputError(
                    f"{source}: column {col!r} names no category key; did you mean "
                    f"{label_column(_suggest(cat, categories) or '')!r}?"
                )
            # else (label_gold, label_notes): not a label column of a category
        elif columns == "any":
            if _known(col, categories):
                out[col] = col
            elif col not in ("id", "text") and _suggest(col, categories):
                raise InputError(
                    f"{source}: column {col!r} is not a category key; did you mean "
                    f"{_suggest(col, categories)!r}?"
                )
    seen: dict[str, Any] = {}
    for col, cat in out.items():
        if cat in seen:
            raise InputError(
                f"{source}: columns {seen[cat]!r} and {col!r} both hold labels of {cat!r}; keep one"
            )
        seen[cat] = col
    return out


def _category_of(col: object, categories: Sequence[str] | None) -> str | None:
    if isinstance(col, str) and col.startswith(LABEL_PREFIX):
        return col[len(LABEL_PREFIX) :]
    return col if isinstance(col, str) else None


def _suggest(key: str, categories: Sequence[str] | None) -> str | None:
    if categories is not None and not set(categories) <= set(CATEGORIES):
        import difflib

        close = difflib.get_close_matches(key, list(categories), n=1, cutoff=0.75)
        return close[0] if close else None
    return suggest_category(key)


def _hint(key: str, categories: Sequence[str] | None) -> str:
    near = _suggest(key, categories)
    return f"; did you mean {near!r}?" if near else ""


@validate_params(
    {
        "frame": [pd.DataFrame],
        "columns": [str, SequenceOf(str), MappingOf(str, str)],
        "categories": [None, SequenceOf(str)],
        "source": [str],
    }
)
def parse_labels(
    frame: pd.DataFrame,
    *,
    columns: str | Sequence[str] | Mapping[str, str] = "any",
    categories: Sequence[str] | None = None,
    source: str = "labels",
    row_name: RowName | None = None,
) -> pd.DataFrame:
    """The labels of a table as the canonical frame: one float column per category key.

    This is the one parser of labels in modkit: every function and command that reads
    labels calls it, so they all accept the same columns and values.

    Parameters
    ----------
    frame : pandas.DataFrame
        A labels table, or texts / results with ``label_<category>`` columns beside them.
    columns : {"any", "prefixed"}, list of str or dict of str to str, default "any"
        Which columns hold labels. ``"any"``: ``label_<key>`` columns and columns named
        by a bare category key (a separate labels table). ``"prefixed"``: only
        ``label_<key>`` columns (a results frame, whose bare keys are scores). A list
        names the columns (``label_<key>`` or a bare key); a dict maps a column to the
        category it labels (``{"is_violent": "violence"}``). ``label_<name>`` columns
        whose name is far from every category key (``label_gold``) are not labels.
    categories : list of str, optional
        The category keys labels may be given for (default: the API's keys and the
        other providers' own, e.g. Azure's ``Hate``).
    source : str, default "labels"
        What the table was read from (a file name), for errors.
    row_name : callable, optional
        ``row_name(i) -> str`` names the i-th row in errors (default: its index label).

    Returns
    -------
    pandas.DataFrame
        Index = ``frame.index``; one float64 column per labelled category, named by its
        bare key, in canonical order; 1.0 / 0.0 / NaN (not labelled). ``attrs["columns"]``
        maps each source column to its category.

    Raises
    ------
    InputError
        A cell is not one of :data:`LABEL_VALUES` or blank (naming source, row and
        column); a label column names a near miss of a category key (with
        "did you mean"); two columns label one category (``violence`` and
        ``label_violence``); a listed column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit import parse_labels
    >>> table = pd.DataFrame(
    ...     {"id": [1, 2, 3], "text": ["a", "b", "c"],
    ...      "label_violence": ["yes", "no", ""], "hate": [0, 1, None]}
    ... )
    >>> parse_labels(table)
       hate  violence
    0   0.0       1.0
    1   1.0       0.0
    2   NaN       NaN
    """
    pairs = _label_columns(frame, columns, categories, source)
    order = {c: j for j, c in enumerate(categories if categories is not None else CATEGORIES)}
    items = sorted(pairs.items(), key=lambda kv: (order.get(kv[1], len(order)), str(kv[1])))
    data = {
        cat: label_values(frame[col], source=source, name=col, row_name=row_name)
        for col, cat in items
    }
    out = pd.DataFrame(data, index=frame.index, columns=[cat for _, cat in items], dtype=float)
    out.attrs["columns"] = {col: cat for col, cat in items}
    return out


def align_rows(
    scores: pd.DataFrame,
    labels: pd.DataFrame,
    on: str | None,
    *,
    scores_source: str = "scores",
    labels_source: str = "labels",
    row_name: RowName | None = None,
    scores_row_name: RowName | None = None,
    by_position: bool = False,
) -> pd.DataFrame:
    """``labels`` re-indexed onto the rows of ``scores``, matched by the column ``on``.

    Parameters
    ----------
    scores, labels : pandas.DataFrame
        The two tables.
    on : str or None
        The key column both have (``"id"``). ``None``: ``labels`` must already share
        the scores' index (or, with ``by_position``, have as many rows).
    scores_source, labels_source : str
        Names of the tables (files), for errors.
    row_name, scores_row_name : callable, optional
        Name the i-th row of ``labels`` / ``scores`` in errors (default: ``"row <i + 1>"``).
    by_position : bool, default False
        With ``on=None``, match the i-th label row to the i-th score row.

    Returns
    -------
    pandas.DataFrame
        ``labels`` with the index of the score rows they belong to (a subset of
        ``scores.index``, in the labels' order).

    Raises
    ------
    InputError
        A key column is missing, a key value is duplicated or not in ``scores`` (naming
        the row and column), or the row counts differ when matched by position.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit._labels import align_rows
    >>> scores = pd.DataFrame({"id": ["a", "b"], "violence": [0.9, 0.1]})
    >>> labels = pd.DataFrame({"id": ["b"], "violence": [0]})
    >>> align_rows(scores, labels, "id").index.tolist()
    [1]
    """
    name = row_name or (lambda i: f"row {i + 1}")
    sname = scores_row_name or (lambda i: f"row {i + 1}")
    if on is None:
        if by_position:
            if len(scores) != len(labels):
                raise InputError(
                    f"{labels_source} has {len(labels)} rows but {scores_source} has "
                    f"{len(scores)}; give both an 'id' column or match them on a column"
                )
            return labels.set_axis(scores.index)
        return labels
    for src, frame in ((scores_source, scores), (labels_source, labels)):
        if on not in frame.columns:
            raise InputError(f"{src}: no column {on!r} to match rows on")
    dup = labels[on].duplicated()
    if dup.any():
        i = int(dup.to_numpy().argmax())
        raise InputError(
            f"{labels_source} {name(i)} column {on!r}: duplicate value {labels[on].iloc[i]!r}"
        )
    sdup = scores[on].duplicated()
    if sdup.any():
        i = int(sdup.to_numpy().argmax())
        raise InputError(
            f"{scores_source} {sname(i)} column {on!r}: duplicate value {scores[on].iloc[i]!r}"
        )
    unknown = ~labels[on].isin(scores[on])
    if unknown.any():
        i = int(unknown.to_numpy().argmax())
        raise InputError(
            f"{labels_source} {name(i)} column {on!r}: {labels[on].iloc[i]!r} is not in "
            f"{scores_source}"
        )
    pos = pd.Series(scores.index, index=scores[on].to_numpy())
    return labels.set_axis(pos.loc[labels[on].to_numpy()].to_numpy())


@validate_params(
    {
        "frame": [pd.DataFrame],
        "text_column": [str],
        "labels_from": [None, SequenceOf(str), MappingOf(str, str)],
        "source": [str],
    }
)
def labels_beside_texts(
    frame: pd.DataFrame,
    text_column: str = "text",
    labels_from: Sequence[str] | Mapping[str, str] | None = None,
    *,
    source: str = "data",
    row_name: RowName | None = None,
) -> pd.DataFrame:
    """Texts with their label columns in the canonical spelling, ``label_<category>``.

    What :func:`modkit.moderate` does to its input before scoring, so labels travel
    with the texts into the results frame (whose bare category keys are scores).

    Parameters
    ----------
    frame : pandas.DataFrame
        The inputs: ``text_column`` and other columns.
    text_column : str, default "text"
        Never read as labels.
    labels_from : list of str or dict of str to str, optional
        The columns that hold labels (a dict maps a column to its category). Default:
        every ``label_<key>`` column and every column named by a bare category key.
    source : str, default "data"
        What the table was read from (a file name), for errors.
    row_name : callable, optional
        Names the i-th row in errors.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with each label column replaced, in place in the column order, by
        ``label_<category>`` holding 1.0 / 0.0 / NaN (``frame`` itself when it has no
        label columns). ``attrs["renamed"]`` maps each column whose name changed to its
        new name.

    Raises
    ------
    InputError
        A bad label value (naming source, row and column), a near-miss label column, or
        a column named by a category key that ``labels_from`` does not list (it would
        clash with the score column).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit import labels_beside_texts
    >>> texts = pd.DataFrame({"id": [1, 2], "text": ["a", "b"], "violence": ["yes", ""]})
    >>> labels_beside_texts(texts)
       id text  label_violence
    0   1    a             1.0
    1   2    b             NaN
    """
    others = frame.drop(columns=[text_column]) if text_column in frame.columns else frame
    columns: str | Sequence[str] | Mapping[str, str] = "any" if labels_from is None else labels_from
    parsed = parse_labels(others, columns=columns, source=source, row_name=row_name)
    pairs: dict[Any, str] = parsed.attrs["columns"]
    left = [c for c in others.columns if c in CATEGORIES and c not in pairs]
    if left:
        raise InputError(
            f"{source}: column {left[0]!r} is named by a category key, as the score columns "
            "are; name label columns label_<category> (or list it in labels_from / "
            "--labels-from to read it as labels)"
        )
    if not pairs:
        return frame  # no labels: the inputs as they are
    taken = {label_column(cat): col for col, cat in pairs.items()}
    clash = [new for new, col in taken.items() if new in frame.columns and new != col]
    if clash:
        raise InputError(
            f"{source}: column {taken[clash[0]]!r} would be renamed to {clash[0]!r}, which "
            "the table already has; keep one"
        )
    out = frame.copy()
    for col, cat in pairs.items():
        out[col] = parsed[cat].to_numpy()
    renamed = {col: label_column(cat) for col, cat in pairs.items() if col != label_column(cat)}
    out = out.rename(columns=renamed)
    out.attrs["renamed"] = renamed
    return out
