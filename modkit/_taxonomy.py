"""Moderation category keys, spelled exactly as the API spells them."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CATEGORIES",
    "LEGACY_CATEGORIES",
    "OPENAI_1680_CODES",
    "order_categories",
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
