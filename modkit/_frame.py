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

from ._conversation import check_conversation, is_conversation
from ._errors import InputError
from ._images import APPLIED_PREFIX, check_parts
from ._labels import labels_beside_texts
from ._native import is_known_category
from ._result import ItemError, ModerationResult, ResultRows, concat_strings, result_json
from ._taxonomy import CATEGORIES, did_you_mean, order_categories
from ._validation import validate_params

__all__ = [
    "FLAG_PREFIX",
    "RESULT_COLUMNS",
    "assemble",
    "category_columns",
    "check_columns",
    "check_frame",
    "check_multimodal",
    "endpoint_flags",
    "flag_column",
    "group_codes",
    "has_endpoint_flags",
    "input_frame",
    "is_result_column",
    "lacks_slot",
    "resolve_categories",
    "scored_mask",
    "scored_rows",
    "unlisted_categories",
]

#: Columns every results frame has besides the inputs, the category scores and the
#: per-category flags (``result_json`` unless turned off).
RESULT_COLUMNS = ("flagged", "model", "moderation_id", "error", "result_json")
#: Prefix of the per-category flag columns: ``flagged/<category>``.
FLAG_PREFIX = "flagged/"
_CAT_INDEX = {c: j for j, c in enumerate(CATEGORIES)}


def input_frame(
    data: Any,
    text_column: str,
    labels_from: Sequence[str] | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The inputs of :func:`modkit.moderate` as a frame with a ``text_column`` column.

    Label columns are read by :func:`modkit.labels_beside_texts` (``labels_from``):
    named ``label_<category>``, values 1.0 / 0.0 / NaN.

    Raises
    ------
    InputError
        If ``data`` is one string, not list-like, lacks ``text_column``, has columns
        that clash with result columns, or a label that does not parse.
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
    clash = [c for c in frame.columns if is_result_column(c)]
    if clash:
        raise InputError(
            f"input columns {clash} clash with result columns; pass only the texts "
            f"(frame[[{text_column!r}]]) or rename them"
        )
    # labels beside the texts: label_<category>, bare category keys renamed to it
    return labels_beside_texts(frame, text_column, labels_from)


def check_multimodal(
    values: Sequence[object], keys: list[str | None]
) -> tuple[dict[int, list[dict[str, Any]]], dict[str, ItemError]]:
    """Validate the rows of a run that hold a multimodal input or a conversation.

    Parameters
    ----------
    values : sequence
        One input per row (as :func:`input_frame` holds them).
    keys : list of str or None
        One key per row (:func:`modkit._cache.text_keys`): only rows whose key is None
        and whose value is a non-empty list are checked. A malformed row's key is set
        here to ``"invalid-input:<row>"``.

    Returns
    -------
    checked : dict of int to list of dict
        Row index -> its validated parts (:func:`modkit._images.check_parts`) or
        messages (:func:`modkit.check_conversation`).
    errors : dict of str to ItemError
        A per-row key and error (code ``invalid_input``) for each malformed row, naming
        the row, part and field (``row 3: input[1].image_url.url: ...``); such a row is
        never sent.
    """
    checked: dict[int, list[dict[str, Any]]] = {}
    errors: dict[str, ItemError] = {}
    for i, value in enumerate(values):
        if keys[i] is not None or not isinstance(value, list | tuple) or not value:
            continue
        try:
            if is_conversation(value):  # a whole conversation (a backend takes it natively)
                checked[i] = check_conversation(value, where=f"row {i}: conversation")
            else:
                checked[i] = check_parts(value, where=f"row {i}: input")
        except InputError as exc:
            keys[i] = bad = f"invalid-input:{i}"
            errors[bad] = ItemError(str(exc), "invalid_input")
    return checked, errors


def flag_column(category: str) -> str:
    """The name of the column holding the endpoint's flag for ``category``.

    ``"flagged/" + category``, e.g. ``"flagged/self-harm/intent"``: no category key
    starts with ``flagged``, so these never clash with the score columns (named by the
    bare key) nor with the overall ``flagged`` column.
    """
    return FLAG_PREFIX + category


def is_result_column(name: object) -> bool:
    """True for the columns :func:`modkit.moderate` adds besides the scores."""
    return isinstance(name, str) and (
        name in RESULT_COLUMNS or name.startswith((FLAG_PREFIX, APPLIED_PREFIX))
    )


def assemble(
    frame: pd.DataFrame,
    keys: Sequence[str | None],
    outcomes: Mapping[str, ModerationResult | ItemError],
    missing_reason: str,
    *,
    rows: ResultRows | None = None,
    raws: Mapping[str, str] | None = None,
    keep_json: bool = True,
) -> pd.DataFrame:
    """Build the results frame: per unique key once, then broadcast to the rows.

    Parameters
    ----------
    frame : DataFrame
        The inputs, one row per text.
    keys : sequence of str or None
        The key of each row (None: not a text).
    outcomes : mapping of str to ModerationResult or ItemError
        Results and per-item errors by key.
    missing_reason : str
        The ``error`` of a row whose key has no outcome.
    rows : ResultRows, optional
        More results in compact form (a warm cache): assembled without a Python loop.
    raws : mapping of str to str, optional
        ``result_json`` strings already made for some keys of ``outcomes``.
    keep_json : bool, default True
        Add the ``result_json`` column.

    Returns
    -------
    DataFrame
        The inputs, one float column per category seen (canonical order), ``flagged``,
        one nullable boolean ``flagged/<category>`` column per category, ``model``,
        ``moderation_id``, ``error`` and (with ``keep_json``) ``result_json``.
    """
    n = len(frame)
    none_reason = "text is missing or not a string"
    if len(keys) != n:  # stopped before the texts were even read
        keys, none_reason = [None] * n, missing_reason
    codes, uniques = pd.factorize(np.asarray(keys, dtype=object), use_na_sentinel=True)
    index = pd.Index(uniques)
    fresh = [r for r in outcomes.values() if isinstance(r, ModerationResult)]
    present = {k for r in fresh for k in r.category_scores}  # even when null (NaN)
    # every other category gets a column too: a new one, another provider's own (``Hate``,
    # ``S10``) and one the provider does not list; only a name taken by an input or a
    # result column stays in ``result_json`` alone (see :func:`unlisted_categories`)
    extra = [c for c in order_categories(present) if c not in _CAT_INDEX and _free_name(c, frame)]
    universe = [*CATEGORIES, *extra]
    col = {c: j for j, c in enumerate(universe)}
    m = len(uniques)
    scores = np.full((m + 1, len(universe)), np.nan)
    flags = np.full((m + 1, len(universe)), -1, dtype=np.int8)
    flagged = np.full(m + 1, -1, dtype=np.int8)
    model = np.full(m + 1, "", dtype=object)
    mod_id = np.full(m + 1, "", dtype=object)
    error = np.full(m + 1, missing_reason, dtype=object)
    raw = np.full(m + 1, "", dtype=object) if keep_json else None
    arrow_at = None  # per unique key: its row in rows.raw (an Arrow array), or -1
    if rows is not None and len(rows):
        at = index.get_indexer(rows.keys)
        ok = at >= 0
        at = at[ok]
        k = len(CATEGORIES)
        every = bool(ok.all())  # then no masked copies of the cached arrays
        scores[at, :k] = rows.scores if every else rows.scores[ok]
        flags[at, :k] = rows.flags if every else rows.flags[ok]
        flagged[at] = rows.flagged[ok]
        model[at] = np.asarray(rows.model, dtype=object)[ok]
        mod_id[at] = np.asarray(rows.id, dtype=object)[ok]
        error[at] = ""
        if raw is not None and isinstance(rows.raw, list):
            raw[at] = np.asarray(rows.raw, dtype=object)[ok]
        elif raw is not None and rows.raw is not None:  # Arrow strings: taken, not copied
            arrow_at = np.full(m + 1, -1, dtype=np.int64)
            arrow_at[at] = np.flatnonzero(ok)
    raws = raws or {}
    where: list[int] = index.get_indexer(list(outcomes)).tolist() if outcomes else []
    # scores and flags by layout of keys: one array assignment per layout, not per value
    by_scores: dict[tuple[str, ...], tuple[list[int], list[list[float]]]] = {}
    by_flags: dict[tuple[str, ...], tuple[list[int], list[list[bool]]]] = {}
    for i, (key, res) in zip(where, outcomes.items(), strict=True):
        if i < 0:
            continue
        if isinstance(res, ModerationResult):
            group = by_scores.setdefault(tuple(res.category_scores), ([], []))
            group[0].append(i)
            group[1].append(list(res.category_scores.values()))
            fgroup = by_flags.setdefault(tuple(res.categories), ([], []))
            fgroup[0].append(i)
            fgroup[1].append(list(map(bool, res.categories.values())))
            flagged[i] = res.flagged
            model[i] = res.model
            mod_id[i] = res.id
            error[i] = ""
            if raw is not None:
                raw[i] = raws.get(key) or result_json(res)
                if arrow_at is not None:
                    arrow_at[i] = -1
        else:
            error[i] = res.message
            if arrow_at is not None:
                arrow_at[i] = -1
    for target, groups in ((scores, by_scores), (flags, by_flags)):
        for layout, (at_rows, values) in groups.items():
            # a category without a column (its name is an input's) is only in result_json
            keep = [p for p, c in enumerate(layout) if c in col]
            if not keep:
                continue
            block = np.array(values, dtype=target.dtype).reshape(len(at_rows), len(layout))
            target[np.asarray(at_rows)[:, None], [col[layout[p]] for p in keep]] = block[:, keep]
    error[m] = none_reason  # rows whose key is None
    idx = np.where(codes < 0, m, codes)
    seen = ~np.isnan(scores[:m]).all(axis=0) | np.isin(universe, list(present))
    categories = [c for c, s in zip(universe, seen, strict=True) if s]
    # the score columns as one float block (one copy; pandas keeps it as it is)
    cols = np.asarray([col[c] for c in categories], dtype=np.intp)
    if m == n and np.array_equal(cols, np.arange(len(universe))) and _identity(idx):
        block = scores[:m]  # every row its own key, in order: the matrix as it is
    else:
        block = scores[np.ix_(idx, cols)]
    score_frame = pd.DataFrame(block, columns=pd.Index(categories), index=frame.index, copy=False)
    del block, scores
    columns: dict[str, Any] = {"flagged": _nullable_bool(flagged[idx])}
    for c in categories:
        columns[flag_column(c)] = _nullable_bool(flags[idx, col[c]])
    columns["model"] = model[idx]
    columns["moderation_id"] = mod_id[idx]
    columns["error"] = error[idx]
    if raw is not None and arrow_at is not None and rows is not None:
        columns["result_json"] = _arrow_column(rows.raw, arrow_at, raw, idx)
    elif raw is not None:
        columns["result_json"] = raw[idx]
    added = pd.DataFrame(columns, index=frame.index)
    names = [*categories, *added.columns]
    kept = frame.drop(columns=[c for c in names if c in frame.columns])
    return pd.concat([kept, score_frame, added], axis=1)


def _identity(idx: np.ndarray) -> bool:
    """True when ``idx`` is ``0, 1, ..., len - 1``."""
    return bool(np.array_equal(idx, np.arange(len(idx))))


def _arrow_column(
    strings: Any, arrow_at: np.ndarray, others: np.ndarray, idx: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """The ``result_json`` column from an Arrow array of cached results' JSON.

    ``arrow_at[u]`` is unique key ``u``'s row in ``strings``, or -1 for a value in
    ``others`` (fresh results, errors: ""); ``idx`` maps each frame row to its unique
    key. When every row is one distinct cached result in order, ``strings`` is the
    column as it is (no copy); otherwise one Arrow ``take``.
    """
    import pyarrow as pa

    n = len(strings)
    from_others = np.flatnonzero(arrow_at < 0)
    where = arrow_at.copy()
    where[from_others] = n + np.arange(len(from_others))
    final = where[idx]
    if len(final) == n and _identity(final):
        column = strings
    else:
        combined = concat_strings([strings, others[from_others].tolist()])
        column = combined.take(pa.array(final, type=pa.int64()))
    return pd.array(column, dtype="str")


def _free_name(category: str, frame: pd.DataFrame) -> bool:
    """True when a category's score and flag columns clash with no input or result column."""
    return (
        bool(category)
        and not is_result_column(category)
        and category not in frame.columns
        and flag_column(category) not in frame.columns
    )


def unlisted_categories(results: pd.DataFrame) -> dict[str, int]:
    """The categories of a results frame that no provider modkit knows lists.

    Parameters
    ----------
    results : DataFrame
        A results frame.

    Returns
    -------
    dict of str to int
        Category (a score column with a ``flagged/<category>`` column) -> how many rows
        have a score or a flag in it, for the categories outside :data:`CATEGORIES` and
        every provider's native taxonomy (see :func:`modkit.providers.crosswalk`).
    """
    out: dict[str, int] = {}
    for c in category_columns(results):
        if c in _CAT_INDEX or is_known_category(c):
            continue
        seen = results[c].notna().to_numpy() | results[flag_column(c)].notna().to_numpy()
        if seen.any():
            out[c] = int(seen.sum())
    return out


def _nullable_bool(values: np.ndarray) -> pd.arrays.BooleanArray:
    """int8 1 / 0 / -1 as a pandas nullable boolean array (-1: NA)."""
    return pd.arrays.BooleanArray(values == 1, values < 0)


def endpoint_flags(
    results: pd.DataFrame, categories: Sequence[str], *, strict: bool = True
) -> np.ndarray:
    """The endpoint's own per-category flags of a results frame.

    Read from the ``flagged/<category>`` columns (see :func:`flag_column`); a category
    without one (a frame written by an older modkit) is parsed from ``result_json``.

    Parameters
    ----------
    results : DataFrame
        A results frame.
    categories : sequence of str
        Which categories, in column order.
    strict : bool, default True
        Raise :class:`InputError` naming the row for a ``result_json`` value that is not
        a JSON object, or a flag cell that is not true/false/empty; otherwise such a
        cell is left unknown.

    Returns
    -------
    ndarray of shape (n_rows, n_categories)
        1.0 flagged, 0.0 not, NaN unknown (failed row, or a category the result lacks).
    """
    out = np.full((len(results), len(categories)), np.nan)
    parse: list[int] = []
    for j, c in enumerate(categories):
        name = flag_column(c)
        if name in results.columns:
            out[:, j] = _flag_values(results[name], name, strict)
        else:
            parse.append(j)
    if not parse or "result_json" not in results.columns:
        return out
    col = {categories[j]: j for j in parse}
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
            pos = col.get(c)
            if pos is not None and v is not None:
                out[i, pos] = float(bool(v))
    return out


def has_endpoint_flags(results: pd.DataFrame) -> bool:
    """True if the frame holds the endpoint's flags (flag columns or ``result_json``)."""
    return "result_json" in results.columns or any(
        isinstance(c, str) and c.startswith(FLAG_PREFIX) for c in results.columns
    )


def _flag_values(col: pd.Series, name: str, strict: bool) -> np.ndarray:
    """A flag column as floats 1 / 0 / NaN, whatever it was read back as."""
    if pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    values = col.astype(object)
    out = np.full(len(col), np.nan)
    text = values.map(lambda v: str(v).strip().lower() if v is not None else "")
    out[(text == "true").to_numpy()] = 1.0
    out[(text == "1").to_numpy() | (text == "1.0").to_numpy()] = 1.0
    out[(text == "false").to_numpy() | (text == "0").to_numpy() | (text == "0.0").to_numpy()] = 0.0
    blank = text.isin(["", "nan", "none", "<na>"]).to_numpy()
    bad = np.isnan(out) & ~blank
    if strict and bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"column {name!r} row {col.index[i]!r}: {values.iloc[i]!r} is not a flag "
            "(true / false / empty)"
        )
    return out


@validate_params({"results": [pd.DataFrame]})
def category_columns(results: pd.DataFrame) -> list[str]:
    """The category score columns of a results frame, in canonical order.

    The API's keys first, then any other provider's own categories (see
    :func:`modkit.providers.crosswalk`) and any other column that has a ``flagged/<name>`` flag
    column beside it (a category the provider answered with that no taxonomy lists), in
    column order.

    Parameters
    ----------
    results : DataFrame
        A results frame (from :func:`modkit.moderate`, or read back with
        :func:`modkit.read_table`); only its column names are read.

    Returns
    -------
    list of str
        The column names that are category keys: the API's in the frame's column order,
        then other providers' known categories; ``text``, slot and ``error`` columns are
        left out.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

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
    names = set(results.columns)
    api = [c for c in results.columns if c in known]
    # other providers' own categories (Azure's Hate, Perspective's TOXICITY) after them,
    # and any other score column that has its endpoint-flag column (a category the
    # provider answered with that no taxonomy lists)
    return api + [
        c
        for c in results.columns
        if c not in known
        and isinstance(c, str)
        and not is_result_column(c)
        and (is_known_category(c) or flag_column(c) in names)
    ]


def scored_mask(results: pd.DataFrame) -> np.ndarray:
    """A boolean array, True for the rows that were scored (empty ``error``)."""
    if "error" not in results.columns:
        return np.ones(len(results), dtype=bool)
    err = results["error"]
    return ~(err.notna() & (err.astype(str) != "")).to_numpy()


def scored_rows(results: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Return the rows that were scored (empty ``error``) and how many were dropped."""
    ok = scored_mask(results)
    if ok.all():
        return results, 0
    return results.loc[ok], int((~ok).sum())


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
            f"category {missing[0]!r} is not a column of the results"
            + (did_you_mean(missing[0]) if missing[0] not in CATEGORIES else "")
            + f" (category columns: {category_columns(frame)})"
        )
    if not cats:
        raise InputError("categories is empty")
    return cats


def group_codes(frame: pd.DataFrame, cols: Sequence[str]) -> tuple[np.ndarray, pd.Index]:
    """Integer group codes of the rows by the values of ``cols``, factorised once.

    Parameters
    ----------
    frame : DataFrame
    cols : sequence of str
        One or more columns.

    Returns
    -------
    codes : ndarray of int64, shape (n_rows,)
        0, 1, ... in order of first appearance; -1 where a value of ``cols`` is missing.
    index : Index or MultiIndex
        The groups' key values, ``index[code]`` (named by ``cols``).

    Raises
    ------
    TypeError
        If a column holds values that cannot be hashed (lists).
    """
    cols = list(cols)
    parts = [pd.factorize(frame[c], use_na_sentinel=True) for c in cols]
    if len(cols) == 1:
        code, uniq = parts[0]
        return code.astype(np.int64), pd.Index(uniq, name=cols[0])
    missing = np.zeros(len(frame), dtype=bool)
    combined = np.zeros(len(frame), dtype=np.int64)
    for code, uniq in parts:
        missing |= code < 0
        combined = combined * max(len(uniq), 1) + np.maximum(code, 0)
        combined = pd.factorize(combined)[0].astype(np.int64)  # compress: no overflow
    combined[missing] = -1
    codes = np.full(len(frame), -1, dtype=np.int64)
    codes[~missing] = pd.factorize(combined[~missing])[0]
    running = np.maximum.accumulate(np.r_[-1, codes[:-1]]) if len(codes) else codes
    first = np.flatnonzero(codes > running)  # each group's first row
    index = pd.MultiIndex.from_arrays([frame[c].take(first).to_numpy() for c in cols], names=cols)
    return codes, index


def lacks_slot(
    frame: pd.DataFrame, cols: Sequence[str], template: str = "template_id"
) -> np.ndarray:
    """A boolean array, True for the rows that have no value for one of ``cols``.

    A row lacks a slot column when its value is missing (NaN / None), or when it is
    blank (``""``, as a CSV round trip leaves a missing value) and no row of its
    template (the ``template`` column, when the frame has one) has a non-blank value: a
    template without the slot. In a template that has the slot, ``""`` is a value (an
    empty alternative, ``{|really}``). Without a ``template`` column, blank is missing.

    Parameters
    ----------
    frame : DataFrame
    cols : sequence of str
        Slot columns (grouping columns).
    template : str, default "template_id"
        The column naming each row's template.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    out = np.zeros(len(frame), dtype=bool)
    has_template = template in frame.columns
    for c in cols:
        col = frame[c]
        missing = col.isna().to_numpy(dtype=bool)
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            blank = np.zeros(len(col), dtype=bool)
        else:
            text = col.map(lambda v: v.strip() if isinstance(v, str) else v, na_action="ignore")
            blank = (text == "").to_numpy(dtype=bool, na_value=False) & ~missing
        if blank.any() and has_template and c != template:
            filled = pd.Series(~missing & ~blank, index=frame.index)
            has = filled.groupby(frame[template].to_numpy(), sort=False, dropna=False).transform(
                "any"
            )
            blank &= ~has.to_numpy(dtype=bool)
        out |= missing | blank
    return out
