"""Bootstrap intervals for bias metrics and the Jigsaw power-mean summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

import modkit
from modkit import plots
from modkit._bias_uncertainty import (
    BiasBootstrap,
    bias_corrected_interval,
    delong_interval,
    estimate_interval,
    jigsaw_final_metric,
    power_mean,
)


def _frame(n_big=1500, n_small=40, seed=0):
    rng = np.random.default_rng(seed)
    groups = ["big"] * n_big + ["small"] * n_small + [None] * 1000
    n = len(groups)
    y = rng.random(n) < 0.3
    small = np.array([g == "small" for g in groups])
    # the small subgroup's negatives score higher: a real bias, hard to see on 40 rows
    s = np.where(y, rng.beta(5, 2, n), rng.beta(2, 5 - 2 * small, n))
    return pd.DataFrame({"hate": s, "label": y.astype(int), "target": groups})


def test_intervals_bracket_the_estimates_and_small_subgroups_are_wider():
    out = modkit.bias_metrics(_frame(), "target", "label", "hate", bootstrap=300).set_index(
        "subgroup"
    )
    for m in ("subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr_diff", "fnr_diff"):
        assert (out[f"{m}_lo"] <= out[m] + 1e-9).all() and (out[m] <= out[f"{m}_hi"] + 1e-9).all()
        width = out[f"{m}_hi"] - out[f"{m}_lo"]
        assert width["small"] > width["big"]
    overall = out.attrs["overall"]
    lo, hi = overall["final_metric_ci"]
    assert lo <= overall["final_metric"] <= hi
    assert overall["ci_level"] == 0.95 and overall["bootstrap"] == 300


def test_final_metric_is_the_jigsaw_formula():
    out = modkit.bias_metrics(_frame(seed=1), "target", "label", "hate", bootstrap=0)
    overall = out.attrs["overall"]
    means = [
        np.mean(out[m].to_numpy() ** -5) ** (-1 / 5)
        for m in ("subgroup_auc", "bpsn_auc", "bnsp_auc")
    ]
    assert overall["final_metric"] == pytest.approx(0.25 * overall["auc"] + 0.25 * sum(means))
    assert overall["power_means"]["bpsn_auc"] == pytest.approx(means[1])
    assert "subgroup_auc_lo" not in out.columns  # bootstrap=0: no intervals
    # the power mean with p = -5 sits near the worst value
    assert power_mean([0.9, 0.9, 0.5]) < 0.62
    assert power_mean([0.8, 0.0]) == 0.0 and np.isnan(power_mean([np.nan]))
    assert jigsaw_final_metric(1, [1], [1], [1]) == 1.0


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(4, 60),
    seed=st.integers(0, 1000),
    decimals=st.sampled_from([1, 3]),
)
def test_weighted_auc_equals_sklearn_on_repeated_rows(n, seed, decimals):
    rng = np.random.default_rng(seed)
    s = rng.random(n).round(decimals)
    y = rng.random(n) < 0.5
    if y.all() or not y.any():
        y[0] = not y[0]
    bb = BiasBootstrap(s, y, np.zeros((0, n), bool), 0.5, 3, rng)
    w = bb._weights(3)
    got = bb._auc(w, np.ones(n, bool))
    for i in range(3):
        reps = w[i].astype(int)
        ys, ss = np.repeat(bb.y, reps), np.repeat(bb.s, reps)
        want = roc_auc_score(ys, ss) if 0 < ys.sum() < len(ys) else np.nan
        assert got[i] == pytest.approx(want, nan_ok=True)


def test_resampling_keeps_every_stratum_size():
    frame = _frame(n_big=50, n_small=7, seed=3)
    groups = np.array(
        [[g == "big" for g in frame["target"]], [g == "small" for g in frame["target"]]]
    )
    bb = BiasBootstrap(
        frame["hate"].to_numpy(),
        frame["label"].to_numpy() == 1,
        groups,
        0.5,
        20,
        np.random.default_rng(0),
    )
    w = bb._weights(20)
    assert (w @ bb.m[1] == 7).all() and (w @ bb.m[0] == 50).all()
    assert (w.sum(axis=1) == len(frame)).all()


def test_bias_chart_draws_error_bars():
    out = modkit.bias_metrics(_frame(), "target", "label", "hate", bootstrap=100)
    fig = plots.bias_chart(out)
    bar = fig.data[0]
    assert bar.error_y is not None and bar.error_y.array is not None
    row = out.iloc[0]
    assert bar.error_y.array[0] == pytest.approx(row["subgroup_auc_hi"] - row["subgroup_auc"])
    assert bar.error_y.arrayminus[0] == pytest.approx(row["subgroup_auc"] - row["subgroup_auc_lo"])
    assert "final metric" in fig.layout.title.text


def _tiny_subgroups(k=20, seed=0):
    """A big subgroup plus ``k`` subgroups of three rows: AUC 0.5 each (one positive
    above the negative, one below), so most resamples hold some subgroup at AUC 0."""
    rng = np.random.default_rng(seed)
    y = list(rng.random(300) < 0.4)
    s = list(np.where(y, rng.beta(4, 2, 300), rng.beta(2, 4, 300)).round(3))
    g = ["big"] * 300
    for i in range(k):
        y += [True, True, False]
        s += [0.9, 0.3, 0.6]
        g += [f"tiny{i}"] * 3
    return pd.DataFrame({"hate": s, "label": np.array(y).astype(int), "target": g})


def test_small_subgroups_never_leave_the_estimate_outside_its_interval():
    out = modkit.bias_metrics(_tiny_subgroups(), "target", "label", "hate", bootstrap=200)
    overall = out.attrs["overall"]
    lo, hi = overall["final_metric_ci"]
    assert lo <= overall["final_metric"] <= hi
    assert lo < overall["final_metric"] - 0.1  # the downside the resamples show is kept
    assert "final_metric_ci: the resamples lie almost all on one side" in overall["note"]
    for m in ("subgroup_auc", "bpsn_auc", "bnsp_auc", "fpr_diff", "fnr_diff"):
        ok = out[m].notna()
        assert (out.loc[ok, f"{m}_lo"] <= out.loc[ok, m] + 1e-9).all()
        assert (out.loc[ok, m] <= out.loc[ok, f"{m}_hi"] + 1e-9).all()
    title = plots.bias_chart(out).layout.title.text
    assert "widened to the estimate" in title


def test_resampling_keeps_each_subgroups_positives_and_negatives():
    frame = _tiny_subgroups(k=3)
    names = sorted(set(frame["target"]))
    groups = np.array([(frame["target"] == n).to_numpy() for n in names])
    y = frame["label"].to_numpy() == 1
    bb = BiasBootstrap(frame["hate"].to_numpy(), y, groups, 0.5, 50, np.random.default_rng(0))
    w = bb._weights(50)
    for i in range(len(names)):
        assert len(set(w @ (bb.m[i] & bb.y))) == 1 and len(set(w @ (bb.m[i] & ~bb.y))) == 1
    draws = bb.run()
    assert np.isfinite(draws["subgroup_auc"]).all()  # defined on the data: in every resample


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(0, 1) | st.just(np.nan), min_size=1, max_size=50),
    st.floats(0, 1),
    st.sampled_from([0.8, 0.9, 0.95]),
)
def test_estimate_interval_always_contains_the_estimate(values, estimate, level):
    lo, hi, widened = estimate_interval(np.array(values), estimate, level)
    if np.isfinite(values).any():
        assert lo[0] - 1e-12 <= estimate <= hi[0] + 1e-12
        b_lo, b_hi = bias_corrected_interval(np.array(values), estimate, level)
        assert widened[0] == (not b_lo[0] - 1e-12 <= estimate <= b_hi[0] + 1e-12)
    else:
        assert np.isnan(lo[0]) and np.isnan(hi[0]) and not widened[0]


@settings(max_examples=80, deadline=None)
@given(
    m=st.integers(1, 60),
    n=st.integers(1, 60),
    shift=st.floats(-2, 3),
    level=st.sampled_from([0.8, 0.9, 0.95]),
    seed=st.integers(0, 1000),
    decimals=st.sampled_from([1, 3]),
)
def test_delong_interval_holds_the_auc_and_is_never_a_point(m, n, shift, level, seed, decimals):
    rng = np.random.default_rng(seed)
    pos = (rng.standard_normal(m) + shift).round(decimals)
    neg = rng.standard_normal(n).round(decimals)
    lo, hi = delong_interval(pos, neg, level)
    auc = roc_auc_score(np.r_[np.ones(m), np.zeros(n)], np.r_[pos, neg])
    assert 0 <= lo < hi <= 1  # never a point such as [1, 1] or [0, 0]
    assert lo <= auc + 1e-12 and auc - 1e-12 <= hi
    wider_lo, wider_hi = delong_interval(pos, neg, 0.99)
    assert wider_lo <= lo + 1e-12 and hi - 1e-12 <= wider_hi


def test_delong_interval_narrows_with_more_rows_and_needs_both_classes():
    rng = np.random.default_rng(0)
    small = delong_interval(rng.normal(1, 1, 20), rng.normal(0, 1, 20), 0.95)
    big = delong_interval(rng.normal(1, 1, 2000), rng.normal(0, 1, 2000), 0.95)
    assert big[1] - big[0] < (small[1] - small[0]) / 5
    assert np.isnan(delong_interval(np.array([0.3]), np.array([]), 0.95)).all()


def test_bias_auc_intervals_hold_the_studentised_interval():
    frame = _frame(n_big=300, n_small=30, seed=4)
    out = modkit.bias_metrics(frame, "target", "label", "hate", bootstrap=50)
    y = frame["label"].to_numpy() == 1
    s = frame["hate"].to_numpy()
    for _, row in out.iterrows():
        g = (frame["target"] == row["subgroup"]).to_numpy()
        for m, (pos, neg) in {
            "subgroup_auc": (g & y, g & ~y),
            "bpsn_auc": (~g & y, g & ~y),
            "bnsp_auc": (g & y, ~g & ~y),
        }.items():
            lo, hi = delong_interval(s[pos], s[neg], 0.95)
            assert row[f"{m}_lo"] <= lo + 1e-12 and hi - 1e-12 <= row[f"{m}_hi"]
