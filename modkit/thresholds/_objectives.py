"""Objectives: what a threshold is chosen for, the registry of kinds, and the mini-language.

Grammar (spaces around tokens are ignored)::

    f1                      maximise F1
    fbeta:B                 maximise F-beta (B > 0)
    precision>=P            maximise recall subject to precision >= P   (0 < P <= 1)
    recall>=R               maximise precision subject to recall >= R   (0 < R <= 1)
    fpr<=X                  maximise recall subject to FPR <= X         (0 <= X < 1)
    npv>=V                  maximise precision subject to NPV >= V      (0 < V <= 1)
    cost:fp=A,fn=B          minimise A * FP + B * FN                    (A, B >= 0, not both 0)
    fixed:T                 use the threshold T                         (0 <= T <= 1)

Every kind is one entry of :data:`OBJECTIVE_KINDS` (a name -> how it is computed, its
direction, its valid range). A constraint is always stated as "a proportion of
successes among trials is at least ``q``" (precision: true positives among flagged rows;
recall: among positives; FPR <= X: true negatives among negatives at least 1 - X; NPV:
true negatives among the rows left unflagged), which is what the confidence tests of
:mod:`modkit.thresholds._metrics` need. Adding an objective is adding one entry here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._errors import InputError
from .._validation import validate_params
from ._rates import Counts, rates, ratio

__all__ = [
    "OBJECTIVE_GRAMMAR",
    "OBJECTIVE_KINDS",
    "Constraint",
    "Objective",
    "ObjectiveKind",
    "constrained_kind",
    "parse_objective",
    "register_objective",
]


@dataclass(frozen=True)
class Constraint:
    """How a constrained kind turns counts into a binomial proportion to test.

    Attributes
    ----------
    metric : str
        The rate the user names (``precision``, ``recall``, ``fpr``, ``npv``).
    op : {">=", "<="}
        The direction of the user's bound on ``metric``.
    successes, trials : callable
        ``f(Counts) -> ndarray`` of int: the proportion tested is successes / trials.
    level : callable
        ``target -> q``: the tested proportion must be at least ``q``.
    walk : {"down", "up"}
        The fixed sequence of candidates: from the highest threshold down (``down``,
        where the metric is trusted most at the top) or from the lowest up.
    maximise : str
        The rate maximised among the candidates that meet the constraint.
    trials_name : str
        What a trial is, in words ("flagged rows"), for notes.
    label : str, optional
        How ``metric`` is written in words (``"FPR"``); default ``metric`` itself.
    require_tp : bool, default False
        Only thresholds that flag at least one labelled positive may be chosen (an
        upper bound on false positives is met trivially by flagging nothing).
    holm_sizes : {"flagged", "unflagged"}, default "flagged"
        Which rows' count orders the candidates of the Holm family (``method="holm"``):
        the flagged rows, or the rows left unflagged (NPV's trials).

    Examples
    --------
    >>> import modkit
    >>> con = modkit.parse_objective("precision>=0.9").constraint
    >>> con.metric, con.op, con.trials_name, con.level(0.9)
    ('precision', '>=', 'flagged rows', 0.9)
    """

    metric: str
    op: str
    successes: Callable[[Counts], np.ndarray]
    trials: Callable[[Counts], np.ndarray]
    level: Callable[[float], float]
    walk: str
    maximise: str
    trials_name: str
    label: str = ""
    require_tp: bool = False
    holm_sizes: str = "flagged"

    def value(self, counts: Counts) -> np.ndarray:
        """The constrained metric at each candidate, from the tested proportion.

        ``successes / trials`` for a ``>=`` bound, ``(trials - successes) / trials``
        for a ``<=`` bound (FPR: false positives among negatives); NaN where there are
        no trials. The same floats as :func:`rates` gives for the built-in metrics.

        Parameters
        ----------
        counts : Counts
            Confusion counts at each candidate threshold.

        Returns
        -------
        ndarray of float64
            The metric, in [0, 1] or NaN, in the shape of ``counts.tp``.

        Examples
        --------
        >>> import numpy as np
        >>> import modkit
        >>> from modkit.thresholds import Counts
        >>> con = modkit.parse_objective("fpr<=0.1").constraint
        >>> con.value(Counts(tp=np.array([8]), fp=np.array([9]), n_pos=10, n_neg=90))
        array([0.1])
        """
        k = np.asarray(self.successes(counts), dtype=np.float64)
        n = np.asarray(self.trials(counts), dtype=np.float64)
        top = k if self.op == ">=" else n - k  # failures / trials: exact, as rates gives
        return ratio(top, n)


@dataclass(frozen=True)
class ObjectiveKind:
    """One entry of the objective registry.

    Attributes
    ----------
    name : str
        The kind (``Objective.kind``).
    token : str
        Its name in the mini-language.
    target_range : (low, high, low_open, high_open) or None
        The valid range of ``target`` (``None``: the kind has no target).
    describe : callable
        ``Objective -> str``, the objective in words.
    spell : callable
        ``Objective -> str``, the canonical mini-language string.
    constraint : Constraint or None
        For constrained kinds.

    Examples
    --------
    >>> from modkit.thresholds import OBJECTIVE_KINDS
    >>> kind = OBJECTIVE_KINDS["max_fpr"]
    >>> kind.token, kind.target_range
    ('fpr', (0.0, 1.0, False, True))
    """

    name: str
    token: str
    target_range: tuple[float, float, bool, bool] | None
    describe: Callable[[Objective], str]
    spell: Callable[[Objective], str]
    constraint: Constraint | None = None


def _fmt(value: float | None) -> str:
    v = float(value)  # type: ignore[arg-type]
    return str(int(v)) if v.is_integer() else repr(v)


def _range_text(r: tuple[float, float, bool, bool]) -> str:
    lo, hi, lo_open, hi_open = r
    return f"{'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"


def _in_range(v: float, r: tuple[float, float, bool, bool]) -> bool:
    lo, hi, lo_open, hi_open = r
    if not math.isfinite(v):
        return False
    return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)


@validate_params(
    {
        "name": [str],
        "token": [str],
        "op": [str],
        "target_range": [tuple],
        "constraint": [Constraint],
    }
)
def constrained_kind(
    name: str,
    token: str,
    op: str,
    target_range: tuple[float, float, bool, bool],
    constraint: Constraint,
) -> ObjectiveKind:
    """The :class:`ObjectiveKind` of a constrained objective ``<token><op>X``.

    Everything it needs is in its arguments (the words come from ``constraint.label``),
    so a new constrained objective is one :func:`register_objective` call.

    Parameters
    ----------
    name : str
        The kind (``Objective.kind``), e.g. ``"min_specificity"``.
    token : str
        Its name in the mini-language (``"specificity"``): a lower-case letter or
        underscore, then lower-case letters, digits or underscores.
    op : {">=", "<="}
        The direction of the bound as the user writes it.
    target_range : (low, high, low_open, high_open)
        The valid range of the bound.
    constraint : Constraint
        The bound as a proportion of successes among trials.

    Returns
    -------
    ObjectiveKind

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds import Constraint, constrained_kind
    >>> tnr = Constraint(
    ...     "specificity", ">=", lambda c: c.n_neg - c.fp,
    ...     lambda c: np.broadcast_to(c.n_neg, np.shape(c.fp)), lambda t: t,
    ...     "down", "recall", "labelled negatives", label="TNR",
    ... )
    >>> kind = constrained_kind("min_specificity", "specificity", ">=", (0, 1, True, False), tnr)
    >>> kind.token, kind.constraint.label
    ('specificity', 'TNR')
    """
    what = constraint.label or constraint.metric
    rng = target_range
    return ObjectiveKind(
        name,
        token,
        rng,
        lambda o: f"maximise {constraint.maximise} subject to {what} {op} {_fmt(o.target)}",
        lambda o: f"{token}{op}{_fmt(o.target)}",
        constraint,
    )


#: The objective registry: kind name -> :class:`ObjectiveKind`.
OBJECTIVE_KINDS: dict[str, ObjectiveKind] = {}

#: Tokens the mini-language reads itself (not constrained kinds' tokens).
_OWN_TOKENS = ("f1", "fbeta", "fixed", "cost", "callable")


@validate_params({"kind": [ObjectiveKind]})
def register_objective(kind: ObjectiveKind) -> None:
    """Add an objective kind to :data:`OBJECTIVE_KINDS` (replacing one of the same name).

    A constrained kind (one with a :class:`Constraint`, e.g. made by
    :func:`constrained_kind`) is read by :func:`parse_objective` as ``<token><op>X``
    from then on, and fitting, the confidence bounds, ``modkit check`` and threshold
    file descriptions use it; nothing else needs editing.

    Parameters
    ----------
    kind : ObjectiveKind
        Registered under ``kind.name`` (the registry is process-wide).

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).
    InputError
        When a constrained kind's token is not an identifier, is one of the
        mini-language's own words, or is already another kind's token.

    Examples
    --------
    >>> import modkit
    >>> from modkit.thresholds import OBJECTIVE_KINDS, register_objective
    >>> register_objective(OBJECTIVE_KINDS["min_npv"])  # registering again replaces it
    >>> str(modkit.parse_objective("npv>=0.95"))
    'npv>=0.95'
    """
    if kind.constraint is not None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", kind.token) or kind.token in _OWN_TOKENS:
            raise InputError(
                f"objective kind {kind.name!r}: token {kind.token!r} must be a lower-case "
                f"identifier other than {', '.join(_OWN_TOKENS)}"
            )
        for other in OBJECTIVE_KINDS.values():
            if other.name != kind.name and other.token == kind.token:
                raise InputError(
                    f"objective kind {kind.name!r}: token {kind.token!r} is already "
                    f"objective kind {other.name!r}'s"
                )
    OBJECTIVE_KINDS[kind.name] = kind


_register = register_objective


_register(
    ObjectiveKind(
        "fbeta",
        "fbeta",
        None,
        lambda o: "maximise F1" if o.beta == 1 else f"maximise F-beta (beta={_fmt(o.beta)})",
        lambda o: "f1" if o.beta == 1 else f"fbeta:{_fmt(o.beta)}",
    )
)
_register(
    constrained_kind(
        "min_precision",
        "precision",
        ">=",
        (0.0, 1.0, True, False),
        Constraint(
            "precision",
            ">=",
            lambda c: c.tp,
            lambda c: c.tp + c.fp,
            lambda t: t,
            "down",
            "recall",
            "flagged rows",
        ),
    )
)
_register(
    constrained_kind(
        "min_recall",
        "recall",
        ">=",
        (0.0, 1.0, True, False),
        Constraint(
            "recall",
            ">=",
            lambda c: c.tp,
            lambda c: np.broadcast_to(c.n_pos, np.shape(c.tp)),
            lambda t: t,
            "up",
            "precision",
            "labelled positives",
        ),
    )
)
_register(
    constrained_kind(
        "max_fpr",
        "fpr",
        "<=",
        (0.0, 1.0, False, True),
        Constraint(
            "fpr",
            "<=",
            lambda c: c.n_neg - c.fp,
            lambda c: np.broadcast_to(c.n_neg, np.shape(c.fp)),
            lambda t: 1.0 - t,
            "down",
            "recall",
            "labelled negatives",
            label="FPR",
            require_tp=True,
        ),
    )
)
_register(
    constrained_kind(
        "min_npv",
        "npv",
        ">=",
        (0.0, 1.0, True, False),
        Constraint(
            "npv",
            ">=",
            lambda c: c.n_neg - c.fp,
            lambda c: (c.n_neg - c.fp) + (c.n_pos - c.tp),
            lambda t: t,
            "up",
            "precision",
            "unflagged rows",
            label="NPV",
            holm_sizes="unflagged",
        ),
    )
)
_register(
    ObjectiveKind(
        "cost",
        "cost",
        None,
        lambda o: f"minimise {_fmt(o.fp_cost)}*FP + {_fmt(o.fn_cost)}*FN",
        lambda o: f"cost:fp={_fmt(o.fp_cost)},fn={_fmt(o.fn_cost)}",
    )
)
_register(
    ObjectiveKind(
        "fixed",
        "fixed",
        (0.0, 1.0, False, False),
        lambda o: f"fixed threshold {_fmt(o.target)}",
        lambda o: f"fixed:{_fmt(o.target)}",
    )
)
_register(
    ObjectiveKind(
        "callable",
        "callable",
        None,
        lambda o: f"maximise {o.name}(tp, fp, n_pos, n_neg)",
        lambda o: f"callable:{o.name}",
    )
)


def _by_token() -> dict[str, ObjectiveKind]:
    """The constrained kinds by token, as registered now."""
    return {k.token: k for k in OBJECTIVE_KINDS.values() if k.constraint is not None}


def _grammar() -> str:
    """The mini-language as registered now, for error messages."""
    return (
        "f1, fbeta:B, "
        + ", ".join(f"{k.token}{k.constraint.op}X" for k in _by_token().values() if k.constraint)
        + ", cost:fp=A,fn=B, fixed:T"
    )


#: The mini-language of the built-in kinds (error messages use the registry as it is).
OBJECTIVE_GRAMMAR = _grammar()


@dataclass(frozen=True)
class Objective:
    """A goal for choosing one category's threshold.

    Parameters
    ----------
    kind : str
        A key of :data:`OBJECTIVE_KINDS`: ``fbeta`` (maximise F-beta),
        ``min_precision`` / ``min_recall`` / ``min_npv`` (the rate >= ``target``),
        ``max_fpr`` (FPR <= ``target``), ``cost`` (minimise ``fp_cost * FP + fn_cost *
        FN``), ``fixed`` (the threshold ``target``) or ``callable`` (maximise ``func``).
    target : float, optional
        The bound of a constrained objective, or the fixed threshold.
    beta : float, default 1.0
        The beta of ``fbeta``.
    fp_cost, fn_cost : float, default 1.0
        Costs of one false positive and one false negative (``cost``), in any one unit
        (only their ratio changes the choice).
    func : callable, optional
        For ``callable``: ``func(tp, fp, n_pos, n_neg) -> ndarray`` of scores to
        maximise, one per candidate threshold (arrays of int64 counts; ``n_pos`` and
        ``n_neg`` are ints), like scikit-learn's ``scoring`` callables.

    Raises
    ------
    InputError
        Unknown kind, or a parameter outside the kind's valid range.

    Notes
    -----
    ``str(objective)`` is the canonical mini-language string (``"precision>=0.9"``), and
    :func:`parse_objective` reads it back (except ``callable``). F-beta is van
    Rijsbergen's effectiveness measure (van Rijsbergen 1979, "Information Retrieval",
    ch. 7): ``(1 + b²) tp / ((1 + b²) tp + b² fn + fp)``, the value
    :func:`sklearn.metrics.fbeta_score` gives (0 where undefined).

    Examples
    --------
    >>> from modkit import Objective
    >>> str(Objective("min_precision", target=0.9)), str(Objective("cost", fp_cost=1, fn_cost=5))
    ('precision>=0.9', 'cost:fp=1,fn=5')
    >>> Objective("min_precision", target=1.5)
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: objective min_precision: target must be in (0, 1], got 1.5
    """

    kind: str
    target: float | None = None
    beta: float = 1.0
    fp_cost: float = 1.0
    fn_cost: float = 1.0
    func: Callable[..., Any] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        spec = OBJECTIVE_KINDS.get(self.kind)
        if spec is None:
            raise InputError(
                f"unknown objective kind {self.kind!r} (known: {', '.join(OBJECTIVE_KINDS)})"
            )
        k, t = self.kind, self.target
        if spec.target_range is not None and not (
            t is not None and _in_range(float(t), spec.target_range)
        ):
            what = "threshold" if k == "fixed" else "target"
            raise InputError(
                f"objective {k}: {what} must be in {_range_text(spec.target_range)}, got {t}"
            )
        if k == "fbeta" and not (math.isfinite(self.beta) and self.beta > 0):
            raise InputError(f"objective fbeta: beta must be > 0, got {self.beta}")
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
        if k == "callable" and not callable(self.func):
            raise InputError("objective callable: func must be callable")

    @property
    def spec(self) -> ObjectiveKind:
        """The registry entry of this objective's kind."""
        return OBJECTIVE_KINDS[self.kind]

    @property
    def constraint(self) -> Constraint | None:
        """The constraint of a constrained kind (``None`` otherwise)."""
        return self.spec.constraint

    @property
    def constrained(self) -> bool:
        """True for the objectives with a constraint (``confidence`` applies to them)."""
        return self.spec.constraint is not None

    @property
    def name(self) -> str:
        """The callable's name (``callable`` kind)."""
        return getattr(self.func, "__name__", "objective")

    def score(self, counts: Counts) -> np.ndarray:
        """The value maximised at each candidate (unconstrained kinds).

        For ``fbeta`` the F-beta score (0 where undefined), for ``cost`` minus the
        cost, for ``callable`` the callable's output.

        Parameters
        ----------
        counts : Counts
            ``tp`` and ``fp`` at each candidate threshold (int64 arrays of shape
            (n_candidates,)), and ``n_pos`` / ``n_neg``.

        Returns
        -------
        ndarray of float64, shape (n_candidates,)
            The value to maximise at each candidate (F-beta in [0, 1]; minus the cost in
            the costs' units; the callable's output).

        Raises
        ------
        InputError
            For a constrained or ``fixed`` objective (nothing to maximise), or a
            callable whose output is not one value per candidate.
        """
        if self.kind == "fbeta":
            return rates(counts, beta=self.beta)["fbeta"]
        if self.kind == "cost":
            return -(self.fp_cost * counts.fp + self.fn_cost * (counts.n_pos - counts.tp))
        if self.kind == "callable":
            out = np.asarray(
                self.func(counts.tp, counts.fp, int(counts.n_pos), int(counts.n_neg)),  # type: ignore[misc]
                dtype=np.float64,
            )
            if out.shape != np.shape(counts.tp):
                raise InputError(
                    f"objective {self.name}: returned shape {out.shape}, expected "
                    f"{np.shape(counts.tp)} (one value per candidate threshold)"
                )
            return out
        raise InputError(f"objective {self} has no score to maximise")

    def __str__(self) -> str:
        return self.spec.spell(self)

    def describe(self) -> str:
        """The objective in words, for reports.

        Returns
        -------
        str
            E.g. ``"maximise recall subject to precision >= 0.9"``.
        """
        return self.spec.describe(self)


_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")


def _bad(text: str, pos: int, why: str) -> InputError:
    return InputError(f"objective {text!r}: {why} at position {pos} (expected one of {_grammar()})")


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


def _last_number(text: str, pos: int, what: str) -> tuple[float, int]:
    value, end = _number(text, pos, what)
    if end != len(text):
        raise _bad(text, end, "unexpected text after the number")
    return value, end


def _parse_costs(text: str, pos: int) -> Objective:
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


def _parse_string(text: str) -> Objective:
    m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*", text)
    if not m:
        raise _bad(text, 0, "expected an objective name")
    name, pos = m.group(1).lower(), m.end()
    if name == "f1":
        if pos != len(text):
            raise _bad(text, pos, "unexpected text after 'f1'")
        return Objective("fbeta", beta=1.0)
    by_token = _by_token()
    if name in by_token:
        spec = by_token[name]
        op = spec.constraint.op  # type: ignore[union-attr]
        if not text.startswith(op, pos):
            raise _bad(text, pos, f"expected {op!r} after {name!r}")
        vpos = pos + 2
        value, _ = _last_number(text, vpos, name)
        rng = spec.target_range
        _check(text, vpos, value, _in_range(value, rng), _range_text(rng))  # type: ignore[arg-type]
        return Objective(spec.name, target=value)
    if name in ("fbeta", "fixed", "cost"):
        if not text.startswith(":", pos):
            raise _bad(text, pos, f"expected ':' after {name!r}")
        pos += 1
        if name == "fbeta":
            value, _ = _last_number(text, pos, "beta")
            _check(text, pos, value, value > 0 and math.isfinite(value), "(0, inf)")
            return Objective("fbeta", beta=value)
        if name == "fixed":
            value, _ = _last_number(text, pos, "the threshold")
            _check(text, pos, value, 0 <= value <= 1, "[0, 1]")
            return Objective("fixed", target=value)
        return _parse_costs(text, pos)
    raise _bad(text, m.start(1), f"unknown objective {m.group(1)!r}")


@validate_params({"spec": [str, Objective, Mapping, "callable"]})
def parse_objective(spec: str | Objective | Mapping[str, Any] | Callable[..., Any]) -> Objective:
    """Read an objective from a string, a dict, a callable or an :class:`Objective`.

    Parameters
    ----------
    spec : str, dict, callable or Objective
        A mini-language string (``"precision>=0.9"``, see the module docstring), an
        :class:`Objective`, a dict of its fields (``{"kind": "min_precision",
        "target": 0.9}``), or a callable ``f(tp, fp, n_pos, n_neg) -> ndarray`` whose
        largest value wins (as scikit-learn's ``scoring`` callables).

    Returns
    -------
    Objective
        ``spec`` itself when it is an :class:`Objective`.

    Raises
    ------
    InputError
        The string is malformed (the message names the string and the 0-based position
        of the problem), the kind is unknown, or a value is out of its range.

    Examples
    --------
    >>> import modkit
    >>> objective = modkit.parse_objective("precision>=0.9")
    >>> objective.kind, objective.target, str(objective)
    ('min_precision', 0.9, 'precision>=0.9')
    >>> str(modkit.parse_objective({"kind": "min_recall", "target": 0.8}))
    'recall>=0.8'
    >>> modkit.parse_objective("precison>=0.9")
    Traceback (most recent call last):
    ...
    modkit._errors.InputError: objective 'precison>=0.9': unknown objective 'precison' ...
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
            fields_: dict[str, Any] = {
                k: (v if k == "kind" or v is None else float(v)) for k, v in spec.items()
            }
        except (TypeError, ValueError):
            raise InputError(f"objective {dict(spec)!r}: values must be numbers") from None
        return Objective(**fields_)
    if callable(spec):
        return Objective("callable", func=spec)
    raise InputError(
        f"objective must be a string, dict, callable or Objective, not {type(spec).__name__}"
    )
