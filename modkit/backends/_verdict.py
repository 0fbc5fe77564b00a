"""Where a label sits among a chat completion's logprob tokens, and its probability.

Reasoning guard models (gpt-oss-safeguard, Qwen3Guard) write a label somewhere inside a
longer answer (``{"violation": 1, ...}``, ``Safety: Unsafe\\nCategories: Violent``). The
parsers find the label's characters in the answer text; these helpers find the generated
token that holds them and read the probability of each label among that position's
``top_logprobs`` alternatives. Nothing here raises on odd input: a missing or misaligned
token list gives ``None``, and the caller reports a per-row error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["label_probabilities", "token_at"]


def token_at(tokens: Sequence[Mapping[str, Any]], text: str, index: int) -> int | None:
    """The position of the generated token that holds character ``index`` of ``text``.

    Parameters
    ----------
    tokens : sequence of dict
        ``choices[0].logprobs.content``: per generated token its ``token`` text.
    text : str
        The answer's text (``message.content``). When the tokens also cover text before
        it (a reasoning channel), ``text`` must be their suffix.
    index : int
        A character offset into ``text``.

    Returns
    -------
    int or None
        The token's position, or None when the tokens do not spell ``text`` (as a
        suffix) or ``index`` is outside it.

    Examples
    --------
    >>> tokens = [{"token": '{"'}, {"token": "violation"}, {"token": '": '}, {"token": "1"}]
    >>> token_at(tokens, '{"violation": 1', 14)
    3
    """
    if not 0 <= index < len(text):
        return None
    try:
        pieces = [str(t["token"]) for t in tokens]
    except (KeyError, TypeError):
        return None
    joined = "".join(pieces)
    if not joined.endswith(text):
        return None
    target = len(joined) - len(text) + index
    end = 0
    for i, piece in enumerate(pieces):
        end += len(piece)
        if target < end:
            return i
    return None  # pragma: no cover - target < len(joined) always


def label_probabilities(
    position: Mapping[str, Any],
    label_of: Callable[[str], str | None],
    *,
    labels: Collection[str] = (),
) -> dict[str, float] | None:
    """Each label's share of the probability at one generated position.

    Parameters
    ----------
    position : dict
        One element of ``logprobs.content``: ``token``, ``logprob`` and
        ``top_logprobs`` (a list of ``{"token", "logprob"}``).
    label_of : callable
        ``label_of(token_text) -> label or None``: which label an alternative reads as.
    labels : collection of str, optional
        The verdicts the answer chooses between (e.g. ``("yes", "no")``). One that no
        listed alternative reads as gets the least listed alternative's probability: the
        ``top_logprobs`` are the most probable tokens, so an unlisted one's probability is
        at most that (an upper bound). A verdict score is then never exactly 0 or 1 merely
        because the server listed too few alternatives (the guard backend's rule too).

    Returns
    -------
    dict of str to float or None
        Label -> its summed probability over the alternatives that read as it, divided
        by the sum over all labels (so the values sum to 1). None when the chosen token
        reads as no label, no alternative besides the chosen token is listed (the score
        would be exactly 1 with no signal), a logprob is not a finite number <= 0, or the
        shape is wrong.

    Examples
    --------
    >>> import math
    >>> position = {"token": "1", "logprob": math.log(0.6), "top_logprobs": [
    ...     {"token": "1", "logprob": math.log(0.6)}, {"token": "0", "logprob": math.log(0.3)}]}
    >>> probs = label_probabilities(position, {"1": "pos", "0": "neg"}.get)
    >>> round(probs["pos"], 3), round(probs["neg"], 3)
    (0.667, 0.333)
    """
    try:
        chosen = str(position["token"])
        alts = {str(a["token"]): float(a["logprob"]) for a in position.get("top_logprobs") or []}
        alts.setdefault(chosen, float(position["logprob"]))
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if label_of(chosen) is None or len(alts) < 2:
        # only the chosen token listed (a server without logprobs alternatives): its
        # label would get exactly 1.0, with no signal; the caller's per-row error instead
        return None
    mass: dict[str, float] = {}
    for token, lp in alts.items():
        if not (math.isfinite(lp) and lp <= 0.0):
            return None
        label = label_of(token)
        if label is not None:
            mass[label] = mass.get(label, 0.0) + math.exp(lp)
    floor = min(math.exp(lp) for lp in alts.values())
    for label in labels:
        mass.setdefault(label, floor)
    total = sum(mass.values())
    if not total > 0.0:
        return None
    return {label: m / total for label, m in mass.items()}
