"""Template suites built from the dataset registry: HateCheck and the Dixon madlibber.

Both are converted into ordinary :class:`Template` objects and wildcard lists, so they
expand through exactly the same path as a user's template file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, cast

import pandas as pd

from .._errors import DatasetError
from .._validation import validate_params
from ._grammar import escape
from ._model import Template, TemplateSuite, WildcardValue, parse_template

__all__ = ["dixon_suite", "hatecheck_suite"]

_HATECHECK_PLACEHOLDER = re.compile(r"\[([A-Za-z_]+)\]")
_DIXON_PLACEHOLDER = re.compile(r"\{type\|([^{}]*)\}")


def _convert(
    text: str,
    pattern: re.Pattern[str],
    slot_for: Any,
) -> tuple[str, list[str]]:
    """Escape ``text`` and replace each placeholder match by ``slot_for(match)``'s slot.

    ``slot_for`` returns ``(column, wildcard)``; the slot becomes ``{column: {wildcard}}``
    (repeats get ``column2``, ... and an independent draw ``{wildcard#2}``).
    """
    out = []
    columns: list[str] = []
    repeats: dict[str, int] = {}
    last = 0
    for match in pattern.finditer(text):
        out.append(escape(text[last : match.start()]))
        column, wildcard = slot_for(match)
        repeat = repeats.get(column, 0)
        repeats[column] = repeat + 1
        name = column if repeat == 0 else f"{column}{repeat + 1}"
        ref = wildcard if repeat == 0 else f"{wildcard}#{repeat + 1}"
        out.append(f"{{{name}: {{{ref}}}}}")
        columns.append(name)
        last = match.end()
    out.append(escape(text[last:]))
    return "".join(out), columns


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _case_fields(case: Mapping[Any, Any]) -> dict[str, Any]:
    ident = case["target_ident"]
    return {
        "case_id": int(case["case_id"]),
        "target_ident": None if _missing(ident) else str(ident),
        "test_case": str(case["test_case"]),
    }


@validate_params({"data_dir": [None, "path"]})
def hatecheck_suite(*, data_dir: str | os.PathLike[str] | None = None) -> TemplateSuite:
    """HateCheck's case templates as a template suite (Röttger et al. 2021, CC-BY-4.0).

    Each distinct ``case_templ`` becomes one template (id ``hatecheck-<templ_id>``) whose
    ``[IDENTITY_P]``-style placeholder becomes a slot named ``target`` drawing from the
    wildcard list of that placeholder (from the ``template_placeholders`` part).

    Labels carried to every prompt: ``functionality``, ``label_gold``, ``label`` (1 =
    hateful), ``direction``, ``templ_id``, ``case_templ``; and, from the real test case
    that the filling stands for, ``case_id``, ``target_ident`` (the target group, e.g.
    ``"women"``, also for slur and spelling-variant fillings) and ``test_case`` (its
    text). Join the expansion to the real test cases on ``case_id``; the texts differ
    slightly (the real cases fix capitals and "a"/"an", and some end with a space).

    Parameters
    ----------
    data_dir : path, optional
        Passed to :func:`modkit.datasets.load_dataset`.

    Returns
    -------
    TemplateSuite
        One template per distinct ``case_templ``, with one wildcard list per placeholder.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        The data set is missing, or a template uses a placeholder that is not listed.

    Examples
    --------
    Reads the ``hatecheck`` data set (from ``$MODKIT_DATA_DIR`` when set):

    >>> import modkit
    >>> from modkit.templates import hatecheck_suite
    >>> suite = hatecheck_suite()
    >>> df = modkit.expand(suite, sample=3, seed=0)
    >>> len(df), {"case_id", "functionality", "label", "target_ident"} <= set(df.columns)
    (3, True)
    """
    from ..datasets import load_dataset

    cases = load_dataset("hatecheck", "test_suite_cases", data_dir=data_dir)
    table = load_dataset("hatecheck", "template_placeholders", data_dir=data_dir)
    lists: dict[str, list[str]] = {}
    for placeholder, values in zip(table["placeholder"], table["values"], strict=True):
        lists[str(placeholder).strip("[]")] = [str(v) for v in values]

    cases = cases.sort_values("case_id", kind="stable")
    attributes: dict[str | tuple[str, str], dict[str, dict[str, Any]]] = {}
    templates: list[Template] = []
    for templ_id, group in cases.groupby("templ_id", sort=False):
        first = group.iloc[0]
        case_templ = str(first["case_templ"])
        used: list[str] = []

        def slot_for(
            match: re.Match[str], used: list[str] = used, templ_id: Any = templ_id
        ) -> tuple[str, str]:
            name = match.group(1)
            if name not in lists:
                raise DatasetError(
                    f"hatecheck template {templ_id}: placeholder [{name}] is not in the "
                    "template_placeholders table"
                )
            used.append(name)
            return "target", name

        text, _ = _convert(case_templ, _HATECHECK_PLACEHOLDER, slot_for)
        labels: dict[str, Any] = {
            "functionality": str(first["functionality"]),
            "label_gold": str(first["label_gold"]),
            "label": int(first["label"]),
            "direction": str(first["direction"]),
            "templ_id": int(cast(Any, templ_id)),
            "case_templ": case_templ,
        }
        template_id = f"hatecheck-{templ_id}"
        if len(used) == 1 and len(group) == len(lists[used[0]]):
            # the cases of a template are listed in the order of the placeholder's values
            attributes[(template_id, "target")] = {
                value: _case_fields(case)
                for value, case in zip(lists[used[0]], group.to_dict("records"), strict=True)
            }
        elif not used and len(group) == 1:
            labels.update(_case_fields(first.to_dict()))
        templates.append(parse_template(text, template_id, labels=labels))
    wildcards = {
        name: [WildcardValue(escape(v), file="hatecheck:template_placeholders") for v in values]
        for name, values in lists.items()
    }
    return TemplateSuite(templates, wildcards, value_attributes=attributes, name="hatecheck")


def _dixon_slot(spec: str) -> tuple[str, str, str | None, str | None]:
    """``identity_connotation|neutral`` -> (wildcard, type, subtype, connotation).

    ``identity_subtype|ethnicity_connotation|neutral`` names a subtype; a bare
    ``occupation`` means every word of that type, whatever its connotation.
    """
    parts = spec.split("|")
    if not parts or not all(parts):
        raise DatasetError(f"dixon-madlibber: cannot read placeholder {{type|{spec}}}")
    keys = parts
    connotation = None
    if len(parts) > 1 and not parts[-1].endswith(("_connotation", "_subtype")):
        keys, connotation = parts[:-1], parts[-1]
    names = [k.removesuffix("_connotation").removesuffix("_subtype") for k in keys]
    word_type = names[0]
    subtype = names[1] if len(names) > 1 else None
    name = ".".join(k for k in (word_type, subtype, connotation or "any") if k)
    return name, word_type, subtype, connotation


@validate_params({"part": [str], "data_dir": [None, "path"]})
def dixon_suite(
    part: str = "sentence_templates", *, data_dir: str | os.PathLike[str] | None = None
) -> TemplateSuite:
    """The Dixon et al. 2018 madlibber templates as a template suite (Apache-2.0).

    Each ``{type|identity_connotation|neutral}``-style placeholder becomes a slot named
    after the word type (``identity``, ``adjective``, ``verb``, ``name``, ``occupation``)
    or subtype (``ethnicity``, ``gender``, ... in the intersectional templates), drawing
    from a wildcard list ``type[.subtype].connotation`` built from the ``words`` table.

    Labels carried to every prompt: ``dixon_template`` (the template name),
    ``toxicity`` (``"toxic"``/``"nontoxic"``) and ``label`` (1 = toxic). An ``identity``
    slot also sets ``identity_subtype`` (``age``, ``ethnicity``, ...).

    Parameters
    ----------
    part : {"sentence_templates", "intersectional_sentence_templates"}
        Which template table of the data set.
    data_dir : path, optional
        Passed to :func:`modkit.datasets.load_dataset`.

    Returns
    -------
    TemplateSuite
        One template per madlibber template and toxicity, ids ``dixon-<name>-<toxicity>``.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    DatasetError
        An unknown ``part``, or the data set cannot be found, downloaded or verified.

    Examples
    --------
    Reads the ``dixon-madlibber`` data set (from ``$MODKIT_DATA_DIR`` when set):

    >>> import modkit
    >>> from modkit.templates import dixon_suite
    >>> suite = dixon_suite()
    >>> suite.ids[:2]
    ['dixon-verb_adj-nontoxic', 'dixon-verb_adj-toxic']
    >>> df = modkit.expand(suite, sample=5, seed=0)
    >>> len(df), {"dixon_template", "toxicity", "label"} <= set(df.columns)
    (5, True)
    """
    from ..datasets import load_dataset

    if part not in ("sentence_templates", "intersectional_sentence_templates"):
        raise DatasetError(
            f"dixon_suite: unknown part {part!r}; use 'sentence_templates' or "
            "'intersectional_sentence_templates'"
        )
    words = load_dataset("dixon-madlibber", "words", data_dir=data_dir)
    table = load_dataset("dixon-madlibber", part, data_dir=data_dir)
    wildcards: dict[str, list[WildcardValue]] = {}
    templates: list[Template] = []
    seen: dict[str, int] = {}

    def word_list(name: str, word_type: str, subtype: str | None, connotation: str | None) -> None:
        if name in wildcards:
            return
        rows = words[words["type"] == word_type]
        if connotation is not None:
            rows = rows[rows["connotation"] == connotation]
        if subtype is not None:
            rows = rows[rows["subtype"] == subtype]
        if rows.empty:
            raise DatasetError(f"dixon-madlibber: no words for {name!r}")
        wildcards[name] = [
            WildcardValue(escape(str(w)), file=f"dixon-madlibber:words:{name}")
            for w in rows["word"]
        ]

    def slot_for(match: re.Match[str]) -> tuple[str, str]:
        name, word_type, subtype, connotation = _dixon_slot(match.group(1))
        word_list(name, word_type, subtype, connotation)
        return (subtype or word_type), name

    for row in table.itertuples(index=False):
        toxicity = str(row.toxicity)
        base = f"dixon-{row.template}-{toxicity}"
        seen[base] = seen.get(base, 0) + 1
        template_id = base if seen[base] == 1 else f"{base}-{seen[base]}"
        text, _ = _convert(str(row.phrase), _DIXON_PLACEHOLDER, slot_for)
        labels = {
            "dixon_template": str(row.template),
            "toxicity": toxicity,
            "label": int(toxicity == "toxic"),
        }
        templates.append(parse_template(text, template_id, labels=labels))
    identities = words[words["type"] == "identity"]
    attributes: dict[str | tuple[str, str], dict[str, dict[str, Any]]] = {
        "identity": {
            str(w): {"identity_subtype": None if _missing(s) else str(s)}
            for w, s in zip(identities["word"], identities["subtype"], strict=True)
        }
    }
    return TemplateSuite(
        templates, wildcards, value_attributes=attributes, name=f"dixon-madlibber:{part}"
    )
