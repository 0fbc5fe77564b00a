"""Wildcard templates: write one template, expand it into every prompt it stands for.

Grammar in brief (see the docs, how-to "Write wildcard templates", for the full description):

- ``{woman|man|baby}``: inline alternatives, a slot named ``slot1``, ``slot2``, ... by
  position among the unnamed slots of the template;
- ``{group: woman|man|baby}``: the same, with the slot (and its column) named ``group``;
- ``{group}``: a named wildcard list, from the file's ``wildcards:`` mapping or a
  ``group.txt`` file in a wildcard folder; values may nest alternatives and wildcards;
- the same ``{group}`` twice in one template takes the same value; ``{group#2}`` is an
  independent draw from the same list (its column is ``group#2``);
- ``\\{``, ``\\}``, ``\\|``, ``\\:`` and ``\\\\`` stand for the literal characters;
  whitespace is kept as written (except one space right after ``name:``);
- slots nest, and wildcards refer to wildcards, at most ``MAX_NESTING`` (64) deep.
"""

from ._expand import DEFAULT_LIMIT, count_prompts, expand
from ._grammar import MAX_NESTING, TemplateError, escape
from ._model import (
    Template,
    TemplateSuite,
    WildcardValue,
    image_slots,
    load_templates,
    load_wildcards,
    parse_conversation_template,
    parse_template,
)
from ._suites import dixon_suite, hatecheck_suite

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_NESTING",
    "Template",
    "TemplateError",
    "TemplateSuite",
    "WildcardValue",
    "count_prompts",
    "dixon_suite",
    "escape",
    "expand",
    "hatecheck_suite",
    "image_slots",
    "load_templates",
    "load_wildcards",
    "parse_conversation_template",
    "parse_template",
]
