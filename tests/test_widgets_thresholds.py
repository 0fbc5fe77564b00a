"""ThresholdExplorer callbacks, driven without a browser."""

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

pytest.importorskip("ipywidgets")

try:
    from modkit.widgets import ThresholdExplorer
except ImportError:  # until the lead re-exports it
    from modkit.widgets._threshold_slider import ThresholdExplorer


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 300
    y_v = rng.integers(0, 2, n)
    y_h = (rng.random(n) < 0.2).astype(int)
    scores = pd.DataFrame(
        {
            "text": [f"text {i}" for i in range(n)],
            "violence": np.round(np.clip(rng.normal(0.3 + 0.4 * y_v, 0.2), 0, 1), 2),
            "hate": np.clip(rng.normal(0.2 + 0.5 * y_h, 0.2), 0, 1),
            "sexual": rng.random(n),
        },
        index=pd.RangeIndex(100, 100 + n),
    )
    labels = pd.DataFrame(
        {"violence": y_v.astype(float), "hate": y_h.astype(float)}, index=scores.index
    )
    labels.loc[labels.index[::7], "hate"] = np.nan
    return scores, labels


def _direct(scores, labels, c, t):
    keep = labels[c].notna()
    y = labels.loc[keep, c].astype(int).to_numpy()
    pred = scores.loc[keep, c].to_numpy() >= t
    tn, fp, fn, tp = metrics.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn}


def test_slider_updates_counts(data):
    scores, labels = data
    ex = ThresholdExplorer(scores, labels)
    assert ex.categories == ["hate", "violence"]  # sexual has no labels
    assert ex.category == "hate" and ex.threshold == 0.5
    for t in (0.0, 0.123, 0.3, 0.5, 0.71, 1.0):
        ex.slider.value = t  # the observer runs on_threshold_change
        exp = _direct(scores, labels, "hate", ex.threshold)
        assert {k: ex.counts[k] for k in exp} == exp
    ex.category_dropdown.value = "violence"
    ex.slider.value = 0.45
    exp = _direct(scores, labels, "violence", 0.45)
    assert {k: ex.counts[k] for k in exp} == exp
    keep = labels["violence"].notna()
    pred = scores.loc[keep, "violence"] >= 0.45
    y = labels.loc[keep, "violence"].astype(int)
    assert ex.counts["precision"] == pytest.approx(metrics.precision_score(y, pred))
    assert ex.counts["recall"] == pytest.approx(metrics.recall_score(y, pred))
    assert ex.counts["fpr"] == pytest.approx(exp["fp"] / (exp["fp"] + exp["tn"]))
    assert f"TP {exp['tp']}" in ex.matrix_html.value


def test_equal_scores_are_flagged(data):
    scores, labels = data
    ex = ThresholdExplorer(scores, labels).set("violence", 0.5)
    at = (scores["violence"] == 0.5) & labels["violence"].notna()
    assert at.sum() > 0  # ties exist exactly at the threshold
    assert ex.counts["flagged"] == int(
        (scores.loc[labels["violence"].notna(), "violence"] >= 0.5).sum()
    )


def test_nearest_examples(data):
    scores, labels = data
    ex = ThresholdExplorer(scores, labels, n_examples=7).set("hate", 0.4)
    near = ex.nearest
    assert len(near) == 7
    keep = labels["hate"].notna()
    dist = (scores.loc[keep, "hate"] - 0.4).abs().sort_values(kind="stable")
    assert near["distance"].max() == pytest.approx(dist.iloc[6])
    assert set(near.index) <= set(dist.index)
    for i, row in near.iterrows():
        assert row["text"] == scores.loc[i, "text"]
        assert row["score"] == scores.loc[i, "hate"]
        assert row["label"] == labels.loc[i, "hate"]
        assert row["flagged"] == (row["score"] >= 0.4)
    assert "text " in ex.examples_html.value


def test_starts_at_file_thresholds(data):
    scores, labels = data
    ts = modkit.fit_thresholds(scores, labels, "f1", review="recall>=0.9", bootstrap=0)
    ex = ThresholdExplorer(scores, labels, ts)
    assert ex.threshold == pytest.approx(ts["hate"].block)
    ex.category_dropdown.value = "violence"  # on_category_change moves the slider
    assert ex.threshold == pytest.approx(ts["violence"].block)
    exp = _direct(scores, labels, "violence", ts["violence"].block)
    assert {k: ex.counts[k] for k in exp} == exp
    assert ts["violence"].in_sample["tp"] == exp["tp"]
    assert "block" in ex.file_note.value


def test_errors(data):
    scores, labels = data
    with pytest.raises(InputError, match="'illicit' is not a column of the scores"):
        ThresholdExplorer(scores, labels, categories=["illicit"])
    with pytest.raises(InputError, match="no category has both"):
        ThresholdExplorer(scores, labels[[]])
    with pytest.raises(InputError, match="ThresholdSet"):
        ThresholdExplorer(scores, labels, {"hate": 0.5})
    ex = ThresholdExplorer(scores, labels)
    with pytest.raises(InputError, match="unknown category 'sexual'"):
        ex.set("sexual", 0.5)
    assert isinstance(ThresholdSet, type)


@settings(max_examples=50, deadline=None)
@given(t=st.floats(0, 1), c=st.sampled_from(["hate", "violence"]))
def test_counts_property(data, t, c):
    scores, labels = data
    ex = _EX.get("ex") or _EX.setdefault("ex", ThresholdExplorer(scores, labels))
    ex.set(c, t)
    exp = _direct(scores, labels, c, ex.threshold)
    assert {k: ex.counts[k] for k in exp} == exp
    assert ex.counts["tp"] + ex.counts["fp"] == ex.counts["flagged"]


_EX: dict[str, ThresholdExplorer] = {}
