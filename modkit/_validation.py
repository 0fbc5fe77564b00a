"""Declarative parameter constraints: one validator, one error wording.

In the spirit of scikit-learn's ``validate_params`` (``sklearn.utils._param_validation``):
each public function declares, per parameter, a list of constraints; the value must
satisfy at least one of them. A value that satisfies none raises
:class:`~modkit.InputError` worded the same way everywhere::

    crosstab: thresholds must be a number in [0, 1], a mapping of str to a number in
    [0, 1] or None; got 1.5

Constraints
-----------
``None``
    The value ``None``.
a type (``str``, ``pandas.DataFrame``, ``collections.abc.Mapping``...)
    ``isinstance(value, type)``; ``bool`` is never accepted as a number.
``"callable"``
    Any callable.
``"path"``
    A ``str`` or ``os.PathLike``.
``"boolean"``
    ``True`` / ``False`` (also ``numpy.bool_``).
:class:`Options`
    One of a set of values (e.g. a default sentinel, wrapped in :class:`Hidden`).
:class:`Hidden`
    Accepted but left out of the error's wording.
:class:`Interval`
    A real or integral number in a range, e.g. ``Interval(Real, 0, 1, closed="both")``.
:class:`StrOptions`
    One of a set of strings.
:class:`KeysOf`
    A key of a registry (a mapping read at call time, so it may grow).
:class:`MappingOf`
    A mapping from keys of a type to values meeting a constraint.
:class:`SequenceOf`
    A list or tuple (not a string) whose items meet a constraint.

Use :func:`validate_params` as a decorator, or :func:`check_param` for one value.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from ._errors import InputError

__all__ = [
    "LEVEL",
    "PROB",
    "Hidden",
    "Interval",
    "KeysOf",
    "MappingOf",
    "Options",
    "SequenceOf",
    "StrOptions",
    "check_param",
    "describe",
    "validate_params",
]

F = TypeVar("F", bound=Callable[..., Any])


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, kind)


@dataclass(frozen=True)
class Interval:
    """A number in a range.

    Parameters
    ----------
    kind : numbers.Real or numbers.Integral
        ``Real`` accepts ints and floats (not NaN); ``Integral`` accepts ints only.
    left, right : float or None
        The bounds; ``None`` is unbounded on that side.
    closed : {"left", "right", "both", "neither"}, default "both"
        Which bounds belong to the interval.
    """

    kind: type
    left: float | None
    right: float | None
    closed: Literal["left", "right", "both", "neither"] = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if not _is_number(value, self.kind):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        if self.left is not None:
            if self.closed in ("left", "both"):
                if v < self.left:
                    return False
            elif v <= self.left:
                return False
        if self.right is not None:
            if self.closed in ("right", "both"):
                if v > self.right:
                    return False
            elif v >= self.right:
                return False
        return True

    def __str__(self) -> str:
        what = "an integer" if self.kind is Integral else "a number"
        if self.left is None and self.right is None:
            return what
        if self.right is None:
            op = ">=" if self.closed in ("left", "both") else ">"
            return f"{what} {op} {_fmt(self.left)}"
        if self.left is None:
            op = "<=" if self.closed in ("right", "both") else "<"
            return f"{what} {op} {_fmt(self.right)}"
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        return f"{what} in {lb}{_fmt(self.left)}, {_fmt(self.right)}{rb}"


def _fmt(x: float | None) -> str:
    assert x is not None
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True)
class StrOptions:
    """One of a fixed set of strings (listed in the error in the order given)."""

    options: tuple[str, ...]

    def __init__(self, options: Sequence[str] | set[str]) -> None:
        object.__setattr__(self, "options", tuple(options))

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        opts = ", ".join(repr(o) for o in self.options)
        return f"one of {{{opts}}}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values, compared by identity first (for sentinels)."""

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def is_satisfied_by(self, value: Any) -> bool:
        return any(value is v or (type(value) is type(v) and value == v) for v in self.values)

    def __str__(self) -> str:
        return f"one of {{{', '.join(repr(v) for v in self.values)}}}"


@dataclass(frozen=True)
class Hidden:
    """A constraint that is accepted but not shown in the error (e.g. a default sentinel)."""

    constraint: Any

    def is_satisfied_by(self, value: Any) -> bool:
        return _satisfies(value, self.constraint)


@dataclass(frozen=True)
class MappingOf:
    """A mapping whose keys are of ``key`` type and whose values meet ``value``."""

    key: type
    value: Any

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, Mapping):
            return False
        return all(isinstance(k, self.key) and _satisfies(v, self.value) for k, v in value.items())

    def first_bad(self, value: Mapping[Any, Any]) -> tuple[Any, Any] | None:
        for k, v in value.items():
            if not isinstance(k, self.key) or not _satisfies(v, self.value):
                return k, v
        return None

    def __str__(self) -> str:
        return f"a mapping of {_type_name(self.key)} to {_describe_one(self.value)}"


@dataclass(frozen=True)
class SequenceOf:
    """A list, tuple, array or Index (never a bare string) whose items meet ``item``
    (a constraint, or a list of constraints of which each item meets one)."""

    item: Any

    def _items(self) -> list[Any]:
        return list(self.item) if isinstance(self.item, list) else [self.item]

    def item_ok(self, value: Any) -> bool:
        return any(_satisfies(value, c) for c in self._items())

    def is_satisfied_by(self, value: Any) -> bool:
        if not _is_list_like(value):
            return False
        return all(self.item_ok(v) for v in value)

    def __str__(self) -> str:
        return f"a list of {describe(self._items())}"


@dataclass(frozen=True, eq=False)
class KeysOf:
    """A key of a mapping, looked up at call time (a registry that may grow)."""

    mapping: Mapping[str, Any]

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.mapping

    def __str__(self) -> str:
        return f"one of {{{', '.join(repr(k) for k in self.mapping)}}}"


def _is_list_like(value: Any) -> bool:
    return isinstance(value, list | tuple | np.ndarray | pd.Index | pd.Series)


def _type_name(t: type) -> str:
    names = {str: "str", int: "int", float: "float", bool: "bool"}
    if t in names:
        return names[t]
    if t is Mapping:
        return "a mapping"
    mod = t.__module__
    if mod.startswith("pandas"):
        return f"a pandas {t.__name__}"
    return f"a {t.__name__}"


def _satisfies(value: Any, constraint: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        if constraint == "callable":
            return callable(value)
        if constraint == "path":
            return isinstance(value, str | os.PathLike)
        if constraint == "boolean":
            return isinstance(value, bool | np.bool_)
        raise ValueError(f"unknown constraint {constraint!r}")  # a bug in modkit, not input
    if isinstance(constraint, type):
        if constraint in (int, float, Real, Integral):
            return _is_number(value, constraint)
        return isinstance(value, constraint)
    return bool(constraint.is_satisfied_by(value))


def _describe_one(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return {"callable": "a callable", "path": "a path", "boolean": "True or False"}[constraint]
    if isinstance(constraint, type):
        return _type_name(constraint)
    return str(constraint)


def describe(constraints: Sequence[Any]) -> str:
    """Word a constraint list as the error does: ``"a, b or c"``."""
    shown = [c for c in constraints if not isinstance(c, Hidden)]
    parts = [
        "a list of those"
        if isinstance(c, SequenceOf) and all(x in shown[:i] for x in c._items())
        else _describe_one(c)
        for i, c in enumerate(shown)
    ]
    # None reads best last, as in "a number in [0, 1] or None"
    parts.sort(key=lambda p: p == "None")
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def check_param(name: str, value: Any, constraints: Sequence[Any], caller: str = "") -> Any:
    """Check one value against a list of constraints (it must meet at least one).

    Parameters
    ----------
    name : str
        The parameter's name, as the error message shows it.
    value : object
        The value passed.
    constraints : list
        Constraints as listed in this module's docstring.
    caller : str, optional
        The public function's name, prefixed to the message.

    Returns
    -------
    object
        ``value`` unchanged.

    Raises
    ------
    InputError
        ``"{caller}: {name} must be {description}; got {value!r}"``; for a mapping or
        list, the message names the first bad key or item.
    """
    if any(_satisfies(value, c) for c in constraints):
        return value
    prefix = f"{caller}: " if caller else ""
    where = name
    shown = value
    for c in constraints:  # point at the first bad entry of a container the caller meant
        if isinstance(c, MappingOf) and isinstance(value, Mapping):
            bad = c.first_bad(value)
            if bad is not None:
                where, shown = f"{name}[{bad[0]!r}]", bad[1]
                if isinstance(bad[0], c.key):
                    msg = f"{prefix}{where} must be {_describe_one(c.value)}; got {shown!r}"
                    raise InputError(msg)
                msg = f"{prefix}{name} keys must be {_type_name(c.key)}; got {bad[0]!r}"
                raise InputError(msg)
        if isinstance(c, SequenceOf) and _is_list_like(value):
            for i, item in enumerate(value):
                if not c.item_ok(item):
                    want = describe(c._items())
                    raise InputError(f"{prefix}{name}[{i}] must be {want}; got {item!r}")
    raise InputError(f"{prefix}{where} must be {describe(constraints)}; got {_short(shown)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_params(constraints: Mapping[str, Sequence[Any]]) -> Callable[[F], F]:
    """Decorate a function (sync or async) so its arguments are checked on each call.

    Parameters
    ----------
    constraints : dict of str to list
        Parameter name -> constraints (the value must meet one). Parameters not listed
        are not checked here (the function checks them itself, e.g. against the data).

    Returns
    -------
    callable
        The decorator. The decorated function keeps its signature and docstring; the
        table is reachable as ``func.__modkit_constraints__``.
    """

    def decorator(func: F) -> F:
        sig = inspect.signature(func)
        unknown = set(constraints) - set(sig.parameters)
        if unknown:
            raise ValueError(f"{func.__name__}: constraints for unknown params {unknown}")
        name = func.__name__

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError:
                return  # let the call itself raise Python's own TypeError
            bound.apply_defaults()
            for pname, cons in constraints.items():
                check_param(pname, bound.arguments[pname], cons, name)

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                check(args, kwargs)
                return await func(*args, **kwargs)

            wrapper: Any = async_wrapper
        else:

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                check(args, kwargs)
                return func(*args, **kwargs)

        wrapper.__modkit_constraints__ = dict(constraints)
        return wrapper

    return decorator


#: A probability-like number, e.g. a threshold on a score in [0, 1].
PROB = Interval(Real, 0, 1, closed="both")

#: A confidence level: strictly between 0 and 1 (0 and 1 promise nothing / everything).
LEVEL = Interval(Real, 0, 1, closed="neither")
