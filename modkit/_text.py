"""What makes a text unsendable or unwritable: a lone surrogate cannot be encoded as
UTF-8, and XML 1.0 forbids most control characters."""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["json_text", "null_nonfinite", "replace_surrogates", "utf8_problem", "xml_safe"]

#: What XML 1.0 forbids in a document (section 2.2, ``Char``): C0 controls but tab, LF
#: and CR; lone surrogates; U+FFFE and U+FFFF.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


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


def xml_safe(text: str) -> str:
    """``text`` with what XML 1.0 forbids written as a visible escape (``\\x1b``).

    XML 1.0 (section 2.2) allows tab, LF, CR and U+0020 upwards but lone surrogates,
    U+FFFE and U+FFFF; a report holding anything else (the ESC of a terminal colour code
    in a scraped text, say) is not well-formed and CI parsers reject the file. Each such
    character becomes ``\\xNN`` (C0 controls) or ``\\uNNNN``; every other character is
    kept as it is.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        A string every XML 1.0 parser accepts as character data or an attribute value.
    """
    return _XML_FORBIDDEN.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}"


def json_text(obj: Any, *, allow_nan: bool = False, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, allow_nan=allow_nan, **kwargs)``, writable as
    UTF-8.

    A string holding a lone surrogate (no UTF-8 form) makes the whole document ASCII with
    ``\\uXXXX`` escapes, which JSON allows and which read back to the same string.

    Raises
    ------
    ValueError
        For a NaN or infinite float unless ``allow_nan`` (JSON has neither; callers turn
        them into ``null``).
    """
    text = json.dumps(obj, ensure_ascii=False, allow_nan=allow_nan, **kwargs)
    if utf8_problem(text) is None:
        return text
    return json.dumps(obj, ensure_ascii=True, allow_nan=allow_nan, **kwargs)


def null_nonfinite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (in dicts, lists, tuples) as None.

    Parameters
    ----------
    obj : Any
        A JSON-able value (numpy scalars are converted).

    Returns
    -------
    Any
        The same structure, ready for :func:`json_text`.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: null_nonfinite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [null_nonfinite(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and type(obj).__module__ == "numpy":
        return null_nonfinite(obj.item())
    return obj
