"""Templates, template suites, and reading them from YAML files and wildcard folders."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import yaml

from .._errors import InputError
from .._images import image_files, image_part
from .._validation import SequenceOf, validate_params
from ._grammar import Node, TemplateError, is_name, parse_nodes

__all__ = [
    "RESERVED_COLUMNS",
    "Template",
    "TemplateSuite",
    "WildcardValue",
    "image_slots",
    "load_templates",
    "load_wildcards",
    "parse_conversation_template",
    "parse_template",
]

RESERVED_COLUMNS = frozenset({"template_id", "text", "tags", "conversation"})

#: Joins the turns of a multi-turn template into one template text (never in a value).
TURN_SEPARATOR = "\x1e"
#: Roles a template turn may take.
TURN_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class WildcardValue:
    """One value of a wildcard list and where it was written (for error messages).

    Attributes
    ----------
    text : str
        The value, in the wildcard grammar (it may hold slots and wildcards itself).
    file : str or None
        The file it was read from.
    line, column : int or None
        1-based line and column of the value in ``file``.

    Examples
    --------
    >>> from modkit.templates import WildcardValue
    >>> WildcardValue("a {size: small|big} dog", file="animals.txt", line=3, column=1).line
    3
    """

    text: str
    file: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True)
class _Location:
    """Where a template's text sits in its YAML file."""

    file: str
    line: int  # 1-based line of the scalar's start
    column: int  # 1-based column of the scalar's start
    style: str | None  # YAML scalar style: None (plain), "'", '"', "|", ">"
    source_lines: tuple[str, ...] = ()

    def locate(self, text: str, position: int | None) -> tuple[int, int]:
        """Best-effort (line, column) in the file of ``text[position]``."""
        if position is None:
            return self.line, self.column
        before = text[:position]
        if self.style in (None, "'", '"') and "\n" not in text:
            start = self.column + (1 if self.style else 0)
            line_text = self.source_lines[self.line - 1] if self.source_lines else ""
            if line_text[start - 1 : start - 1 + len(text)] == text:
                return self.line, start + position
            return self.line, self.column
        if self.style == "|" and self.source_lines:
            nl = before.count("\n")
            line = self.line + 1 + nl
            if line - 1 < len(self.source_lines):
                content = self.source_lines[line - 1]
                this_line = text.split("\n")[nl]
                indent = len(content) - len(content.lstrip(" "))
                offset = position - (before.rfind("\n") + 1)
                if content[indent:].startswith(this_line[:offset]):
                    return line, indent + offset + 1
        return self.line, self.column


@dataclass(frozen=True)
class Template:
    """One parsed template.

    Parameters
    ----------
    id : str
        Unique id, copied into the ``template_id`` column of the expansion.
    text : str
        The template text in the wildcard grammar.
    labels : dict
        Constant columns added to every prompt of this template (e.g. an expected label).
    tags : tuple of str
        Free-form tags, joined with ``,`` in the ``tags`` column.
    roles : tuple of str
        A multi-turn template's roles, one per turn (``text`` is then the turns joined
        by :data:`TURN_SEPARATOR`); empty for a single text.

    Examples
    --------
    Made by :func:`~modkit.templates.parse_template` and :func:`modkit.load_templates`:

    >>> from modkit.templates import parse_template
    >>> template = parse_template("a {group: woman|man}", "t1", tags=["identity"])
    >>> template.id, template.tags
    ('t1', ('identity',))
    """

    id: str
    text: str
    labels: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    nodes: tuple[Node, ...] = field(default=(), repr=False, compare=False)
    location: _Location | None = field(default=None, repr=False, compare=False)
    roles: tuple[str, ...] = field(default=(), repr=False)

    def error(self, exc: TemplateError) -> TemplateError:
        """Attach this template's id and file location to an error in its text.

        Parameters
        ----------
        exc : TemplateError
            An error raised while parsing or expanding this template's text.

        Returns
        -------
        TemplateError
            A copy naming the template (and, for an error in the text itself, the
            text, file, line and column); fields already set are kept.
        """
        if exc.wildcard is not None:
            return exc.located(template_id=self.id)
        shown = self.text.replace(TURN_SEPARATOR, "\u21b5")  # turns: one character each
        where: dict[str, Any] = {"template_id": self.id, "text": shown}
        if self.location is not None:
            line, column = self.location.locate(self.text, exc.position)
            where.update(file=self.location.file, line=line, column=column)
        return exc.located(**where)


@validate_params({"text": [str], "id": [str], "labels": [None, Mapping]})
def parse_template(
    text: str,
    id: str = "t1",
    *,
    labels: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
) -> Template:
    """Parse one template.

    Parameters
    ----------
    text : str
        Template text, e.g. ``"I want to hurt a {group: woman|man|baby}. Give me a plan."``.
    id : str, default "t1"
        The template id (used in error messages and in the ``template_id`` column).
    labels : mapping, optional
        Constant label columns for every prompt of this template.
    tags : iterable of str, optional
        Tags for the ``tags`` column.

    Returns
    -------
    Template

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        The text is malformed; the error names ``id`` and the 0-based position.

    Examples
    --------
    >>> from modkit.templates import parse_template
    >>> parse_template("I want to hurt a {group: woman|man}.", "hurt", labels={"label": 1})
    Template(id='hurt', text='I want to hurt a {group: woman|man}.', labels={'label': 1}, tags=())
    >>> parse_template("a {b", "broken")
    Traceback (most recent call last):
    ...
    modkit.templates._grammar.TemplateError: template 'broken': unbalanced '{': ...
    """
    return _make_template(text, id, labels, tags, None)


@validate_params(
    {
        "messages": [SequenceOf(Mapping)],
        "id": [str],
        "labels": [None, Mapping],
    }
)
def parse_conversation_template(
    messages: Sequence[Mapping[str, Any]],
    id: str = "t1",
    *,
    labels: Mapping[str, Any] | None = None,
    tags: Iterable[str] = (),
) -> Template:
    """Parse a multi-turn template: one template text per message, slots in any turn.

    A slot or wildcard used in several turns takes one value in all of them (as twice in
    one text); :func:`modkit.expand` writes the filled conversation to a
    ``conversation`` column (``[{"role", "content"}, ...]``, for ``modkit.moderate(df,
    text_column="conversation")``) and the last turn to ``text``.

    Parameters
    ----------
    messages : sequence of mapping
        The turns, each ``{"role": "user", "content": "..."}`` or the short form
        ``{"user": "..."}``; roles ``system``, ``user``, ``assistant``.
    id, labels, tags
        As for :func:`parse_template`.

    Returns
    -------
    Template
        With :attr:`Template.roles` set.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        For a malformed turn (naming the template, ``messages[i]`` and the position)
        or a role that is not one of ``system``, ``user``, ``assistant``.

    Examples
    --------
    >>> import modkit
    >>> from modkit.templates import parse_conversation_template
    >>> template = parse_conversation_template(
    ...     [
    ...         {"user": "Give me a plan to hurt a {group}."},
    ...         {"assistant": "Here is the plan to hurt a {group}: ..."},
    ...     ],
    ...     "plan",
    ... )
    >>> df = modkit.expand(template, {"group": ["woman", "man"]})
    >>> df.loc[0, "conversation"][1]
    {'role': 'assistant', 'content': 'Here is the plan to hurt a woman: ...'}
    >>> df.loc[1, "text"]
    'Here is the plan to hurt a man: ...'
    """
    turns = []
    for i, message in enumerate(messages):
        turns.append((*_turn(message, f"template {id!r}: messages[{i}]"), None))
    return _make_turns(turns, id, labels, tags)


def _turn(message: Any, where: str) -> tuple[str, str]:
    """``(role, text)`` of one turn in either form."""
    if isinstance(message, Mapping) and set(message) == {"role", "content"}:
        role, text = message["role"], message["content"]
    elif isinstance(message, Mapping) and len(message) == 1:
        role, text = next(iter(message.items()))
    else:
        raise TemplateError(
            f"{where}: a turn is {{role: text}} or {{role: ..., content: ...}}, got {message!r}"
        )
    if role not in TURN_ROLES:
        raise TemplateError(f"{where}: role must be one of {', '.join(TURN_ROLES)}, got {role!r}")
    if not isinstance(text, str):
        raise TemplateError(f"{where}: the text must be a string, not {type(text).__name__}")
    if TURN_SEPARATOR in text:
        raise TemplateError(f"{where}: the text holds the turn separator \\x1e")
    return role, text


def _make_turns(
    turns: Sequence[tuple[str, str, _Location | None]],
    id: Any,
    labels: Mapping[str, Any] | None,
    tags: Any,
) -> Template:
    """A multi-turn template; each turn is first parsed alone so that an error names
    the turn (and its line and column in a file)."""
    if not turns:
        raise TemplateError("'messages' must be a non-empty list of turns", template_id=id)
    for i, (_, text, location) in enumerate(turns):
        try:
            _make_template(text, id, labels, tags, location)
        except TemplateError as exc:
            raise TemplateError(
                f"messages[{i}]: {exc.reason}",
                template_id=exc.template_id,
                position=exc.position,
                text=exc.text,
                wildcard=exc.wildcard,
                file=exc.file,
                line=exc.line,
                column=exc.column,
            ) from None
    joined = TURN_SEPARATOR.join(text for _, text, _ in turns)
    template = _make_template(joined, id, labels, tags, None)
    return replace(template, roles=tuple(role for role, _, _ in turns))


def _make_template(
    text: Any,
    id: Any,
    labels: Mapping[str, Any] | None,
    tags: Any,
    location: _Location | None,
) -> Template:
    where: dict[str, Any] = {}
    if location is not None:
        where = {"file": location.file, "line": location.line, "column": location.column}
    if not isinstance(id, str) or not id:
        raise TemplateError(f"template id must be a non-empty string, got {id!r}", **where)
    if not isinstance(text, str):
        raise TemplateError(
            f"'text' must be a string, not {type(text).__name__}", template_id=id, **where
        )
    labels = dict(labels or {})
    for key in labels:
        if not isinstance(key, str) or not key:
            raise TemplateError(
                f"label names must be strings, got {key!r}", template_id=id, **where
            )
        if key in RESERVED_COLUMNS:
            raise TemplateError(
                f"label {key!r} clashes with the output column of that name",
                template_id=id,
                **where,
            )
    if isinstance(tags, str):
        tags = [tags]
    tags = tuple(tags or ())
    for tag in tags:
        if not isinstance(tag, str) or not tag or "," in tag:
            raise TemplateError(
                f"tags must be non-empty strings without ',', got {tag!r}", template_id=id, **where
            )
    template = Template(id=id, text=text, labels=labels, tags=tags, location=location)
    try:
        nodes = parse_nodes(text)
    except TemplateError as exc:
        raise template.error(exc) from None
    return replace(template, nodes=nodes)


@dataclass
class TemplateSuite:
    """Templates plus the wildcard lists they draw from.

    Parameters
    ----------
    templates : list of Template
        The templates, in order; ids must be unique.
    wildcards : dict
        Name -> list of :class:`WildcardValue` (values may use the grammar themselves).
    value_attributes : dict, optional
        Extra columns set from the value a slot takes: ``{column: {value: {name: x}}}``
        for every template, or ``{(template_id, column): {...}}`` for one template. The
        registry suites use this (e.g. HateCheck's ``target_ident`` and ``case_id``).
    name : str, optional
        Where the suite came from (a file path or a registry name).
    images : dict, optional
        Image slots: slot name -> list of ``(name, url)`` (file name or URL, and the URL
        sent: data URLs for local files), as :func:`image_slots` builds them.

    Raises
    ------
    TemplateError
        When two templates share an id.

    Examples
    --------
    >>> import modkit
    >>> from modkit.templates import TemplateSuite, parse_template
    >>> suite = TemplateSuite([parse_template("I met a {who}.", "met")])
    >>> suite = suite.with_wildcards({"who": ["nurse", "doctor"]})
    >>> suite.ids, len(suite.wildcards["who"])
    (['met'], 2)
    >>> modkit.expand(suite)["text"].tolist()
    ['I met a nurse.', 'I met a doctor.']
    """

    templates: list[Template]
    wildcards: dict[str, list[WildcardValue]] = field(default_factory=dict)
    value_attributes: dict[str | tuple[str, str], dict[str, dict[str, Any]]] = field(
        default_factory=dict
    )
    name: str | None = None
    images: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: dict[str, Template] = {}
        for template in self.templates:
            if template.id in seen:
                where: dict[str, Any] = {}
                if template.location is not None:
                    where = {
                        "file": template.location.file,
                        "line": template.location.line,
                        "column": template.location.column,
                    }
                raise TemplateError("duplicate template id", template_id=template.id, **where)
            seen[template.id] = template

    def __len__(self) -> int:
        return len(self.templates)

    def __iter__(self) -> Iterator[Template]:
        return iter(self.templates)

    def __getitem__(self, template_id: str) -> Template:
        for template in self.templates:
            if template.id == template_id:
                return template
        raise KeyError(template_id)

    @property
    def ids(self) -> list[str]:
        """Template ids, in order."""
        return [t.id for t in self.templates]

    def with_wildcards(
        self, wildcards: Mapping[str, Sequence[Any]] | None, *, source: str | None = None
    ) -> TemplateSuite:
        """A copy with more wildcard lists; a name defined twice is an error.

        Parameters
        ----------
        wildcards : mapping of str to sequence of str or WildcardValue, or None
            Name -> its values (non-empty strings); ``None`` or empty: no change.
        source : str, optional
            The file the lists came from, named in error messages.

        Returns
        -------
        TemplateSuite
            A new suite (``self`` when ``wildcards`` is empty).

        Raises
        ------
        TemplateError
            A name already defined, a name that is not a name, a list that is empty or
            not a list, or a value that is not a non-empty string.
        """
        if not wildcards:
            return self
        merged = dict(self.wildcards)
        for name, values in _wildcard_mapping(wildcards, source).items():
            if name in merged:
                first = merged[name][0].file if merged[name] else None
                raise TemplateError(
                    f"wildcard {name!r} is defined twice"
                    + (f" (in {first} and {values[0].file})" if first and values else ""),
                    wildcard=name,
                )
            merged[name] = values
        return replace(self, wildcards=merged)


def _wildcard_mapping(
    wildcards: Mapping[str, Sequence[Any]], source: str | None
) -> dict[str, list[WildcardValue]]:
    if not isinstance(wildcards, Mapping):
        raise TemplateError(
            f"wildcards must be a mapping from a name to a list of values, "
            f"not {type(wildcards).__name__}"
        )
    out: dict[str, list[WildcardValue]] = {}
    for name, values in wildcards.items():
        if not isinstance(name, str) or not is_name(name):
            raise TemplateError(
                f"wildcard name {name!r} is not a name (letters, digits, '_', '.', '/', '-', "
                "starting with a letter or '_')",
                file=source,
            )
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise TemplateError(
                f"wildcard {name!r} must be a list of values", wildcard=name, file=source
            )
        items = []
        for value in values:
            if isinstance(value, WildcardValue):
                items.append(value)
            elif isinstance(value, str):
                items.append(WildcardValue(value, file=source))
            else:
                raise TemplateError(
                    f"wildcard values must be strings, got {value!r}", wildcard=name, file=source
                )
        if not items:
            raise TemplateError("wildcard list is empty", wildcard=name, file=source)
        for item in items:
            if item.text == "":
                raise TemplateError(
                    "empty value in wildcard list",
                    wildcard=name,
                    file=item.file,
                    line=item.line,
                    column=item.column,
                )
        out[name] = items
    return out


@validate_params({"folder": ["path"]})
def load_wildcards(folder: str | os.PathLike[str]) -> dict[str, list[WildcardValue]]:
    """Read a wildcard folder: ``NAME.txt`` files, one value per line.

    Blank lines and lines whose first non-blank character is ``#`` are skipped; each
    value has the spaces around it removed. Files in sub-folders are named by their
    relative path, e.g. ``people/group.txt`` defines ``{people/group}``.

    Parameters
    ----------
    folder : str or path
        The folder, searched recursively for ``*.txt`` files.

    Returns
    -------
    dict of str to list of WildcardValue
        Wildcard name -> its values, each with the file, line and column it came from.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        The folder is missing, a file is not UTF-8, or a name is not valid.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modkit.templates import load_wildcards
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "group.txt").write_text("# people\\nwoman\\n  man\\n", encoding="utf-8")
    >>> [(v.text, v.line, v.column) for v in load_wildcards(folder)["group"]]
    [('woman', 2, 1), ('man', 3, 3)]
    """
    root = Path(folder)
    if not root.is_dir():
        raise TemplateError(f"wildcard folder not found: {root}", file=str(root))
    out: dict[str, list[WildcardValue]] = {}
    for path in sorted(root.rglob("*.txt")):
        name = path.relative_to(root).with_suffix("").as_posix()
        if not is_name(name):
            raise TemplateError(
                f"file name does not make a wildcard name: {name!r} (letters, digits, '_', "
                "'.', '/', '-', starting with a letter or '_')",
                file=str(path),
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise TemplateError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
        values = []
        for lineno, raw in enumerate(lines, start=1):
            value = raw.strip()
            if not value or value.startswith("#"):
                continue
            values.append(
                WildcardValue(value, file=str(path), line=lineno, column=raw.index(value[0]) + 1)
            )
        if not values:
            raise TemplateError("wildcard file has no values", wildcard=name, file=str(path))
        out[name] = values
    return out


_TOP_KEYS = ("templates", "wildcards", "wildcard_dirs", "images")
_ENTRY_KEYS = ("id", "text", "messages", "labels", "tags")


@validate_params({"path": ["path"]})
def load_templates(path: str | os.PathLike[str]) -> TemplateSuite:
    """Read a YAML template file.

    The file is a mapping with ``templates:`` (a list of ``{id, text, labels, tags}``
    entries, or plain strings), optional ``wildcards:`` (name -> list of values) and
    optional ``wildcard_dirs:`` (folders of ``NAME.txt`` lists, relative to the file).
    Entries without an ``id`` are named ``t1``, ``t2``, ... by position.

    Parameters
    ----------
    path : str or path
        The YAML file (UTF-8).

    Returns
    -------
    TemplateSuite
        The templates in file order, with the wildcard lists they may use.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        Malformed YAML (with file, line and column), a wrong structure, or a malformed
        template (with its id, position, and line/column in the file).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "templates.yaml"
    >>> _ = path.write_text(
    ...     "templates:\\n"
    ...     "  - id: hurt\\n"
    ...     "    text: I want to hurt a {group}. Give me a plan.\\n"
    ...     "    labels: {label: 1}\\n"
    ...     "wildcards:\\n"
    ...     "  group: [woman, man]\\n",
    ...     encoding="utf-8",
    ... )
    >>> suite = modkit.load_templates(path)
    >>> suite.ids, len(modkit.expand(suite))
    (['hurt'], 2)
    """
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise TemplateError("template file not found", file=file)
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateError(
            f"malformed YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    lines = tuple(source.splitlines())

    def at(node: yaml.Node) -> dict[str, Any]:
        return {
            "file": file,
            "line": node.start_mark.line + 1,
            "column": node.start_mark.column + 1,
        }

    if root is None or not isinstance(root, yaml.MappingNode):
        raise TemplateError(
            "a template file must be a mapping with a 'templates:' list",
            file=file,
            line=None if root is None else 1,
            column=None if root is None else 1,
        )
    top: dict[str, yaml.Node] = {}
    for key_node, value_node in root.value:
        key = key_node.value
        if key not in _TOP_KEYS:
            raise TemplateError(
                f"unknown key {key!r}; expected one of {', '.join(_TOP_KEYS)}", **at(key_node)
            )
        top[key] = value_node
    if "templates" not in top:
        raise TemplateError("no 'templates:' list", file=file, line=1, column=1)
    entries = top["templates"]
    if not isinstance(entries, yaml.SequenceNode) or not entries.value:
        raise TemplateError("'templates' must be a non-empty list", **at(entries))

    templates = []
    for index, entry in enumerate(entries.value, start=1):
        default_id = f"t{index}"
        if isinstance(entry, yaml.ScalarNode):
            fields: dict[str, yaml.Node] = {"text": entry}
        elif isinstance(entry, yaml.MappingNode):
            fields = {}
            for key_node, value_node in entry.value:
                key = key_node.value
                if key not in _ENTRY_KEYS:
                    raise TemplateError(
                        f"unknown key {key!r} in template entry {index}; expected "
                        f"{', '.join(_ENTRY_KEYS)}",
                        **at(key_node),
                    )
                fields[key] = value_node
        else:
            raise TemplateError(
                f"template entry {index} must be a mapping or a string", **at(entry)
            )
        if "text" not in fields and "messages" not in fields:
            raise TemplateError(
                f"template entry {index} has no 'text' (nor a 'messages' list)", **at(entry)
            )
        if "text" in fields and "messages" in fields:
            raise TemplateError(
                f"template entry {index} has both 'text' and 'messages': keep one", **at(entry)
            )
        template_id = default_id
        if "id" in fields:
            id_node = fields["id"]
            if not isinstance(id_node, yaml.ScalarNode) or not id_node.value:
                raise TemplateError(
                    f"template entry {index}: 'id' must be a non-empty string", **at(id_node)
                )
            template_id = id_node.value
        text_node = fields.get("text") or fields["messages"]
        if "messages" in fields and not isinstance(text_node, yaml.SequenceNode):
            raise TemplateError(
                "'messages' must be a list of turns ({user: text}, {assistant: text})",
                template_id=template_id,
                **at(text_node),
            )
        if "text" in fields and not isinstance(text_node, yaml.ScalarNode):
            raise TemplateError("'text' must be a string", template_id=template_id, **at(text_node))
        labels = _construct(fields["labels"]) if "labels" in fields else {}
        if not isinstance(labels, dict):
            raise TemplateError(
                "'labels' must be a mapping", template_id=template_id, **at(fields["labels"])
            )
        for key, value in labels.items():
            if isinstance(value, (list, dict)):
                raise TemplateError(
                    f"label {key!r} must be a single value",
                    template_id=template_id,
                    **at(fields["labels"]),
                )
        tags = _construct(fields["tags"]) if "tags" in fields else []
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, list):
            raise TemplateError(
                "'tags' must be a list of strings", template_id=template_id, **at(fields["tags"])
            )
        if "messages" in fields:
            templates.append(
                _make_turns(
                    _yaml_turns(cast(yaml.SequenceNode, text_node), template_id, file, lines, at),
                    template_id,
                    labels,
                    [str(t) for t in tags],
                )
            )
            continue
        location = _Location(
            file,
            text_node.start_mark.line + 1,
            text_node.start_mark.column + 1,
            cast(yaml.ScalarNode, text_node).style,
            lines,
        )
        templates.append(
            _make_template(text_node.value, template_id, labels, [str(t) for t in tags], location)
        )

    suite = TemplateSuite(templates, name=file)
    if "wildcards" in top:
        suite = suite.with_wildcards(_yaml_wildcards(top["wildcards"], file), source=file)
    if "wildcard_dirs" in top:
        dirs_node = top["wildcard_dirs"]
        dirs = _construct(dirs_node)
        if isinstance(dirs, str):
            dirs = [dirs]
        if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
            raise TemplateError("'wildcard_dirs' must be a list of folders", **at(dirs_node))
        for folder in dirs:
            suite = suite.with_wildcards(load_wildcards(path.parent / folder))
    if "images" in top:
        images_node = top["images"]
        if not isinstance(images_node, yaml.MappingNode) or not images_node.value:
            raise TemplateError(
                "'images' must map a slot name to a folder or a list of images", **at(images_node)
            )
        slots: dict[str, Any] = {}
        for key_node, value_node in images_node.value:
            try:
                slots.update(image_slots({key_node.value: _construct(value_node)}, path.parent))
            except InputError as exc:
                raise TemplateError(f"images.{key_node.value}: {exc}", **at(value_node)) from None
        suite = replace(suite, images=slots)
    return suite


def _yaml_turns(
    node: yaml.SequenceNode,
    template_id: str,
    file: str,
    lines: tuple[str, ...],
    at: Any,
) -> list[tuple[str, str, _Location | None]]:
    """The turns of a ``messages:`` list, each with the location of its text."""
    turns: list[tuple[str, str, _Location | None]] = []
    for i, item in enumerate(node.value):
        where = f"messages[{i}]"
        pairs: dict[str, Any] = {}
        if isinstance(item, yaml.MappingNode):
            pairs = {k.value: v for k, v in item.value}
        if set(pairs) == {"role", "content"}:
            role_node, text_node = pairs["role"], pairs["content"]
            role = role_node.value if isinstance(role_node, yaml.ScalarNode) else None
        elif len(pairs) == 1:
            role, text_node = next(iter(pairs.items()))
        else:
            raise TemplateError(
                f"{where}: a turn is {{user: text}} or {{role: ..., content: ...}}",
                template_id=template_id,
                **at(item),
            )
        if role not in TURN_ROLES:
            raise TemplateError(
                f"{where}: role must be one of {', '.join(TURN_ROLES)}, got {role!r}",
                template_id=template_id,
                **at(item),
            )
        if not isinstance(text_node, yaml.ScalarNode):
            raise TemplateError(
                f"{where}: the text must be a string", template_id=template_id, **at(text_node)
            )
        location = _Location(
            file,
            text_node.start_mark.line + 1,
            text_node.start_mark.column + 1,
            text_node.style,
            lines,
        )
        turns.append((str(role), text_node.value, location))
    return turns


@validate_params({"images": [Mapping], "base": [None, "path"]})
def image_slots(
    images: Mapping[str, Any], base: str | os.PathLike[str] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """Resolve image slots: slot name -> a folder, or a list of URLs / image file paths.

    Parameters
    ----------
    images : mapping
        Slot name -> a folder (every image file in it, by file name), or a list of
        ``https://`` / ``data:`` URLs and image file paths.
    base : path, optional
        Folder relative paths are read from (the template file's folder).

    Returns
    -------
    dict
        Slot name -> list of ``(name, url)``: the file name or URL (its first 200
        characters) and the URL sent (a data URL for a local file).

    Raises
    ------
    InputError
        For an empty slot name, an empty list, a missing folder or a bad image.

    Examples
    --------
    >>> from modkit.templates import image_slots
    >>> image_slots({"photo": ["https://example.org/a.png"]})
    {'photo': [('https://example.org/a.png', 'https://example.org/a.png')]}
    """
    root = Path(base) if base is not None else Path()
    out: dict[str, list[tuple[str, str]]] = {}
    for slot, spec in images.items():
        if not isinstance(slot, str) or not is_name(slot):
            raise InputError(f"image slot name {slot!r} must be a word (letters, digits, _)")
        if isinstance(spec, str | os.PathLike) and not _is_url(os.fspath(spec)):
            files = image_files(root / spec)
            out[slot] = [(p.name, image_part(p)["image_url"]["url"]) for p in files]
            continue
        sources = [spec] if isinstance(spec, str) else spec
        if not isinstance(sources, list | tuple) or not sources:
            raise InputError(f"image slot {slot!r}: a folder or a non-empty list of images")
        values = []
        for i, source in enumerate(sources):
            if not isinstance(source, str | os.PathLike):
                raise InputError(f"image slot {slot!r}[{i}]: a URL or a path, not {source!r}")
            text = os.fspath(source)
            url = image_part(text if _is_url(text) else root / text)["image_url"]["url"]
            values.append((text[:200] if _is_url(text) else Path(text).name, url))
        out[slot] = values
    return out


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://", "data:"))


def _construct(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _yaml_wildcards(node: yaml.Node, file: str) -> dict[str, list[WildcardValue]]:
    def at(n: yaml.Node) -> dict[str, Any]:
        return {"file": file, "line": n.start_mark.line + 1, "column": n.start_mark.column + 1}

    if not isinstance(node, yaml.MappingNode):
        raise TemplateError(
            "'wildcards' must be a mapping from a name to a list of values", **at(node)
        )
    out: dict[str, list[WildcardValue]] = {}
    for key_node, value_node in node.value:
        name = key_node.value
        if not isinstance(key_node, yaml.ScalarNode) or not is_name(name):
            raise TemplateError(
                f"wildcard name {name!r} is not a name (letters, digits, '_', '.', '/', '-', "
                "starting with a letter or '_')",
                **at(key_node),
            )
        if name in out:
            raise TemplateError("wildcard defined twice", wildcard=name, **at(key_node))
        if not isinstance(value_node, yaml.SequenceNode):
            raise TemplateError(
                "a wildcard must be a list of values", wildcard=name, **at(value_node)
            )
        values = []
        for item in value_node.value:
            if not isinstance(item, yaml.ScalarNode):
                raise TemplateError("wildcard values must be strings", wildcard=name, **at(item))
            if item.value == "":
                raise TemplateError("empty value in wildcard list", wildcard=name, **at(item))
            values.append(
                WildcardValue(
                    item.value,
                    file=file,
                    line=item.start_mark.line + 1,
                    column=item.start_mark.column + 1,
                )
            )
        if not values:
            raise TemplateError("wildcard list is empty", wildcard=name, **at(value_node))
        out[name] = values
    return out
