"""Objectives: what a threshold is chosen for, and the mini-language that names them.

Grammar (spaces around tokens are ignored)::

    f1                      maximise F1
    fbeta:B                 maximise F-beta (B > 0)
    precision>=P            maximise recall subject to precision >= P   (0 < P <= 1)
    recall>=R               maximise precision subject to recall >= R   (0 < R <= 1)
    fpr<=X                  maximise recall subject to FPR <= X         (0 <= X < 1)
    cost:fp=A,fn=B          minimise A * FP + B * FN                    (A, B >= 0, not both 0)
    fixed:T                 use the threshold T                         (0 <= T <= 1)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .._errors import InputError

__all__ = ["OBJECTIVE_GRAMMAR", "Objective", "parse_objective"]

Kind = Literal["fbeta", "min_precision", "min_recall", "max_fpr", "cost", "fixed"]

OBJECTIVE_GRAMMAR = "f1, fbeta:B, precision>=P, recall>=R, fpr<=X, cost:fp=A,fn=B, fixed:T"

_CONSTRAINTS = {
    "precision": ("min_precision", ">="),
    "recall": ("min_recall", ">="),
    "fpr": ("max_fpr", "<="),
}


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Objective:
    """A goal for choosing one category's threshold.

    Parameters
    ----------
    kind : {"fbeta", "min_precision", "min_recall", "max_fpr", "cost", "fixed"}
        ``fbeta``: maximise F-beta. ``min_precision``: maximise recall subject to
        precision >= ``target``. ``min_recall``: maximise precision subject to recall >=
        ``target``. ``max_fpr``: maximise recall subject to FPR <= ``target``. ``cost``:
        minimise ``fp_cost * FP + fn_cost * FN``. ``fixed``: the threshold ``target``.
    target : float, optional
        The bound of a constrained objective, or the fixed threshold.
    beta : float, default 1.0
        The beta of ``fbeta``.
    fp_cost, fn_cost : float, default 1.0
        Costs of one false positive and one false negative (``cost``).

    Notes
    -----
    ``str(objective)`` is the canonical mini-language string (``"precision>=0.9"``), and
    :func:`parse_objective` reads it back.
    """

    kind: Kind
    target: float | None = None
    beta: float = 1.0
    fp_cost: float = 1.0
    fn_cost: float = 1.0

    def __post_init__(self) -> None:
        k, t = self.kind, self.target
        if k not in ("fbeta", "min_precision", "min_recall", "max_fpr", "cost", "fixed"):
            raise InputError(f"unknown objective kind {k!r}")
        if k == "fbeta" and not (math.isfinite(self.beta) and self.beta > 0):
            raise InputError(f"objective fbeta: beta must be > 0, got {self.beta}")
        if k in ("min_precision", "min_recall") and not (t is not None and 0 < t <= 1):
            raise InputError(f"objective {k}: target must be in (0, 1], got {t}")
        if k == "max_fpr" and not (t is not None and 0 <= t < 1):
            raise InputError(f"objective max_fpr: target must be in [0, 1), got {t}")
        if k == "fixed" and not (t is not None and 0 <= t <= 1):
            raise InputError(f"objective fixed: threshold must be in [0, 1], got {t}")
        if k == "cost" and not (
            math.isfinite(self.fp_cost)
            and math.isfinite(self.fn_cost)
            and self.fp_cost >= 0
            and self.fn_cost >= 0
            and self.fp_cost + self.fn_cost > 0
        ):
            raise InputError(
                f"objective cost: costs must be >= 0 and not both 0, "
                f"got fp={self.fp_cost}, fn={self.fn_cost}"
            )

    @property
    def constrained(self) -> bool:
        """True for the objectives with a constraint (``confidence`` applies to them)."""
        return self.kind in ("min_precision", "min_recall", "max_fpr")

    def __str__(self) -> str:
        k = self.kind
        if k == "fbeta":
            return "f1" if self.beta == 1 else f"fbeta:{_fmt(self.beta)}"
        if k == "min_precision":
            return f"precision>={_fmt(self.target)}"
        if k == "min_recall":
            return f"recall>={_fmt(self.target)}"
        if k == "max_fpr":
            return f"fpr<={_fmt(self.target)}"
        if k == "cost":
            return f"cost:fp={_fmt(self.fp_cost)},fn={_fmt(self.fn_cost)}"
        return f"fixed:{_fmt(self.target)}"

    def describe(self) -> str:
        """The objective in words, for reports."""
        k = self.kind
        if k == "fbeta":
            return (
                f"maximise F{_fmt(self.beta)}"
                if self.beta == 1
                else (f"maximise F-beta (beta={_fmt(self.beta)})")
            )
        if k == "min_precision":
            return f"maximise recall subject to precision >= {_fmt(self.target)}"
        if k == "min_recall":
            return f"maximise precision subject to recall >= {_fmt(self.target)}"
        if k == "max_fpr":
            return f"maximise recall subject to FPR <= {_fmt(self.target)}"
        if k == "cost":
            return f"minimise {_fmt(self.fp_cost)}*FP + {_fmt(self.fn_cost)}*FN"
        return f"fixed threshold {_fmt(self.target)}"


_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")


def _bad(text: str, pos: int, why: str) -> InputError:
    return InputError(
        f"objective {text!r}: {why} at position {pos} (expected one of {OBJECTIVE_GRAMMAR})"
    )


def _number(text: str, pos: int, what: str) -> tuple[float, int]:
    m = _NUMBER.match(text, pos)
    if not m:
        found = text[pos:].strip()[:10] or "end of string"
        raise _bad(text, pos, f"expected a number for {what}, found {found!r}")
    return float(m.group(1)), m.end()


def _check(text: str, pos: int, value: float, ok: bool, rng: str) -> None:
    if not ok:
        raise InputError(
            f"objective {text!r}: value {_fmt(value)} at position {pos} must be in {rng}"
        )


def _parse_string(text: str) -> Objective:
    m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*", text)
    if not m:
        raise _bad(text, 0, "expected an objective name")
    name, pos = m.group(1).lower(), m.end()
    if name == "f1":
        if pos != len(text):
            raise _bad(text, pos, "unexpected text after 'f1'")
        return Objective("fbeta", beta=1.0)
    if name in _CONSTRAINTS:
        kind, op = _CONSTRAINTS[name]
        if not text.startswith(op, pos):
            raise _bad(text, pos, f"expected {op!r} after {name!r}")
        vpos = pos + 2
        value, end = _number(text, vpos, name)
        if end != len(text):
            raise _bad(text, end, "unexpected text after the number")
        if kind == "max_fpr":
            _check(text, vpos, value, 0 <= value < 1, "[0, 1)")
        else:
            _check(text, vpos, value, 0 < value <= 1, "(0, 1]")
        return Objective(kind, target=value)
    if name in ("fbeta", "fixed", "cost"):
        if not text.startswith(":", pos):
            raise _bad(text, pos, f"expected ':' after {name!r}")
        pos += 1
        if name == "fbeta":
            value, end = _number(text, pos, "beta")
            if end != len(text):
                raise _bad(text, end, "unexpected text after the number")
            _check(text, pos, value, value > 0 and math.isfinite(value), "(0, inf)")
            return Objective("fbeta", beta=value)
        if name == "fixed":
            value, end = _number(text, pos, "the threshold")
            if end != len(text):
                raise _bad(text, end, "unexpected text after the number")
            _check(text, pos, value, 0 <= value <= 1, "[0, 1]")
            return Objective("fixed", target=value)
        costs: dict[str, float] = {}
        while True:
            m = re.compile(r"\s*(fp|fn)\s*=").match(text, pos)
            if not m:
                raise _bad(text, pos, "expected 'fp=' or 'fn='")
            key = m.group(1)
            if key in costs:
                raise _bad(text, m.start(1), f"{key!r} given twice")
            value, end = _number(text, m.end(), key)
            _check(text, m.end(), value, value >= 0 and math.isfinite(value), "[0, inf)")
            costs[key] = value
            pos = end
            if pos == len(text):
                break
            if text[pos] != ",":
                raise _bad(text, pos, "expected ','")
            pos += 1
        if len(costs) != 2:
            missing = "fn" if "fp" in costs else "fp"
            raise _bad(text, len(text), f"missing {missing}=")
        if costs["fp"] + costs["fn"] == 0:
            raise _bad(text, 5, "costs fp and fn cannot both be 0")
        return Objective("cost", fp_cost=costs["fp"], fn_cost=costs["fn"])
    raise _bad(text, m.start(1), f"unknown objective {m.group(1)!r}")


def parse_objective(spec: str | Objective | Mapping[str, Any]) -> Objective:
    """Read an objective from a string, a dict, or an :class:`Objective`.

    Parameters
    ----------
    spec : str, dict or Objective
        A mini-language string (``"precision>=0.9"``, see the module docstring), an
        :class:`Objective`, or a dict of its fields (``{"kind": "min_precision",
        "target": 0.9}``).

    Raises
    ------
    InputError
        The string is malformed; the message names the string and the position (0-based)
        of the problem.
    """
    if isinstance(spec, Objective):
        return spec
    if isinstance(spec, str):
        return _parse_string(spec)
    if isinstance(spec, Mapping):
        allowed = {"kind", "target", "beta", "fp_cost", "fn_cost"}
        unknown = sorted(set(map(str, spec)) - allowed)
        if unknown or "kind" not in spec:
            raise InputError(
                f"objective {dict(spec)!r}: needs 'kind' and only keys {sorted(allowed)}"
                + (f" (unknown: {unknown})" if unknown else "")
            )
        try:
            fields = {k: (v if k == "kind" or v is None else float(v)) for k, v in spec.items()}
        except (TypeError, ValueError):
            raise InputError(f"objective {dict(spec)!r}: values must be numbers") from None
        return Objective(**fields)
    raise InputError(f"objective must be a string, dict or Objective, not {type(spec).__name__}")
