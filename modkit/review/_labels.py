"""The label conventions of a reviewed sample: categories asked, verdict values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._frame import category_columns
from .._validation import validate_params

__all__ = ["DECISION_PREFIX", "LABEL_PREFIX", "label_value", "sample_categories"]

#: A labelled sample's column of verdicts on a category: ``label_<category>``.
LABEL_PREFIX = "label_"
#: The audit sample's column of modkit's decision on a category.
DECISION_PREFIX = "decision/"


@validate_params({"sample": [pd.DataFrame]})
def sample_categories(sample: pd.DataFrame) -> list[str]:
    """The categories a sample asks verdicts on.

    The ``decision/<category>`` columns of :func:`modkit.audit.draw`'s frame; else
    the ``label_<category>`` columns of a labelled sample; else its category score
    columns.

    Parameters
    ----------
    sample : DataFrame

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        When the sample names no category.

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.review import sample_categories
    >>> sample_categories(pd.DataFrame({"id": ["a"], "decision/violence": ["block"]}))
    ['violence']
    """
    for prefix in (DECISION_PREFIX, LABEL_PREFIX):
        cats = [str(c)[len(prefix) :] for c in sample.columns if str(c).startswith(prefix)]
        if cats:
            return cats
    cats = category_columns(sample)
    if not cats:
        raise InputError(
            "the sample names no category: expected decision/<category>, "
            "label_<category> or category score columns"
        )
    return cats


def label_value(value: Any, *, where: str) -> int | None:
    """A verdict as stored: 1 (the category applies), 0 (it does not), None (unsure).

    Accepts 1/0, True/False, "1"/"0", "yes"/"no", "true"/"false" and "unsure" (any
    case); NaN/None/"" are not verdicts and are refused here.

    Parameters
    ----------
    value : object
    where : str
        How the error names the place (file, row, field).

    Returns
    -------
    int or None

    Raises
    ------
    InputError
        For any other value.

    Examples
    --------
    >>> from modkit.review import label_value
    >>> label_value("yes", where="x"), label_value(0, where="x"), label_value("unsure", where="x")
    (1, 0, None)
    """
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, int | np.integer) and int(value) in (0, 1):
        return int(value)
    if isinstance(value, float | np.floating) and value in (0.0, 1.0):
        return int(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "yes", "true", "1.0"):
            return 1
        if v in ("0", "no", "false", "0.0"):
            return 0
        if v == "unsure":
            return None
    raise InputError(f"{where}: {value!r} is not a verdict (use 1/0, yes/no or unsure)")
