"""The results frame: its columns, its assembly from backend results, reading it back.

Every analysis function (cross-tabs, bias views, drift, fitting, plots, widgets) reads
frames through the helpers here, so the frame's layout has one home:

* input columns, then one float column per category named by its API key
  (``"self-harm/intent"``), then :data:`RESULT_COLUMNS`;
* a row whose ``error`` is non-empty was not scored (:func:`scored_rows`);
* the endpoint's own per-category flags are read by :func:`endpoint_flags`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._result import ItemError, ModerationResult
from ._taxonomy import CATEGORIES, order_categories

__all__ = [
    "RESULT_COLUMNS",
    "assemble",
    "category_columns",
    "check_columns",
    "check_frame",
    "endpoint_flags",
    "input_frame",
    "resolve_categories",
    "result_json",
    "scored_rows",
]

#: Columns every results frame has besides the inputs and the category scores.
RESULT_COLUMNS = ("flagged", "model", "moderation_id", "error", "result_json")


def input_frame(data: Any, text_column: str) -> pd.DataFrame:
    """The inputs of :func:`modkit.moderate` as a frame with a ``text_column`` column.

    Raises
    ------
    InputError
        If ``data`` is one string, not list-like, lacks ``text_column`` or has columns
        that clash with result columns.
    """
    if isinstance(data, pd.DataFrame):
        if text_column not in data.columns:
            raise InputError(
                f"the DataFrame has no {text_column!r} column (columns: {list(data.columns)})"
            )
        frame = data.reset_index(drop=True)
    elif isinstance(data, pd.Series):
        frame = pd.DataFrame({text_column: data.reset_index(drop=True)})
    elif isinstance(data, str):
        raise InputError("data must be a list of texts, not one string: wrap it in [ ]")
    else:
        try:
            values = list(data)
        except TypeError:
            raise InputError(
                f"data must be a list of strings, a Series or a DataFrame, "
                f"not {type(data).__name__}"
            ) from None
        frame = pd.DataFrame({text_column: pd.Series(values, dtype=object)})
    clash = [c for c in frame.columns if c in RESULT_COLUMNS or c in CATEGORIES]
    if clash:
        raise InputError(
            f"input columns {clash} clash with result columns (scores are named by category "
            f"key); pass only the texts (frame[[{text_column!r}]]) or rename them, e.g. "
            "frame.add_prefix('label_')"
        )
    return frame


def assemble(
    frame: pd.DataFrame,
    keys: Sequence[str | None],
    outcomes: dict[str, ModerationResult | ItemError],
    missing_reason: str,
) -> pd.DataFrame:
    """Build the results frame: per unique key once, then broadcast to the rows."""
    n = len(frame)
    none_reason = "text is missing or not a string"
    if len(keys) != n:  # stopped before the texts were even read
        keys, none_reason = [None] * n, missing_reason
    codes, uniques = pd.factorize(pd.Series(list(keys), dtype=object), use_na_sentinel=True)
    categories = order_categories(
        k
        for res in outcomes.values()
        if isinstance(res, ModerationResult)
        for k in res.category_scores
    )
    m = len(uniques)
    scores = np.full((m + 1, len(categories)), np.nan)
    flagged = np.full(m + 1, None, dtype=object)
    model = np.full(m + 1, "", dtype=object)
    mod_id = np.full(m + 1, "", dtype=object)
    error = np.full(m + 1, "", dtype=object)
    raw = np.full(m + 1, "", dtype=object)
    col = {c: j for j, c in enumerate(categories)}
    for i, key in enumerate(uniques):
        res = outcomes.get(key)
        if isinstance(res, ModerationResult):
            for c, v in res.category_scores.items():
                scores[i, col[c]] = v
            flagged[i] = res.flagged
            model[i] = res.model
            mod_id[i] = res.id
            raw[i] = result_json(res)
        elif isinstance(res, ItemError):
            error[i] = res.message
        else:
            error[i] = missing_reason
    error[m] = none_reason  # rows whose key is None
    idx = np.where(codes < 0, m, codes)
    columns: dict[str, Any] = {c: scores[idx, j] for j, c in enumerate(categories)}
    columns["flagged"] = pd.array(flagged[idx], dtype="boolean")
    columns["model"] = model[idx]
    columns["moderation_id"] = mod_id[idx]
    columns["error"] = error[idx]
    columns["result_json"] = raw[idx]
    added = pd.DataFrame(columns, index=frame.index)
    kept = frame.drop(columns=[c for c in categories if c in frame.columns])
    return pd.concat([kept, added], axis=1)


def result_json(res: ModerationResult) -> str:
    """``json.dumps(res.to_dict())`` without copying the result's dicts first."""
    body: dict[str, Any] = {
        "flagged": res.flagged,
        "categories": res.categories,
        "category_scores": res.category_scores,
    }
    if res.category_applied_input_types:
        body["category_applied_input_types"] = res.category_applied_input_types
    return json.dumps(body, separators=(",", ":"))


def endpoint_flags(
    results: pd.DataFrame, categories: Sequence[str], *, strict: bool = True
) -> np.ndarray:
    """The endpoint's own per-category flags, parsed from the ``result_json`` column.

    Parameters
    ----------
    results : DataFrame
        A results frame with a ``result_json`` column.
    categories : sequence of str
        Which categories, in column order.
    strict : bool, default True
        Raise :class:`InputError` naming the row for a value that is not a JSON object;
        otherwise such a row is left unknown.

    Returns
    -------
    ndarray of shape (n_rows, n_categories)
        1.0 flagged, 0.0 not, NaN unknown (failed row, or a category the result lacks).
    """
    out = np.full((len(results), len(categories)), np.nan)
    col = {c: j for j, c in enumerate(categories)}
    for i, (idx, raw) in enumerate(results["result_json"].items()):
        if not isinstance(raw, str) or not raw:
            continue
        try:
            flags = json.loads(raw).get("categories") or {}
        except (ValueError, AttributeError) as exc:
            if strict:
                msg = f"result_json of row {idx!r} is not a JSON object: {exc}"
                raise InputError(msg) from None
            continue
        for c, v in flags.items():
            j = col.get(c)
            if j is not None and v is not None:
                out[i, j] = float(bool(v))
    return out


def category_columns(results: pd.DataFrame) -> list[str]:
    """The category score columns of a results frame, in canonical order.

    Examples
    --------
    >>> import pandas as pd
    >>> import modkit
    >>> frame = pd.DataFrame(
    ...     {"text": ["a"], "group": ["x"], "violence": [0.9], "self-harm/intent": [0.2]}
    ... )
    >>> modkit.category_columns(frame)
    ['violence', 'self-harm/intent']
    """
    known = set(CATEGORIES)
    return [c for c in results.columns if c in known]


def scored_rows(results: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Return the rows that were scored (empty ``error``) and how many were dropped."""
    if "error" not in results.columns:
        return results, 0
    err = results["error"]
    failed = err.notna() & (err.astype(str) != "")
    return results.loc[~failed], int(failed.sum())


def check_frame(results: Any) -> pd.DataFrame:
    """``results`` itself, if it is a DataFrame; else :class:`InputError`."""
    if not isinstance(results, pd.DataFrame):
        raise InputError(f"results must be a pandas DataFrame, not {type(results).__name__}")
    return results


def check_columns(frame: pd.DataFrame, by: str | Sequence[str], what: str = "by") -> list[str]:
    """The column name(s) ``by`` as a list, each checked to be in ``frame``; ``what``
    names the parameter in the :class:`InputError`."""
    cols = [by] if isinstance(by, str) else list(by)
    if not cols:
        raise InputError(f"{what} must name at least one column")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what}: no column {missing[0]!r} in the results (columns: {list(frame.columns)})"
        )
    return cols


def resolve_categories(
    frame: pd.DataFrame,
    categories: Sequence[str] | None,
    thresholds: float | Mapping[str, float] | None,
) -> list[str]:
    """The category columns to show: ``categories`` (checked), the keys of a
    ``thresholds`` mapping, or every category column of ``frame``."""
    if categories is None:
        if isinstance(thresholds, Mapping):
            cats = list(thresholds)
        else:
            cats = category_columns(frame)
            if not cats:
                raise InputError(
                    "the results have no category score columns (expected keys such as "
                    "'harassment' or 'self-harm/intent'); pass categories= to name them"
                )
    else:
        cats = [categories] if isinstance(categories, str) else list(categories)
    missing = [c for c in cats if c not in frame.columns]
    if missing:
        raise InputError(
            f"category {missing[0]!r} is not a column of the results "
            f"(category columns: {category_columns(frame)})"
        )
    if not cats:
        raise InputError("categories is empty")
    return cats
