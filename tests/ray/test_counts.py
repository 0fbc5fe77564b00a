"""Sharded fitting without Ray: per-shard sorted counts merge exactly, and thresholds
chosen from the merged counts equal ``modkit.fit_thresholds`` on all rows at once."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import InputError
from modkit.ray import ScoreCounts, fit_from_counts, merge_counts, score_counts
from modkit.thresholds import FitWarning

CATS = ["violence", "hate", "self-harm/intent"]
OBJECTIVES = [
    "precision>=0.8",
    "recall>=0.9",
    "fpr<=0.1",
    "f1",
    "fbeta:0.5",
    "cost:fp=1,fn=5",
    "fixed:0.4",
]


def _frame(rng: np.random.Generator, n: int, levels: int) -> pd.DataFrame:
    """Scores on a coarse grid (many ties), labels with missing values, some unscored."""
    data = {}
    for c in CATS:
        s = rng.integers(0, levels, n) / levels
        s[rng.random(n) < 0.05] = np.nan
        y = (rng.random(n) < 0.2 + 0.6 * np.nan_to_num(s)).astype(float)
        y[rng.random(n) < 0.1] = np.nan
        data[c] = s
        data[f"label_{c}"] = y
    return pd.DataFrame(data)


#: The FitWarnings of the choice itself (the core's), which both paths must give alike.
CHOICE_WARNINGS = ("review is clamped", "treat it as anecdotal")


def _choice_warnings(caught) -> list[str]:
    return sorted(
        str(w.message)
        for w in caught
        if issubclass(w.category, FitWarning) and any(k in str(w.message) for k in CHOICE_WARNINGS)
    )


def _single_machine(frame: pd.DataFrame, objective, review, confidence, method="fixed_sequence"):
    labels = frame[[f"label_{c}" for c in CATS]].rename(columns=lambda k: k[6:])
    with warnings.catch_warnings():  # labelled rows without a score: left out by both
        warnings.simplefilter("ignore", FitWarning)
        return _fit(frame, labels, objective, review, confidence, method)


def _fit(frame, labels, objective, review, confidence, method="fixed_sequence"):
    return modkit.fit_thresholds(
        frame[CATS],
        labels,
        objective,
        review,
        cv=0,
        bootstrap=0,
        confidence=confidence,
        method=method,
        min_positives=3,
    )


def _same(sharded, single) -> None:
    for c in CATS:
        a, b = sharded.categories[c], single.categories[c]
        assert (a.block, a.review, a.status, a.review_status) == (
            b.block,
            b.review,
            b.status,
            b.review_status,
        ), c
        assert (a.n_pos, a.n_neg, a.n_unlabelled) == (b.n_pos, b.n_neg, b.n_unlabelled)
        assert a.in_sample == b.in_sample
        assert a.bands == pytest.approx(b.bands)
        assert a.review_clamped == b.review_clamped and a.note == b.note
        assert (a.objective, a.confidence, a.method, a.delta) == (
            b.objective,
            b.confidence,
            b.method,
            b.delta,
        )


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300),
    levels=st.sampled_from([3, 20, 1000]),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    objective=st.sampled_from(OBJECTIVES),
    review=st.sampled_from([None, "recall>=0.95", "fpr<=0.3", "precision>=0.9"]),
    confidence=st.sampled_from([None, 0.8]),
    method=st.sampled_from(["fixed_sequence", "holm"]),
)
def test_sharded_fit_equals_single_machine_fit(
    seed, n, levels, cuts, objective, review, confidence, method
):
    """Same thresholds, statuses, counts, certification record and choice warnings
    (clamped review, weak ok) as fit_thresholds: both go through one core."""
    frame = _frame(np.random.default_rng(seed), n, levels)
    bounds = sorted({0, n, *(min(c, n) for c in cuts)})
    shards = [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    merged = merge_counts(score_counts(s) for s in shards)
    whole = score_counts(frame)
    for c in CATS:
        for field in ("scores", "pos", "neg", "unlabelled"):
            np.testing.assert_array_equal(getattr(merged[c], field), getattr(whole[c], field))
    labels = frame[[f"label_{c}" for c in CATS]].rename(columns=lambda k: k[6:])
    with warnings.catch_warnings(record=True) as one:
        warnings.simplefilter("always")
        single = _fit(frame, labels, objective, review, confidence, method)
    with warnings.catch_warnings(record=True) as other:
        warnings.simplefilter("always")
        sharded = fit_from_counts(
            merged, objective, review, confidence=confidence, method=method, min_positives=3
        )
    _same(sharded, single)
    assert _choice_warnings(other) == _choice_warnings(one)


def test_counts_are_sorted_and_add_up():
    frame = pd.DataFrame(
        {
            "violence": [0.2, 0.9, 0.2, np.nan, 0.5],
            "label_violence": [1, 0, None, 1, True],
        }
    )
    sc = score_counts(frame)["violence"]
    np.testing.assert_array_equal(sc.scores, [0.9, 0.5, 0.2])
    np.testing.assert_array_equal(sc.pos, [0, 1, 1])
    np.testing.assert_array_equal(sc.neg, [1, 0, 0])
    np.testing.assert_array_equal(sc.unlabelled, [0, 0, 1])
    assert (sc.n_pos, sc.n_neg) == (2, 1)
    assert isinstance(sc, ScoreCounts)


def test_per_category_objectives_and_saving(tmp_path):
    frame = _frame(np.random.default_rng(3), 400, 50)
    spec = {"violence": "recall>=0.9", "*": "f1"}
    ts = fit_from_counts(score_counts(frame), spec, min_positives=3)
    _same(ts, _single_machine(frame, spec, None, None))
    ts.save(tmp_path / "t.json")
    again = modkit.load_thresholds(tmp_path / "t.json")
    assert again.categories["violence"].block == ts.categories["violence"].block


def test_bad_labels_and_specs_are_named():
    frame = pd.DataFrame({"violence": [0.1, 0.2], "label_violence": [1, 2]})
    with pytest.raises(InputError, match=r"row 1 column 'label_violence': label 2 is not 1/0"):
        score_counts(frame)
    spelled = pd.DataFrame({"violence": [0.1, 0.2], "label_violence": ["yes", "maybe"]})
    with pytest.raises(InputError, match="row 1 column 'label_violence': label 'maybe' is not"):
        score_counts(spelled)
    frame = pd.DataFrame({"violence": [0.1], "label_violence": [1]})
    counts = score_counts(pd.DataFrame({"violence": [0.1], "label_violence": [1]}))
    with pytest.raises(InputError, match=r"no objective for labelled categories \['violence'\]"):
        fit_from_counts(counts, {"hate": "f1"})
    with pytest.raises(InputError, match="unknown category key 'violent'"):
        fit_from_counts(counts, {"violent": "f1"})
    with pytest.raises(InputError, match="method must be one of"):
        fit_from_counts(counts, "f1", method="bonferroni")
    with pytest.raises(InputError, match=r"shard row 0 column 'violence': score 1\.5"):
        score_counts(pd.DataFrame({"violence": [1.5], "label_violence": [1]}))
    with pytest.raises(InputError, match="no column 'hate'"):
        score_counts(frame, categories=["hate"])


def test_labels_use_the_one_parser_and_a_custom_prefix_is_deprecated():
    spelled = pd.DataFrame(
        {"violence": [0.9, 0.2, 0.4, 0.3], "label_violence": ["yes", "No", " TRUE ", ""]}
    )
    plain = spelled.assign(label_violence=[1, 0, 1, None])
    a, b = score_counts(spelled)["violence"], score_counts(plain)["violence"]
    for field in ("scores", "pos", "neg", "unlabelled"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    old = plain.rename(columns={"label_violence": "y_violence"})
    with pytest.warns(FutureWarning, match=r"label_prefix='y_' is deprecated .* modkit 0\.3\.0"):
        c = score_counts(old, label_prefix="y_")["violence"]
    np.testing.assert_array_equal(c.pos, b.pos)


def test_clamped_review_warns_on_the_sharded_path_too():
    frame = pd.DataFrame(
        {"violence": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], "label_violence": [1, 1, 0, 1, 0, 0]}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ts = fit_from_counts(
            score_counts(frame), "recall>=0.99", "precision>=0.99", min_positives=1
        )
    got = _choice_warnings(caught)
    assert got[0].startswith("violence: status ok for block, review rests on 3 labelled positives")
    assert got[1].startswith("violence: the review objective precision>=0.99 chose 0.8, above")
    assert all(w.filename == __file__ for w in caught)  # attributed to the caller
    assert ts["violence"].review_clamped and ts["violence"].review == ts["violence"].block


def test_native_provider_scale_matches_fit_thresholds():
    """Azure severities (0..7, ordinal) counted and fitted on their own scale, as
    fit_thresholds(provider="azure") does; the set records provider and scale."""
    rng = np.random.default_rng(7)
    n = 300
    y = (rng.random(n) < 0.3).astype(float)
    sev = np.where(y == 1, rng.choice([2, 4, 6], n), rng.choice([0, 0, 2, 4], n)).astype(float)
    frame = pd.DataFrame({"Hate": sev, "label_Hate": y})
    counts = merge_counts(
        [
            score_counts(frame.iloc[:100], provider="azure"),
            score_counts(frame.iloc[100:], provider="azure"),
        ]
    )
    sharded = fit_from_counts(counts, "precision>=0.7", "recall>=0.9", provider="azure")
    single = modkit.fit_thresholds(
        frame[["Hate"]], pd.DataFrame({"Hate": y}), "precision>=0.7", "recall>=0.9",
        provider="azure", cv=0, bootstrap=0,
    )  # fmt: skip
    a, b = sharded["Hate"], single["Hate"]
    assert (a.block, a.review, a.status, a.in_sample) == (b.block, b.review, b.status, b.in_sample)
    assert a.block in {2.0, 4.0, 6.0}
    assert sharded.provider == single.provider == "azure"
    assert sharded.scale == single.scale
    with pytest.raises(InputError, match=r"shard row 0 column 'Hate': score 9"):
        score_counts(pd.DataFrame({"Hate": [9.0], "label_Hate": [1]}), provider="azure")
    with pytest.raises(InputError, match="provider must be one of"):
        score_counts(frame, provider="azur")
