"""The one place that turns confusion counts into rates.

Fitting, the bootstrap, the figures and the widgets all call :func:`rates` (arrays) or
:func:`confusion` (one threshold), so precision, recall, FPR, NPV and F-beta are written
out once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Counts", "confusion", "rates", "ratio"]


@dataclass(frozen=True)
class Counts:
    """Confusion counts at one or many thresholds.

    Attributes
    ----------
    tp, fp : ndarray of int (or int)
        Flagged rows (``score >= threshold``) that are positive / negative; any shape.
    n_pos, n_neg : int or ndarray
        Positives / negatives in the data (broadcast against ``tp``).

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds import Counts
    >>> counts = Counts(tp=np.array([8, 9]), fp=np.array([1, 4]), n_pos=10, n_neg=90)
    >>> counts.fn.tolist(), counts.tn.tolist(), counts.flagged.tolist()
    ([2, 1], [89, 86], [9, 13])
    """

    tp: Any
    fp: Any
    n_pos: Any
    n_neg: Any

    @property
    def fn(self) -> Any:
        return self.n_pos - self.tp

    @property
    def tn(self) -> Any:
        return self.n_neg - self.fp

    @property
    def flagged(self) -> Any:
        return self.tp + self.fp


def ratio(num: Any, den: Any) -> np.ndarray:
    """``num / den`` as floats in their broadcast shape, NaN where ``den`` is not > 0.

    Examples
    --------
    >>> from modkit.thresholds._rates import ratio
    >>> ratio([1, 3], [2, 0])
    array([0.5, nan])
    """
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.empty(np.broadcast_shapes(num.shape, den.shape))
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(num, den, out=out)
    np.copyto(out, np.nan, where=~(den > 0))
    return out


class _Rates(Mapping[str, np.ndarray]):
    """The rates of :func:`rates`, each computed on first access (a threshold search over
    thousands of candidates reads two of the seven)."""

    def __init__(self, counts: Counts, beta: float) -> None:
        c = counts
        b2 = beta * beta

        def fbeta() -> np.ndarray:
            tp = np.asarray(c.tp, dtype=float)
            fn, fp = np.asarray(c.fn, dtype=float), np.asarray(c.fp, dtype=float)
            fb = ratio((1 + b2) * tp, (1 + b2) * tp + b2 * fn + fp)
            return np.where(np.isnan(fb), 0.0, fb)

        self._make: dict[str, Callable[[], np.ndarray]] = {
            "precision": lambda: ratio(c.tp, c.flagged),
            "recall": lambda: ratio(c.tp, c.n_pos),
            "fpr": lambda: ratio(c.fp, c.n_neg),
            "fnr": lambda: ratio(c.fn, c.n_pos),
            "npv": lambda: ratio(c.tn, c.tn + c.fn),
            "flagged": lambda: np.asarray(c.flagged),
            "fbeta": fbeta,
        }
        self._done: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._done:
            self._done[key] = self._make[key]()
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._make)

    def __len__(self) -> int:
        return len(self._make)


def rates(counts: Counts, *, beta: float = 1.0) -> Mapping[str, np.ndarray]:
    """Precision, recall, FPR, FNR, NPV and F-beta from counts (NaN where undefined).

    Parameters
    ----------
    counts : Counts
        Arrays of any (common, broadcastable) shape.
    beta : float, default 1.0
        The beta of ``fbeta``.

    Returns
    -------
    Mapping of str to ndarray of float
        ``precision`` = tp / (tp + fp), ``recall`` = tp / n_pos, ``fpr`` = fp / n_neg,
        ``fnr`` = fn / n_pos, ``npv`` = tn / (tn + fn), ``flagged`` = tp + fp and
        ``fbeta`` = (1 + b²) tp / ((1 + b²) tp + b² fn + fp) (0 when nothing is
        flagged and there are no positives to find). Each is computed when first read.

    Examples
    --------
    >>> import numpy as np
    >>> from modkit.thresholds import Counts, rates
    >>> r = rates(Counts(tp=np.array([8]), fp=np.array([2]), n_pos=10, n_neg=90))
    >>> {k: round(float(v[0]), 3) for k, v in r.items() if k in ("precision", "recall", "fpr")}
    {'precision': 0.8, 'recall': 0.8, 'fpr': 0.022}
    """
    return _Rates(counts, beta)


def confusion(tp: int, fp: int, n_pos: int, n_neg: int) -> dict[str, float | int | None]:
    """Counts and precision / recall / FPR at one threshold (``None`` where undefined).

    The dict is the ``in_sample`` / ``baselines`` entry of a threshold file.
    """
    r = rates(Counts(int(tp), int(fp), int(n_pos), int(n_neg)))

    def num(x: np.ndarray) -> float | None:
        v = float(x)
        return None if np.isnan(v) else v

    return {
        "tp": int(tp),
        "fp": int(fp),
        "fn": int(n_pos - tp),
        "tn": int(n_neg - fp),
        "precision": num(r["precision"]),
        "recall": num(r["recall"]),
        "fpr": num(r["fpr"]),
    }
