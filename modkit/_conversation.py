"""Conversations as inputs: lists of role/content messages, and how each backend sees them.

A conversation is a list of messages in the chat-completions shape,
``{"role": "user" | "assistant" | "system", "content": str | list of parts}`` (the parts
as in :mod:`modkit._images`: text and ``image_url`` parts). A backend that takes a
conversation natively (a guard model: the chat template renders it) gets it whole; any
other backend sees it through a named strategy (:data:`CONVERSATION_STRATEGIES`), and the
per-unit scores are combined by the max over units, per category (flag when any unit's
score >= threshold, the same decision as thresholding the max).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._errors import InputError
from ._images import APPLIED_PREFIX, check_parts, text_part
from ._result import ModerationResult

__all__ = [
    "CONVERSATION_STRATEGIES",
    "ROLES",
    "ConversationPlan",
    "check_conversation",
    "combine_results",
    "combine_scores",
    "combine_units",
    "is_conversation",
    "parse_strategy",
    "plan_conversations",
]

#: The message roles a conversation may hold (chat-completions names).
ROLES = ("system", "user", "assistant")

#: How a conversation reaches a backend: ``native`` (whole, to a backend that takes
#: conversations), ``per_message`` (each message scored alone; max over messages),
#: ``last_turn`` (the newest message only), ``window:k`` (the last ``k`` messages
#: joined into one input, ``role: content`` per line).
CONVERSATION_STRATEGIES = ("native", "per_message", "last_turn", "window:k")

#: Keys a message may carry besides ``role`` and ``content``.
_MESSAGE_KEYS = {"role", "content", "name"}
_WINDOW = re.compile(r"window:([1-9]\d{0,5})")


def is_conversation(value: Any) -> bool:
    """True for a list (or tuple) whose first item is a mapping with a ``role`` key.

    Only the shape is looked at (:func:`check_conversation` validates); a multimodal
    input (a list of parts: ``type`` keys) is not a conversation.
    """
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and isinstance(value[0], dict)
        and "role" in value[0]
    )


def check_conversation(value: Any, where: str = "conversation") -> list[dict[str, Any]]:
    """Validate one conversation and return it (as a list of message dicts).

    Parameters
    ----------
    value : list of dict
        Messages ``{"role": ..., "content": ...}``: ``role`` one of :data:`ROLES`,
        ``content`` a non-empty string or a non-empty list of text / ``image_url``
        parts; an optional ``name`` string.
    where : str, default "conversation"
        How the conversation is named in errors (``"row 3: conversation"``).

    Returns
    -------
    list of dict
        The messages, each a plain ``dict`` with ``role`` and ``content``.

    Raises
    ------
    InputError
        Naming the message index and field at fault, e.g.
        ``row 3: conversation[1].role: must be one of 'system', 'user', 'assistant'``.

    Examples
    --------
    >>> import modkit
    >>> modkit.check_conversation([{"role": "user", "content": "hi"}])
    [{'role': 'user', 'content': 'hi'}]
    >>> modkit.check_conversation([{"role": "bot", "content": "hi"}])
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: conversation[0].role: must be one of 'system', 'user', \
'assistant', got 'bot'
    """
    if not isinstance(value, list | tuple) or not value:
        raise InputError(f"{where}: a conversation must be a non-empty list of messages")
    out = []
    for i, message in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(message, dict):
            raise InputError(f"{at}: a message must be an object, not {type(message).__name__}")
        extra = sorted(str(k) for k in set(message) - _MESSAGE_KEYS)
        if extra:
            raise InputError(f"{at}.{extra[0]}: unknown field (a message has role, content)")
        role = message.get("role")
        if role not in ROLES:
            allowed = ", ".join(repr(r) for r in ROLES)
            raise InputError(f"{at}.role: must be one of {allowed}, got {role!r}")
        if "name" in message and not isinstance(message["name"], str):
            raise InputError(f"{at}.name: must be a string")
        content = message.get("content")
        if isinstance(content, str):
            if not content.strip():
                raise InputError(f"{at}.content: empty text")
        elif isinstance(content, list | tuple):
            content = check_parts(content, where=f"{at}.content")
        else:
            raise InputError(
                f"{at}.content: must be a string or a list of parts, not {type(content).__name__}"
            )
        out.append({"role": role, "content": content})
    return out


def parse_strategy(strategy: str) -> tuple[str, int | None]:
    """``"window:3"`` -> ``("window", 3)``; the other strategies -> ``(name, None)``.

    Raises
    ------
    InputError
        For a name not in :data:`CONVERSATION_STRATEGIES` or a window size < 1.
    """
    if strategy in ("native", "per_message", "last_turn"):
        return strategy, None
    match = _WINDOW.fullmatch(strategy) if isinstance(strategy, str) else None
    if match is None:
        raise InputError(
            "conversation must be 'native', 'per_message', 'last_turn' or 'window:k' "
            f"(k >= 1), got {strategy!r}"
        )
    return "window", int(match.group(1))


def _message_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message["content"]
    return [text_part(content)] if isinstance(content, str) else list(content)


def _one_input(message: dict[str, Any]) -> str | list[dict[str, Any]]:
    """A message as one input: its text, or its parts when it holds an image."""
    content = message["content"]
    if isinstance(content, str):
        return content
    if all(p.get("type") == "text" for p in content):
        return "\n".join(p["text"] for p in content)
    return list(content)


def _window_input(messages: Sequence[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Messages joined into one input: ``role: text`` per message, images kept in place."""
    parts: list[dict[str, Any]] = []
    for message in messages:
        for k, part in enumerate(_message_parts(message)):
            if part.get("type") == "text":
                lead = f"{message['role']}: " if k == 0 else ""
                parts.append(text_part(lead + part["text"]))
            else:
                if k == 0:
                    parts.append(text_part(f"{message['role']}:"))
                parts.append(part)
    if all(p["type"] == "text" for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


@dataclass
class ConversationPlan:
    """What a run sends for the rows of a frame, and how to put the answers back.

    Attributes
    ----------
    units : list
        The inputs sent (texts, lists of parts, or whole conversations with ``native``).
    owner : list of int
        For each unit, the row it belongs to.
    message : list of int
        For each unit, the index of the message it stands for (a window or a native
        conversation: its last message); -1 for a row that is not a conversation.
    errors : dict of int to str
        Rows whose conversation is malformed: the message, naming row, index and field.
    strategy : str
        The strategy, as given (``"window:3"``).
    conversation_rows : set of int
        The rows that hold a conversation (well-formed or not).
    """

    units: list[Any] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    message: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)
    strategy: str = "per_message"
    conversation_rows: set[int] = field(default_factory=set)


def plan_conversations(
    values: Sequence[Any], strategy: str, *, native: bool, where: str = "row"
) -> ConversationPlan:
    """The units to score for each row: conversations split by ``strategy``, other rows as
    they are.

    Parameters
    ----------
    values : sequence
        One input per row: a text, a list of parts, or a conversation.
    strategy : str
        One of :data:`CONVERSATION_STRATEGIES` (``window:k`` with an integer ``k``).
    native : bool
        Whether the backend takes conversations (``strategy="native"`` needs it).
    where : str, default "row"
        How rows are named in errors.

    Returns
    -------
    ConversationPlan

    Raises
    ------
    InputError
        For an unknown strategy, or ``native`` with a backend that does not take
        conversations.
    """
    kind, k = parse_strategy(strategy)
    if kind == "native" and not native:
        raise InputError(
            "conversation='native' needs a backend that takes conversations (a guard "
            "model); use 'per_message', 'last_turn' or 'window:k'"
        )
    plan = ConversationPlan(strategy=strategy)
    for row, value in enumerate(values):
        if not is_conversation(value):
            plan.units.append(value)
            plan.owner.append(row)
            plan.message.append(-1)
            continue
        plan.conversation_rows.add(row)
        try:
            messages = check_conversation(value, where=f"{where} {row}: conversation")
        except InputError as exc:
            plan.errors[row] = str(exc)
            continue
        last = len(messages) - 1
        if kind == "native":
            chosen: list[tuple[int, Any]] = [(last, messages)]
        elif kind == "last_turn":
            chosen = [(last, _one_input(messages[-1]))]
        elif kind == "window":
            assert k is not None
            chosen = [(last, _window_input(messages[-k:]))]
        else:
            chosen = [(i, _one_input(m)) for i, m in enumerate(messages)]
        for index, unit in chosen:
            plan.units.append(unit)
            plan.owner.append(row)
            plan.message.append(index)
    return plan


def combine_scores(
    scores: np.ndarray, flags: np.ndarray | None = None
) -> tuple[np.ndarray, int | None]:
    """The max over units per category, and the unit that decided.

    Parameters
    ----------
    scores : ndarray, shape (n_units, n_categories)
        One row per unit (message or window); NaN = not scored for that category.
    flags : ndarray of bool, shape (n_units, n_categories), optional
        The units' own flags. Default: none flagged.

    Returns
    -------
    combined : ndarray, shape (n_categories,)
        ``nanmax`` per category (NaN where every unit is NaN).
    decided_by : int or None
        The unit holding the highest score among flagged (unit, category) pairs, else
        the highest score overall; the first such unit on ties; ``None`` when every
        score is NaN or there are no units.

    Notes
    -----
    Flagging the combined score at a threshold ``t`` (``score >= t``) flags exactly the
    conversations in which some unit scores ``>= t``: the max is the decision rule that
    agrees with thresholding every message.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit._conversation import combine_scores
    >>> combined, unit = combine_scores(np.array([[0.1, 0.2], [0.9, np.nan]]))
    >>> combined.tolist(), unit
    ([0.9, 0.2], 1)
    """
    scores = np.asarray(scores, dtype=float).reshape(len(scores), -1)
    n, m = scores.shape
    if n == 0:
        return np.full(m, np.nan), None
    filled = np.where(np.isnan(scores), -np.inf, scores)
    combined = filled.max(axis=0)
    combined = np.where(np.isinf(combined), np.nan, combined)
    if flags is not None:
        flagged = np.asarray(flags, dtype=bool) & ~np.isnan(scores)
        if flagged.any():
            best = np.where(flagged, filled, -np.inf).max(axis=1)
            return combined, int(np.argmax(best))
    best = filled.max(axis=1) if m else np.full(n, -np.inf)
    if not np.isfinite(best).any():
        return combined, None
    return combined, int(np.argmax(best))


def _unit_flags(units: pd.DataFrame, cats: list[str], flag_prefix: str) -> np.ndarray:
    """The units' flags per category: 1 true, 0 false, -1 missing."""
    unit_flags = np.full((len(units), len(cats)), -1, dtype=np.int8)
    for k, cat in enumerate(cats):
        flag_col = units.get(flag_prefix + cat)
        if flag_col is not None:
            known = flag_col.notna().to_numpy()
            unit_flags[known, k] = flag_col[known].astype(bool).to_numpy(dtype=np.int8)
    return unit_flags


def _applied_kinds(kinds: list[Any]) -> str | None:
    """The input types a category was applied to over a row's units (``None`` if unknown)."""
    if not any(isinstance(v, str) for v in kinds):
        return None
    seen = {t for v in kinds if isinstance(v, str) for t in v.split(",") if t}
    return ",".join(t for t in ("text", "image") if t in seen)


def _unit_columns(
    units: pd.DataFrame,
) -> tuple[np.ndarray, list[str], list[str], list[str], list[Any] | None]:
    """The units' ``flagged`` (1 / 0 / -1 missing), error, model, moderation id and
    result JSON (``None`` without the column)."""
    f = units["flagged"]
    return (
        np.where(f.notna().to_numpy(), f.fillna(False).astype(bool), -1),
        units["error"].fillna("").astype(str).tolist(),
        units["model"].astype(str).tolist(),
        units["moderation_id"].astype(str).tolist(),
        units["result_json"].tolist() if "result_json" in units.columns else None,
    )


def _units_by_row(plan: ConversationPlan) -> dict[int, list[int]]:
    """Each input row's units (their positions), in order."""
    by_row: dict[int, list[int]] = {}
    for j, r in enumerate(plan.owner):
        by_row.setdefault(r, []).append(j)
    return by_row


def _row_error(
    plan: ConversationPlan, r: int, js: list[int], unit_error: list[str], single: bool
) -> str:
    """Why row ``r`` has no combined result ("" if it has one): its own error, no units,
    or the first failed unit's error (naming its message when units are messages)."""
    if r in plan.errors:
        return plan.errors[r]
    if not js:
        return "not scored"
    failed = next((j for j in js if unit_error[j]), None)
    if failed is None:
        return ""
    message = int(plan.message[failed])
    named = single and message >= 0
    return (f"message {message}: " if named else "") + unit_error[failed]


def _combined_frame(
    frame: pd.DataFrame,
    plan: ConversationPlan,
    cats: list[str],
    flag_prefix: str,
    numbers: tuple[np.ndarray, np.ndarray, np.ndarray],
    text: Mapping[str, list[Any]],
    decided: list[Any],
) -> pd.DataFrame:
    """The input rows with their combined columns: scores, flags, then ``text``'s object
    columns (model, moderation_id, error, result_json, applied/...), the deciding message
    and the strategy."""
    scores, flags, flagged = numbers
    out = frame.copy()
    for k, name in enumerate(cats):
        out[name] = scores[:, k]
    out["flagged"] = _nullable(flagged)
    for k, name in enumerate(cats):
        out[flag_prefix + name] = _nullable(flags[:, k])
    for name, values in text.items():
        out[name] = pd.Series(values, index=out.index, dtype=object)
    out["decided_by"] = pd.array(decided, dtype="Int64")
    out["conversation_strategy"] = pd.Series(
        [plan.strategy if r in plan.conversation_rows else "" for r in range(len(frame))],
        index=out.index,
        dtype=object,
    )
    return out


def combine_units(
    frame: pd.DataFrame,
    units: pd.DataFrame,
    plan: ConversationPlan,
    categories: Sequence[str],
    flag_prefix: str,
    keep_json: bool,
) -> pd.DataFrame:
    """One results row per input row from the per-unit results frame.

    Scores are the max over a row's units per category, ``flagged/<category>`` and
    ``flagged`` are true when any unit's is, ``applied/<category>`` is the union of the
    units' input types; ``decided_by`` is the message index of the deciding unit
    (:func:`combine_scores`) and ``conversation_strategy`` the strategy (both empty for
    rows that are not conversations). A row with a failed unit (or a malformed
    conversation) gets the error, naming the message, and no scores.
    """
    message = np.asarray(plan.message, dtype=np.int64)
    cats = [c for c in categories if c in units.columns]
    m = len(units)
    unit_scores = units[cats].to_numpy(dtype=float) if cats else np.empty((m, 0))
    unit_flags = _unit_flags(units, cats, flag_prefix)
    unit_flagged, unit_error, unit_model, unit_id, unit_raw = _unit_columns(units)
    applied_cols = [c for c in units.columns if str(c).startswith(APPLIED_PREFIX)]
    unit_applied = {c: units[c].tolist() for c in applied_cols}
    n = len(frame)
    scores = np.full((n, len(cats)), np.nan)
    flags = np.full((n, len(cats)), -1, dtype=np.int8)
    flagged = np.full(n, -1, dtype=np.int8)
    model, mod_id, error, raw = ([""] * n for _ in range(4))
    decided: list[Any] = [pd.NA] * n
    applied: dict[str, list[Any]] = {c: [None] * n for c in applied_cols}
    by_row = _units_by_row(plan)
    single = plan.strategy in ("per_message", "last_turn")
    for r in range(n):
        js = by_row.get(r, [])
        why = _row_error(plan, r, js, unit_error, single)
        if why:
            error[r] = why
            continue
        block = unit_flags[js]
        combined, pick = combine_scores(unit_scores[js], block == 1)
        scores[r] = combined
        flags[r] = np.where((block >= 0).any(axis=0), (block == 1).any(axis=0), -1)
        fl = unit_flagged[js]
        flagged[r] = int((fl == 1).any()) if (fl >= 0).any() else -1
        decider = js[pick if pick is not None else -1]
        model[r], mod_id[r] = unit_model[decider], unit_id[decider]
        is_conv = r in plan.conversation_rows
        if is_conv:
            decided[r] = int(message[decider])
        for col in applied_cols:
            applied[col][r] = _applied_kinds([unit_applied[col][j] for j in js])
        if keep_json:
            raw[r] = (
                str(unit_raw[js[0]])
                if not is_conv and unit_raw is not None
                else _row_json(
                    cats, scores[r], flags[r], flagged[r], plan, js, int(message[decider])
                )
            )
    text = {"model": model, "moderation_id": mod_id, "error": error}
    if keep_json:
        text["result_json"] = raw
    return _combined_frame(
        frame, plan, cats, flag_prefix, (scores, flags, flagged), {**text, **applied}, decided
    )


def _nullable(values: np.ndarray) -> pd.arrays.BooleanArray:
    """1 / 0 / -1 (missing) as a nullable boolean array."""
    return pd.arrays.BooleanArray(values == 1, values < 0)


def _row_json(
    cats: Sequence[str],
    scores: np.ndarray,
    flags: np.ndarray,
    flagged: int,
    plan: ConversationPlan,
    js: list[int],
    decided_by: int,
) -> str:
    """The combined result object: the endpoint's shape plus a ``conversation`` record
    (which messages were combined, and the one whose score decided)."""
    body: dict[str, Any] = {
        "flagged": None if flagged < 0 else bool(flagged),
        "categories": {
            c: (None if f < 0 else bool(f)) for c, f in zip(cats, flags.tolist(), strict=True)
        },
        "category_scores": {
            c: (None if math.isnan(v) else float(v))
            for c, v in zip(cats, scores.tolist(), strict=True)
        },
        "conversation": {
            "strategy": plan.strategy,
            "rule": "max",
            "messages": [int(plan.message[j]) for j in js],
            "decided_by": decided_by,
        },
    }
    return json.dumps(body, ensure_ascii=False)


def combine_results(
    results: Sequence[ModerationResult], messages: Sequence[int], strategy: str
) -> tuple[ModerationResult, dict[str, Any]]:
    """One result for a conversation from its units' results (the max rule).

    Parameters
    ----------
    results : sequence of ModerationResult
        One per unit (message, window or whole conversation), in order.
    messages : sequence of int
        The message index each unit stands for.
    strategy : str
        The strategy the units came from (recorded).

    Returns
    -------
    result : ModerationResult
        Per category the max score over units (categories any unit has), flags true
        when any unit's is, ``flagged`` the any, applied input types the union; model
        and id of the deciding unit.
    record : dict
        ``{"strategy", "rule": "max", "messages", "decided_by"}``: what was scored and
        which message decided (:func:`combine_scores`).

    Raises
    ------
    InputError
        With no results, or lengths that differ.

    Examples
    --------
    >>> from modkit import ModerationResult
    >>> from modkit._conversation import combine_results
    >>> quiet = ModerationResult(False, {"violence": False}, {"violence": 0.1})
    >>> loud = ModerationResult(True, {"violence": True}, {"violence": 0.9})
    >>> result, record = combine_results([quiet, loud], [0, 1], "per_message")
    >>> result.flagged, result.category_scores, record["decided_by"]
    (True, {'violence': 0.9}, 1)
    """
    if not results or len(results) != len(messages):
        raise InputError("combine_results needs one message index per result, and a result")
    cats = list(dict.fromkeys(c for r in results for c in r.category_scores))
    scores = np.array(
        [[_as_float(r.category_scores.get(c)) for c in cats] for r in results], dtype=float
    ).reshape(len(results), len(cats))
    flags = np.array(
        [[bool(r.categories.get(c, False)) for c in cats] for r in results], dtype=bool
    ).reshape(len(results), len(cats))
    combined, pick = combine_scores(scores, flags)
    decider = results[0 if pick is None else pick]
    applied: dict[str, list[str]] = {}
    for c in cats:
        seen = {t for r in results for t in r.category_applied_input_types.get(c, [])}
        if seen:
            applied[c] = [t for t in ("text", "image") if t in seen]
    categories = {c: bool(flags[:, j].any()) for j, c in enumerate(cats)}
    result = ModerationResult(
        flagged=any(r.flagged for r in results),
        categories=categories,
        category_scores={c: float(v) for c, v in zip(cats, combined.tolist(), strict=True)},
        category_applied_input_types=applied,
        model=decider.model,
        id=decider.id,
    )
    record = {
        "strategy": strategy,
        "rule": "max",
        "messages": [int(m) for m in messages],
        "decided_by": None if pick is None else int(messages[pick]),
    }
    return result, record


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)
