"""Per-input-type fitting: ``fit_thresholds(by_input_type=True)`` and ``modkit fit
--by-input-type`` learn text and image thresholds from the ``applied/<category>`` columns."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import InputError
from modkit.testing import FaultServer
from modkit.thresholds import FitWarning, ThresholdFile


def _data(seed: int, n: int = 600, shift: float = 0.25):
    """Image rows score ``shift`` lower than text rows of the same label."""
    rng = np.random.default_rng(seed)
    image = rng.random(n) < 0.5
    y = rng.random(n) < 0.3
    s = np.where(y, rng.normal(0.7, 0.1, n), rng.normal(0.3, 0.1, n)) - np.where(image, shift, 0)
    scores = pd.DataFrame(
        {
            "violence": np.clip(s, 0, 1),
            "applied/violence": np.where(image, "text,image", "text"),
        }
    )
    return scores, pd.DataFrame({"violence": y.astype(int)}), image, y


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**16), st.sampled_from(["precision>=0.9", "f1", "recall>=0.8"]))
def test_each_type_gets_the_threshold_fitted_on_its_rows_alone(seed, objective):
    scores, labels, image, _ = _data(seed)
    kw = {"cv": 0, "bootstrap": 0}
    ts = modkit.fit_thresholds(scores, labels, objective, by_input_type=True, **kw)
    for kind, rows in (("image", image), ("text", ~image)):
        alone = modkit.fit_thresholds(scores[rows][["violence"]], labels[rows], objective, **kw)
        assert ts["violence"].by_input_type[kind]["block"] == alone["violence"].block
    overall = modkit.fit_thresholds(scores[["violence"]], labels, objective, **kw)
    assert ts["violence"].block == overall["violence"].block  # the category's own: all rows


def test_per_type_thresholds_meet_the_goal_where_one_threshold_does_not():
    scores, labels, image, y = _data(1, n=1500)
    one = modkit.fit_thresholds(scores[["violence"]], labels, "recall>=0.9", cv=0, bootstrap=0)
    typed = modkit.fit_thresholds(
        scores, labels, "recall>=0.9", cv=0, bootstrap=0, by_input_type=True
    )
    for ts, frame in ((one, scores[["violence"]]), (typed, scores)):
        blocked = (ts.apply(frame)["action"] == "block").to_numpy()
        recall_image = (blocked & y & image).sum() / (y & image).sum()
        if ts is typed:
            assert recall_image >= 0.9
        else:  # one threshold for both: the image rows, scored lower, fall short
            assert recall_image < 0.9
    bands = typed.bands
    assert bands is not None
    assert bands["block"] == pytest.approx((typed.apply(scores)["action"] == "block").mean())


def test_the_file_keeps_what_was_fitted(tmp_path):
    scores, labels, _, _ = _data(2)
    ts = modkit.fit_thresholds(scores, labels, "f1", cv=3, bootstrap=0, by_input_type=True)
    path = ThresholdFile({"input": ts}).save(tmp_path / "t.json")
    back = ThresholdFile.load(path).profiles["input"]
    assert back["violence"].by_input_type == ts["violence"].by_input_type
    assert back.apply(scores)["action"].tolist() == ts.apply(scores)["action"].tolist()


def test_a_type_with_too_few_labelled_rows_falls_back_with_a_warning():
    scores, labels, image, y = _data(3)
    labels = labels.astype(float)
    labels.loc[image & y, "violence"] = np.nan  # no labelled image positives
    labels.loc[np.flatnonzero(image & y)[:2], "violence"] = 1.0
    with pytest.warns(FitWarning, match="violence: too few labelled image rows"):
        ts = modkit.fit_thresholds(scores, labels, "f1", cv=0, bootstrap=0, by_input_type=True)
    assert set(ts["violence"].by_input_type) == {"text"}


def test_one_type_only_keeps_one_set_and_no_applied_column_is_an_error():
    scores, labels, _, _ = _data(4)
    text_only = scores.assign(**{"applied/violence": "text"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ts = modkit.fit_thresholds(text_only, labels, "f1", cv=0, bootstrap=0, by_input_type=True)
    assert ts["violence"].by_input_type is None
    with pytest.raises(InputError, match="by_input_type=True needs applied/<category> columns"):
        modkit.fit_thresholds(scores[["violence"]], labels, "f1", by_input_type=True)


def test_from_multimodal_results_over_http_to_a_fitted_file(tmp_path):
    caption = "look at {what: this|that} {thing: knife|cake|gun|flower}"
    texts = modkit.expand(caption)
    rows = modkit.images.with_images(
        texts, [f"https://example.org/{i}.png" for i in range(30)], how="product"
    )
    plain = pd.DataFrame({"input": texts["text"].tolist() * 10})
    frame = pd.concat([rows[["input"]], plain], ignore_index=True)
    with FaultServer() as server:
        backend = modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")
        scores = modkit.moderate(
            frame, backend=backend, cache=None, progress=False, text_column="input"
        )
    assert set(scores["applied/violence"]) == {"text,image", "text"}
    rng = np.random.default_rng(0)
    labels = pd.DataFrame(
        {
            c: (scores[c] + rng.normal(0, 0.1, len(scores)) > 0.5).astype(int)
            for c in ("violence", "harassment")
        }
    )
    scores_path, labels_path = tmp_path / "s.csv", tmp_path / "l.csv"
    modkit.write_table(scores.drop(columns=["input"]), scores_path)
    labels.to_csv(labels_path, index=False)
    out = tmp_path / "t.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "modkit",
            "fit",
            str(scores_path),
            str(labels_path),
            "-o",
            str(out),
            "--objective",
            "f1",
            "--cv",
            "0",
            "--bootstrap",
            "0",
            "--min-positives",
            "3",
            "--by-input-type",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    ts = ThresholdFile.load(out).profiles["input"]
    assert set(ts["violence"].by_input_type) == {"text", "image"}  # applied to images too
    assert ts["harassment"].by_input_type is None  # text only (the endpoint's rule)
