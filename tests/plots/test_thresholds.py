"""Threshold figures: curves equal scikit-learn's, chosen points sit at the right x/y."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

import modkit
from modkit import InputError
from modkit.thresholds import ThresholdSet

pytest.importorskip("plotly")

try:
    from modkit.plots import pr_curve, roc_curve, score_distribution
except ImportError:  # until the lead re-exports them
    from modkit.plots._thresholds import pr_curve, roc_curve, score_distribution


def _data(n=400, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.18), 0, 1)
    if ties:
        s = np.round(s, 2)  # many equal scores
    scores = pd.DataFrame({"violence": s, "hate": rng.random(n)}, index=[f"r{i}" for i in range(n)])
    labels = pd.DataFrame({"violence": y.astype(float)}, index=scores.index)
    labels.iloc[::10, 0] = np.nan  # some rows not labelled
    return scores, labels


@pytest.fixture(scope="module")
def fitted():
    scores, labels = _data()
    ts = modkit.fit_thresholds(
        scores, labels, "precision>=0.8", review="recall>=0.9", bootstrap=200
    )
    return scores, labels, ts


def _labelled(scores, labels, c="violence"):
    keep = labels[c].notna()
    return scores.loc[keep, c].to_numpy(), labels.loc[keep, c].to_numpy().astype(int)


def _trace(fig, kind):
    found = [t for t in fig.data if (t.meta or {}).get("kind") == kind]
    assert len(found) == 1, [t.meta for t in fig.data]
    return found[0]


def test_pr_curve_equals_sklearn(fitted):
    scores, labels, ts = fitted
    fig = pr_curve(scores, labels, ts, "violence")
    s, y = _labelled(scores, labels)
    prec, rec, thr = metrics.precision_recall_curve(y, s)
    curve = _trace(fig, "curve")
    got = dict(zip(np.asarray(curve.customdata), zip(curve.x, curve.y, strict=True), strict=True))
    # sklearn stops at full recall; every one of its thresholds is on our curve
    for p, r, t in zip(prec[:-1], rec[:-1], thr, strict=True):
        assert got[t] == pytest.approx((r, p))
    assert len(got) == len(np.unique(s))


def test_roc_curve_equals_sklearn(fitted):
    scores, labels, ts = fitted
    fig = roc_curve(scores, labels, ts, "violence")
    s, y = _labelled(scores, labels)
    fpr, tpr, thr = metrics.roc_curve(y, s, drop_intermediate=False)
    curve = _trace(fig, "curve")
    np.testing.assert_allclose(curve.x, fpr)
    np.testing.assert_allclose(curve.y, tpr)
    np.testing.assert_allclose(np.asarray(curve.customdata)[1:], thr[1:])
    assert curve.meta["auc"] == pytest.approx(metrics.roc_auc_score(y, s))


def test_chosen_points_at_right_place(fitted):
    scores, labels, ts = fitted
    s, y = _labelled(scores, labels)
    ct = ts["violence"]
    assert ct.block is not None and ct.review is not None
    pr = pr_curve(scores, labels, ts, "violence")
    roc = roc_curve(scores, labels, ts, "violence")
    for kind in ("block", "review"):
        t = getattr(ct, kind)
        pred = s >= t
        prec = metrics.precision_score(y, pred)
        rec = metrics.recall_score(y, pred)
        tn, fp, _fn, _tp = metrics.confusion_matrix(y, pred).ravel()
        p = _trace(pr, kind)
        assert (p.x[0], p.y[0]) == pytest.approx((rec, prec))
        r = _trace(roc, kind)
        assert (r.x[0], r.y[0]) == pytest.approx((fp / (fp + tn), rec))
    oof = ct.out_of_fold
    p = _trace(pr, "block_oof")
    assert (p.x[0], p.y[0]) == pytest.approx((oof["recall"], oof["precision"]))
    # the procedure's estimate claims no interval: no error bars, and the legend says so
    assert oof["interval"] == "none"
    assert p.error_y.array is None and "no interval" in p.name
    r = _trace(roc, "block_oof")
    assert r.x[0] == pytest.approx(oof["fpr"]) and r.error_x.array is None


def test_score_distribution(fitted):
    scores, labels, ts = fitted
    fig = score_distribution(scores, labels, ts, "violence", nbins=20)
    s, y = _labelled(scores, labels)
    hists = [t for t in fig.data if (t.meta or {}).get("kind") == "histogram"]
    assert sorted(t.meta["label"] for t in hists) == [0, 1]
    for t in hists:
        np.testing.assert_allclose(np.sort(t.x), np.sort(s[y == t.meta["label"]]))
    xs = sorted(sh.x0 for sh in fig.layout.shapes)
    assert xs == pytest.approx(sorted([ts["violence"].block, ts["violence"].review]))
    assert all(sh.x0 == sh.x1 for sh in fig.layout.shapes)


def test_plain_thresholds_and_series_inputs():
    scores, labels = _data(ties=False)
    fig = pr_curve(scores["violence"], labels["violence"], 0.5, "violence")
    assert _trace(fig, "block").meta["threshold"] == 0.5
    fig = roc_curve(scores, labels, {"violence": {"block": 0.7, "review": 0.4}}, "violence")
    assert _trace(fig, "review").meta["threshold"] == 0.4
    assert not [t for t in fig.data if (t.meta or {}).get("kind") == "block_oof"]
    fig = score_distribution(scores, labels, None, "violence")
    assert not fig.layout.shapes


def test_errors_name_the_problem():
    scores, labels = _data()
    with pytest.raises(InputError, match="no column 'sexual'"):
        pr_curve(scores, labels, None, "sexual")
    bad = labels.copy()
    bad.iloc[3, 0] = 2
    with pytest.raises(InputError, match=r"labels.*'violence'.*not 1/0, true/false"):
        roc_curve(scores, bad, None, "violence")
    neg = labels.assign(violence=0.0)
    with pytest.raises(InputError, match="no positive labels"):
        roc_curve(scores, neg, None, "violence")
    with pytest.raises(InputError, match="300 rows"):
        pr_curve(np.zeros(300), np.zeros(200), None, "violence")
    with pytest.raises(InputError, match="thresholds must be"):
        pr_curve(scores, labels, "0.5", "violence")


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9, 1.0]), st.integers(0, 1)),
        min_size=2,
        max_size=40,
    )
)
def test_roc_matches_sklearn_on_random_ties(data):
    s = np.array([d[0] for d in data])
    y = np.array([d[1] for d in data])
    if y.min() == y.max():
        return
    fig = roc_curve(s, y.astype(float), None, "hate")
    fpr, tpr, _ = metrics.roc_curve(y, s, drop_intermediate=False)
    curve = _trace(fig, "curve")
    np.testing.assert_allclose(curve.x, fpr)
    np.testing.assert_allclose(curve.y, tpr)


def test_never_shows(monkeypatch, fitted):
    import plotly.graph_objects as go

    def boom(*a, **k):
        raise AssertionError("show() called")

    monkeypatch.setattr(go.Figure, "show", boom)
    scores, labels, ts = fitted
    for f in (pr_curve, roc_curve, score_distribution):
        assert isinstance(f(scores, labels, ts, "violence"), go.Figure)
    assert isinstance(ThresholdSet, type)
