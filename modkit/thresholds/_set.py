"""Threshold sets: per-category ``review`` / ``block`` thresholds, decisions, the file."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from numbers import Number
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from .._errors import InputError
from .._frame import endpoint_flags, flag_column, has_endpoint_flags
from .._images import APPLIED_PREFIX
from .._io import atomic_path
from .._native import Scale, native_categories, provider_scale, result_keys
from .._taxonomy import CATEGORIES, api_spelling, check_category_keys, order_categories
from .._validation import StrOptions, validate_params
from .._version import __version__
from ._labels import coerce_scores
from ._rule import actions, as_limits, bands
from ._schema import (
    DECISION_RULE,
    SCHEMA_ID,
    SCHEMA_VERSION,
    UNTHRESHOLDED,
    UNTHRESHOLDED_DEFAULT,
    ThresholdFileError,
    load_json,
    validate_threshold_file,
)

__all__ = [
    "ACTIONS",
    "INPUT_TYPES",
    "PROFILES",
    "PROFILE_NAME",
    "RULES",
    "CategoryThreshold",
    "Decision",
    "ThresholdFile",
    "ThresholdPolicyWarning",
    "ThresholdSet",
    "load_threshold_file",
    "load_thresholds",
]

#: The profiles a threshold file may hold: user messages and model responses.
PROFILES = ("input", "output")
#: A named profile (a tenant, surface or language; ``applies_to`` says input or output):
#: lowercase letters, digits and ``_``, starting with a letter, at most 40 characters.
PROFILE_NAME = r"[a-z][a-z0-9_]{0,39}"


def check_profile_name(name: Any, applies_to: Any = None) -> str:
    """The traffic (``input`` / ``output``) a profile name is for; InputError if invalid.

    ``input`` and ``output`` are for themselves (``applies_to``, if given, must agree);
    a named profile needs ``applies_to``.
    """
    if name in PROFILES:
        if applies_to is not None and applies_to != name:
            raise InputError(f"profile {name!r}: applies_to must be {name!r}, got {applies_to!r}")
        return str(name)
    if not isinstance(name, str) or not re.fullmatch(PROFILE_NAME, name):
        raise InputError(
            f"profile must be input, output or a named profile (lowercase letters, digits "
            f"and _, starting with a letter, at most 40 characters), got {name!r}"
        )
    if applies_to not in PROFILES:
        raise InputError(
            f"named profile {name!r} needs applies_to: 'input' or 'output' (got {applies_to!r})"
        )
    return str(applies_to)


#: Possible actions, mildest first. ``unscored``: no category could be decided.
ACTIONS = ("allow", "review", "block", "unscored")
#: What decided a category (:attr:`Decision.rules`): its threshold; for a category without
#: one, the backend's flag (policy ``backend_flag``), the backend's flag sending to review
#: (policy ``review``), the file's opt-out (``never_flag``), or no backend flag to go by
#: (``no_backend_flag``: fail closed, the category goes to review).
RULES = ("threshold", "backend_flag", "review", "never_flag", "no_backend_flag")


class ThresholdPolicyWarning(UserWarning):
    """A threshold file written before version 3 was read with the safe default policy.

    Versions 1 and 2 held no ``unthresholded`` policy: a category without a threshold was
    never flagged. They are read with ``unthresholded: "backend_flag"`` instead (the
    backend's own flag decides such a category); saving writes version 3 with the policy
    stated. To keep the old meaning, set ``"unthresholded": "never_flag"`` in the saved
    file.

    Examples
    --------
    >>> import warnings
    >>> from modkit.thresholds import ThresholdPolicyWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("t.json: schema version 2", ThresholdPolicyWarning)
    >>> caught[0].category.__name__
    'ThresholdPolicyWarning'
    """


@dataclass
class CategoryThreshold:
    """The thresholds of one category and how they were chosen.

    Attributes
    ----------
    block : float or None
        Act (block) when ``score >= block``; ``None`` never blocks.
    review : float or None
        Send to a person when ``review <= score < block``; ``None`` never reviews.
        Always ``review <= block`` when both are set.
    objective : str
        The objective of ``block`` in the mini-language (``"precision>=0.9"``).
    review_objective : str or None
        The objective of ``review``.
    confidence : float or None
        The confidence level a constrained objective was met at (``None``: point estimate).
    method : str or None
        The multiple-testing procedure that certified it (``"fixed_sequence"`` or
        ``"holm"``; ``None`` without ``confidence``).
    delta : float or None
        ``1 - confidence``: the allowed chance that any certified candidate misses the
        target (family-wise error rate).
    status : {"ok", "fixed", "infeasible", "insufficient_data", "manual"}
        ``ok``: the objective's goal holds: for a constrained objective at the stated
        ``confidence`` when one was given, else on the point estimate of the fitting rows.
        ``infeasible``: no threshold met the constraint, so ``block`` is ``None``.
        ``insufficient_data``: fewer than ``min_positives`` positives (or no negatives).
    oof_status : {"meets", "misses", None}
        Whether the out-of-fold point estimate meets the constrained goal (its own check,
        separate from ``status``; ``None``: no constraint or no out-of-fold estimate).
    review_status : str or None
        The same for ``review`` (``None`` without a review objective).
    review_clamped : bool
        The review objective asked for a threshold above ``block``; it was set to ``block``.
    note : str
        Why, in words, for the non-obvious outcomes.
    n_pos, n_neg, n_unlabelled : int or None
        Labelled positives / negatives the threshold was fitted on, and rows without a label.
    in_sample : dict or None
        Confusion counts and rates at ``block`` on the fitting rows (optimistic).
    out_of_fold : dict or None
        The fitting procedure's held-out performance (each fold's own threshold counted
        on its held-out rows): ``folds``, pooled counts and rates, and ``ci`` of type
        ``interval``: ``"none"`` (all ``None``: no interval is claimed; modkit writes
        this), ``"clopper-pearson"`` (older files) or ``"percentile-bootstrap"``
        (version 1 files). Not the exported threshold's rates: see ``selection_ci``.
    selection_ci : dict or None
        Intervals for the precision, recall and FPR of the *exported* threshold that
        account for choosing it (``None`` when it is ``None``): ``method``
        (``"refit-bootstrap-oob+clopper-pearson"``: the out-of-bag interval of a refit
        bootstrap, where the choice is re-run on each resample and scored on the rows
        left out of it, joined with the exact interval of the threshold's counts;
        ``"refit-bootstrap-oob"`` in older files),
        ``level``, ``resamples``, ``rows`` (labelled rows resampled: all of them;
        files written before issue 20 resampled a stratified 50,000-row subsample above
        50,000 rows, which widened the intervals), ``never`` (resamples whose
        choice was "never flag")
        and ``precision`` / ``recall`` / ``fpr`` as ``[low, high]``.
    threshold_spread : dict or None
        ``min``/``max``/``std`` of the block threshold chosen on each fold's training rows,
        and ``never``: folds where it was ``None``.
    baselines : dict or None
        ``endpoint_flagged`` (the endpoint's own per-category flag) and ``fixed_0.5``: the
        same counts on the same labelled rows.
    bands : dict or None
        Share of all fitting rows with a score (labelled or not) per band, and ``n``.
    by_input_type : dict or None
        Thresholds that differ by input type: ``{"image": {"block": 0.6, "review": 0.3}}``
        (keys ``"text"`` and/or ``"image"``, the types of the endpoint's
        ``category_applied_input_types``). For an item, the thresholds of each type the
        category was applied to are used (the category's own ``block`` / ``review`` for a
        type without an entry) and the lowest of them applies: the category fires when
        any applied type's rule fires. An item whose types are unknown (a text, results
        without ``category_applied_input_types``) counts as ``"text"``; a category applied
        to no part uses its own thresholds. ``None``: one set of thresholds for all.
    unthresholded : {"backend_flag", "review", "never_flag"} or None
        This category's policy when it has no threshold for an item (``block`` and
        ``review`` both ``None``): overrides the set's :attr:`ThresholdSet.unthresholded`;
        ``None`` uses the set's. ``"never_flag"`` is how a file says "never flag this
        category".

    Examples
    --------
    >>> from modkit import CategoryThreshold
    >>> ct = CategoryThreshold(0.8, review=0.5, by_input_type={"image": {"block": 0.6}})
    >>> ct.limits_for(["text"]), ct.limits_for(["text", "image"])
    ((0.8, 0.5), (0.6, 0.5))
    >>> CategoryThreshold.from_dict(ct.to_dict()) == ct
    True
    """

    block: float | None
    review: float | None = None
    objective: str = "manual"
    review_objective: str | None = None
    confidence: float | None = None
    method: str | None = None
    delta: float | None = None
    status: str = "manual"
    oof_status: str | None = None
    review_status: str | None = None
    review_clamped: bool = False
    note: str = ""
    n_pos: int | None = None
    n_neg: int | None = None
    n_unlabelled: int | None = None
    in_sample: dict[str, Any] | None = None
    out_of_fold: dict[str, Any] | None = None
    selection_ci: dict[str, Any] | None = None
    threshold_spread: dict[str, Any] | None = None
    baselines: dict[str, Any] | None = None
    bands: dict[str, Any] | None = None
    by_input_type: dict[str, dict[str, float | None]] | None = None
    unthresholded: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON object for this category.

        Returns
        -------
        dict
            Every attribute by name (``by_input_type`` and ``unthresholded`` only when
            set); thresholds in the set's score units.
        """
        out = asdict(self)
        for key in ("by_input_type", "unthresholded"):
            if out[key] is None:
                del out[key]
        return out

    def limits_for(self, types: Iterable[str] | None) -> tuple[float | None, float | None]:
        """The ``(block, review)`` thresholds for an item of these input types.

        Parameters
        ----------
        types : iterable of {"text", "image"} or None
            The category's ``category_applied_input_types`` entry for the item; ``None``
            (unknown) counts as ``["text"]``; empty uses the category's own thresholds.

        Returns
        -------
        (block, review) : float or None each
            The lowest per applied type (see :attr:`by_input_type`); ``None`` never fires.
        """
        if not self.by_input_type:
            return self.block, self.review
        kinds = ["text"] if types is None else list(types)
        if not kinds:
            return self.block, self.review
        blocks, reviews = [], []
        for kind in kinds:
            entry = self.by_input_type.get(kind)
            block, review = (
                (self.block, self.review)
                if entry is None
                else (entry.get("block"), entry.get("review"))
            )
            blocks.append(block)
            reviews.append(review)
        return _lowest(blocks), _lowest(reviews)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryThreshold:
        """Inverse of :meth:`to_dict` (not validated: :class:`ThresholdSet` checks values).

        Parameters
        ----------
        data : mapping
            A category's object of a threshold file; unknown keys are ignored, and a
            version 1 file's ``out_of_fold`` gets ``interval: "percentile-bootstrap"``.

        Returns
        -------
        CategoryThreshold

        Raises
        ------
        TypeError
            When ``data`` lacks ``block`` (the one field without a default).
        """
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        oof = values.get("out_of_fold")
        if isinstance(oof, Mapping) and "interval" not in oof:  # a version 1 file
            values["out_of_fold"] = {**oof, "interval": "percentile-bootstrap"}
        return cls(**values)


@dataclass(frozen=True)
class Decision:
    """What a threshold set says about one item.

    Attributes
    ----------
    action : {"allow", "review", "block", "unscored"}
        ``block`` if any category blocks; ``review`` if none blocks and any goes to
        review; ``unscored`` if no category could be decided (no score of a category
        with a threshold, no score or flag of one without); else ``allow``.
    blocked_categories : tuple of str
        Categories that block: at or above ``block``, or, without a threshold, flagged
        by the backend under the ``backend_flag`` policy (canonical order).
    review_categories : tuple of str
        Categories that go to review: in their review band (at or above ``review``,
        below ``block``), or, without a threshold, flagged by the backend under the
        ``review`` policy, or with no backend flag to go by (fail closed).
    categories : dict of str to str
        The action per evaluated category (``allow``/``review``/``block``).
    rules : dict of str to str
        Per evaluated category, what decided it (one of :data:`RULES`): ``threshold``,
        or for a category without a threshold the policy applied (``backend_flag``,
        ``review``, ``never_flag``) or ``no_backend_flag`` (the policy needed the
        backend's flag and there was none: review).

    Examples
    --------
    Made by :meth:`ThresholdSet.decide`:

    >>> import modkit
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": 0.8, "hate": 0.5})
    >>> decision = ts.decide({"violence": 0.9, "hate": 0.1})
    >>> decision.action, decision.blocked_categories, decision.flagged
    ('block', ('violence',), True)
    >>> decision.to_dict()["categories"]
    {'hate': 'allow', 'violence': 'block'}

    A category the set holds no threshold for is decided by the backend's own flag
    (``categories=``, the endpoint's booleans), and the decision says so:

    >>> decision = ts.decide(
    ...     {"violence": 0.1, "self-harm/intent": 0.88}, categories={"self-harm/intent": True}
    ... )
    >>> decision.action, decision.rules
    ('block', {'self-harm/intent': 'backend_flag', 'violence': 'threshold'})
    """

    action: str
    blocked_categories: tuple[str, ...] = ()
    review_categories: tuple[str, ...] = ()
    categories: dict[str, str] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """True when the action is ``block`` (what a service would report as flagged)."""
        return self.action == "block"

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON-ready values (what ``modkit serve`` returns).

        Returns
        -------
        dict
            ``action``, ``blocked_categories`` and ``review_categories`` (lists),
            ``categories`` (category -> action) and ``rules`` (category -> what decided
            it).
        """
        return {
            "action": self.action,
            "blocked_categories": list(self.blocked_categories),
            "review_categories": list(self.review_categories),
            "categories": dict(self.categories),
            "rules": dict(self.rules),
        }


#: Input types thresholds may differ by (the types of ``category_applied_input_types``).
INPUT_TYPES = ("text", "image")


def _typed_copy(value: Any) -> Any:
    """A copy of a ``by_input_type`` mapping (checked later, by :class:`ThresholdSet`)."""
    if not isinstance(value, Mapping):
        return value
    return {k: dict(e) if isinstance(e, Mapping) else e for k, e in value.items()}


def _lowest(values: list[float | None]) -> float | None:
    """The lowest threshold (the one that fires first); None (never) only if all are."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _check_by_input_type(value: Any, where: str, scale: Scale | None) -> None:
    """Check a category's ``by_input_type`` (types, keys, ranges, review <= block)."""
    if value is None:
        return
    if not isinstance(value, Mapping) or not value:
        raise InputError(f"{where}: by_input_type must be a non-empty mapping of input type")
    for kind, entry in value.items():
        at = f"{where} by_input_type[{kind!r}]"
        if kind not in INPUT_TYPES:
            raise InputError(f"{at}: input type must be one of {INPUT_TYPES}")
        if not isinstance(entry, Mapping) or "block" not in entry:
            raise InputError(f"{at}: needs a mapping with 'block' (and optional 'review')")
        extra = set(entry) - {"block", "review"}
        if extra:
            raise InputError(f"{at}: unknown keys {sorted(extra)} (use 'block' and 'review')")
        block = _check_threshold(entry.get("block"), f"{at} block", scale)
        review = _check_threshold(entry.get("review"), f"{at} review", scale)
        if block is not None and review is not None and review > block:
            raise InputError(f"{at}: review threshold {review} is above block threshold {block}")


def _check_policy(value: Any, where: str) -> str:
    """An ``unthresholded`` policy, checked."""
    if value not in UNTHRESHOLDED:
        choices = ", ".join(UNTHRESHOLDED)
        raise InputError(f"{where}: policy must be one of {choices}; got {value!r}")
    return str(value)


def _has_threshold(ct: CategoryThreshold) -> bool:
    """True when the category has a threshold for some input type."""
    if ct.block is not None or ct.review is not None:
        return True
    return any(
        isinstance(e, Mapping) and (e.get("block") is not None or e.get("review") is not None)
        for e in (ct.by_input_type or {}).values()
    )


def _has_flag_column(results: pd.DataFrame, category: str) -> bool:
    """True when the frame may hold the backend's flag of a category."""
    return "result_json" in results.columns or flag_column(category) in results.columns


def _decide_bands(
    scores: np.ndarray,
    flags: np.ndarray,
    block: np.ndarray,
    review: np.ndarray,
    policies: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per (row, category): blocks, goes to review, was decided, and the rule that did it.

    Parameters
    ----------
    scores, flags : ndarray of float, shape (n, k)
        Scores (NaN: none) and the backend's flags (1.0 / 0.0, NaN: none).
    block, review : ndarray of float, shape (k,) or (n, k)
        Thresholds, ``inf`` for none; a cell with neither is decided by its policy.
    policies : list of str, length k
        Each category's ``unthresholded`` policy.

    Returns
    -------
    is_block, is_review, decided : ndarray of bool, shape (n, k)
    rules : ndarray of str, shape (n, k)
        One of :data:`RULES`, ``""`` where nothing was decided.
    """
    block = np.broadcast_to(block, scores.shape)
    review = np.broadcast_to(review, scores.shape)
    is_block, is_review, scored = bands(scores, block, review)
    none = np.isinf(block) & np.isinf(review)
    known = ~np.isnan(flags)
    flagged = known & (flags == 1)
    present = none & (scored | known)
    pol = np.array(policies, dtype=object).reshape(1, -1)
    never = pol == "never_flag"
    is_block = np.where(none, present & (pol == "backend_flag") & flagged, is_block)
    is_review = np.where(
        none, present & ~never & (~known | ((pol == "review") & flagged)), is_review
    )
    decided = np.where(none, present, scored)
    rule = np.where(
        none,
        np.where(never, "never_flag", np.where(known, pol, "no_backend_flag")),
        "threshold",
    )
    return is_block, is_review, decided, np.where(decided, rule, "").astype(object)


def _score_cell(value: Any, category: str, where: str, low: float, high: float) -> float:
    """One score of :meth:`ThresholdSet.decide` as a float: NaN for none (``None``, NaN,
    blank text), else a number (or numeric text) in ``[low, high]``."""
    kind = type(value)
    if kind is float or kind is int:  # the common case, first
        v: float | None = float(value)
    elif value is None or value is pd.NA:
        return np.nan
    elif isinstance(value, str):
        if not value.strip():
            return np.nan
        try:
            v = float(value)
        except ValueError:
            v = None
        if v is not None and v != v:  # the text "nan" is not a number
            v = None
    elif isinstance(value, Number | np.bool_) and not isinstance(value, complex):
        v = float(value)  # type: ignore[arg-type]
    else:
        v = None
    if v is None:
        raise InputError(f"{where} scores column {category!r}: score {value!r} is not a number")
    if v == v and not (low <= v <= high):
        raise InputError(
            f"{where} scores column {category!r}: score {v!r} is outside [{low:g}, {high:g}]"
        )
    return v


#: Each ``unthresholded`` policy in words (for messages).
POLICY_MEANING = {
    "backend_flag": "the backend's own flag (no flag: review)",
    "review": "the backend's own flag sending to review (no flag: review)",
    "never_flag": "the file's opt-out (never flagged)",
}


def describe_policy(ts: ThresholdSet) -> str:
    """One line: which categories of a set have no threshold and what decides them."""
    meaning = POLICY_MEANING
    groups: dict[str, list[str]] = {}
    for c, policy in ts.unthresholded_categories.items():
        groups.setdefault(policy, []).append(c)
    head = f"profile {ts.profile}: unthresholded {ts.unthresholded}"
    if not groups:
        return f"{head}; every category has a threshold"
    parts = [
        f"{len(cs)} without a threshold ({', '.join(cs)}) decided by {meaning[p]}"
        for p, cs in groups.items()
    ]
    return f"{head}; " + "; ".join(parts)


def _check_threshold(value: Any, where: str, scale: Scale | None = None) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{where}: threshold must be a number or None, got {value!r}") from None
    if scale is not None:
        return scale.check_threshold(v, where)
    if not (0 <= v <= 1):
        raise InputError(f"{where}: threshold {v} is outside [0, 1]")
    return v


class ThresholdSet:
    """Per-category thresholds of one profile, with everything needed to decide.

    Build one with :func:`modkit.fit_thresholds`, :func:`modkit.load_thresholds`, or by
    hand with :meth:`from_thresholds`.

    Parameters
    ----------
    categories : mapping of str to CategoryThreshold
        Keyed by the API's category spelling.
    profile : {"input", "output"}
        Which traffic the set is for: user messages or model responses.
    model : str, optional
        The model snapshot whose scores the thresholds were fitted on.
    labels_sha256 : str, optional
        sha256 of the labelled data (see :func:`modkit.thresholds.labels_sha256`).
    created : str, optional
        ISO 8601 time of the fit (UTC).
    n_rows : int, optional
        Rows of the fitting data.
    daily_volume : float, optional
        The daily volume the review queue estimate assumes (items per day).
    bands : dict, optional
        Overall share of fitting rows whose action would be allow / review / block /
        unscored, and ``n``.
    review_per_day : float, optional
        ``bands["review"] * daily_volume``: the expected review queue per day.
    provider : str, optional
        Whose categories and scale the thresholds are on (a key of
        :data:`modkit.providers.PROVIDERS`, e.g. ``"azure"``). Then the categories are the
        provider's own (``Hate``, ``SelfHarm``...) and thresholds and scores lie on its
        scale. None (or ``"openai"``): the API's category keys, in [0, 1].
    scale : Scale or dict, optional
        The scale of the scores (default for a provider: :func:`modkit.providers.provider_scale`
        of the provider and model). On an ordinal scale every threshold is a level.
    unthresholded : {"backend_flag", "review", "never_flag"}, default "backend_flag"
        What decides a category without a threshold (not in ``categories``, or with
        ``block`` and ``review`` both ``None``), unless the category sets its own
        :attr:`CategoryThreshold.unthresholded`: ``backend_flag``, the backend's own
        per-category flag (flagged: block, not flagged: allow); ``review``, the
        backend's flag sends to review instead; ``never_flag``, allow (an explicit
        opt-out). Without a flag from the backend, ``backend_flag`` and ``review`` send
        the category to review (fail closed).
    not_fitted : mapping of str to str, optional
        Set by :func:`modkit.fit_thresholds`: each category of the provider's taxonomy
        it gave no threshold, and why (not written to the file).
    applies_to : {"input", "output"}, optional
        For a named profile (``profile`` other than ``input`` / ``output``: a tenant,
        surface or language, :data:`PROFILE_NAME`), required: which traffic it is for.
        ``modkit serve`` picks a profile per request (header ``X-Modkit-Profile``).

    Raises
    ------
    InputError
        For an unknown profile or category key, a threshold off the scale (outside
        [0, 1] for the API's scores; not a level on an ordinal scale), a review
        threshold above its block threshold, a malformed ``by_input_type`` or an
        unknown ``unthresholded`` policy.

    Notes
    -----
    Decision rule: a category fires at ``block`` when ``score >= block``, in review when
    ``review <= score < block``. A category without a threshold is decided by the
    ``unthresholded`` policy, never silently allowed: it is allowed only where the
    backend says it is not flagged or the policy is ``never_flag``. An item is blocked
    if any category blocks, reviewed if none blocks and any is in review, else allowed.

    Examples
    --------
    >>> import modkit
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    >>> ts
    ThresholdSet(profile='input', {violence: review=0.5 block=0.8})
    >>> ts.block, ts.decide({"violence": 0.6}).action
    ({'violence': 0.8}, 'review')
    """

    def __init__(
        self,
        categories: Mapping[str, CategoryThreshold],
        *,
        profile: str = "input",
        model: str | None = None,
        labels_sha256: str | None = None,
        created: str | None = None,
        n_rows: int | None = None,
        daily_volume: float | None = None,
        bands: dict[str, Any] | None = None,
        review_per_day: float | None = None,
        provider: str | None = None,
        scale: Scale | Mapping[str, Any] | None = None,
        unthresholded: str = UNTHRESHOLDED_DEFAULT,
        not_fitted: Mapping[str, str] | None = None,
        applies_to: str | None = None,
    ) -> None:
        self.applies_to = check_profile_name(profile, applies_to)
        self.provider = provider
        self.scale = _resolve_scale(provider, model, scale)
        self.unthresholded = _check_policy(unthresholded, "unthresholded")
        self.not_fitted = dict(not_fitted or {})
        check_category_keys(categories, "threshold set", extra=self._native_keys)
        cats = {}
        for c in order_categories(categories):
            ct = categories[c]
            if ct.unthresholded is not None:
                _check_policy(ct.unthresholded, f"category {c!r} unthresholded")
            block = _check_threshold(ct.block, f"category {c!r} block", self.scale)
            review = _check_threshold(ct.review, f"category {c!r} review", self.scale)
            if block is not None and review is not None and review > block:
                raise InputError(
                    f"category {c!r}: review threshold {review} is above block threshold {block}"
                )
            _check_by_input_type(ct.by_input_type, f"category {c!r}", self.scale)
            cats[c] = ct
        self.categories: dict[str, CategoryThreshold] = cats
        self.profile = profile
        self.model = model
        self.labels_sha256 = labels_sha256
        self.created = created
        self.n_rows = n_rows
        self.daily_volume = daily_volume
        self.bands = bands
        self.review_per_day = review_per_day

    # ------------------------------------------------------------------ building
    @classmethod
    def from_thresholds(
        cls,
        thresholds: Mapping[str, float | Mapping[str, float | None] | None],
        *,
        profile: str = "input",
        model: str | None = None,
        provider: str | None = None,
        scale: Scale | Mapping[str, Any] | None = None,
        unthresholded: str = UNTHRESHOLDED_DEFAULT,
        applies_to: str | None = None,
    ) -> ThresholdSet:
        """A set from plain numbers: ``{"violence": 0.7, "hate": {"block": 0.8, "review": 0.4}}``.

        A bare number is the ``block`` threshold with no review band. A mapping may add
        ``"by_input_type": {"image": {"block": 0.5}}`` (see
        :attr:`CategoryThreshold.by_input_type`) and ``"unthresholded": "never_flag"``
        (the category's own policy when it has no threshold). With ``provider``
        (and ``scale``), keys are the provider's categories and numbers lie on its scale:
        ``from_thresholds({"Hate": 4}, provider="azure")``.

        Parameters
        ----------
        thresholds : mapping of str to (float or mapping or None)
            Category key -> a ``block`` threshold, or ``{"block", "review",
            "by_input_type", "unthresholded"}``; ``None`` is no threshold (the
            ``unthresholded`` policy decides). In [0, 1] for the API's scores, else on
            the provider's scale.
        profile : str, default "input"
            Which traffic the set is for: ``input``, ``output``, or a named profile
            (with ``applies_to``).
        model : str, optional
            The model snapshot the thresholds are for (for Azure it also picks the
            scale, see :func:`modkit.providers.provider_scale`).
        provider : str, optional
            A key of :data:`modkit.providers.PROVIDERS` whose categories and scale the keys and
            numbers are on (default: the API's keys, in [0, 1]).
        scale : Scale or dict, optional
            The scale, when it is not the provider's default.
        unthresholded : {"backend_flag", "review", "never_flag"}, default "backend_flag"
            What decides the categories without a threshold (see :class:`ThresholdSet`).
        applies_to : {"input", "output"}, optional
            Required for a named profile (see :class:`ThresholdSet`).

        Returns
        -------
        ThresholdSet
            Every category ``manual`` (no objective, no statistics).

        Raises
        ------
        InputError
            For an unknown category key or mapping key, a threshold that is not a
            number or None, a threshold off the scale, a review above its block, or an
            unknown policy.
        """
        resolved = _resolve_scale(provider, model, scale)
        check_category_keys(thresholds, "thresholds", extra=_native_keys(provider))
        cats = {}
        for c, v in thresholds.items():
            policy: str | None = None
            if isinstance(v, Mapping):
                extra = set(v) - {"block", "review", "by_input_type", "unthresholded"}
                if extra:
                    raise InputError(
                        f"category {c!r}: unknown keys {sorted(extra)} "
                        "(use 'block', 'review', 'by_input_type' and 'unthresholded')"
                    )
                block, review = v.get("block"), v.get("review")
                by_type, own = v.get("by_input_type"), cast(Any, v.get("unthresholded"))
                if own is not None:
                    policy = _check_policy(own, f"category {c!r} unthresholded")
            else:
                block, review, by_type = v, None, None
            cats[c] = CategoryThreshold(
                block=_check_threshold(block, f"category {c!r} block", resolved),
                review=_check_threshold(review, f"category {c!r} review", resolved),
                by_input_type=_typed_copy(by_type),
                unthresholded=policy,
            )
        return cls(
            cats,
            profile=profile,
            model=model,
            provider=provider,
            scale=resolved,
            unthresholded=unthresholded,
            applies_to=applies_to,
        )

    # ------------------------------------------------------------------ access
    @property
    def block(self) -> dict[str, float | None]:
        """``{category: block threshold}``."""
        return {c: ct.block for c, ct in self.categories.items()}

    @property
    def review(self) -> dict[str, float | None]:
        """``{category: review threshold}``."""
        return {c: ct.review for c, ct in self.categories.items()}

    @property
    def taxonomy(self) -> tuple[str, ...]:
        """Every category the set's scores may have: the API's keys, or the provider's."""
        if self.provider is None or self.provider == "openai":
            return CATEGORIES
        return tuple(native_categories(self.provider))

    def policy_for(self, category: str) -> str:
        """The ``unthresholded`` policy of one category (its own, else the set's).

        Parameters
        ----------
        category : str
            A category key.

        Returns
        -------
        {"backend_flag", "review", "never_flag"}
            What decides the category when it has no threshold.
        """
        ct = self.categories.get(category)
        if ct is not None and ct.unthresholded is not None:
            return ct.unthresholded
        return self.unthresholded

    @property
    def unthresholded_categories(self) -> dict[str, str]:
        """The categories of :attr:`taxonomy` without a threshold, and their policy.

        A category is without a threshold when the set does not hold it, or holds it
        with ``block`` and ``review`` both ``None`` (for every input type).

        Returns
        -------
        dict of str to str
            Category -> its policy (``backend_flag``, ``review`` or ``never_flag``), in
            canonical order.
        """
        out = {}
        for c in order_categories({*self.taxonomy, *self.categories}):
            ct = self.categories.get(c)
            if ct is None or not _has_threshold(ct):
                out[c] = self.policy_for(c)
        return out

    def with_policy(
        self, unthresholded: str, categories: Iterable[str] | None = None
    ) -> ThresholdSet:
        """A copy with another ``unthresholded`` policy, for the set or some categories.

        Parameters
        ----------
        unthresholded : {"backend_flag", "review", "never_flag"}
            The policy.
        categories : iterable of str, optional
            Set it for these categories only (each keeps its thresholds; a category the
            set does not hold is added without one). Default: the set's own policy.

        Returns
        -------
        ThresholdSet

        Raises
        ------
        InputError
            An unknown policy or category key.

        Examples
        --------
        >>> import modkit
        >>> ts = modkit.ThresholdSet.from_thresholds({"violence": 0.8})
        >>> ts.with_policy("never_flag", ["sexual"]).decide(
        ...     {"sexual": 0.99}, categories={"sexual": True}
        ... ).action
        'allow'
        >>> ts.decide({"sexual": 0.99}, categories={"sexual": True}).action
        'block'
        """
        _check_policy(unthresholded, "unthresholded")
        doc = self.to_dict()
        if categories is None:
            doc["unthresholded"] = unthresholded
        else:
            keys = list(categories)
            check_category_keys(keys, "with_policy", extra=self._native_keys)
            for c in keys:
                entry = doc["categories"].setdefault(c, CategoryThreshold(None).to_dict())
                entry["unthresholded"] = unthresholded
        out = ThresholdSet.from_dict(doc, profile=self.profile)
        out.not_fitted = dict(self.not_fitted)
        return out

    def describe_policy(self) -> str:
        """One line saying what decides the categories without a threshold.

        Returns
        -------
        str
            E.g. ``"profile input: 9 categories without a threshold (harassment, ...)
            are decided by the backend's own flag (unthresholded: backend_flag)"``.
        """
        return describe_policy(self)

    def __getitem__(self, category: str) -> CategoryThreshold:
        return self.categories[category]

    def __iter__(self):
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{c}: review={ct.review if ct.review is None else round(ct.review, 4)} "
            f"block={ct.block if ct.block is None else round(ct.block, 4)}"
            for c, ct in self.categories.items()
        )
        return f"ThresholdSet(profile={self.profile!r}, {{{parts}}})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ThresholdSet)
            and self.to_dict() == other.to_dict()
            and (self.profile == other.profile)
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ deciding
    def decide(
        self,
        category_scores: Mapping[str, float | None],
        category_applied_input_types: Mapping[str, Iterable[str]] | None = None,
        *,
        categories: Mapping[str, bool | None] | None = None,
    ) -> Decision:
        """Decide one item from its ``category_scores`` (as the endpoint returns them).

        A category with a threshold fires by its score (a missing, ``None`` or NaN score
        does not fire). A category without one (not held by the set, or with no
        threshold for the item's input types) that has a score or a flag is decided by
        its ``unthresholded`` policy (:meth:`policy_for`) from the backend's own flag in
        ``categories``: ``backend_flag`` blocks what the backend flags and allows what
        it does not, ``review`` sends what it flags to review, ``never_flag`` allows.
        Without a flag to go by (``categories`` lacks the category), ``backend_flag``
        and ``review`` fail closed: the category goes to review, rule
        ``no_backend_flag``. ``category_applied_input_types`` (the endpoint's, for a
        multimodal input) picks the thresholds of categories with
        :attr:`CategoryThreshold.by_input_type`; without it every category counts as
        applied to text.

        Parameters
        ----------
        category_scores : mapping of str to float or None
            Category key -> score, on the set's scale ([0, 1] for the API's scores).
        category_applied_input_types : mapping of str to list of str, optional
            Category key -> the input types (``"text"``, ``"image"``) it was applied to.
        categories : mapping of str to bool, optional
            The backend's own per-category flags (the endpoint's ``categories``);
            ``None`` for a category: no flag.

        Returns
        -------
        Decision
            The action (``allow`` / ``review`` / ``block`` / ``unscored``), the
            categories behind it and, per category, the rule that decided it.

        Raises
        ------
        InputError
            A key is not a category key in the API's spelling (the SDK's
            ``model_dump()`` spelling ``self_harm_intent`` gets "did you mean
            'self-harm/intent'?"), a score is not a number in [0, 1], or a flag is not
            a boolean.
        """
        item = self._checked_item(
            category_scores, category_applied_input_types, categories, "decide"
        )
        return self._decide_items([item])[0]

    def decide_many(
        self,
        category_scores: Sequence[Mapping[str, float | None]],
        category_applied_input_types: Sequence[Mapping[str, Iterable[str]] | None] | None = None,
        *,
        categories: Sequence[Mapping[str, bool | None] | None] | None = None,
    ) -> list[Decision]:
        """Decide many items at once: :meth:`decide` of each, the rule run once on arrays.

        What ``modkit serve`` calls per request. Each item's decision is the one
        :meth:`decide` gives it alone; the rule (:mod:`modkit.thresholds._rule`, the one
        :meth:`apply` runs on frames) runs once on an (items x categories) array, with no
        DataFrame built.

        Parameters
        ----------
        category_scores : sequence of mapping of str to float or None, length n
            Per item, category key -> score (as for :meth:`decide`).
        category_applied_input_types : sequence of mapping or None, length n, optional
            Per item, the endpoint's ``category_applied_input_types`` (``None``: unknown).
        categories : sequence of mapping or None, length n, optional
            Per item, the backend's own per-category flags (``None``: no flags).

        Returns
        -------
        list of Decision, length n
            In the order of ``category_scores``.

        Raises
        ------
        InputError
            What :meth:`decide` raises, naming the item (``decide_many item 2: ...``),
            or when the sequences differ in length.

        Examples
        --------
        >>> import modkit
        >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
        >>> [d.action for d in ts.decide_many([{"violence": 0.9}, {"violence": 0.6}, {}])]
        ['block', 'review', 'unscored']
        """
        scores = list(category_scores) if not isinstance(category_scores, Mapping) else None
        if scores is None:
            raise InputError(
                "decide_many: category_scores must be a sequence of mappings (one per item); "
                "for one item call decide"
            )
        n = len(scores)
        applied = (
            [None] * n if category_applied_input_types is None else category_applied_input_types
        )
        flags = [None] * n if categories is None else categories
        for name, seq in (("category_applied_input_types", applied), ("categories", flags)):
            if isinstance(seq, Mapping) or len(seq) != n:
                raise InputError(
                    f"decide_many: {name} must be a sequence of {n} entries (one per item), "
                    f"got {type(seq).__name__}"
                    + ("" if isinstance(seq, Mapping) else f" of length {len(seq)}")
                )
        items = [
            self._checked_item(s, a, f, f"decide_many item {i}")
            for i, (s, a, f) in enumerate(zip(scores, applied, flags, strict=True))
        ]
        return self._decide_items(items)

    def _checked_item(
        self, category_scores: Any, applied: Any, flags: Any, where: str
    ) -> tuple[dict[str, float], Mapping[str, Any], Mapping[str, Any]]:
        """One item's inputs checked: float scores (NaN: none), applied types, flags."""
        if not isinstance(category_scores, Mapping):
            raise InputError(
                f"{where}: category_scores must be a mapping of category key to score, "
                f"not {type(category_scores).__name__}"
            )
        check_category_keys(category_scores, where, extra=self._native_keys)
        flags = {} if flags is None else flags
        if not isinstance(flags, Mapping):
            raise InputError(
                f"{where}: categories must be a mapping of category key to the backend's "
                f"flag (true/false), not {type(flags).__name__}"
            )
        check_category_keys(flags, f"{where}: categories", extra=self._native_keys)
        for c, f in flags.items():
            if f is not None and not isinstance(f, bool | np.bool_):
                raise InputError(
                    f"{where}: categories[{c!r}]: flag must be true or false, got {f!r}"
                )
        low, high = self._score_range
        scores = {
            c: _score_cell(category_scores[c], c, where, low, high)
            for c in order_categories(category_scores)
        }
        applied = applied or {}
        if not isinstance(applied, Mapping):
            raise InputError(
                f"{where}: category_applied_input_types must be a mapping of category key to "
                f"a list of input types, not {type(applied).__name__}"
            )
        return scores, applied, flags

    def _decide_items(
        self, items: list[tuple[dict[str, float], Mapping[str, Any], Mapping[str, Any]]]
    ) -> list[Decision]:
        """Checked items decided by :func:`_decide_bands` on one (n, k) array."""
        keys: set[str] = set(self.categories)
        for scores, _, flags in items:
            keys.update(scores)
            keys.update(flags)
        cats = order_categories(keys)
        n, k = len(items), len(cats)
        score = np.full((n, k), np.nan)
        flag = np.full((n, k), np.nan)
        col = {c: j for j, c in enumerate(cats)}
        for i, (scores, _, flags) in enumerate(items):
            for c, v in scores.items():
                score[i, col[c]] = v
            for c, f in flags.items():
                if f is not None:
                    flag[i, col[c]] = float(bool(f))
        held = [self.categories.get(c) for c in cats]
        block: np.ndarray = as_limits(None if ct is None else ct.block for ct in held)
        review: np.ndarray = as_limits(None if ct is None else ct.review for ct in held)
        typed = [j for j, ct in enumerate(held) if ct is not None and ct.by_input_type]
        if typed:
            block, review = np.tile(block, (n, 1)), np.tile(review, (n, 1))
            for i, (_, applied, _) in enumerate(items):
                for j in typed:
                    b, r = cast(CategoryThreshold, held[j]).limits_for(applied.get(cats[j]))
                    block[i, j], review[i, j] = as_limits([b, r])
        is_block, is_review, decided, rules = _decide_bands(
            score, flag, block, review, [self.policy_for(c) for c in cats]
        )
        action = actions(is_block, is_review, decided).tolist()
        blk, rev, dec, why = is_block.tolist(), is_review.tolist(), decided.tolist(), rules.tolist()
        out = []
        for i in range(n):
            per: dict[str, str] = {}
            rule: dict[str, str] = {}
            blocked, reviewed = [], []
            for j, c in enumerate(cats):
                if not dec[i][j]:
                    continue
                if blk[i][j]:
                    per[c] = "block"
                    blocked.append(c)
                elif rev[i][j]:
                    per[c] = "review"
                    reviewed.append(c)
                else:
                    per[c] = "allow"
                rule[c] = str(why[i][j])
            out.append(Decision(str(action[i]), tuple(blocked), tuple(reviewed), per, rule))
        return out

    def apply(self, results: pd.DataFrame, *, missing: str = "error") -> pd.DataFrame:
        """Decide every row of a results frame at once (vectorised :meth:`decide`).

        Parameters
        ----------
        results : DataFrame, shape (n, ...)
            One float column per category key, as :func:`modkit.moderate` returns. For
            categories whose thresholds differ by input type
            (:attr:`CategoryThreshold.by_input_type`), the ``applied/<category>``
            columns (``"text,image"``...; :func:`modkit.images.applied_input_types`) pick each
            row's thresholds; without them every row counts as text. The backend's own
            flags (the ``flagged/<category>`` columns, else ``result_json``) decide the
            categories without a threshold (see :meth:`decide`).
        missing : {"error", "ignore"}
            What to do when a category of the set with a threshold has no column: raise
            :class:`~modkit.InputError`, or treat it as unscored.

        Returns
        -------
        DataFrame, shape (n, 3 + 2 * categories)
            On ``results``' index: ``action``, ``blocked_categories`` and
            ``review_categories`` (comma-separated category keys, ``""`` for none), and
            per evaluated category (the set's, and every other category with a score or
            flag column) ``action:<category>`` (``allow``/``review``/``block``, ``""``
            where it could not be decided) and ``rule:<category>`` (what decided it, one
            of :data:`RULES`, or ``""``).

        Raises
        ------
        InputError
            A category has no column (with ``missing="error"``), a column is spelled as
            the SDK spells attributes (``self_harm_intent``), or a score is not a number
            in [0, 1] (naming the row and column).
        """
        if missing not in ("error", "ignore"):
            raise InputError(f"missing must be 'error' or 'ignore', got {missing!r}")
        if not isinstance(results, pd.DataFrame):
            raise InputError(f"apply: results must be a DataFrame, not {type(results).__name__}")
        misspelt = [
            c for c in results.columns if c not in self._native_keys and api_spelling(c) is not None
        ]
        if misspelt:
            check_category_keys(misspelt[:1], "apply: results column")
        held = [c for c in self.categories if _has_threshold(self.categories[c])]
        absent = [c for c in held if c not in results.columns]
        if absent and missing == "error":
            raise InputError(
                f"results have no score column for {absent} "
                "(pass missing='ignore' to treat them as unscored)"
            )
        with_flags = has_endpoint_flags(results)
        others = [
            c
            for c in self.taxonomy
            if c not in self.categories
            and (c in results.columns or (with_flags and _has_flag_column(results, c)))
        ]
        cats = order_categories([*self.categories, *others])
        present = [c for c in cats if c in results.columns]
        scores = np.full((len(results), len(cats)), np.nan)
        if present:
            low, high = self._score_range
            got = coerce_scores(results, present, source="results", low=low, high=high)
            for j, c in enumerate(present):
                scores[:, cats.index(c)] = got[:, j]
        flags = (
            endpoint_flags(results, cats, strict=False)
            if with_flags
            else np.full((len(results), len(cats)), np.nan)
        )
        block, review = self._row_limits(results, cats)
        is_block, is_review, decided, rules = _decide_bands(
            scores, flags, block, review, [self.policy_for(c) for c in cats]
        )
        out = pd.DataFrame(index=results.index)
        out["action"] = actions(is_block, is_review, decided)
        out["blocked_categories"] = _joined(is_block, cats)
        out["review_categories"] = _joined(is_review, cats)
        for j, c in enumerate(cats):
            col = np.where(is_block[:, j], "block", np.where(is_review[:, j], "review", "allow"))
            out[f"action:{c}"] = np.where(decided[:, j], col, "").astype(object)
        for j, c in enumerate(cats):
            out[f"rule:{c}"] = rules[:, j].astype(object)
        return out

    def _row_limits(self, results: pd.DataFrame, cats: list[str]) -> tuple[Any, Any]:
        """Block and review limits, shape (k,), or (n, k) when a category's thresholds
        differ by input type (read from the ``applied/<category>`` columns); ``inf``
        for none (a category the set does not hold has none)."""
        held = [self.categories.get(c) for c in cats]
        block = as_limits(None if ct is None else ct.block for ct in held)
        review = as_limits(None if ct is None else ct.review for ct in held)
        typed = [j for j, ct in enumerate(held) if ct is not None and ct.by_input_type]
        if not typed:
            return block, review
        n = len(results)
        block = np.tile(block, (n, 1))
        review = np.tile(review, (n, 1))
        for j in typed:
            ct = cast(CategoryThreshold, held[j])
            column = results.get(APPLIED_PREFIX + cats[j])
            values = [None] * n if column is None else column.tolist()
            cache: dict[Any, tuple[float, float]] = {}
            for i, value in enumerate(values):
                key = value if isinstance(value, str) else None  # None / NaN: unknown
                if key not in cache:
                    types = None if key is None else [t for t in key.split(",") if t]
                    b, r = ct.limits_for(types)
                    lim = as_limits([b, r])
                    cache[key] = (float(lim[0]), float(lim[1]))
                block[i, j], review[i, j] = cache[key]
        return block, review

    @property
    def _native_keys(self) -> tuple[str, ...]:
        return _native_keys(self.provider)

    @property
    def _score_range(self) -> tuple[float, float]:
        """The range scores must lie in: the scale's, or [0, 1]."""
        return (0.0, 1.0) if self.scale is None else (self.scale.low, self.scale.high)

    # ------------------------------------------------------------------ reports
    def summary(self) -> pd.DataFrame:
        """One row per category: thresholds, status, counts, rates with intervals.

        Returns
        -------
        pandas.DataFrame, shape (n_categories, n_columns)
            Indexed by ``category``; see :func:`modkit.thresholds.summary` for the
            columns (thresholds in score units, rates and shares in [0, 1]).
        """
        from ._report import summary

        return summary(self)

    def report(self) -> str:
        """A short plain-text report.

        Returns
        -------
        str
            As :func:`modkit.thresholds.report` writes it: per category, thresholds,
            status and the out-of-fold rates.
        """
        from ._report import report

        return report(self)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """The profile's JSON object (as it appears under ``profiles.<profile>``).

        Returns
        -------
        dict
            ``model``, (``provider`` and ``scale`` for a provider's set),
            ``unthresholded``, ``labels_sha256``, ``created``, ``n_rows``,
            ``daily_volume``, ``bands``,
            ``review_per_day`` and ``categories`` (each :meth:`CategoryThreshold.to_dict`).
        """
        out: dict[str, Any] = {"model": self.model}
        if self.profile not in PROFILES:  # a named profile says which traffic it is for
            out["applies_to"] = self.applies_to
        if self.provider is not None:  # a provider's own categories and scale
            out["provider"] = self.provider
            out["scale"] = None if self.scale is None else self.scale.to_dict()
        return out | {
            "unthresholded": self.unthresholded,
            "labels_sha256": self.labels_sha256,
            "created": self.created,
            "n_rows": self.n_rows,
            "daily_volume": self.daily_volume,
            "bands": self.bands,
            "review_per_day": self.review_per_day,
            "categories": {c: ct.to_dict() for c, ct in self.categories.items()},
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        profile: str = "input",
        unthresholded: str = UNTHRESHOLDED_DEFAULT,
    ) -> ThresholdSet:
        """A set from its profile object (not schema-validated: see :class:`ThresholdFile`).

        Parameters
        ----------
        data : mapping
            A profile object, as :meth:`to_dict` makes it.
        profile : {"input", "output"}, default "input"
            The profile the set is for.
        unthresholded : {"backend_flag", "review", "never_flag"}, default "backend_flag"
            The policy when ``data`` states none (the file's).

        Returns
        -------
        ThresholdSet

        Raises
        ------
        InputError
            As the constructor: an unknown profile or category, a threshold off the
            scale, a review above its block.
        """
        cats = {c: CategoryThreshold.from_dict(v) for c, v in data.get("categories", {}).items()}
        return cls(
            cats,
            profile=profile,
            provider=data.get("provider"),
            scale=data.get("scale"),
            unthresholded=data.get("unthresholded", unthresholded),
            applies_to=data.get("applies_to"),
            **{
                k: data.get(k)
                for k in (
                    "model",
                    "labels_sha256",
                    "created",
                    "n_rows",
                    "daily_volume",
                    "bands",
                    "review_per_day",
                )
            },
        )

    def save(self, path: str | os.PathLike[str], *, merge: bool = False) -> Path:
        """Write a threshold file holding this set as its profile.

        Parameters
        ----------
        path : path
            The JSON file.
        merge : bool, default False
            If the file exists, keep its other profile (it is validated first) and
            replace only this set's profile.

        Returns
        -------
        Path
            ``path``, written.

        Raises
        ------
        ThresholdFileError
            With ``merge``, when the existing file is malformed.
        InputError
            The file cannot be written (see :meth:`ThresholdFile.save`).
        """
        path = Path(path)
        profiles: dict[str, ThresholdSet] = {}
        if merge and path.exists():
            profiles.update(ThresholdFile.load(path).profiles)
        profiles[self.profile] = self
        return ThresholdFile(profiles).save(path)


def _joined(mask: np.ndarray, cats: list[str]) -> np.ndarray:
    n = mask.shape[0]
    acc = np.full(n, "", dtype=object)
    for j, c in enumerate(cats):
        acc = acc + np.where(mask[:, j], c + ",", "").astype(object)
    return np.array([s[:-1] if s else s for s in acc], dtype=object) if n else acc


def _common(values: Iterable[str | None]) -> str | None:
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


class ThresholdFile:
    """A threshold file: one :class:`ThresholdSet` per profile (``input``, ``output``).

    Parameters
    ----------
    profiles : mapping of str to ThresholdSet, or iterable of ThresholdSet
        Each set's own ``profile`` must match its key.
    created : str, optional
        The file's ``created`` time (default: now, UTC).
    modkit_version : str, optional
        The modkit version that wrote the file (default: this one).
    unthresholded : {"backend_flag", "review", "never_flag"}, optional
        The file's policy for categories without a threshold (see
        :class:`ThresholdSet`). Default: the profiles' when they agree, else
        ``"backend_flag"``. Each profile keeps and writes its own.

    Raises
    ------
    InputError
        For a profile other than ``input`` / ``output``, no profile at all, or an
        unknown policy.

    Notes
    -----
    The file-level ``model`` and ``labels_sha256`` are those of the profiles when they
    agree, else ``null`` (each profile keeps its own).

    Files of schema version 1 and 2 state no policy (a category without a threshold
    was never flagged). They are read with ``unthresholded: "backend_flag"``, the safe
    default, with a :class:`ThresholdPolicyWarning`; saving writes version 3 with the
    policy stated.

    Examples
    --------
    >>> import modkit
    >>> prompts = modkit.ThresholdSet.from_thresholds({"violence": 0.8})
    >>> replies = modkit.ThresholdSet.from_thresholds({"violence": 0.6}, profile="output")
    >>> file = modkit.ThresholdFile([prompts, replies])
    >>> file["output"].block
    {'violence': 0.6}
    >>> modkit.ThresholdFile.from_dict(file.to_dict())["input"] == prompts
    True
    """

    def __init__(
        self,
        profiles: Mapping[str, ThresholdSet] | Iterable[ThresholdSet],
        *,
        created: str | None = None,
        modkit_version: str | None = None,
        unthresholded: str | None = None,
    ) -> None:
        items = (
            profiles.items()
            if isinstance(profiles, Mapping)
            else ((ts.profile, ts) for ts in profiles)
        )
        self.profiles: dict[str, ThresholdSet] = {}
        for name, ts in items:
            check_profile_name(name, ts.applies_to)
            if ts.profile != name:
                doc = ts.to_dict() | {"applies_to": ts.applies_to}
                ts = ThresholdSet.from_dict(doc, profile=name)
            self.profiles[name] = ts
        if not self.profiles:
            raise InputError("a threshold file needs at least one profile")
        if unthresholded is None:
            unthresholded = (
                _common(ts.unthresholded for ts in self.profiles.values()) or UNTHRESHOLDED_DEFAULT
            )
        self.unthresholded = _check_policy(unthresholded, "unthresholded")
        self.created = created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        self.modkit_version = modkit_version or __version__

    def __getitem__(self, profile: str) -> ThresholdSet:
        try:
            return self.profiles[profile]
        except KeyError:
            raise InputError(
                f"the file has no profile {profile!r} (profiles: {', '.join(self.profiles)})"
            ) from None

    def __contains__(self, profile: object) -> bool:
        return profile in self.profiles

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON document.

        Returns
        -------
        dict
            ``$schema``, ``schema_version``, ``decision_rule``, ``unthresholded``,
            ``model``, ``labels_sha256``, ``created``, ``modkit_version`` and
            ``profiles`` (each :meth:`ThresholdSet.to_dict`).
        """
        names = [p for p in PROFILES if p in self.profiles]
        sets = [self.profiles[p] for p in names + [p for p in self.profiles if p not in names]]
        return {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "decision_rule": DECISION_RULE,
            "unthresholded": self.unthresholded,
            "model": _common(ts.model for ts in sets),
            "labels_sha256": _common(ts.labels_sha256 for ts in sets),
            "created": self.created,
            "modkit_version": self.modkit_version,
            "profiles": {ts.profile: ts.to_dict() for ts in sets},
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "<dict>") -> ThresholdFile:
        """Validate a parsed file and build it.

        Parameters
        ----------
        doc : mapping
            The parsed JSON document (version 1, 2 or 3 of the schema).
        source : str, default "<dict>"
            Where it came from, named in error messages (a path).

        Returns
        -------
        ThresholdFile

        Raises
        ------
        ThresholdFileError
            The document does not match the schema; every problem is listed with its
            JSON path.
        InputError
            A check beyond the schema fails (e.g. a threshold off its provider's scale).

        Warns
        -----
        ThresholdPolicyWarning
            For a version 1 or 2 file: read with the safe default policy
            ``backend_flag`` (those versions never flagged a category without a
            threshold).
        """
        if not isinstance(doc, Mapping):
            raise ThresholdFileError(
                source, [("$", f"expected a JSON object, got {type(doc).__name__}")]
            )
        try:
            validate_threshold_file(doc)
        except ThresholdFileError as exc:
            raise ThresholdFileError(source, exc.problems) from None
        policy = doc.get("unthresholded", UNTHRESHOLDED_DEFAULT)
        if doc["schema_version"] < 3:
            warnings.warn(
                f"{source}: schema version {doc['schema_version']} states no policy for "
                "categories without a threshold (it never flagged them); read with "
                f"unthresholded: {UNTHRESHOLDED_DEFAULT!r}, the backend's own flag decides "
                "them. Save it again to write version 3 with the policy stated "
                "('never_flag' keeps the old meaning).",
                ThresholdPolicyWarning,
                stacklevel=2,
            )
        profiles = {
            p: ThresholdSet.from_dict(body, profile=p, unthresholded=policy)
            for p, body in doc["profiles"].items()
        }
        return cls(
            profiles,
            created=doc.get("created"),
            modkit_version=doc.get("modkit_version"),
            unthresholded=policy,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ThresholdFile:
        """Read and validate a threshold file (version 1, 2 or 3; validated once).

        Parameters
        ----------
        path : str or path
            The JSON file.

        Returns
        -------
        ThresholdFile

        Raises
        ------
        InputError
            The file does not exist.
        ThresholdFileError
            The file is not UTF-8 JSON, or does not match the schema.
        """
        doc = load_json(Path(path))
        return cls.from_dict(doc, source=str(path))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Validate and write the file (atomically: temporary name, then rename).

        Parameters
        ----------
        path : str or path
            The JSON file; missing folders are made.

        Returns
        -------
        Path
            ``path``, written.

        Raises
        ------
        InputError
            The file cannot be written, or holds a non-finite number (the message names
            it); no temporary file stays behind and an existing file at ``path`` is left
            as it was.
        ThresholdFileError
            The document would not match the schema.
        """
        path = Path(path)
        doc = self.to_dict()
        try:
            text = json.dumps(doc, indent=2, allow_nan=False, ensure_ascii=False)
        except ValueError as exc:
            raise InputError(f"{path}: cannot write a non-finite number ({exc})") from None
        validate_threshold_file(doc)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        return path


@validate_params({"path": ["path"]})
def load_threshold_file(path: str | os.PathLike[str]) -> ThresholdFile:
    """Read and validate a threshold file with all its profiles.

    Parameters
    ----------
    path : str or path
        The JSON file (validated against the shipped schema, version 1, 2 or 3).

    Returns
    -------
    ThresholdFile

    Raises
    ------
    InputError
        The file does not exist.
    ThresholdFileError
        The file is malformed; the message names the JSON path of each problem.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "thresholds.json"
    >>> _ = modkit.ThresholdSet.from_thresholds({"violence": 0.8}).save(path)
    >>> file = modkit.load_threshold_file(path)
    >>> list(file.profiles), file.profiles["input"]["violence"].block
    (['input'], 0.8)
    """
    return ThresholdFile.load(path)


@validate_params({"path": ["path"], "profile": [StrOptions(PROFILES)]})
def load_thresholds(path: str | os.PathLike[str], profile: str = "input") -> ThresholdSet:
    """Read one profile of a threshold file.

    Parameters
    ----------
    path : path
        The JSON file (validated against the shipped schema).
    profile : {"input", "output"}, default "input"
        Which profile to read.

    Returns
    -------
    ThresholdSet

    Raises
    ------
    ThresholdFileError
        The file is malformed (the message names the JSON path of each problem).
    InputError
        The file does not exist, or has no such profile.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import modkit
    >>> path = Path(tempfile.mkdtemp()) / "thresholds.json"
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}})
    >>> _ = ts.save(path)
    >>> ts = modkit.load_thresholds(path, profile="input")
    >>> ts.decide({"violence": 0.6}).action
    'review'
    """
    return ThresholdFile.load(path)[profile]


def _native_keys(provider: str | None) -> tuple[str, ...]:
    """The keys a provider's results may hold besides the API's (none for OpenAI's)."""
    if provider is None or provider == "openai":
        return ()
    return tuple(result_keys(provider))


def _resolve_scale(
    provider: str | None, model: str | None, scale: Scale | Mapping[str, Any] | None
) -> Scale | None:
    """The set's scale: given, or the provider's (None for the API's [0, 1] scores)."""
    if isinstance(scale, Scale):
        return scale
    if isinstance(scale, Mapping):
        return Scale.from_dict(scale)
    if scale is not None:
        raise InputError(f"scale must be a Scale or a mapping, not {type(scale).__name__}")
    if provider is None or provider == "openai":
        return None
    return provider_scale(provider, model)
