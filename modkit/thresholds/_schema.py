"""The threshold file's JSON Schema, and validation with errors that name JSON paths."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import InputError
from .._native import Scale
from .._taxonomy import did_you_mean
from .._validation import validate_params

__all__ = [
    "DECISION_RULE",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "SUPPORTED_VERSIONS",
    "UNTHRESHOLDED",
    "UNTHRESHOLDED_DEFAULT",
    "ThresholdFileError",
    "json_path",
    "load_json",
    "threshold_file_schema",
    "validate_threshold_file",
]

#: The version of the threshold file format this modkit writes.
SCHEMA_VERSION = 3
#: The versions it reads (version 1 and 2 files load; saving writes version 3).
SUPPORTED_VERSIONS = (1, 2, 3)
#: What may decide a category without a threshold (the file's ``unthresholded``):
#: the backend's own flag, the backend's flag sending to review, or never flag.
UNTHRESHOLDED = ("backend_flag", "review", "never_flag")
#: The policy of a file that does not state one (every version 1 and 2 file).
UNTHRESHOLDED_DEFAULT = "backend_flag"
#: The ``$id`` of the shipped schema, also written as the file's ``$schema``.
SCHEMA_ID = f"https://modkit.dev/schemas/threshold-file/{SCHEMA_VERSION}.json"
#: The decision rule every threshold file states.
DECISION_RULE = "flag when score >= threshold"


class ThresholdFileError(InputError):
    """A threshold file is malformed.

    Attributes
    ----------
    problems : list of (str, str)
        Every problem found, as (JSON path, message), e.g.
        ``('$.profiles.input.categories["self-harm/intent"].block', 'must be <= 1')``.
    source : str
        The file (or ``"<dict>"``).

    Examples
    --------
    Raised by :func:`modkit.validate_threshold_file` and the loaders, one message for
    every problem:

    >>> import modkit
    >>> error = modkit.ThresholdFileError(
    ...     "t.json", [("$.schema_version", "unsupported"), ("$.profiles", "is required")]
    ... )
    >>> print(error)
    t.json: 2 problems
      t.json: $.schema_version: unsupported
      t.json: $.profiles: is required
    >>> isinstance(error, modkit.InputError), error.problems[0][0]
    (True, '$.schema_version')
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {msg}" for path, msg in problems]
        head = (
            lines[0]
            if len(lines) == 1
            else (f"{source}: {len(problems)} problems\n  " + "\n  ".join(lines))
        )
        super().__init__(head)


def json_path(parts: Any) -> str:
    """A JSONPath string (``$.a.b["c/d"][0]``) for a sequence of keys and indices."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


@functools.cache
def threshold_file_schema(version: int = SCHEMA_VERSION) -> dict[str, Any]:
    """The shipped JSON Schema (draft 2020-12) of threshold files, as a dict.

    Parameters
    ----------
    version : {1, 2, 3}, default 3
        Version 2 adds, per category, the multiple-testing ``method``, ``delta``,
        ``oof_status``, ``selection_ci`` and the out-of-fold ``interval`` type. Version 3
        adds ``unthresholded``: what decides a category without a threshold (required at
        file level; optional per profile and per category).

    Returns
    -------
    dict
        The schema document.

    Raises
    ------
    InputError
        For a version this modkit does not read.

    Examples
    --------
    >>> from modkit.thresholds import threshold_file_schema
    >>> threshold_file_schema()["properties"]["unthresholded"]
    {'$ref': '#/$defs/unthresholded'}
    >>> threshold_file_schema(3)["$defs"]["unthresholded"]["enum"]
    ['backend_flag', 'review', 'never_flag']
    """
    if version not in SUPPORTED_VERSIONS:
        raise InputError(f"no threshold file schema version {version!r}")
    name = f"threshold-file-{version}.schema.json"
    text = resources.files(__package__).joinpath("schema", name).read_text("utf-8")
    return json.loads(text)


@functools.cache
def _validator(version: int) -> Any:
    from jsonschema import Draft202012Validator

    schema = threshold_file_schema(version)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _message(error: Any) -> tuple[list[Any], str]:
    path = list(error.absolute_path)
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        key = extra[0] if extra else "?"
        if error.schema.get("patternProperties"):  # the profiles: named ones too
            return [*path, key], (
                f"unknown key (allowed: {', '.join(allowed)}, or a named profile: lowercase "
                "letters, digits and _, starting with a letter, with applies_to)"
            )
        return [*path, key], f"unknown key (allowed: {', '.join(allowed)})"
    if "propertyNames" in error.absolute_schema_path:  # a category key of no provider
        allowed = error.validator_value if v == "enum" else []
        return [*path, error.instance], (
            f"unknown key{did_you_mean(error.instance)} (allowed: {', '.join(allowed)}; "
            "a provider's own categories "
            "need the profile's 'provider')"
        )
    if v == "required":
        missing = re.findall(r"'([^']*)' is a required property", error.message)
        return path, f"missing key {missing[0]!r}" if missing else error.message
    if v in ("minimum", "maximum"):
        return path, f"{error.instance!r} is out of range [0, 1]" if (
            error.schema.get("minimum") == 0 and error.schema.get("maximum") == 1
        ) else error.message
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return path, f"expected {want}, got {json.dumps(error.instance)[:40]}"
    if v == "const":
        return (
            path,
            f"must be {json.dumps(error.validator_value)}, got {json.dumps(error.instance)[:60]}",
        )
    return path, error.message


def _semantic(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    profiles = doc.get("profiles")
    if not isinstance(profiles, Mapping):
        return problems
    for pname, prof in profiles.items():
        cats = prof.get("categories") if isinstance(prof, Mapping) else None
        if not isinstance(cats, Mapping):
            continue
        for cat, entry in cats.items():
            if not isinstance(entry, Mapping):
                continue
            b, r = entry.get("block"), entry.get("review")
            num = (int, float)
            problems += _scale_problems(prof, pname, cat, entry)
            if isinstance(b, num) and isinstance(r, num) and not isinstance(b, bool) and r > b:
                problems.append(
                    (
                        json_path(["profiles", pname, "categories", cat, "review"]),
                        f"review threshold {r} is above block threshold {b} (need review <= block)",
                    )
                )
            typed = entry.get("by_input_type")
            for kind, sub in typed.items() if isinstance(typed, Mapping) else ():
                if not isinstance(sub, Mapping):
                    continue
                b, r = sub.get("block"), sub.get("review")
                if isinstance(b, num) and isinstance(r, num) and r > b:
                    where = ["profiles", pname, "categories", cat, "by_input_type", kind]
                    problems.append(
                        (
                            json_path([*where, "review"]),
                            f"review threshold {r} is above block threshold {b} "
                            "(need review <= block)",
                        )
                    )
    return problems


def _scale_problems(
    prof: Mapping[str, Any], pname: str, cat: str, entry: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """Thresholds of a provider's category must lie on the profile's scale."""
    scale_doc = prof.get("scale")
    if not prof.get("provider") or not isinstance(scale_doc, Mapping):
        return []
    try:
        scale = Scale.from_dict(scale_doc)
    except InputError as exc:
        return [(json_path(["profiles", pname, "scale"]), str(exc))]
    out = []
    for key in ("block", "review"):
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                scale.check_threshold(value, "threshold")
            except InputError as exc:
                out.append((json_path(["profiles", pname, "categories", cat, key]), str(exc)))
    return out


def load_json(path: Path) -> Any:
    """Parse a threshold file's JSON (no schema check), with errors naming line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ThresholdFileError(str(path), [("$", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ThresholdFileError(
            str(path), [("$", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from None
    except ValueError as exc:
        raise ThresholdFileError(str(path), [("$", str(exc))]) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (thresholds must be numbers in [0, 1] or null)")


@validate_params({"path_or_dict": ["path", Mapping]})
def validate_threshold_file(
    path_or_dict: str | os.PathLike[str] | Mapping[str, Any],
) -> dict[str, Any]:
    """Check a threshold file against the schema and the rules the schema cannot say.

    Parameters
    ----------
    path_or_dict : path or dict
        A JSON file, or its parsed content.

    Returns
    -------
    dict
        The parsed document, when valid.

    Raises
    ------
    ThresholdFileError
        Listing every problem with its JSON path: unknown keys, wrong
        ``schema_version``, unknown category keys, thresholds outside [0, 1] or
        ``review`` above ``block``; or a file that is not UTF-8 JSON.
    InputError
        The file does not exist.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "thresholds.json"
    >>> _ = modkit.ThresholdSet.from_thresholds({"violence": 0.8}).save(path)
    >>> document = modkit.validate_threshold_file(path)
    >>> document["decision_rule"]
    'flag when score >= threshold'
    >>> modkit.validate_threshold_file({"schema_version": 3})
    Traceback (most recent call last):
    ...
    modkit.thresholds._schema.ThresholdFileError: ...
    """
    if isinstance(path_or_dict, Mapping):
        source, doc = "<dict>", path_or_dict
    else:
        source = str(path_or_dict)
        doc = load_json(Path(path_or_dict))
    if not isinstance(doc, Mapping):
        raise ThresholdFileError(
            source, [("$", f"expected a JSON object, got {type(doc).__name__}")]
        )
    version = doc.get("schema_version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ThresholdFileError(
            source,
            [
                (
                    "$.schema_version",
                    f"unsupported schema_version {json.dumps(version)}; this modkit reads "
                    f"versions {', '.join(map(str, SUPPORTED_VERSIONS))}",
                )
            ],
        )
    problems = []
    for error in sorted(
        _validator(version).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))
    ):
        parts, msg = _message(error)
        problems.append((json_path(parts), msg))
    problems.extend(_semantic(doc))
    if problems:
        raise ThresholdFileError(source, problems)
    return dict(doc)
