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


def test_starts_at_the_threshold_of_a_file_given_by_path(data, tmp_path):
    scores, labels = data
    path = modkit.ThresholdSet.from_thresholds({"hate": 0.37, "violence": None}).save(
        tmp_path / "t.json"
    )
    ex = ThresholdExplorer(scores, labels, path)
    assert ex.category == "hate" and ex.threshold == pytest.approx(0.37)


def test_long_texts_are_cut_with_the_full_text_one_click_away(data):
    scores, labels = data
    long = scores.assign(text=[("word " * 400) + f"end {i}" for i in range(len(scores))])
    ex = ThresholdExplorer(long, labels, max_chars=50).set("hate", 0.4)
    page = ex.examples_html.value
    assert page.count("<details>") == len(ex.nearest)  # each cut text opens in full
    assert "characters)" in page
    for text in ex.nearest["text"]:  # the whole text is on the page: head + rest
        head, rest = text[:50], text[50:]
        assert f"<summary>{head}…" in page and f"…{rest}</details>" in page
    assert ex.nearest["text"].str.len().min() > 2000  # the data keeps whole texts
    short = ThresholdExplorer(scores, labels).set("hate", 0.4)
    assert "<details>" not in short.examples_html.value


def test_a_threshold_chosen_by_hand_is_saved_as_a_new_valid_file(data, tmp_path):
    import json

    import jsonschema

    scores, labels = data
    fitted = modkit.fit_thresholds(
        scores, labels, "f1", review="recall>=0.95", bootstrap=0
    ).with_policy("review")
    first = fitted.save(tmp_path / "thresholds.json")
    first_bytes = first.read_bytes()
    ex = ThresholdExplorer(scores, labels, first).set("violence", 0.61)
    with pytest.raises(InputError, match="name the reviewer"):
        ex.save(tmp_path / "v2.json")
    with pytest.raises(InputError, match="exists already"):
        ex.save(first, reviewer="Ana")
    # through the widget, as a person would: name, file, button
    ex.reviewer.value = "Ana Lopez"
    ex.save_path.value = str(tmp_path / "v2.json")
    ex.save_button.click()
    assert "saved violence at 0.6100" in ex.save_note.value
    doc = json.loads((tmp_path / "v2.json").read_text(encoding="utf-8"))
    schema_file = modkit.__file__.replace(
        "__init__.py", "thresholds/schema/threshold-file-3.schema.json"
    )
    with open(schema_file, encoding="utf-8") as fh:
        jsonschema.validate(doc, json.load(fh))
    saved = modkit.load_thresholds(tmp_path / "v2.json")
    v = saved["violence"]
    assert v.block == pytest.approx(0.61) and v.status == "manual" and v.objective == "manual"
    assert v.note.startswith("set by hand by Ana Lopez on 20")
    assert f"file had block {fitted['violence'].block}" in v.note
    exp = _direct(scores, labels, "violence", 0.61)
    assert {k: v.in_sample[k] for k in exp} == exp
    assert v.n_pos + v.n_neg == int(labels["violence"].notna().sum())
    # everything else is the earlier file's, and that file is untouched
    assert saved["hate"] == fitted["hate"] and saved.unthresholded == "review"
    assert first.read_bytes() == first_bytes
    # a review above the new block is dropped, and the note says so
    low = ThresholdExplorer(scores, labels, first).set("violence", 0.0)
    low.save(tmp_path / "v3.json", reviewer="Bo")
    again = modkit.load_thresholds(tmp_path / "v3.json")["violence"]
    if fitted["violence"].review is not None and fitted["violence"].review > 0:
        assert again.review is None and "dropped" in again.note
    # the widget's error shows on the page, not as a traceback
    ex.save_button.click()
    assert "exists already" in ex.save_note.value
