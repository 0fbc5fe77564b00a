"""Agreement between reviewers: Krippendorff's alpha (nominal) and Cohen's kappa."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from itertools import combinations
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from .._errors import InputError
from .._validation import Interval, SequenceOf, validate_params

__all__ = ["agreement_table", "krippendorff_alpha"]


def krippendorff_alpha(reliability_data: Any) -> float:
    """Krippendorff's alpha for nominal values, with missing values allowed.

    ``alpha = 1 - D_o / D_e`` from the coincidence matrix of the pairable values
    (units with at least two values), as computed in Krippendorff (2011), "Computing
    Krippendorff's Alpha-Reliability", section C (nominal metric): ``o_ck`` adds
    ``1 / (m_u - 1)`` for every ordered pair of values ``(c, k)`` of a unit with
    ``m_u`` values; ``n_c`` are its margins and ``n`` their sum;
    ``alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c n_k``.

    Parameters
    ----------
    reliability_data : array-like, shape (n_reviewers, n_units)
        One row per reviewer, one column per unit (item); NaN or None where the
        reviewer gave no value. Values are compared for equality only (nominal).

    Returns
    -------
    float
        1 is perfect agreement, 0 agreement at chance level, below 0 systematic
        disagreement; NaN when fewer than two pairable values exist or every pairable
        value is the same (no variation: alpha is undefined).

    Raises
    ------
    InputError
        When the data is not two-dimensional.

    Examples
    --------
    Krippendorff's (2011) worked example (four observers, twelve units; nominal
    alpha 0.743):

    >>> import numpy as np
    >>> from modkit.review import krippendorff_alpha
    >>> nan = np.nan
    >>> data = [
    ...     [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...     [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ... ]
    >>> round(krippendorff_alpha(data), 3)
    0.743
    """
    frame = pd.DataFrame(reliability_data)
    if frame.ndim != 2:
        raise InputError("reliability_data must be 2-D: one row per reviewer")
    coincidence: dict[tuple[Hashable, Hashable], float] = {}
    for col in frame.columns:
        values = [v for v in frame[col].tolist() if not pd.isna(v)]
        m = len(values)
        if m < 2:
            continue
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                if i != j:
                    coincidence[(a, b)] = coincidence.get((a, b), 0.0) + 1.0 / (m - 1)
    if not coincidence:
        return float("nan")
    margins: dict[Hashable, float] = {}
    for (a, _), v in coincidence.items():
        margins[a] = margins.get(a, 0.0) + v
    n = sum(margins.values())
    observed = sum(v for (a, b), v in coincidence.items() if a != b)
    expected = sum(margins[a] * margins[b] for a in margins for b in margins if a != b)
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1) * observed / expected)


@validate_params(
    {
        "verdicts": [pd.DataFrame],
        "categories": [SequenceOf(str)],
        "min_reviewers": [Interval(Integral, 2, None)],
    }
)
def agreement_table(
    verdicts: pd.DataFrame, categories: Sequence[str], *, min_reviewers: int = 2
) -> pd.DataFrame:
    """Agreement per category over the items that two or more reviewers labelled.

    Parameters
    ----------
    verdicts : DataFrame
        Latest verdicts: ``id``, ``reviewer``, ``category``, ``label`` (1, 0 or NaN
        for unsure; unsure values are left out of the comparison).
    categories : sequence of str
    min_reviewers : int, default 2

    Returns
    -------
    DataFrame
        One row per category: ``category``, ``n_items`` (items with definite verdicts
        from two or more reviewers), ``n_reviewers``, ``percent_agreement`` (share of
        those items whose definite verdicts all agree), ``cohen_kappa`` (mean over
        reviewer pairs of scikit-learn's ``cohen_kappa_score`` on the items both
        labelled; Cohen 1960) and ``krippendorff_alpha`` (nominal; see
        :func:`krippendorff_alpha`). NaN where undefined.

    Raises
    ------
    InputError
        A parameter of the wrong type or out of range (checked by
        :func:`~modkit._validation.validate_params`, named in the message).

    Examples
    --------
    >>> import pandas as pd
    >>> from modkit.review import agreement_table
    >>> v = pd.DataFrame({
    ...     "id": ["a", "a", "b", "b", "c", "c"],
    ...     "reviewer": ["r1", "r2"] * 3,
    ...     "category": ["violence"] * 6,
    ...     "label": [1, 1, 0, 0, 1, 0],
    ... })
    >>> agreement_table(v, ["violence"])[["n_items", "percent_agreement"]].round(3)
       n_items  percent_agreement
    0        3              0.667
    """
    from sklearn.metrics import cohen_kappa_score

    rows = []
    for cat in categories:
        sub = verdicts[(verdicts["category"] == cat) & verdicts["label"].notna()]
        wide = sub.pivot_table(index="reviewer", columns="id", values="label", aggfunc="last")
        counts = wide.notna().sum(axis=0)
        shared = wide.loc[:, counts >= min_reviewers]
        n_items = int(shared.shape[1])
        if n_items:
            agree = shared.apply(lambda c: c.dropna().nunique() == 1, axis=0)
            pct = float(agree.mean())
        else:
            pct = float("nan")
        kappas = []
        for r1, r2 in combinations(shared.index, 2):
            both = shared.loc[[r1, r2]].dropna(axis=1)
            if both.shape[1] >= 2:
                a, b = both.loc[r1].astype(int), both.loc[r2].astype(int)
                if len(set(a) | set(b)) > 1:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        kappas.append(float(cohen_kappa_score(a, b)))
        rows.append(
            {
                "category": cat,
                "n_items": n_items,
                "n_reviewers": int((shared.notna().sum(axis=1) > 0).sum()),
                "percent_agreement": pct,
                "cohen_kappa": float(np.mean(kappas)) if kappas else float("nan"),
                "krippendorff_alpha": krippendorff_alpha(shared.to_numpy(dtype=float))
                if n_items
                else float("nan"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "category",
            "n_items",
            "n_reviewers",
            "percent_agreement",
            "cohen_kappa",
            "krippendorff_alpha",
        ],
    )
