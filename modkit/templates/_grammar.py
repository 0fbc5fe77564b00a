"""The wildcard template grammar: parsing template text into literal pieces and slots.

Grammar (informal)::

    template    := piece*
    piece       := literal | escape | group
    escape      := "\\" ( "{" | "}" | "|" | ":" | "\\" )
    group       := "{" ( reference | named | alternatives ) "}"
    reference   := NAME [ "#" TAG ]                  e.g. {group}  {group#2}
    named       := NAME ":" [" "] alternatives       e.g. {group: woman|man}
    alternatives:= sequence ( "|" sequence )*        e.g. {woman|man}
    sequence    := piece+                            (may nest groups)
    NAME        := [A-Za-z_][A-Za-z0-9_./-]*
    TAG         := [A-Za-z0-9_]+

One space right after ``NAME:`` is skipped; every other space is kept. A backslash
before any other character is an ordinary backslash. Outside braces ``|`` and ``:`` are
ordinary characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .._errors import InputError
from .._text import replace_surrogates

__all__ = [
    "Choice",
    "Literal",
    "Node",
    "Reference",
    "TemplateError",
    "escape",
    "parse_nodes",
]

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_./-]*"
_NAME_RE = re.compile(NAME_PATTERN)
_REF_RE = re.compile(rf"[ \t]*({NAME_PATTERN})(?:#([A-Za-z0-9_]+))?[ \t]*\}}")
_NAMED_RE = re.compile(rf"({NAME_PATTERN}): ?")
_ESCAPABLE = frozenset("{}|:\\")


class TemplateError(InputError):
    """A template or wildcard list is malformed, or its expansion is not allowed.

    The message names the template id (or wildcard), the 0-based character position in
    the template text, and the file, line and column where they are known.

    Attributes
    ----------
    template_id : str or None
        Id of the template at fault.
    position : int or None
        0-based character offset in the template text (or in the wildcard value).
    wildcard : str or None
        Name of the wildcard list at fault, when the error is inside one of its values.
    file : str or None
        The template or wildcard file.
    line, column : int or None
        1-based line and column in ``file``.

    Examples
    --------
    >>> import modkit
    >>> try:
    ...     modkit.expand("I met a {who}.")
    ... except modkit.TemplateError as exc:
    ...     error = exc
    >>> isinstance(error, modkit.InputError), error.template_id, error.position
    (True, 't1', 8)
    """

    def __init__(
        self,
        message: str,
        *,
        template_id: str | None = None,
        position: int | None = None,
        text: str | None = None,
        wildcard: str | None = None,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.reason = message
        self.template_id = template_id
        self.position = position
        self.text = text
        self.wildcard = wildcard
        self.file = file
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        who = []
        if self.template_id is not None:
            who.append(f"template {self.template_id!r}")
        if self.wildcard is not None:
            who.append(f"wildcard {self.wildcard!r}")
        head = where + (", ".join(who) + ": " if who else "") + self.reason
        if self.position is not None:
            head += f" (at position {self.position})"
        if self.text is not None and self.position is not None and "\n" not in self.text:
            # a lone surrogate shows as U+FFFD: the message itself must be printable
            shown = replace_surrogates(self.text) if len(self.text) <= 120 else None
            if shown is not None:
                head += f"\n    {shown}\n    {' ' * self.position}^"
        return head

    def located(self, **where: Any) -> TemplateError:
        """A copy with more location fields filled in (fields already set are kept).

        Parameters
        ----------
        **where
            Any of ``template_id``, ``position``, ``text``, ``wildcard``, ``file``,
            ``line``, ``column``.

        Returns
        -------
        TemplateError
            A new error with the same reason; its message names every location field.
        """
        fields: dict[str, Any] = {
            "template_id": self.template_id,
            "position": self.position,
            "text": self.text,
            "wildcard": self.wildcard,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }
        for key, value in where.items():
            if fields.get(key) is None:
                fields[key] = value
        return TemplateError(self.reason, **fields)


@dataclass(frozen=True)
class Literal:
    """Plain text."""

    text: str


@dataclass(frozen=True)
class Reference:
    """A named wildcard list, ``{name}`` or ``{name#tag}``."""

    name: str
    tag: str | None
    position: int

    @property
    def key(self) -> str:
        """The slot column: ``name`` or ``name#tag``."""
        return self.name if self.tag is None else f"{self.name}#{self.tag}"


@dataclass(frozen=True)
class Choice:
    """Inline alternatives ``{a|b}``, optionally named ``{name: a|b}``."""

    name: str | None
    alternatives: tuple[tuple[Node, ...], ...]
    position: int
    source: str = field(default="", compare=False)


Node = Literal | Reference | Choice


#: Deepest nesting of slots (``{a|{b|{c}}}``) and of wildcard references accepted.
MAX_NESTING = 64


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.depth = 0

    def error(self, message: str, position: int) -> TemplateError:
        return TemplateError(message, position=position, text=self.text)

    def sequence(self, *, in_group: bool) -> list[Node]:
        """Parse until the end, or until ``|``/``}`` when inside a group."""
        text = self.text
        nodes: list[Node] = []
        buf: list[str] = []
        while self.i < len(text):
            ch = text[self.i]
            if ch == "\\":
                nxt = text[self.i + 1] if self.i + 1 < len(text) else ""
                if nxt in _ESCAPABLE and nxt:
                    buf.append(nxt)
                    self.i += 2
                else:
                    buf.append("\\")
                    self.i += 1
            elif ch == "{":
                if buf:
                    nodes.append(Literal("".join(buf)))
                    buf = []
                nodes.append(self.group())
            elif ch == "}":
                if not in_group:
                    raise self.error(
                        "unbalanced '}': no '{' opens it (write \\} for a literal brace)",
                        self.i,
                    )
                break
            elif ch == "|" and in_group:
                break
            else:
                buf.append(ch)
                self.i += 1
        if buf:
            nodes.append(Literal("".join(buf)))
        return nodes

    def group(self) -> Node:
        if self.depth >= MAX_NESTING:
            raise self.error(f"slots nested more than {MAX_NESTING} deep", self.i)
        self.depth += 1
        try:
            return self._group()
        finally:
            self.depth -= 1

    def _group(self) -> Node:
        text = self.text
        start = self.i
        self.i += 1  # the "{"
        ref = _REF_RE.match(text, self.i)
        if ref:
            self.i = ref.end()
            return Reference(ref.group(1), ref.group(2), start)
        name = None
        named = _NAMED_RE.match(text, self.i)
        if named:
            name = named.group(1)
            self.i = named.end()
        alternatives: list[tuple[Node, ...]] = []
        while True:
            alt_start = self.i
            alt = self.sequence(in_group=True)
            if self.i >= len(text):
                raise self.error(
                    "unbalanced '{': the slot opened here is never closed "
                    "(write \\{ for a literal brace)",
                    start,
                )
            if not alt:
                if text[alt_start] == "}" and not alternatives:
                    if name is None:
                        raise self.error("empty slot '{}'", start)
                    raise self.error(f"slot {name!r} has no alternatives", start)
                raise self.error("empty alternative", alt_start)
            alternatives.append(tuple(alt))
            if text[self.i] == "|":
                self.i += 1
                continue
            self.i += 1  # the "}"
            break
        if name is None and len(alternatives) == 1:
            raise self.error(
                f"{text[start : self.i]!r} is neither a wildcard name nor a list of "
                "alternatives: separate alternatives with '|', or escape literal braces "
                "as \\{ and \\}",
                start,
            )
        return Choice(name, tuple(alternatives), start, text[start : self.i])


def parse_nodes(text: str) -> tuple[Node, ...]:
    """Parse template text into literal pieces and slots.

    Raises
    ------
    TemplateError
        Unbalanced braces, an empty alternative, an empty slot or a lone surrogate
        (not encodable as UTF-8); ``position`` is the 0-based offset of the fault in
        ``text``.
    """
    if not isinstance(text, str):
        raise TemplateError(f"template text must be a string, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: no prompt could hold it
        raise TemplateError(
            f"lone surrogate U+{ord(text[exc.start]):04X} cannot be encoded as UTF-8 "
            "(a truncated emoji escape, say): no endpoint can receive it",
            position=exc.start,
            text=text,
        ) from None
    parser = _Parser(text)
    return tuple(parser.sequence(in_group=False))


def escape(text: str) -> str:
    r"""Escape ``text`` so that it parses back to exactly itself, with no slots.

    Every ``{``, ``}``, ``|``, ``:`` and ``\`` gets a backslash, so the result is also
    safe as one alternative inside ``{...|...}``.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        ``text`` with a backslash before each grammar character.

    Examples
    --------
    >>> print(escape("a {b} | c: d"))
    a \{b\} \| c\: d
    """
    out = []
    for ch in text:
        if ch in _ESCAPABLE:
            out.append("\\")
        out.append(ch)
    return "".join(out)


def is_name(text: str) -> bool:
    """Whether ``text`` can be a wildcard or slot name."""
    return _NAME_RE.fullmatch(text) is not None
