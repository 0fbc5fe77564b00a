"""The contrast set: modkit's own templates of safe look-alikes and trigger-free intent.

Template files (``data/contrast/*.yaml``, wildcard lists in ``data/contrast/wildcards``)
are expanded with :func:`modkit.expand`. Every template carries three labels:

* ``kind``: what sort of contrast it is (``homonym``, ``figurative``, ``counter-speech``,
  ``negation``, ``violent-intent``, ...);
* ``flag``: the category keys that apply, space-separated (empty: a safe text);
* ``unknown`` (optional): keys left unlabelled (``NaN``), e.g. whether a threat to one
  person is also harassment.

Every other category is labelled 0. At most ``per_template`` fillings of each template
are kept (a seeded sample), so a template with a large product cannot outweigh the rest.
A template is held out for evaluation, never trained on, when the first 8 hex digits of
the sha256 of its id are divisible by 4 (:func:`is_heldout`): the split is by template,
so no held-out text has a training twin that differs by one filling.
"""

from __future__ import annotations

import hashlib
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import DatasetError
from .._taxonomy import CATEGORIES
from .._validation import Interval, validate_params

__all__ = ["CONTRAST_DIR", "PER_TEMPLATE", "contrast_sha256", "is_heldout", "load_contrast"]

#: The template folder of a source checkout (not part of an installed wheel).
CONTRAST_DIR = Path(__file__).resolve().parents[2] / "data" / "contrast"
#: Most fillings kept per template.
PER_TEMPLATE = 40


def is_heldout(template_id: str) -> bool:
    """True for the templates of the evaluation-only split (about one in four).

    Parameters
    ----------
    template_id : str
        A contrast template's id.

    Returns
    -------
    bool
        Whether the first 8 hex digits of the id's sha256 are divisible by 4: the
        template is held out for evaluation and never trained on.

    Examples
    --------
    >>> from modkit.training import is_heldout
    >>> is_heldout("f"), is_heldout("g")
    (True, False)
    """
    return int(hashlib.sha256(template_id.encode("utf-8")).hexdigest()[:8], 16) % 4 == 0


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DatasetError(
            f"contrast templates not found: {folder} is not a folder (they live in "
            "data/contrast of a modkit source checkout; pass contrast_dir=)"
        )
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise DatasetError(f"no contrast template files (*.yaml) in {folder}")
    return files


@validate_params({"folder": [None, "path"]})
def contrast_sha256(folder: str | os.PathLike[str] | None = None) -> str:
    """sha256 over every template and wildcard file of the contrast set (names and bytes).

    Parameters
    ----------
    folder : path, optional
        The template folder (default: :data:`CONTRAST_DIR`).

    Returns
    -------
    str
        64 hex digits; ``model.json`` records it (``training_data.contrast_sha256``).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.
    DatasetError
        The folder is missing or holds no ``*.yaml`` template file.

    Examples
    --------
    >>> from modkit.training import contrast_sha256
    >>> len(contrast_sha256())
    64
    """
    root = Path(folder) if folder is not None else CONTRAST_DIR
    _files(root)
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".txt")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _keys(value: object, where: str, field: str) -> set[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return set()
    keys = set(str(value).split())
    unknown = sorted(keys - set(CATEGORIES))
    if unknown:
        raise DatasetError(f"{where}: label {field!r} names unknown categories {unknown}")
    return keys


@validate_params(
    {
        "folder": [None, "path"],
        "per_template": [Interval(Integral, 1, None)],
        "seed": [Interval(Integral, 0, None)],
    }
)
def load_contrast(
    folder: str | os.PathLike[str] | None = None,
    *,
    per_template: int = PER_TEMPLATE,
    seed: int = 0,
) -> pd.DataFrame:
    """Expand the contrast templates into labelled rows.

    Parameters
    ----------
    folder : path, optional
        The template folder (default: :data:`CONTRAST_DIR`).
    per_template : int, default 40
        Most fillings kept per template (a sample seeded by ``seed``).
    seed : int, default 0
        Seed of that sample.

    Returns
    -------
    pandas.DataFrame
        One row per text: ``text``, ``template_id``, ``kind``, ``provenance``
        (``<file>#<template id>``), ``split`` (``train`` or ``heldout``), ``unsafe``
        (1 when any category applies) and one column per category key (1.0, 0.0, or NaN
        for not labelled), in file order then template order.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range.
    DatasetError
        The folder or its files are missing, a template lacks ``kind`` or ``flag``, a
        label names an unknown category, or two templates share an id.
    TemplateError
        A malformed template (with file, line and column).

    Examples
    --------
    >>> from modkit.training import load_contrast
    >>> rows = load_contrast()
    >>> sorted(set(rows["split"]))
    ['heldout', 'train']
    >>> rows.columns[:6].tolist()
    ['text', 'template_id', 'kind', 'provenance', 'split', 'unsafe']
    """
    from ..templates import expand

    root = Path(folder) if folder is not None else CONTRAST_DIR
    rows: list[pd.DataFrame] = []
    seen: dict[str, str] = {}
    for path in _files(root):
        frame = expand(path)
        for column in ("kind", "flag"):
            if column not in frame.columns or frame[column].isna().any():
                raise DatasetError(f"{path}: every template needs a {column!r} label")
        for tid, group in frame.groupby("template_id", sort=False):
            where = f"{path}, template {tid!r}"
            if str(tid) in seen:  # template ids are strings
                raise DatasetError(f"{where}: id already used in {seen[str(tid)]}")
            seen[str(tid)] = path.name
            if len(group) > per_template:
                group = group.sample(per_template, random_state=seed).sort_index()
            first = group.iloc[0]
            on = _keys(first["flag"], where, "flag")
            unk = _keys(first.get("unknown"), where, "unknown")
            if on & unk:
                raise DatasetError(f"{where}: {sorted(on & unk)} both in 'flag' and 'unknown'")
            out = pd.DataFrame(
                {
                    "text": group["text"].to_numpy(),
                    "template_id": str(tid),
                    "kind": str(first["kind"]),
                    "provenance": f"{path.name}#{tid}",
                    "split": "heldout" if is_heldout(str(tid)) else "train",
                    "unsafe": int(bool(on)),
                }
            )
            for c in CATEGORIES:
                out[c] = 1.0 if c in on else (np.nan if c in unk else 0.0)
            rows.append(out)
    return pd.concat(rows, ignore_index=True)
