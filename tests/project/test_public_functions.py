"""Every public function that takes user parameters checks them declaratively.

In the manner of scikit-learn's ``test_public_functions.py``: walk the public names
(``modkit.__all__`` and each public package's ``__all__``); a function that takes
parameters is either decorated with :func:`modkit._validation.validate_params` or listed
in :data:`EXEMPT` with why. For every decorated function and every constrained parameter,
a value of the wrong type and (where the constraint has a range or a set of options) a
value of the right type out of range must raise a modkit :class:`~modkit.InputError`
naming the function and the parameter, before the function does any work.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _packages import PACKAGES

import modkit
from modkit import InputError
from modkit._validation import (
    Hidden,
    Interval,
    KeysOf,
    MappingOf,
    Options,
    SequenceOf,
    StrOptions,
    check_param,
)

_HOT = "hot path (called per row, cell or resample): the callers check once"
_RAW = "parses a model's raw answer: any value is accepted by design (None if it does not parse)"
_REGISTRY = "backend registry API reworked by issue 19 point 3 (branch h19-registry)"
_SERVER = "server wiring reworked by issue 19 point 2; checks its objects in the body"

#: Public functions taking parameters that are not decorated, and why.
EXEMPT: dict[str, str] = {
    "modkit.label_column": _HOT,
    "modkit.label_values": _HOT,
    "modkit.check_conversation": _HOT,
    "modkit.review.label_value": _HOT,
    "modkit.review.question_name": _HOT,
    "modkit.templates.escape": _HOT,
    "modkit.testing.unit_score": _HOT,
    "modkit.thresholds.env_name": _HOT,
    "modkit.thresholds.rates": _HOT,
    "modkit.thresholds.select_threshold": _HOT,
    "modkit.thresholds.binary_curve": _HOT,
    "modkit.thresholds.min_trials": _HOT,
    "modkit.training.is_heldout": _HOT,
    "modkit.backends.refusal": _HOT,
    "modkit.backends.refuse_parts": _HOT,
    "modkit.backends.parse_granite_score": _RAW,
    "modkit.backends.parse_nemotron_safety": _RAW,
    "modkit.backends.parse_policy_answer": _RAW,
    "modkit.backends.parse_qwen3guard": _RAW,
    "modkit.backends.deprecated_model_message": "internal message helper of the Mistral backend",
    "modkit.backends.perspective_end_message": "accepts a date, an ISO string or None; parsed "
    "in the body with its own error",
    "modkit.backends.backend_spec": _REGISTRY,
    "modkit.backends.register_backend": _REGISTRY,
    "modkit.make_backend": _REGISTRY,
    "modkit.backends.resolve_snapshot": "takes any backend object (duck-typed `model` attribute)",
    "modkit.server.create_app": _SERVER,
    "modkit.server.serve": _SERVER,
    "modkit.server.free_port": "test helper: binds the host given, the OS reports a bad one",
    "modkit.ray.merge_counts": "takes any iterable of shard mappings (generators included)",
    "modkit.providers.detect_provider": "takes any iterable of column names (Index, list, keys)",
    "modkit.audit.load_traffic": "accepts a path, a frame or a ThresholdSet-like table: "
    "dispatched and checked in the body",
    "modkit.review.krippendorff_alpha": "takes any array-like (lists, arrays, frames)",
    "modkit.thresholds.report": "duck-typed on ThresholdSet (whose module imports this one)",
    "modkit.thresholds.summary": "duck-typed on ThresholdSet (whose module imports this one)",
    "modkit.thresholds.export_thresholds": "export formats become a registry (issue 19 point "
    "3, branch h19-registry); fmt is checked against it in the body",
}


def _public_functions() -> dict[str, Any]:
    seen: dict[str, tuple[str, Any]] = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                key = f"{obj.__module__}.{obj.__qualname__}"
                seen.setdefault(key, (f"{package}.{name}", obj))
    return dict(sorted(seen.values(), key=lambda pair: pair[0]))


FUNCTIONS = _public_functions()
DECORATED = {k: f for k, f in FUNCTIONS.items() if hasattr(f, "__modkit_constraints__")}


def _takes_parameters(func: Any) -> bool:
    return bool(inspect.signature(func).parameters)


def test_every_public_function_with_parameters_is_decorated_or_exempt():
    missing = [
        name
        for name, func in FUNCTIONS.items()
        if _takes_parameters(func) and name not in DECORATED and name not in EXEMPT
    ]
    assert not missing, f"decorate with validate_params, or add to EXEMPT with a reason: {missing}"
    stale = [name for name in EXEMPT if name not in FUNCTIONS or name in DECORATED]
    assert not stale, f"EXEMPT entries that are decorated or no longer public: {stale}"
    assert all(len(why.split()) >= 3 for why in EXEMPT.values())


def test_most_public_functions_are_decorated():
    with_params = [n for n, f in FUNCTIONS.items() if _takes_parameters(f)]
    assert len(DECORATED) >= 0.7 * len(with_params), (len(DECORATED), len(with_params))


class _Wrong:
    """A value no constraint accepts (not a number, str, path, mapping, list or callable)."""

    def __repr__(self) -> str:
        return "<wrong>"


def _out_of_range(constraint: Any) -> list[Any]:
    """Values of the right kind that ``constraint`` refuses (empty if it has no range)."""
    if isinstance(constraint, Interval):
        out: list[Any] = []
        step = 1 if constraint.kind is Integral else 0.5
        if constraint.left is not None:
            below = constraint.left - step
            out.append(int(below) if constraint.kind is Integral else below)
            if constraint.closed in ("right", "neither"):
                out.append(int(constraint.left) if constraint.kind is Integral else constraint.left)
        if constraint.right is not None:
            above = constraint.right + step
            out.append(int(above) if constraint.kind is Integral else above)
            if constraint.closed in ("left", "neither"):
                out.append(constraint.right)
        if constraint.kind is not Integral:
            out.append(float("nan"))
        return out
    if isinstance(constraint, StrOptions | KeysOf):
        return ["no-such-option"]
    if isinstance(constraint, Options):
        return [_Wrong()]
    if isinstance(constraint, SequenceOf):
        items = [c for c in constraint._items() if not isinstance(c, Hidden)]
        return [[bad] for c in items for bad in [_Wrong(), *_out_of_range(c)]]
    if isinstance(constraint, MappingOf):
        return [{"k": _Wrong()}] if constraint.key is str else []
    return []


def _cases() -> list[tuple[str, str, str, Any]]:
    cases = []
    for name, func in DECORATED.items():
        for param, constraints in func.__modkit_constraints__.items():
            cases.append((name, param, "wrong type", _Wrong()))
            bad = [v for c in constraints for v in _out_of_range(c)]
            for value in bad:
                cases.append((name, param, "out of range", value))
    return cases


CASES = _cases()


def _valid(constraints: list[Any], param: str) -> Any:
    """A value meeting one of ``constraints`` (so the check passes this parameter)."""
    for c in constraints:
        if c is None:
            return None
    for c in constraints:
        if isinstance(c, Hidden):
            continue
        if c == "boolean":
            return False
        if c == "path" or c is str:
            return "x"
        if c == "callable":
            return len
        if isinstance(c, StrOptions):
            return c.options[0]
        if isinstance(c, KeysOf):
            return next(iter(c.mapping))
        if isinstance(c, Interval):
            if c.left is None:
                return 0 if c.right is None else int(c.right) - 1
            return (
                int(c.left) + 1
                if c.kind is Integral
                else float(c.left) + 0.5 * (0 if c.right is None else min(1, c.right - c.left))
                or c.left + 1
            )
        if isinstance(c, SequenceOf):
            return []
        if isinstance(c, MappingOf):
            return {}
        if c is pd.DataFrame:
            return pd.DataFrame()
        if c is np.ndarray:
            return np.zeros(0)
        if c is tuple:
            return ()
        if isinstance(c, type):
            try:
                from collections.abc import Mapping

                return {} if c is Mapping else c.__new__(c)
            except TypeError:
                continue
    raise AssertionError(f"no valid value for {param}: {constraints}")


def _call(func: Any, param: str, value: Any) -> None:
    sig = inspect.signature(func)
    table = func.__modkit_constraints__
    kwargs = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.name == param:
            kwargs[p.name] = value
        elif p.name in table:
            kwargs[p.name] = _valid(table[p.name], p.name)
        elif p.default is p.empty:
            kwargs[p.name] = object()  # unconstrained: the check never reads it
    result = func(**kwargs)
    if inspect.iscoroutine(result):  # async functions check when awaited
        asyncio.run(result)


@pytest.mark.parametrize(
    ("name", "param", "kind", "value"),
    CASES,
    ids=[f"{n}-{p}-{k}-{i}" for i, (n, p, k, _) in enumerate(CASES)],
)
def test_bad_parameters_raise_a_modkit_error_naming_the_parameter(name, param, kind, value):
    func = DECORATED[name]
    constraints = func.__modkit_constraints__[param]
    with pytest.raises(InputError):  # the generated value is bad for this parameter
        check_param(param, value, constraints)
    with pytest.raises(InputError) as info:
        _call(func, param, value)
    message = str(info.value)
    assert message.startswith(f"{func.__name__}: {param}"), message
    assert "\n" not in message


def test_the_sweep_covers_every_decorated_function():
    assert {n for n, *_ in CASES} == set(DECORATED)
    assert len(DECORATED) >= 60
    assert modkit.fit_thresholds.__modkit_constraints__["cv"]  # the original eight stay
