"""A CI gate: do a threshold file's promises and a bias gap still hold on new scores?"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from ._bias import GAP_COLUMNS, counterfactual_gap
from ._drift import decision_drift
from ._errors import InputError
from ._labels import align_rows, parse_labels
from ._text import json_text, xml_safe
from ._validation import LEVEL, PROB, validate_params
from .thresholds import Constraint, Counts, ThresholdSet, parse_objective

__all__ = ["CheckResult", "GateReport", "check_thresholds"]


@dataclass(frozen=True)
class CheckResult:
    """One check of the gate.

    Attributes
    ----------
    kind : {"promise", "drift", "gap"}
        What sort of check: a threshold file's promise, the share of decisions changed
        against a baseline, or a counterfactual gap.
    name : str
        What was checked, e.g. ``"violence block precision>=0.9"``.
    status : {"pass", "fail", "skip"}
        The outcome; a skipped check (nothing to measure) does not fail the gate.
    measured : float or None
        The value on the new scores (a rate in [0, 1] or a score difference).
    limit : float or None
        The bound it is held to, in the units of ``measured``.
    message : str
        One line a person reads in the CI log.
    details : dict
        Counts and the parts of the measurement (JSON-serialisable).

    Examples
    --------
    >>> from modkit import CheckResult
    >>> check = CheckResult("drift", "decisions changed", "pass", 0.02, 0.1, "2% changed")
    >>> check.status, check.measured <= check.limit
    ('pass', True)
    """

    kind: str
    name: str
    status: str
    measured: float | None
    limit: float | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateReport:
    """The checks of one :func:`check_thresholds` run; ``ok`` when none failed.

    Attributes
    ----------
    checks : list of CheckResult
        Every check, in the order they ran (promises, drift, gaps).
    meta : dict
        What was checked against (JSON-serialisable), written into :meth:`to_dict`.

    Examples
    --------
    >>> from modkit import CheckResult, GateReport
    >>> report = GateReport(
    ...     [
    ...         CheckResult("gap", "gap over group", "fail", 0.3, 0.2, "gap 0.300"),
    ...         CheckResult("drift", "decisions changed", "pass", 0.0, 0.1, "none changed"),
    ...     ]
    ... )
    >>> report.ok, report.counts()
    (False, {'pass': 1, 'fail': 1, 'skip': 0})
    >>> print(report.summary())
    FAIL gap over group: gap 0.300
    PASS decisions changed: none changed
    FAILED: 1 passed, 1 failed, 0 skipped
    """

    checks: list[CheckResult]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks do not fail the gate)."""
        return not self.failures

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [c for c in self.checks if c.status == "fail"]

    def counts(self) -> dict[str, int]:
        """How many checks ended in each status.

        Returns
        -------
        dict of str to int
            ``{"pass": n, "fail": n, "skip": n}``.
        """
        return {s: sum(c.status == s for c in self.checks) for s in ("pass", "fail", "skip")}

    def to_dict(self) -> dict[str, Any]:
        """The JSON report.

        Returns
        -------
        dict
            ``ok``, ``counts`` (as :meth:`counts`), ``meta`` and ``checks`` (each check's
            fields as a dict).
        """
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "meta": self.meta,
            "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text.

        Returns
        -------
        str
            Indented JSON ending in a newline; a NaN or infinite number is ``null``; a
            text holding a lone surrogate makes the document ASCII (``\\udxxx``
            escapes), so it is always valid JSON and writable as UTF-8.
        """
        return json_text(_finite(self.to_dict()), indent=2) + "\n"

    def to_junit_xml(self, suite: str = "modkit check") -> str:
        """A JUnit XML report, as CI systems read test results.

        Parameters
        ----------
        suite : str, default "modkit check"
            The ``name`` of the ``testsuites`` and ``testsuite`` elements.

        Returns
        -------
        str
            An XML document: one ``testcase`` per check (class ``modkit.check.<kind>``),
            with a ``failure`` element for a failed check, ``skipped`` for a skipped one
            and the message as ``system-out`` for a passed one. Always well-formed XML
            1.0: a character XML forbids (a control character such as ESC, a lone
            surrogate) is written as a visible escape (``\\x1b``, ``\\ud800``); every
            other character is kept.
        """
        counts = self.counts()
        x = xml_safe
        root = ET.Element("testsuites", name=x(suite))
        ts = ET.SubElement(
            root,
            "testsuite",
            name=x(suite),
            tests=str(len(self.checks)),
            failures=str(counts["fail"]),
            skipped=str(counts["skip"]),
            errors="0",
        )
        for c in self.checks:
            kind, name, message = x(c.kind), x(c.name), x(c.message)
            case = ET.SubElement(ts, "testcase", classname=f"modkit.check.{kind}", name=name)
            if c.status == "fail":
                ET.SubElement(case, "failure", message=message, type=kind).text = message
            elif c.status == "skip":
                ET.SubElement(case, "skipped", message=message)
            else:
                ET.SubElement(case, "system-out").text = message
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"

    def summary(self) -> str:
        """A plain-text report for a CI log.

        Returns
        -------
        str
            One line per check (status, name and message), then the verdict with the
            counts.
        """
        lines = [f"{c.status.upper():<4} {c.name}: {c.message}" for c in self.checks]
        n = self.counts()
        verdict = "ok" if self.ok else "FAILED"
        lines.append(f"{verdict}: {n['pass']} passed, {n['fail']} failed, {n['skip']} skipped")
        return "\n".join(lines)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


def _rate(con: Constraint, s: np.ndarray, y: np.ndarray, t: float) -> tuple[float, int, int]:
    """The metric at ``score >= t``, and the proportion its promise is tested on.

    Returns the metric's value and ``k`` successes of ``n`` trials as the objective
    registry states the constraint (for ``fpr<=X``: unflagged negatives of all negatives,
    which must be at least ``1 - X``).
    """
    flag = s >= t
    counts = Counts(int((flag & y).sum()), int((flag & ~y).sum()), int(y.sum()), int((~y).sum()))
    k, n = int(con.successes(counts)), int(con.trials(counts))
    return float(con.value(counts)), k, n


def _violated(con: Constraint, k: int, n: int, target: float, confidence: float | None) -> bool:
    """Whether the promise is broken: at the point estimate, or at ``confidence``.

    At ``confidence`` it is broken when even the one-sided Clopper-Pearson upper bound on
    ``k / n`` is below the level the registry derives from the target.
    """
    q = con.level(target)
    if confidence is None:
        return k / n < q
    from scipy.stats import beta

    upper = 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))
    return upper < q


def _promise_result(
    con: Any,
    name: str,
    which: str,
    spec: str,
    target: float,
    threshold: float,
    scores: pd.Series,
    labels: pd.Series,
    confidence: float | None,
) -> CheckResult:
    """One promise checked on the new rows: its rate at ``threshold``, and whether it
    is broken (at ``confidence`` when given); ``skip`` when the rate is undefined."""
    metric = con.metric
    s = pd.to_numeric(scores, errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
    keep = ~np.isnan(s) & ~np.isnan(y)
    s, yb = s[keep], y[keep] == 1
    value, k, n = _rate(con, s, yb, float(threshold))
    details = {"threshold": float(threshold), "k": k, "n": n, "n_rows": int(keep.sum())}
    if n == 0:
        return CheckResult(
            "promise",
            name,
            "skip",
            None,
            target,
            f"{metric} undefined on the new rows (0 in its denominator)",
            details,
        )
    broken = _violated(con, k, n, target, confidence)
    how = "" if confidence is None else f" (at confidence {confidence:g})"
    verb = "broken" if broken else "holds"
    return CheckResult(
        "promise",
        name,
        "fail" if broken else "pass",
        value,
        target,
        f"{metric} {value:.3f} ({k} of {n} {con.trials_name} count toward it) "
        f"at {which} >= {threshold:.4g}: promise {spec} {verb}{how}",
        details,
    )


def _promise_checks(
    ts: ThresholdSet,
    results: pd.DataFrame,
    labels: pd.DataFrame,
    confidence: float | None,
) -> list[CheckResult]:
    out: list[CheckResult] = []
    for cat, ct in ts.categories.items():
        for which, threshold, spec, status in (
            ("block", ct.block, ct.objective, ct.status),
            ("review", ct.review, ct.review_objective, ct.review_status),
        ):
            if not spec or spec == "manual":
                continue
            try:
                obj = parse_objective(spec)
            except InputError:
                continue
            con = obj.constraint
            if con is None:
                continue  # f1, cost, fixed, callables: an optimum, not a promise
            target = float(obj.target)  # type: ignore[arg-type]
            name = f"{cat} {which} {spec}"
            if threshold is None or status not in ("ok", None):
                out.append(
                    CheckResult(
                        "promise",
                        name,
                        "skip",
                        None,
                        target,
                        f"no {which} threshold in the file (status {status}): nothing promised",
                    )
                )
                continue
            if cat not in labels.columns or cat not in results.columns:
                out.append(
                    CheckResult("promise", name, "skip", None, target, "no labels or scores for it")
                )
                continue
            out.append(
                _promise_result(
                    con,
                    name,
                    which,
                    spec,
                    target,
                    float(threshold),
                    results[cat],
                    labels[cat],
                    confidence,
                )
            )
    return out


def _gap_checks(
    results: pd.DataFrame,
    baseline: pd.DataFrame | None,
    slot: str,
    categories: Sequence[str],
    max_gap: float | None,
    tolerance: float,
) -> list[CheckResult]:
    by = "template_id" if "template_id" in results.columns else None  # else: one template
    new = counterfactual_gap(results, slot, by=by, categories=categories)
    old = (
        None
        if baseline is None
        else counterfactual_gap(baseline, slot, by=by, categories=categories)
    )
    key_cols = [c for c in new.columns if c not in GAP_COLUMNS]
    out: list[CheckResult] = []
    old_gap: dict[tuple, float] = {}
    if old is not None:
        for _, row in old.iterrows():
            old_gap[tuple(row[c] for c in [*key_cols, "category"])] = float(row["gap"])
    for _, row in new.iterrows():
        key = tuple(row[c] for c in [*key_cols, "category"])
        name = f"gap over {slot}: " + " · ".join(str(k) for k in key)
        gap = float(row["gap"])
        limits = []
        if max_gap is not None:
            limits.append(max_gap)
        if key in old_gap:
            limits.append(old_gap[key] + tolerance)
        details = {
            "max_value": str(row["max_value"]),
            "max_score": float(row["max_score"]),
            "min_value": str(row["min_value"]),
            "min_score": float(row["min_score"]),
            "baseline_gap": old_gap.get(key),
        }
        if not limits:
            continue
        limit = min(limits)
        bad = gap > limit
        base = f", baseline {old_gap[key]:.3f} + {tolerance:g}" if key in old_gap else ""
        out.append(
            CheckResult(
                "gap",
                name,
                "fail" if bad else "pass",
                gap,
                limit,
                f"gap {gap:.3f} ({row['min_value']} {row['min_score']:.3f} .. "
                f"{row['max_value']} {row['max_score']:.3f}), limit {limit:.3f}{base}",
                details,
            )
        )
    return out


def _gate_labels(
    results: pd.DataFrame, labels: pd.DataFrame | None, on: str | None
) -> pd.DataFrame | None:
    """The labels to check against: given (matched on ``on``), or kept beside the scores
    as ``label_<category>`` columns (``None`` if neither)."""
    if labels is None:
        beside = parse_labels(results, columns="prefixed", source="results")
        labels = beside if beside.shape[1] else None
    else:
        if on is not None:
            labels = align_rows(results, labels, on, scores_source="results")
            labels = parse_labels(labels).reindex(results.index)
        else:
            labels = parse_labels(labels)
    return labels


def _drift_checks(
    baseline: pd.DataFrame,
    results: pd.DataFrame,
    thresholds: ThresholdSet,
    max_changed: float | None,
) -> list[CheckResult]:
    """The drift check: the share of prompts whose action changed vs the baseline."""
    out: list[CheckResult] = []
    drift = decision_drift(baseline, results, thresholds, names=("baseline", "new"))
    changed = float(drift.decisions["changed"].mean()) if len(drift.decisions) else 0.0
    n_changed = int(drift.decisions["changed"].sum())
    transitions = {
        str(k): int(v)
        for k, v in drift.decisions.loc[drift.decisions["changed"], "transition"]
        .value_counts()
        .items()
    }
    if max_changed is not None:
        bad = changed > max_changed
        out.append(
            CheckResult(
                "drift",
                "decisions changed vs baseline",
                "fail" if bad else "pass",
                changed,
                float(max_changed),
                f"{n_changed} of {len(drift.decisions)} prompts changed action "
                f"({changed:.1%}; limit {max_changed:.1%})"
                + (f": {transitions}" if transitions else ""),
                {"n_changed": n_changed, "transitions": transitions},
            )
        )
    return out


@validate_params({"confidence": [None, LEVEL], "max_changed": [None, PROB]})
def check_thresholds(
    thresholds: ThresholdSet,
    results: pd.DataFrame,
    *,
    labels: pd.DataFrame | None = None,
    baseline: pd.DataFrame | None = None,
    confidence: float | None = None,
    max_changed: float | None = None,
    gap_by: str | None = None,
    gap_categories: Sequence[str] | None = None,
    max_gap: float | None = None,
    gap_tolerance: float = 0.05,
    on: str | None = None,
) -> GateReport:
    """Check a threshold file's promises and bias gaps against new scores.

    Parameters
    ----------
    thresholds : ThresholdSet
        One profile of the threshold file.
    results : pandas.DataFrame
        The new scores (a results frame: one float column per category key).
    labels : pandas.DataFrame, optional
        Labels per category key (columns named by the bare key or ``label_<key>``;
        values as :func:`modkit.parse_labels` reads them: 1/0, true/false, yes/no,
        blank), aligned with ``results`` by index, or matched on the column ``on``.
        Default: the ``label_<category>`` columns of ``results``, if any. With it, every
        constrained objective of the file (``precision>=P``, ``recall>=R``, ``fpr<=X``, for
        block and for review) is measured at the file's threshold on the new rows (flag
        when score >= threshold). ``f1``, ``fbeta``, ``cost`` and ``fixed`` promise no
        level and are not checked; a category without a threshold is skipped.
    baseline : pandas.DataFrame, optional
        The same prompts scored before (matched by ``text``): enables the drift check
        (``max_changed``) and gap limits relative to the baseline.
    confidence : float in (0, 1), optional
        Fail a promise only when the data show it broken at this confidence (the
        one-sided Clopper-Pearson bound is on the wrong side of the target). Default:
        the point estimate must meet the target.
    max_changed : float in [0, 1], optional
        With ``baseline``: fail when more than this share of prompts change action.
    gap_by : str, optional
        A slot column: check :func:`modkit.counterfactual_gap` per template (the
        ``template_id`` column; without one, all rows are one template) and category.
    gap_categories : list of str, optional
        Categories for the gap check (default: those of the threshold set).
    max_gap : float, optional
        Fail a template x category whose gap (in the scores' units: a difference of mean
        scores) exceeds this.
    gap_tolerance : float, default 0.05
        With ``baseline``: fail a gap that grew by more than this (scores' units) over
        the baseline's.
    on : str, optional
        A key column of both ``results`` and ``labels`` (``"id"``) to match rows on;
        rows without labels are not labelled.

    Returns
    -------
    GateReport
        ``ok`` is False when any check failed. Its ``meta["unthresholded"]`` records the
        set's policy for categories without a threshold (``policy``, and
        ``categories``: category -> policy); the drift check's decisions follow it
        (:meth:`ThresholdSet.apply`).

    Raises
    ------
    InputError
        Nothing to check (no labels, no baseline, no gap slot), a bad bound, or the
        baseline and the new scores do not cover the same prompts.

    Notes
    -----
    With ``confidence``, a promise on a rate ``k / n`` is broken when the one-sided
    Clopper-Pearson upper bound (Clopper & Pearson 1934; the beta quantile
    ``scipy.stats.beta.ppf(confidence, k + 1, n - k)``) is below the level the objective
    requires.

    Examples
    --------
    Decisions on new scores against a baseline run, allowing 10% to change:

    >>> import pandas as pd
    >>> import modkit
    >>> ts = modkit.ThresholdSet.from_thresholds({"violence": {"block": 0.5}})
    >>> baseline = pd.DataFrame({"text": ["a", "b", "c", "d"], "violence": [0.9, 0.6, 0.7, 0.1]})
    >>> new = baseline.assign(violence=[0.9, 0.2, 0.7, 0.1])
    >>> gate = modkit.check_thresholds(ts, new, baseline=baseline, max_changed=0.1)
    >>> gate.ok, [(c.name, c.status, c.measured) for c in gate.checks]
    (False, [('decisions changed vs baseline', 'fail', 0.25)])
    """
    labels = _gate_labels(results, labels, on)
    if labels is None and baseline is None and gap_by is None:
        raise InputError("nothing to check: give labels, a baseline or a gap slot")
    if gap_by is not None and max_gap is None and baseline is None:
        raise InputError("the gap check needs max_gap or a baseline to compare with")
    checks: list[CheckResult] = []
    meta: dict[str, Any] = {"n_rows": len(results), "profile": thresholds.profile}
    if "model" in results.columns and len(results):
        meta["model"] = str(results["model"].iloc[0])
    meta["thresholds_model"] = thresholds.model
    # what decides the categories without a threshold (in the drift check's decisions)
    meta["unthresholded"] = {
        "policy": thresholds.unthresholded,
        "categories": thresholds.unthresholded_categories,
    }
    if labels is not None:
        if len(labels) != len(results) or not labels.index.equals(results.index):
            raise InputError("labels must be aligned with the new scores (same index)")
        checks += _promise_checks(thresholds, results, labels, confidence)
    if baseline is not None:
        checks += _drift_checks(baseline, results, thresholds, max_changed)
    if gap_by is not None:
        cats = list(gap_categories or [c for c in thresholds.categories if c in results.columns])
        checks += _gap_checks(results, baseline, gap_by, cats, max_gap, gap_tolerance)
    return GateReport(checks, meta)
