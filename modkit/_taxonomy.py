"""Moderation category keys, spelled exactly as the API spells them."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from ._errors import InputError

__all__ = [
    "CATEGORIES",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "api_spelling",
    "check_category_keys",
    "did_you_mean",
    "looks_like_category",
    "order_categories",
    "suggest_category",
]

#: The 13 categories of the ``omni-moderation`` models, in the API's spelling.
CATEGORIES: tuple[str, ...] = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)

#: The 11 categories of the legacy ``text-moderation`` models.
LEGACY_CATEGORIES: tuple[str, ...] = tuple(
    c for c in CATEGORIES if c not in ("illicit", "illicit/violent")
)

#: Label codes of the openai-moderation-1680 data set (Markov et al. 2023) -> category key.
OPENAI_1680_CODES: dict[str, str] = {
    "S": "sexual",
    "H": "hate",
    "V": "violence",
    "HR": "harassment",
    "SH": "self-harm",
    "S3": "sexual/minors",
    "H2": "hate/threatening",
    "V2": "violence/graphic",
}


_CATEGORY_LIKE = re.compile(r"[a-z][a-z0-9_-]{0,63}(?:/[a-z][a-z0-9_-]{0,63})?")


def looks_like_category(key: str) -> bool:
    """True for a key spelled like the API's categories (``violence``, ``self-harm/intent``).

    A new category the endpoint adds gets its own score column when it looks like one;
    anything else is kept only in the full result (``result_json``).
    """
    return isinstance(key, str) and _CATEGORY_LIKE.fullmatch(key) is not None


def order_categories(keys: Iterable[str]) -> list[str]:
    """Return category keys in the canonical order, unknown keys last (sorted).

    Parameters
    ----------
    keys : iterable of str
        Category keys, e.g. from a response's ``category_scores``.

    Returns
    -------
    list of str
        The distinct keys, known ones in :data:`CATEGORIES` order.
    """
    seen = set(keys)
    known = [c for c in CATEGORIES if c in seen]
    return known + sorted(seen.difference(CATEGORIES))


def _sdk_spelling(key: str) -> str:
    return key.replace("-", "_").replace("/", "_")


def api_spelling(key: object) -> str | None:
    """The category key whose SDK attribute spelling ``key`` is (``self_harm_intent`` ->
    ``self-harm/intent``), or ``None`` (also for keys already in the API's spelling)."""
    if not isinstance(key, str) or key in CATEGORIES:
        return None
    by_sdk = {_sdk_spelling(c): c for c in CATEGORIES}
    return by_sdk.get(_sdk_spelling(key.strip().lower()))


def suggest_category(key: str) -> str | None:
    """The API spelling a mistyped category key most likely means, or ``None``.

    The ``openai`` SDK's ``model_dump()`` spellings (``self_harm_intent``) map to the
    API's (``self-harm/intent``); other near misses go through :mod:`difflib`.
    """
    text = str(key)
    sdk = api_spelling(text)
    if sdk is not None:
        return sdk
    close = difflib.get_close_matches(text, CATEGORIES, n=1, cutoff=0.75)
    return close[0] if close else None


def did_you_mean(key: object) -> str:
    """``"; did you mean 'self-harm/intent'?"`` for a near category key, else ``""``.

    The one wording of the hint (from :func:`suggest_category`), appended to messages
    about a key or column that is not a category key.
    """
    hint = suggest_category(str(key))
    return f"; did you mean {hint!r}?" if hint else ""


def check_category_keys(keys: Iterable[object], where: str, *, extra: Iterable[str] = ()) -> None:
    """Raise if any key is not a category key in the API's spelling.

    Parameters
    ----------
    keys : iterable
        Keys to check (mapping keys, column names...).
    where : str
        What holds them, for the message (``"decide"``, ``"labels columns"``).
    extra : iterable of str
        Further keys that are allowed (``"*"``).

    Raises
    ------
    InputError
        Naming the first unknown key, with "did you mean ...?" when a category key is
        near (e.g. the SDK's ``self_harm_intent`` for ``self-harm/intent``).
    """
    allowed = set(CATEGORIES).union(extra)
    for key in keys:
        if key in allowed:
            continue
        hint = did_you_mean(key)
        raise InputError(
            f"{where}: unknown category key {key!r}"
            + (hint or f" (category keys use the API's spelling, e.g. {CATEGORIES[7]!r})")
        )
