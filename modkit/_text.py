"""What makes a text unsendable: a lone surrogate cannot be encoded as UTF-8."""

from __future__ import annotations

__all__ = ["replace_surrogates", "utf8_problem"]


def utf8_problem(text: str) -> str | None:
    """Say why ``text`` cannot be encoded as UTF-8, or return None when it can.

    A Python string may hold a lone surrogate (U+D800..U+DFFF), for instance from a
    JSON ``"\\ud83d"`` escape of a truncated emoji. It is not a character: no UTF-8
    byte sequence stands for it, so it cannot be sent to an endpoint or stored in a
    UTF-8 file.

    Parameters
    ----------
    text : str

    Returns
    -------
    str or None
        ``"lone surrogate U+D83D at character 4 cannot be encoded as UTF-8"`` (0-based
        character index), or None.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start} "
            "cannot be encoded as UTF-8"
        )
    return None


def replace_surrogates(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the replacement character)."""
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
