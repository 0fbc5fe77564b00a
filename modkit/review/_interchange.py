"""An audit sample out to Label Studio, Argilla or CSV, and reviewers' verdicts back."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

from .._errors import InputError
from .._validation import SequenceOf, StrOptions, validate_params
from ._labels import DECISION_PREFIX, LABEL_PREFIX, label_value, sample_categories

__all__ = [
    "CHOICES",
    "EXPORT_FORMATS",
    "export_sample",
    "label_studio_config",
    "question_name",
    "read_verdicts",
]

#: Formats of :func:`export_sample`.
EXPORT_FORMATS = ("label-studio", "argilla", "csv")
#: The answers a reviewer picks per category (label 1, 0, unsure).
CHOICES = ("yes", "no", "unsure")
_CHOICE_LABEL: dict[str, int | None] = {"yes": 1, "no": 0, "unsure": None}
_AGENT = "modkit"
_VERDICT_COLUMNS = ["id", "reviewer", "category", "label", "rubric_version", "recorded_at", "where"]


def question_name(category: str) -> str:
    """A category key as a Label Studio control / Argilla question name.

    Argilla names allow lowercase letters, digits, ``_`` and ``-``: ``/`` becomes
    ``__`` (no API category key contains ``__``, so the mapping is one to one).

    Parameters
    ----------
    category : str

    Returns
    -------
    str

    Examples
    --------
    >>> from modkit.review import question_name
    >>> question_name("self-harm/intent")
    'self-harm__intent'
    """
    return re.sub(r"[^a-z0-9_-]", "_", category.lower().replace("/", "__"))


@validate_params({"categories": [SequenceOf(str)], "text_field": [str]})
def label_studio_config(categories: Sequence[str], *, text_field: str = "text") -> str:
    """The Label Studio labeling config (XML) that the exported tasks fit.

    One ``Choices`` control per category (named by :func:`question_name`), with the
    choices ``yes`` / ``no`` / ``unsure``, on a ``Text`` object showing ``$text``.

    Parameters
    ----------
    categories : sequence of str
    text_field : str, default "text"

    Returns
    -------
    str

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> from modkit.review import label_studio_config
    >>> print(label_studio_config(["violence"]).splitlines()[2])
      <Text name="text" value="$text"/>
    """
    lines = ["<View>", '  <Header value="Does the text fall in the category?"/>']
    lines.append(f'  <Text name="text" value={quoteattr("$" + text_field)}/>')
    for cat in categories:
        lines.append(f"  <Header value={quoteattr(cat)}/>")
        lines.append(
            f'  <Choices name={quoteattr(question_name(cat))} toName="text" '
            'choice="single" showInline="true">'
        )
        lines += [f'    <Choice value="{c}"/>' for c in CHOICES]
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines) + "\n"


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if v is pd.NA:
        return None
    return v


def _choice(label: Any) -> str:
    v = _plain(label)
    return "unsure" if v is None else ("yes" if int(v) == 1 else "no")


def _predicted(decision: Any) -> str | None:
    d = str(_plain(decision)).lower()
    return {"block": "yes", "flag": "yes", "true": "yes", "allow": "no", "false": "no"}.get(d)


def _verdict_frame(
    sample: pd.DataFrame, verdicts: pd.DataFrame | None, cats: list[str], reviewer: str
) -> pd.DataFrame:
    if verdicts is not None:
        missing = {"id", "reviewer", "category", "label"} - set(verdicts.columns)
        if missing:
            raise InputError(f"verdicts lack columns {sorted(missing)}")
        return verdicts
    rows = []
    for rec in sample.to_dict(orient="records"):
        for cat in cats:
            col = LABEL_PREFIX + cat
            if col in rec and _plain(rec[col]) is not None:
                rows.append(
                    {"id": str(rec["id"]), "reviewer": reviewer, "category": cat, "label": rec[col]}
                )
    return pd.DataFrame(rows, columns=["id", "reviewer", "category", "label"])


@validate_params(
    {
        "sample": [pd.DataFrame],
        "fmt": [StrOptions(EXPORT_FORMATS)],
        "verdicts": [None, pd.DataFrame],
        "reviewer": [str],
    }
)
def export_sample(
    sample: pd.DataFrame,
    fmt: str,
    *,
    verdicts: pd.DataFrame | None = None,
    reviewer: str = "modkit",
) -> str:
    """An audit sample as Label Studio tasks, Argilla v2 records or a review CSV.

    - ``label-studio``: a JSON list of tasks (Label Studio's basic task format): each
      ``data`` holds the sample's row (``modkit_id`` is the sample's ``id``, ``text``
      the text); ``predictions`` hold modkit's decision per category (``yes`` for
      block, ``no`` for allow) as ``choices`` results
      for the controls of :func:`label_studio_config`, the prediction's ``score``
      the highest category score); existing verdicts are
      ``annotations`` (``completed_by`` the reviewer).
    - ``argilla``: a JSON list of Argilla v2 records as ``Record.to_dict`` writes
      them (``dataset.records.to_json``): ``id`` is the sample's id, ``fields.text``
      the text, ``metadata`` the scores, stratum and inclusion probability,
      ``suggestions`` modkit's decisions, ``responses`` the existing verdicts (one
      label question per category, :func:`question_name`, labels yes/no/unsure).
    - ``csv``: the sample's columns with ``reviewer`` and ``label_<category>``
      columns to fill (1, 0, ``unsure`` or empty), one row per (item, reviewer)
      with verdicts, else one per item.

    Parameters
    ----------
    sample : DataFrame
        :func:`modkit.audit.draw`'s frame (``id`` and ``text`` columns), or a
        labelled sample (``label_<category>`` columns are its verdicts).
    fmt : {"label-studio", "argilla", "csv"}
    verdicts : DataFrame, optional
        ``id``, ``reviewer``, ``category``, ``label`` (1/0/NaN unsure), e.g.
        :meth:`ReviewStore.verdicts`; default: the sample's ``label_`` columns,
        attributed to ``reviewer``.
    reviewer : str, default "modkit"

    Returns
    -------
    str
        The file's text.

    Raises
    ------
    InputError
        An unknown format, a sample without ``id`` or ``text``.

    Examples
    --------
    >>> import json
    >>> import pandas as pd
    >>> from modkit.review import export_sample
    >>> sample = pd.DataFrame({"id": ["a"], "text": ["hi"], "violence": [0.9],
    ...                        "decision/violence": ["block"]})
    >>> task = json.loads(export_sample(sample, "label-studio"))[0]
    >>> task["data"]["modkit_id"], task["predictions"][0]["result"][0]["value"]
    ('a', {'choices': ['yes']})
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"format must be one of {list(EXPORT_FORMATS)}, got {fmt!r}")
    for col in ("id", "text"):
        if col not in sample.columns:
            hint = (
                "; the decision log kept only text_sha256: serve with --log-text store while "
                "auditing so that reviewers can read the text"
                if col == "text" and "text_sha256" in sample.columns
                else ""
            )
            raise InputError(
                f"the sample has no {col!r} column (modkit.audit.draw writes one){hint}"
            )
    cats = sample_categories(sample)
    v = _verdict_frame(sample, verdicts, cats, reviewer)
    known = set(sample["id"].astype(str))
    for i, rec in enumerate(v.to_dict(orient="records"), start=1):
        if str(rec["id"]) not in known:
            raise InputError(f"verdict {i} field 'id': {rec['id']!r} is not in the sample")
        if rec["category"] not in cats:
            raise InputError(
                f"verdict {i} field 'category': {rec['category']!r} is not asked by the "
                f"sample (it asks {cats})"
            )
    base = [c for c in sample.columns if not str(c).startswith(LABEL_PREFIX) and c != "n_reviewers"]
    by_item: dict[str, list[dict[str, Any]]] = {}
    for rec in v.to_dict(orient="records"):
        by_item.setdefault(str(rec["id"]), []).append({str(k): x for k, x in rec.items()})
    if fmt == "csv":
        return _export_csv(sample[base], by_item, cats)
    out = []
    for rec in sample[base].to_dict(orient="records"):
        row = {str(k): _plain(x) for k, x in rec.items()}
        item = str(row["id"])
        if fmt == "label-studio":
            out.append(_ls_task(row, item, cats, by_item.get(item, [])))
        else:
            out.append(_argilla_record(row, item, cats, by_item.get(item, [])))
    return json.dumps(out, ensure_ascii=False, indent=1) + "\n"


def _ls_task(
    row: dict[str, Any], item: str, cats: list[str], given: list[dict[str, Any]]
) -> dict[str, Any]:
    data = {k: x for k, x in row.items() if k != "id"}
    data = {"modkit_id": item, **data}
    result = []
    for cat in cats:
        choice = _predicted(row.get(DECISION_PREFIX + cat))
        if choice is not None:
            r: dict[str, Any] = {
                "from_name": question_name(cat),
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [choice]},
            }
            result.append(r)
    task: dict[str, Any] = {"data": data}
    if result:
        scores = [row[c] for c in cats if isinstance(row.get(c), int | float)]
        prediction: dict[str, Any] = {"model_version": _AGENT, "result": result}
        if scores:
            prediction["score"] = max(scores)
        task["predictions"] = [prediction]
    annotations: dict[str, list[dict[str, Any]]] = {}
    for g in given:
        annotations.setdefault(str(g["reviewer"]), []).append(
            {
                "from_name": question_name(str(g["category"])),
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [_choice(g["label"])]},
            }
        )
    if annotations:
        task["annotations"] = [
            {"completed_by": who, "result": res, "was_cancelled": False}
            for who, res in annotations.items()
        ]
    return task


def _argilla_record(
    row: dict[str, Any], item: str, cats: list[str], given: list[dict[str, Any]]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for k, x in row.items():
        if k in ("id", "text") or k.startswith(DECISION_PREFIX) or x is None:
            continue
        if isinstance(x, bool | int | float | str):
            metadata[question_name(k)] = x
    suggestions = {}
    for cat in cats:
        choice = _predicted(row.get(DECISION_PREFIX + cat))
        if choice is not None:
            score = row.get(cat)
            suggestions[question_name(cat)] = {
                "value": choice,
                "score": score if isinstance(score, int | float) else None,
                "agent": _AGENT,
            }
    responses: dict[str, list[dict[str, Any]]] = {}
    for g in given:
        responses.setdefault(question_name(str(g["category"])), []).append(
            {"value": _choice(g["label"]), "user_id": str(g["reviewer"])}
        )
    return {
        "id": item,
        "fields": {"text": row.get("text")},
        "metadata": metadata,
        "suggestions": suggestions,
        "responses": responses,
        "vectors": {},
        "_server_id": None,
    }


def _export_csv(
    base: pd.DataFrame, by_item: dict[str, list[dict[str, Any]]], cats: list[str]
) -> str:
    rows = []
    for rec in base.to_dict(orient="records"):
        item = str(rec["id"])
        per_reviewer: dict[str, dict[str, Any]] = {}
        for g in by_item.get(item, []):
            per_reviewer.setdefault(str(g["reviewer"]), {})[str(g["category"])] = g["label"]
        for who, labels in (per_reviewer or {"": {}}).items():
            row = {**rec, "reviewer": who}
            for cat in cats:
                row[LABEL_PREFIX + cat] = _csv_label(labels[cat]) if cat in labels else ""
            rows.append(row)
    buf = io.StringIO()
    cols = [*base.columns, "reviewer", *(LABEL_PREFIX + c for c in cats)]
    # RFC 4180 line ends: a field holding a carriage return or a newline is quoted
    writer = csv.DictWriter(buf, fieldnames=[str(c) for c in cols], lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({str(k): "" if _plain(x) is None else _plain(x) for k, x in row.items()})
    return buf.getvalue()


def _csv_label(label: Any) -> str:
    v = _plain(label)
    return "unsure" if v is None else str(int(v))


# -- reading verdicts back -------------------------------------------------------------
@validate_params(
    {
        "path": ["path"],
        "ids": [None, SequenceOf(str)],
        "categories": [None, SequenceOf(str)],
        "reviewer": [None, str],
    }
)
def read_verdicts(
    path: str | os.PathLike[str],
    *,
    ids: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    reviewer: str | None = None,
) -> pd.DataFrame:
    """Read reviewers' verdicts from a Label Studio export, Argilla records or a CSV.

    The format is told by the content: a JSON list of tasks with ``data`` (Label
    Studio's JSON export: every non-cancelled annotation's ``choices`` per control;
    the reviewer is ``completed_by``, its ``email`` when it is an object), a JSON list
    of records with ``fields`` (Argilla v2: ``responses`` per question,
    the reviewer is ``user_id``; a response whose ``status`` is ``discarded`` or
    ``draft`` is skipped), or a CSV with ``id``, ``label_<category>`` and optional
    ``reviewer``, ``rubric_version`` columns (empty cells: no verdict).

    Every row is checked: the id must be one of ``ids`` (when given), each category
    one of ``categories``, a value yes/no/unsure (or 1/0), and no (item, reviewer,
    category) may come twice (a duplicate, or a conflict when the values differ).

    Parameters
    ----------
    path : str or PathLike
        ``.json`` or ``.csv``.
    ids : sequence of str, optional
        The sample's ids.
    categories : sequence of str, optional
        The categories asked; default: read from the file (CSV ``label_`` columns;
        JSON: question names read back as categories).
    reviewer : str, optional
        For CSV rows without a reviewer.

    Returns
    -------
    DataFrame
        ``id``, ``reviewer``, ``category``, ``label`` (1.0 / 0.0 / NaN for unsure),
        ``rubric_version``, ``recorded_at``, ``where`` (file and row).

    Raises
    ------
    InputError
        The file cannot be read or parsed; an unknown id or category, a value that is
        no verdict, a duplicate or conflicting verdict, a row without reviewer: the
        message names the file, the row (CSV line, or JSON list index from 1) and the
        field.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from modkit.review import read_verdicts
    >>> path = Path(tempfile.mkdtemp()) / "verdicts.csv"
    >>> _ = path.write_text("id,reviewer,label_violence\\na,ana,1\\nb,ana,unsure\\n")
    >>> read_verdicts(path, ids=["a", "b"])[["id", "category", "label"]]
      id  category  label
    0  a  violence    1.0
    1  b  violence    NaN
    >>> read_verdicts(path, ids=["a"])
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: ...verdicts.csv line 3 field 'id': unknown item id 'b'
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    try:
        text = p.read_bytes().decode("utf-8-sig")  # no newline translation: csv reads them
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: cannot read ({exc})") from None
    cats = list(categories) if categories is not None else None
    refs: list[tuple[str, str, str]] = []  # (where, field, id) of every row read
    if p.suffix.lower() == ".csv":
        rows = _read_csv(p, text, cats, reviewer, refs)
    elif p.suffix.lower() == ".json":
        rows = _read_json(p, text, cats, refs)
    else:
        raise InputError(f"{p}: unsupported verdicts file {p.suffix!r}; use .json or .csv")
    if ids is not None:
        known = set(map(str, ids))
        for where, field, item in refs:
            if item not in known:
                raise InputError(f"{where} field '{field}': unknown item id {item!r}")
    seen: dict[tuple[str, str, str], tuple[Any, str]] = {}
    for r in rows:
        key = (r["id"], r["reviewer"], r["category"])
        if key in seen:
            old, where = seen[key]
            same = (old is None and r["label"] is None) or old == r["label"]
            kind = "duplicate" if same else "conflicting"
            raise InputError(
                f"{r['where']} field '{r['field']}': {kind} verdict of {r['reviewer']!r} on "
                f"{r['id']!r} / {r['category']!r} (first at {where})"
            )
        seen[key] = (r["label"], r["where"])
    frame = pd.DataFrame(rows, columns=[*_VERDICT_COLUMNS])
    frame["label"] = pd.to_numeric(frame["label"], errors="coerce").astype(float)
    return frame.reset_index(drop=True)


def _verdict(
    where: str, field: str, item: str, who: str, cat: str, label: int | None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": item,
        "reviewer": who,
        "category": cat,
        "label": label,
        "rubric_version": extra.get("rubric_version", ""),
        "recorded_at": extra.get("recorded_at"),
        "where": where,
        "field": field,
        "id_field": extra.get("id_field", "id"),
    }


def _csv_header(p: Path, reader: Any, cats: list[str] | None) -> tuple[list[str], list[str]]:
    """The header of a verdicts CSV and its ``label_<category>`` columns, checked."""
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{p}: empty file") from None
    except csv.Error as exc:
        raise InputError(f"{p} line 1: {exc}") from None
    if "id" not in header:
        raise InputError(f"{p} line 1: no 'id' column")
    label_cols = [h for h in header if h.startswith(LABEL_PREFIX)]
    if not label_cols:
        raise InputError(f"{p} line 1: no label_<category> column")
    for h in label_cols:
        if cats is not None and h[len(LABEL_PREFIX) :] not in cats:
            raise InputError(
                f"{p} line 1 field {h!r}: unknown category {h[len(LABEL_PREFIX) :]!r} "
                f"(the sample asks {cats})"
            )
    return header, label_cols


def _read_csv(
    p: Path,
    text: str,
    cats: list[str] | None,
    reviewer: str | None,
    refs: list[tuple[str, str, str]],
) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text))
    header, label_cols = _csv_header(p, reader, cats)
    rows: list[dict[str, Any]] = []
    seen_rows: dict[tuple[str, str], int] = {}
    line = 1
    try:
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                raise InputError(
                    f"{p} line {line}: {len(cells)} fields, the header has {len(header)}"
                )
            rec = dict(zip(header, cells, strict=True))
            where = f"{p} line {line}"
            item = rec["id"].strip()
            if not item:
                raise InputError(f"{where} field 'id': empty")
            refs.append((where, "id", item))
            who = (rec.get("reviewer") or "").strip() or (reviewer or "")
            filled = [h for h in label_cols if rec[h].strip()]
            if filled and not who:
                raise InputError(
                    f"{where} field 'reviewer': empty (fill it, or pass reviewer= / --reviewer)"
                )
            if filled:
                if (item, who) in seen_rows:
                    raise InputError(
                        f"{where} field 'id': duplicate row for {item!r} by {who!r} "
                        f"(first at line {seen_rows[(item, who)]})"
                    )
                seen_rows[(item, who)] = line
            for h in filled:
                label = label_value(rec[h], where=f"{where} field {h!r}")
                rows.append(
                    _verdict(
                        where,
                        h,
                        item,
                        who,
                        h[len(LABEL_PREFIX) :],
                        label,
                        rubric_version=(rec.get("rubric_version") or "").strip(),
                        recorded_at=(rec.get("recorded_at") or "").strip() or None,
                    )
                )
    except csv.Error as exc:
        raise InputError(f"{p} line {line}: {exc}") from None
    return rows


def _categories_by_name(cats: list[str] | None) -> dict[str, str] | None:
    return None if cats is None else {question_name(c): c for c in cats}


def _category(name: Any, names: dict[str, str] | None, where: str, field: str) -> str:
    if names is None:
        return str(name).replace("__", "/")
    if name not in names:
        raise InputError(
            f"{where} field '{field}': unknown category question {name!r} (expected one of "
            f"{sorted(names)})"
        )
    return names[name]


def _answer(value: Any, where: str, field: str) -> int | None:
    if isinstance(value, list):
        if len(value) != 1:
            raise InputError(f"{where} field '{field}': expected one choice, got {value!r}")
        value = value[0]
    if isinstance(value, str) and value.strip().lower() in _CHOICE_LABEL:
        return _CHOICE_LABEL[value.strip().lower()]
    raise InputError(f"{where} field '{field}': {value!r} is not one of {list(CHOICES)}")


def _read_json(
    p: Path, text: str, cats: list[str] | None, refs: list[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{p} line {exc.lineno} column {exc.colno}: invalid JSON ({exc.msg})"
        ) from None
    if not isinstance(data, list):
        raise InputError(f"{p}: expected a JSON list of Label Studio tasks or Argilla records")
    names = _categories_by_name(cats)
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(data, start=1):
        where = f"{p} row {i}"
        if not isinstance(rec, dict):
            raise InputError(f"{where}: expected an object, got {type(rec).__name__}")
        if "data" in rec:
            rows += _read_ls_task(rec, where, names, refs)
        elif "fields" in rec:
            rows += _read_argilla_record(rec, where, names, refs)
        else:
            raise InputError(
                f"{where}: neither a Label Studio task ('data') nor an Argilla record ('fields')"
            )
    return rows


def _read_ls_task(
    rec: dict[str, Any],
    where: str,
    names: dict[str, str] | None,
    refs: list[tuple[str, str, str]],
) -> list[dict[str, Any]]:
    data = rec["data"]
    if not isinstance(data, dict):
        raise InputError(f"{where} field 'data': expected an object")
    raw = data.get("modkit_id", data.get("id"))
    if raw is None or str(raw).strip() == "":
        raise InputError(f"{where} field 'data.modkit_id': missing")
    item = str(raw)
    refs.append((where, "data.modkit_id", item))
    rows = []
    for j, ann in enumerate(rec.get("annotations") or [], start=1):
        if not isinstance(ann, dict):
            raise InputError(f"{where} field 'annotations[{j}]': expected an object")
        if ann.get("was_cancelled"):
            continue
        by = ann.get("completed_by")
        if isinstance(by, dict):
            by = by.get("email") or by.get("username") or by.get("id")
        if by is None or str(by).strip() == "":
            raise InputError(f"{where} field 'annotations[{j}].completed_by': missing")
        at = ann.get("updated_at") or ann.get("created_at")
        for k, res in enumerate(ann.get("result") or [], start=1):
            field = f"annotations[{j}].result[{k}]"
            if not isinstance(res, dict) or res.get("type", "choices") != "choices":
                continue
            cat = _category(res.get("from_name"), names, where, f"{field}.from_name")
            value = (res.get("value") or {}).get("choices")
            label = _answer(value, where, f"{field}.value.choices")
            rows.append(
                _verdict(
                    where,
                    f"{field}.value.choices",
                    item,
                    str(by),
                    cat,
                    label,
                    recorded_at=at,
                    id_field="data.modkit_id",
                )
            )
    return rows


def _read_argilla_record(
    rec: dict[str, Any],
    where: str,
    names: dict[str, str] | None,
    refs: list[tuple[str, str, str]],
) -> list[dict[str, Any]]:
    raw = rec.get("id")
    if raw is None or str(raw).strip() == "":
        raise InputError(f"{where} field 'id': missing")
    item = str(raw)
    refs.append((where, "id", item))
    responses = rec.get("responses") or {}
    if not isinstance(responses, dict):
        raise InputError(f"{where} field 'responses': expected an object by question name")
    rows = []
    for qname, answers in responses.items():
        if not isinstance(answers, list):
            raise InputError(f"{where} field 'responses.{qname}': expected a list")
        cat = _category(qname, names, where, f"responses.{qname}")
        for j, ans in enumerate(answers, start=1):
            field = f"responses.{qname}[{j}]"
            if not isinstance(ans, dict):
                raise InputError(f"{where} field '{field}': expected an object")
            if ans.get("status") in ("discarded", "draft"):
                continue
            who = ans.get("user_id")
            if who is None or str(who).strip() == "":
                raise InputError(f"{where} field '{field}.user_id': missing")
            label = _answer(ans.get("value"), where, f"{field}.value")
            rows.append(_verdict(where, f"{field}.value", item, str(who), cat, label))
    return rows
