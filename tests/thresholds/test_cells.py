"""The refit bootstrap's cells on many rows: the joint law of a cell's weights, the cell
edges, and the cell path against the row path and through fit_thresholds."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modkit.thresholds import FitWarning, _intervals, binary_curve, fit_thresholds, parse_objective
from modkit.thresholds._cells import (
    EXACT_ROWS,
    MAX_CELLS,
    cell_ends,
    poisson_cell_weights,
    ztp_sum_cdf,
)
from modkit.thresholds._intervals import exact_ci, refit_bootstrap

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
E1 = math.exp(-1)


def _ztp_pmf(j: int) -> float:
    return E1 / (1 - E1) / math.factorial(j) if j >= 1 else 0.0


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_ztp_sum_table_equals_an_enumeration(k):
    cdf = ztp_sum_cdf(EXACT_ROWS)
    want = np.zeros(cdf.shape[1])
    for js in itertools.product(range(1, 16), repeat=k):
        s = sum(js)
        if s < len(want):
            want[s] += math.prod(_ztp_pmf(j) for j in js)
    np.testing.assert_allclose(np.diff(cdf[k], prepend=0), want, atol=1e-12)


def test_ztp_sum_table_rows_are_complete_with_the_right_mean():
    cdf = ztp_sum_cdf(EXACT_ROWS)
    pmf = np.diff(cdf, axis=1, prepend=0)
    assert np.all(cdf[:, -1] > 1 - 1e-12) and np.all(cdf[:, -1] <= 1 + 1e-12)
    mean = pmf @ np.arange(cdf.shape[1])
    np.testing.assert_allclose(mean, np.arange(EXACT_ROWS + 1) / (1 - E1), rtol=1e-10)


@SETTINGS
@given(
    st.lists(st.integers(0, 120), min_size=1, max_size=30),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_cell_weights_are_consistent_and_seeded(m, resamples, seed):
    m = np.array(m)
    w, z = poisson_cell_weights(m, resamples, np.random.default_rng(seed))
    assert w.shape == z.shape == (resamples, len(m))
    assert np.all((z >= 0) & (z <= m))
    assert np.all(w >= m - z)  # every in-bag row weighs at least 1
    assert np.array_equal(w == 0, z == m)  # no weight exactly when every row is out of bag
    w2, z2 = poisson_cell_weights(m, resamples, np.random.default_rng(seed))
    assert np.array_equal(w, w2) and np.array_equal(z, z2)


@pytest.mark.parametrize("m", [1, 3, 20, 40, 500])
def test_cell_weights_have_the_joint_law_of_row_weights(m):
    # Row by row: W = sum of m Poisson(1) weights is Poisson(m), Z = rows of weight 0 is
    # Binomial(m, 1/e), Cov(W, Z) = -m/e. The cells' draws must agree (5 standard errors).
    b = 40_000
    w, z = poisson_cell_weights(np.array([m]), b, np.random.default_rng(m))
    w, z = w[:, 0].astype(float), z[:, 0].astype(float)
    rows = np.random.default_rng(m + 1).poisson(1.0, size=(b, m))
    var_z = m * E1 * (1 - E1)
    for got, want, se in (
        (w.mean(), m, math.sqrt(m / b)),
        (w.var(), m, m * math.sqrt(2 / b) + math.sqrt(m / b)),
        (z.mean(), m * E1, math.sqrt(var_z / b)),
        (np.cov(w, z)[0, 1], -m * E1, math.sqrt(2 * m * var_z / b)),
        (np.cov(rows.sum(1), (rows == 0).sum(1))[0, 1], -m * E1, math.sqrt(2 * m * var_z / b)),
    ):
        assert abs(got - want) < 5 * se, (got, want, se)
    if m <= EXACT_ROWS:  # exact: the whole joint law equals the rows' frequencies
        for zz in range(m + 1):
            for ww in range(m - zz, m - zz + 4):
                p = np.mean((z == zz) & (w == ww))
                q = np.mean(((rows == 0).sum(1) == zz) & (rows.sum(1) == ww))
                assert abs(p - q) < 5 * math.sqrt(max(p, q, 1 / b) / b) + 1e-9


@st.composite
def curves(draw):
    n = draw(st.integers(1, 4000))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decimals = draw(st.sampled_from([1, 2, 3, 6]))
    y = (rng.random(n) < draw(st.floats(0.01, 0.9))).astype(np.int8)
    s = np.where(y == 1, rng.beta(4, 2, n), rng.beta(1, 4, n)).round(decimals)
    curve = binary_curve(s, y)
    center = draw(st.one_of(st.none(), st.sampled_from(curve.thresholds.tolist())))
    return s, y, curve, center


@SETTINGS
@given(curves())
def test_cell_counts_equal_row_counts(data):
    s, y, curve, center = data
    ends = cell_ends(curve.thresholds, curve.tp, curve.fp, center)
    assert np.all(np.diff(ends) > 0) and ends[-1] == len(curve.thresholds) - 1
    if len(curve.thresholds) <= MAX_CELLS:
        assert ends.tolist() == list(range(len(curve.thresholds)))
    if center is not None:  # the exported threshold is always one of the candidates
        assert center in curve.thresholds[ends]
    # Without weights, a cell edge's cumulative counts are the rows' own counts.
    for e in ends[:: max(1, len(ends) // 50)]:
        flagged = s >= curve.thresholds[e]
        assert curve.tp[e] == int((flagged & (y == 1)).sum())
        assert curve.fp[e] == int((flagged & (y == 0)).sum())
    pos = np.diff(curve.tp[ends], prepend=0)
    neg = np.diff(curve.fp[ends], prepend=0)
    assert pos.sum() == y.sum() and neg.sum() == (y == 0).sum()
    assert np.all(pos + neg > 0)  # no empty cell


def _data(n, seed, decimals=6, prevalence=0.1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int8)
    s = np.where(y == 1, rng.beta(5, 2, n), rng.beta(2, 6, n)).round(decimals)
    return s, y


def _boot(curve, obj, block, rng_seed, cutoff, monkeypatch, resamples=400):
    monkeypatch.setattr(_intervals, "BOOTSTRAP_ROWS", cutoff)
    return refit_bootstrap(
        curve, obj, None, "fixed_sequence", resamples, 0.9, np.random.default_rng(rng_seed), block
    )


@pytest.mark.parametrize(
    ("decimals", "objective"),
    [(2, "precision>=0.8"), (2, "recall>=0.8"), (6, "precision>=0.8"), (6, "fpr<=0.05")],
)
def test_cell_path_agrees_with_the_row_path(decimals, objective, monkeypatch):
    # Two decimals: every distinct score is a cell, only the law of the draws differs.
    # Six: 20,000 rows in a few hundred cells, fine around the exported threshold.
    s, y = _data(20_000, 7, decimals)
    curve = binary_curve(s, y)
    obj = parse_objective(objective)
    block = fit_thresholds(
        pd.DataFrame({"hate": s}), pd.DataFrame({"hate": y}), objective, cv=0, bootstrap=0
    )["hate"].block
    rows = _boot(curve, obj, block, 1, 10**9, monkeypatch)
    cells = _boot(curve, obj, block, 2, 1000, monkeypatch)
    assert rows["rows"] == cells["rows"] == 20_000
    for m in ("precision", "recall", "fpr"):
        width = rows[m][1] - rows[m][0]
        assert abs(cells[m][0] - rows[m][0]) < 0.25 * width, (m, rows[m], cells[m])
        assert abs(cells[m][1] - rows[m][1]) < 0.25 * width, (m, rows[m], cells[m])


def _fit(s, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitWarning)
        return fit_thresholds(
            pd.DataFrame({"hate": s}), pd.DataFrame({"hate": y}), "precision>=0.8", **kw
        )["hate"]


def test_fit_thresholds_above_the_cutoff_is_seeded_and_holds_the_exact_interval():
    s, y = _data(60_000, 3)
    assert len(s) > _intervals.BOOTSTRAP_ROWS
    ct = _fit(s, y, cv=0, bootstrap=100, ci_level=0.9, random_state=4)
    again = _fit(s, y, cv=0, bootstrap=100, ci_level=0.9, random_state=4)
    other = _fit(s, y, cv=0, bootstrap=100, ci_level=0.9, random_state=5)
    sel = ct.selection_ci
    assert sel == again.selection_ci and sel != other.selection_ci
    assert sel["rows"] == 60_000 and sel["resamples"] == 100
    assert sel["method"] == "refit-bootstrap-oob+clopper-pearson"
    tp, fp = ct.in_sample["tp"], ct.in_sample["fp"]
    for m, (k, n) in {
        "precision": (tp, tp + fp),
        "recall": (tp, ct.n_pos),
        "fpr": (fp, ct.n_neg),
    }.items():
        lo, hi = exact_ci(k, n, 0.9)
        assert sel[m][0] <= lo < hi <= sel[m][1]  # the hull holds Clopper-Pearson
        assert sel[m][0] < ct.in_sample[m] < sel[m][1]
