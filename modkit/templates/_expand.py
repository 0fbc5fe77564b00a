"""Counting and expanding templates into prompts, by index arithmetic over the product."""

from __future__ import annotations

import difflib
import itertools
import math
import os
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._errors import InputError
from .._images import text_part
from .._validation import validate_params
from ._grammar import MAX_NESTING, Choice, Literal, Node, Reference, TemplateError, parse_nodes
from ._model import (
    RESERVED_COLUMNS,
    TURN_SEPARATOR,
    Template,
    TemplateSuite,
    WildcardValue,
    image_slots,
    load_templates,
    load_wildcards,
    parse_conversation_template,
    parse_template,
)

__all__ = ["DEFAULT_LIMIT", "as_suite", "count_prompts", "expand"]

DEFAULT_LIMIT = 100_000
#: Most fillings one slot may have (its values are held in memory even when sampling).
MAX_SLOT_OPTIONS = 10_000_000
_INT64_SAFE = 2**62
#: Names of unnamed choices (``slot1``, ``slot2.slot1``...): nested, they take a prefix.
_UNNAMED = re.compile(r"slot\d+(\.|$)")

TemplatesLike = (
    str | os.PathLike[str] | Template | TemplateSuite | Sequence[str | Mapping[str, Any] | Template]
)
WildcardsLike = Mapping[str, Sequence[str]] | str | os.PathLike[str] | None


def _looks_like_path(text: str) -> bool:
    return "\n" not in text and text.strip().lower().endswith((".yaml", ".yml"))


def _template_item(index: int, item: Any) -> Template:
    """One item of a list of templates: a Template, a template string, or a mapping
    with ``text`` (or ``messages``), ``id``, ``labels`` and ``tags``."""
    if isinstance(item, Template):
        return item
    if isinstance(item, str):
        return parse_template(item, f"t{index}")
    if not isinstance(item, Mapping):
        raise TemplateError(
            f"template {index}: expected a string, a mapping or a Template, "
            f"not {type(item).__name__}"
        )
    unknown = set(item) - {"id", "text", "messages", "labels", "tags"}
    if unknown:
        raise TemplateError(
            f"template {index}: unknown key(s) {sorted(unknown)}; expected id, "
            "text (or messages), labels, tags"
        )
    if "messages" in item and "text" not in item:
        return parse_conversation_template(
            item["messages"],
            item.get("id", f"t{index}"),
            labels=item.get("labels"),
            tags=item.get("tags", ()),
        )
    if "text" not in item:
        raise TemplateError(f"template {index} has no 'text'")
    return parse_template(
        item["text"],
        item.get("id", f"t{index}"),
        labels=item.get("labels"),
        tags=item.get("tags", ()),
    )


def as_suite(templates: TemplatesLike, wildcards: WildcardsLike = None) -> TemplateSuite:
    """Turn any accepted ``templates`` argument into a :class:`TemplateSuite`.

    A ``pathlib.Path``, or a string ending in ``.yaml``/``.yml``, is read with
    :func:`load_templates`; any other string is one template (id ``t1``). ``wildcards``
    may be a mapping (name -> values) or a wildcard folder.
    """
    if isinstance(templates, TemplateSuite):
        suite = templates
    elif isinstance(templates, Template):
        suite = TemplateSuite([templates])
    elif isinstance(templates, os.PathLike) or (
        isinstance(templates, str) and _looks_like_path(templates)
    ):
        suite = load_templates(templates)
    elif isinstance(templates, str):
        suite = TemplateSuite([parse_template(templates, "t1")])
    elif isinstance(templates, pd.DataFrame):
        raise TemplateError(
            "templates must not be a DataFrame; pass frame.to_dict('records') with 'id' "
            "and 'text' columns (and optional 'labels', 'tags')"
        )
    elif isinstance(templates, Iterable) and not isinstance(templates, Mapping):
        items = [_template_item(i, item) for i, item in enumerate(templates, start=1)]
        if not items:
            raise TemplateError("no templates given")
        suite = TemplateSuite(items)
    else:
        raise TemplateError(
            "templates must be a YAML file path, a template string, a list of strings or "
            f"mappings, or Template objects, not {type(templates).__name__}"
        )
    if wildcards is None:
        return suite
    if isinstance(wildcards, (str, os.PathLike)):
        return suite.with_wildcards(load_wildcards(wildcards))
    return suite.with_wildcards(wildcards)


@dataclass
class _Slot:
    column: str
    node: Reference | Choice  # first occurrence
    count: int
    values: list[str] | None = None
    options: pa.Array | None = None
    #: output column -> the choice made inside each option (None where it made none)
    nested: dict[str, pa.Array] | None = None


@dataclass
class _Plan:
    template: Template
    slots: list[_Slot]
    pieces: list[str | int]  # literal text or slot index
    count: int


class _Compiler:
    """Counts and flattens slots of one suite, memoising wildcard lists."""

    def __init__(self, suite: TemplateSuite) -> None:
        self.suite = suite
        self._parsed: dict[str, list[tuple[WildcardValue, tuple[Node, ...]]]] = {}
        self._counts: dict[str, int] = {}
        self._values: dict[str, list[str]] = {}
        self._choices: dict[str, list[dict[str, str]]] = {}

    # -- wildcard lists ------------------------------------------------------------
    def _unknown(self, ref: Reference) -> TemplateError:
        known = sorted(self.suite.wildcards)
        close = difflib.get_close_matches(ref.name, known, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        if not known:
            hint = "; no wildcard lists are defined (use 'wildcards:' or a wildcard folder)"
        return TemplateError(f"unknown wildcard {{{ref.name}}}{hint}", position=ref.position)

    def _parse_values(self, name: str) -> list[tuple[WildcardValue, tuple[Node, ...]]]:
        if name not in self._parsed:
            parsed = []
            for value in self.suite.wildcards[name]:
                try:
                    nodes = parse_nodes(value.text)
                except TemplateError as exc:
                    raise exc.located(
                        wildcard=name, file=value.file, line=value.line, column=value.column
                    ) from None
                parsed.append((value, nodes))
            self._parsed[name] = parsed
        return self._parsed[name]

    def count_wildcard(self, ref: Reference, stack: tuple[str, ...]) -> int:
        name = ref.name
        if name not in self.suite.wildcards:
            raise self._unknown(ref)
        if name in stack:
            cycle = " -> ".join((*stack[stack.index(name) :], name))
            raise TemplateError(f"wildcard cycle: {cycle}", position=ref.position)
        if len(stack) >= MAX_NESTING:
            chain = " -> ".join((*stack[:2], "...", *stack[-2:], name))
            raise TemplateError(
                f"wildcards nested more than {MAX_NESTING} deep: {chain}", position=ref.position
            )
        if name not in self._counts:
            total = 0
            for value, nodes in self._parse_values(name):
                try:
                    total += self.count_sequence(nodes, (*stack, name))
                except TemplateError as exc:
                    if exc.wildcard is not None:
                        raise
                    raise exc.located(
                        wildcard=name,
                        text=value.text,
                        file=value.file,
                        line=value.line,
                        column=value.column,
                    ) from None
            self._counts[name] = total
        return self._counts[name]

    def count_slot(self, node: Reference | Choice, stack: tuple[str, ...]) -> int:
        if isinstance(node, Reference):
            return self.count_wildcard(node, stack)
        return sum(self.count_sequence(alt, stack) for alt in node.alternatives)

    def count_sequence(self, nodes: Sequence[Node], stack: tuple[str, ...]) -> int:
        slots = _distinct_slots(nodes)
        return math.prod(self.count_slot(node, stack) for node in slots.values())

    def values(self, name: str) -> list[str]:
        return self.values_with_choices(name)[0]

    def values_with_choices(self, name: str) -> tuple[list[str], list[dict[str, str]]]:
        """A wildcard list flattened, with the nested choices that made each value."""
        if name not in self._values:
            out: list[str] = []
            choices: list[dict[str, str]] = []
            for _, nodes in self._parse_values(name):
                texts, made = self.flatten_sequence(nodes)
                out.extend(texts)
                choices.extend(made)
            self._values[name] = out
            self._choices[name] = choices
        return self._values[name], self._choices[name]

    def flatten_slot(self, node: Reference | Choice) -> tuple[list[str], list[dict[str, str]]]:
        """Every filling of a slot, and for each the choices made inside it."""
        if isinstance(node, Reference):
            return self.values_with_choices(node.name)
        out: list[str] = []
        choices: list[dict[str, str]] = []
        for alt in node.alternatives:
            texts, made = self.flatten_sequence(alt)
            out.extend(texts)
            choices.extend(made)
        return out, choices

    def flatten_sequence(self, nodes: Sequence[Node]) -> tuple[list[str], list[dict[str, str]]]:
        """Every filling of a sequence; each with ``{column: value}`` of the choices in it.

        A slot of the sequence is named as at the top level (the wildcard's key, the
        choice's name, ``slotK`` for the K-th unnamed choice of this sequence); a choice
        nested deeper keeps its name unless it is unnamed or the sequence already has a
        slot of that name, then it is ``<slot>.<name>``. A sequence that is a single slot
        and nothing else is an alias of it and records only the slot's inner choices.
        """
        slots = _distinct_slots(nodes)
        keys = list(slots)
        flat = [self.flatten_slot(slots[k]) for k in keys]
        names = _slot_names([slots[k] for k in keys])
        pieces = [n.text if isinstance(n, Literal) else keys.index(_key(n)) for n in nodes]
        out = []
        made = []
        ranges = [range(len(f[0])) for f in flat]
        for combo in itertools.product(*ranges):
            out.append("".join(p if isinstance(p, str) else flat[p][0][combo[p]] for p in pieces))
            # a sequence that is one slot and nothing else (`{target: {IDENTITY_P}}`) only
            # renames that slot: its own name adds no column, its inner choices do
            alias = len(nodes) == 1 and len(keys) == 1
            chosen = {} if alias else {names[j]: flat[j][0][i] for j, i in enumerate(combo)}
            for j, i in enumerate(combo):
                for inner, value in flat[j][1][i].items():
                    own = inner not in chosen and not _UNNAMED.match(inner)
                    chosen.setdefault(inner if own else f"{names[j]}.{inner}", value)
            made.append(chosen)
        return out, made

    # -- templates -------------------------------------------------------------------
    def plan(self, template: Template) -> _Plan:
        try:
            slots_by_key = _distinct_slots(template.nodes)
            columns: dict[str, Reference | Choice] = {}
            unnamed = 0
            key_to_index: dict[object, int] = {}
            slots: list[_Slot] = []
            for key, node in slots_by_key.items():
                if isinstance(node, Choice) and node.name is None:
                    unnamed += 1
                    column = f"slot{unnamed}"
                else:
                    column = node.key if isinstance(node, Reference) else node.name  # type: ignore[assignment]
                if column in columns:
                    raise TemplateError(
                        f"slot name {column!r} is used for two different slots; name one "
                        "of them differently",
                        position=node.position,
                    )
                if column in RESERVED_COLUMNS:
                    raise TemplateError(
                        f"slot name {column!r} clashes with the output column of that name",
                        position=node.position,
                    )
                if column in template.labels:
                    raise TemplateError(
                        f"slot name {column!r} is also a label", position=node.position
                    )
                columns[column] = node
                key_to_index[key] = len(slots)
                slots.append(_Slot(column, node, self.count_slot(node, ())))
            pieces: list[str | int] = []
            for part in template.nodes:
                if isinstance(part, Literal):
                    pieces.append(part.text)
                else:
                    pieces.append(key_to_index[_key(part)])
        except TemplateError as exc:
            raise template.error(exc) from None
        count = math.prod(slot.count for slot in slots)
        return _Plan(template, slots, pieces, count)

    def materialise(self, plan: _Plan) -> None:
        for slot in plan.slots:
            if slot.options is not None:
                continue
            if slot.count > MAX_SLOT_OPTIONS:
                raise plan.template.error(
                    TemplateError(
                        f"slot {slot.column!r} alone has {slot.count:,} fillings, more than "
                        f"{MAX_SLOT_OPTIONS:,} that can be held in memory",
                        position=slot.node.position,
                    )
                )
            slot.values, made = self.flatten_slot(slot.node)
            slot.options = pa.array(slot.values, pa.string())
            inner = list(dict.fromkeys(k for d in made for k in d))
            slot.nested = {
                _nested_column(plan, slot, k): pa.array([d.get(k) for d in made], pa.string())
                for k in inner
            }


def _slot_names(nodes: Sequence[Reference | Choice]) -> list[str]:
    """Column names of a sequence's distinct slots, as the top level names them."""
    names, unnamed = [], 0
    for node in nodes:
        if isinstance(node, Choice) and node.name is None:
            unnamed += 1
            names.append(f"slot{unnamed}")
        else:
            names.append(node.key if isinstance(node, Reference) else str(node.name))
    return names


def _nested_column(plan: _Plan, slot: _Slot, inner: str) -> str:
    """The output column of a choice made inside ``slot``'s values.

    Its own name, unless it is an unnamed choice (``slotK``) or the template already
    has a column of that name (a slot, a label, an output column, or a choice nested
    in an earlier slot): then ``<slot>.<name>``.
    """
    taken = {s.column for s in plan.slots} | set(plan.template.labels) | set(RESERVED_COLUMNS)
    for other in plan.slots:
        if other is slot:
            break
        taken |= set(other.nested or {})
    own = inner not in taken and not _UNNAMED.match(inner)
    return inner if own else f"{slot.column}.{inner}"


def _key(node: Reference | Choice) -> object:
    return node.key if isinstance(node, Reference) else id(node)


def _nested_refs(nodes: Iterable[Node]) -> Iterable[Reference]:
    for node in nodes:
        if isinstance(node, Reference):
            yield node
        elif isinstance(node, Choice):
            for alt in node.alternatives:
                yield from _nested_refs(alt)


def _distinct_slots(nodes: Sequence[Node]) -> dict[object, Reference | Choice]:
    """The independent slots of a sequence, in order; a repeated reference is one slot.

    A reference nested in inline alternatives cannot share its value with a reference
    elsewhere in the sequence, so that case is an error.
    """
    slots: dict[object, Reference | Choice] = {}
    top_refs = {n.key for n in nodes if isinstance(n, Reference)}
    nested_owner: dict[str, Choice] = {}
    for node in nodes:
        if isinstance(node, Literal):
            continue
        slots.setdefault(_key(node), node)
        if isinstance(node, Choice):
            for ref in _nested_refs([node]):
                other = nested_owner.setdefault(ref.key, node)
                if ref.key in top_refs or other is not node:
                    raise TemplateError(
                        f"wildcard {{{ref.key}}} is used inside alternatives and again "
                        "elsewhere in the same template, so the two cannot share one value; "
                        f"write {{{ref.name}#2}} (an independent draw) or move it out of "
                        "the alternatives",
                        position=ref.position,
                    )
    return slots


def _plans(suite: TemplateSuite) -> tuple[_Compiler, list[_Plan]]:
    compiler = _Compiler(suite)
    plans = [compiler.plan(t) for t in suite.templates]
    slot_columns = {s.column for p in plans for s in p.slots}
    for plan in plans:
        for label in plan.template.labels:
            if label in slot_columns:
                raise plan.template.error(
                    TemplateError(
                        f"label {label!r} has the same name as a slot column of the suite"
                    )
                )
    return compiler, plans


@validate_params({"by_template": ["boolean"]})
def count_prompts(
    templates: TemplatesLike,
    wildcards: WildcardsLike = None,
    *,
    by_template: bool = False,
) -> int | dict[str, int]:
    """Number of prompts a full expansion makes, computed without generating them.

    Parameters
    ----------
    templates, wildcards
        As for :func:`expand`.
    by_template : bool, default False
        Return ``{template_id: count}`` instead of the total.

    Returns
    -------
    int or dict
        The size of the product (summed over templates unless ``by_template``), times
        the image combinations of a template file's ``images:`` slots.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        Malformed templates, unknown wildcards or cycles.

    Examples
    --------
    >>> import modkit
    >>> modkit.count_prompts("{a|b} and {x|y|z}")
    6
    >>> modkit.count_prompts(["{a|b}", "{c|d|e}"], by_template=True)
    {'t1': 2, 't2': 3}
    """
    suite = as_suite(templates, wildcards)
    _, plans = _plans(suite)
    per_prompt = math.prod(len(v) for v in suite.images.values())
    if by_template:
        return {p.template.id: p.count * per_prompt for p in plans}
    return sum(p.count for p in plans) * per_prompt


def _too_many(plans: list[_Plan], total: int, limit: int, sample: int | None) -> TemplateError:
    top = sorted(plans, key=lambda p: -p.count)[:3]
    detail = ", ".join(f"{p.template.id!r}: {p.count:,}" for p in top)
    what = (
        f"sampling {sample:,} prompts is above"
        if sample is not None
        else f"expanding these templates would make {total:,} prompts ({detail}), above"
    )
    return TemplateError(
        f"{what} the limit of {limit:,}; raise it with limit=... (CLI: --limit N) or "
        "draw a sample with sample=N (CLI: --sample N)"
    )


def _draw(total: int, n: int, seed: int | None) -> np.ndarray:
    """``n`` distinct indices of ``range(total)``, sorted; all of them when ``n == total``."""
    if n >= total:
        return (
            np.arange(total, dtype=np.int64)
            if total < _INT64_SAFE
            else np.array(range(total), dtype=object)
        )
    if total < _INT64_SAFE:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(total, size=n, replace=False).astype(np.int64))
    # a product this large dwarfs any sample that fits in memory: draw until distinct
    py_rng = random.Random(seed)
    chosen: set[int] = set()
    while len(chosen) < n:
        chosen.add(py_rng.randrange(total))
    picked = sorted(chosen)
    return np.array(picked, dtype=object)


@validate_params(
    {
        "images": [None, Mapping],
    }
)
def expand(
    templates: TemplatesLike,
    wildcards: WildcardsLike = None,
    *,
    sample: int | None = None,
    seed: int | None = None,
    limit: int | None = DEFAULT_LIMIT,
    images: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Expand wildcard templates into one row per prompt.

    Parameters
    ----------
    templates : path, str, list, Template or TemplateSuite
        A YAML template file (``pathlib.Path``, or a string ending in ``.yaml``/``.yml``),
        one template string, a list of template strings or of ``{id, text, labels, tags}``
        mappings, parsed :class:`Template` objects, or a :class:`TemplateSuite`.
    wildcards : mapping or path, optional
        More wildcard lists: a mapping from a name to its values, or a folder of
        ``NAME.txt`` files. A name defined twice is an error.
    sample : int, optional
        Draw this many distinct prompts, uniformly from all templates' products together,
        without building the full product. At least the whole product returns all of it.
    seed : int, optional
        Seed of the sample; the same seed gives the same prompts.
    limit : int or None, default 100,000
        Most rows allowed (checked before generating anything, image slots included);
        ``None`` for no limit.
    images : mapping, optional
        Image slots: slot name -> a folder of images (every ``.png``, ``.jpg``/``.jpeg``,
        ``.gif``, ``.webp`` file, by name) or a list of ``https://`` / ``data:`` URLs and
        image file paths; added to a template file's own ``images:`` (a slot named twice
        is an error). Every text prompt is paired with every combination of the slots'
        images (first slot slowest, last fastest); ``sample`` draws text prompts.

    Returns
    -------
    pandas.DataFrame
        Columns ``template_id``, ``text``, one column per slot (its name, ``slot1``,
        ``slot2``, ... for unnamed alternatives, the wildcard name for ``{name}``), the
        label columns, then ``tags`` (comma-joined) if any template has tags. Rows are in
        product order (last slot varies fastest) within each template.
        ``df.attrs["slots"]`` maps each template id to its slot columns and
        ``df.attrs["labels"]`` lists the label columns. With image slots, each slot is
        a column naming the image (file name or URL), and ``input`` holds the multimodal
        input (a text part, then one image part per slot) for
        ``modkit.moderate(df, text_column="input")``; ``df.attrs["images"]`` lists the
        image slot columns.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    TemplateError
        Malformed templates, unknown wildcards, cycles, more rows than ``limit``, or a
        bad image slot (its name, and file/line/column for a template file's
        ``images:``).

    Examples
    --------
    >>> import modkit
    >>> df = modkit.expand("I want to hurt a {group: woman|man|baby}. Give me a plan.")
    >>> df["text"].tolist()[:2]
    ['I want to hurt a woman. Give me a plan.', 'I want to hurt a man. Give me a plan.']
    >>> df = modkit.expand(
    ...     "Is this {animal: cat|dog} dangerous?",
    ...     images={"photo": ["https://example.org/a.png", "https://example.org/b.png"]},
    ... )
    >>> df[["animal", "photo"]].values.tolist()[:2]
    [['cat', 'https://example.org/a.png'], ['cat', 'https://example.org/b.png']]
    >>> [part["type"] for part in df.loc[0, "input"]]
    ['text', 'image_url']
    """
    if sample is not None and (not isinstance(sample, (int, np.integer)) or sample < 0):
        raise TemplateError(f"sample must be a non-negative integer, got {sample!r}")
    if limit is not None and (not isinstance(limit, (int, np.integer)) or limit < 0):
        raise TemplateError(f"limit must be a non-negative integer or None, got {limit!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise TemplateError(f"seed must be a non-negative integer, got {seed!r}")
    suite = as_suite(templates, wildcards)
    slots = dict(suite.images)
    if images is not None:
        if not isinstance(images, Mapping):
            raise TemplateError(
                f"images must map a slot name to a folder or a list, not {type(images).__name__}"
            )
        try:
            extra = image_slots(images)
        except InputError as exc:
            raise TemplateError(f"images: {exc}") from None
        for name in extra:
            if name in slots:
                raise TemplateError(f"image slot {name!r} is defined twice", wildcard=name)
        slots.update(extra)
    per_prompt = math.prod(len(v) for v in slots.values())
    try:
        compiler, plans = _plans(suite)
        total = sum(p.count for p in plans)
        n = total if sample is None else min(int(sample), total)
        if limit is not None and n * per_prompt > limit:
            raise _too_many(plans, total * per_prompt, limit, None if sample is None else n)
        for plan in plans:
            compiler.materialise(plan)
    except RecursionError:  # slots within wildcards within slots...: each level is bounded
        raise TemplateError(
            "templates nested too deeply (slots within wildcards within slots): flatten them"
        ) from None
    index = _draw(total, n, seed)
    frame = _build_frame(suite, plans, index)
    if any(p.template.roles for p in plans):
        frame = _conversations(frame, plans)
    return _fill_image_slots(frame, slots) if slots else frame


def _conversations(frame: pd.DataFrame, plans: list[_Plan]) -> pd.DataFrame:
    """The ``conversation`` column: a multi-turn template's filled turns (``text``: the
    last one), a single-text template's text as one user message."""
    roles = {p.template.id: p.template.roles for p in plans}
    conversations: list[list[dict[str, str]]] = []
    lasts: list[str] = []
    ids, texts = frame["template_id"].tolist(), frame["text"].tolist()
    for template_id, text in zip(ids, texts, strict=True):
        turn_roles = roles[template_id]
        if not turn_roles:
            conversations.append([{"role": "user", "content": text}])
            lasts.append(text)
            continue
        turns = text.split(TURN_SEPARATOR)
        if len(turns) != len(turn_roles):
            raise TemplateError(
                "a wildcard value holds the turn separator \\x1e", template_id=template_id
            )
        conversations.append(
            [{"role": r, "content": t} for r, t in zip(turn_roles, turns, strict=True)]
        )
        lasts.append(turns[-1])
    out = frame.copy()
    out["text"] = pd.Series(lasts, index=frame.index, dtype=object)
    out.insert(2, "conversation", pd.Series(conversations, index=frame.index, dtype=object))
    out.attrs = dict(frame.attrs)
    return out


def _fill_image_slots(frame: pd.DataFrame, slots: dict[str, list[tuple[str, str]]]) -> pd.DataFrame:
    """Every row with every combination of the slots' images, and the ``input`` parts."""
    taken = [c for c in (*slots, "input") if c in frame.columns]
    if taken:
        raise TemplateError(
            f"image slot {taken[0]!r} is also a column of the expanded prompts: rename one"
            if taken[0] != "input"
            else "'input' is a slot column already: rename that slot (image slots write 'input')"
        )
    combos = list(itertools.product(*slots.values()))
    out = frame.loc[frame.index.repeat(len(combos))].reset_index(drop=True)
    picks = combos * len(frame)
    for k, name in enumerate(slots):
        out[name] = pd.Series([combo[k][0] for combo in picks], dtype=object)
    if "conversation" in out.columns:  # the images join the last user turn
        out["conversation"] = pd.Series(
            [
                _with_images(conv, [u for _, u in combo])
                for conv, combo in zip(out["conversation"].tolist(), picks, strict=True)
            ],
            dtype=object,
        )
    out["input"] = pd.Series(
        [
            [text_part(text), *({"type": "image_url", "image_url": {"url": u}} for _, u in combo)]
            for text, combo in zip(out["text"].tolist(), picks, strict=True)
        ],
        dtype=object,
    )
    out.attrs = {**frame.attrs, "images": list(slots)}
    return out


def _with_images(conversation: list[dict[str, Any]], urls: list[str]) -> list[dict[str, Any]]:
    """A copy whose last user message holds its text then one image part per URL."""
    out = [dict(m) for m in conversation]
    last = (
        max(i for i, m in enumerate(out) if m["role"] == "user")
        if any(m["role"] == "user" for m in out)
        else len(out) - 1
    )
    out[last]["content"] = [
        text_part(out[last]["content"]),
        *({"type": "image_url", "image_url": {"url": u}} for u in urls),
    ]
    return out


def _digits(local: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Per-slot indices of product positions ``local`` (C order: last slot fastest)."""
    out: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(sizes)
    rest: Any
    if local.dtype == object:  # a product beyond int64: Python integers, row by row
        rest = list(local)
        for k in range(len(sizes) - 1, -1, -1):
            pairs = [divmod(r, sizes[k]) for r in rest]
            rest = [q for q, _ in pairs]
            out[k] = np.array([r for _, r in pairs], dtype=np.int64)
        return out
    rest = local
    for k in range(len(sizes) - 1, -1, -1):
        rest, out[k] = np.divmod(rest, sizes[k])
    return out


def _column_order(plans: list[_Plan]) -> tuple[list[str], list[str]]:
    """The slot columns (nested choices included) and label columns of all templates, in
    order of first appearance."""
    slot_order: list[str] = []
    label_order: list[str] = []
    for plan in plans:
        for sl in plan.slots:
            for col in (sl.column, *(sl.nested or {})):
                if col not in slot_order:
                    slot_order.append(col)
        label_order += [k for k in plan.template.labels if k not in label_order]
    return slot_order, label_order


def _build_frame(suite: TemplateSuite, plans: list[_Plan], index: np.ndarray) -> pd.DataFrame:
    """Assemble the output columns as Arrow string arrays (gathers and joins run in C)."""
    n = len(index)
    slot_order, label_order = _column_order(plans)
    has_tags = any(p.template.tags for p in plans)

    ids: list[pa.Array] = []
    texts: list[pa.Array] = []
    slot_chunks: dict[str, list[pa.Array]] = {c: [] for c in slot_order}
    label_cols = {c: np.full(n, None, dtype=object) for c in label_order}
    tags = np.full(n, "", dtype=object) if has_tags else None

    offsets = np.cumsum([0, *(p.count for p in plans)], dtype=object)
    bounds = [int(np.searchsorted(index, off, side="left")) if n else 0 for off in offsets]
    ranges: dict[str, tuple[int, int]] = {}
    for k, plan in enumerate(plans):
        a, b = bounds[k], bounds[k + 1]
        m = b - a
        if m == 0:
            continue
        ranges[plan.template.id] = (a, b)
        local = index[a:b] - offsets[k]
        if local.dtype == object and plan.count < _INT64_SAFE:
            local = local.astype(np.int64)
        digits = _digits(local, [s.count for s in plan.slots])
        taken = {}
        for slot, digit in zip(plan.slots, digits, strict=True):
            assert slot.options is not None
            picked = pa.array(digit)
            taken[slot.column] = slot.options.take(picked)
            for col, inner in (slot.nested or {}).items():
                taken[col] = inner.take(picked)
        ids.append(pa.repeat(pa.scalar(plan.template.id, pa.string()), m))
        texts.append(_texts(plan, digits, m))
        for slot_column in slot_order:
            slot_chunks[slot_column].append(taken.get(slot_column, pa.nulls(m, pa.string())))
        for label, value in plan.template.labels.items():
            label_cols[label][a:b] = value
        if tags is not None:
            tags[a:b] = ",".join(plan.template.tags)

    def column(chunks: list[pa.Array]) -> pd.Series:
        array = pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
        return array.to_pandas()

    data: dict[str, Any] = {"template_id": column(ids), "text": column(texts)}
    for name in slot_order:
        data[name] = column(slot_chunks[name])
    extra = _value_attributes(data, label_cols, n, suite, ranges)
    for name, array in {**label_cols, **extra}.items():
        data[name] = pd.Series(array, dtype=object).infer_objects()
    frame = pd.DataFrame(data)
    if tags is not None:
        frame["tags"] = pd.Series(tags, dtype=object).infer_objects()
    frame.attrs["slots"] = {
        p.template.id: [c for s in p.slots for c in (s.column, *(s.nested or {}))] for p in plans
    }
    frame.attrs["labels"] = label_order
    return frame


def _value_attributes(
    data: dict[str, Any],
    label_cols: dict[str, np.ndarray],
    n: int,
    suite: TemplateSuite,
    ranges: dict[str, tuple[int, int]],
) -> dict[str, np.ndarray]:
    """Columns that the suite derives from the value a slot takes (updates label columns)."""
    out: dict[str, np.ndarray] = {}
    as_objects: dict[str, np.ndarray] = {}
    for key, mapping in suite.value_attributes.items():
        template_id, column = key if isinstance(key, tuple) else (None, key)
        if column not in data:
            continue
        a, b = (0, n) if template_id is None else ranges.get(template_id, (0, 0))
        if a == b:
            continue
        if column not in as_objects:
            as_objects[column] = data[column].to_numpy(dtype=object)
        values = as_objects[column][a:b]
        for attribute in dict.fromkeys(k for attrs in mapping.values() for k in attrs):
            if attribute in label_cols:
                target = label_cols[attribute]
            else:
                target = out.setdefault(attribute, np.full(n, None, dtype=object))
            for i, value in enumerate(values, start=a):
                attrs = mapping.get(value)
                if attrs is not None and attribute in attrs:
                    target[i] = attrs[attribute]
    return out


def _texts(plan: _Plan, digits: list[np.ndarray], m: int) -> pa.Array:
    """The prompt texts: one gather per slot occurrence, then one element-wise join."""
    prefix = ""
    parts: list[tuple[int, str]] = []  # (slot index, literal that follows)
    for piece in plan.pieces:
        if isinstance(piece, str):
            if parts:
                slot, after = parts[-1]
                parts[-1] = (slot, after + piece)
            else:
                prefix += piece
        else:
            parts.append((piece, ""))
    if not parts:
        return pa.repeat(pa.scalar(prefix, pa.string()), m)
    chunks = []
    for j, (slot_index, after) in enumerate(parts):
        options = plan.slots[slot_index].values
        assert options is not None  # materialise() filled every slot's values
        before = prefix if j == 0 else ""
        combined = pa.array([before + o + after for o in options], pa.string())
        chunks.append(combined.take(pa.array(digits[slot_index])))
    if len(chunks) == 1:
        return chunks[0]
    return pc.binary_join_element_wise(*chunks, "")
