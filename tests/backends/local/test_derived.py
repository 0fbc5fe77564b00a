"""Derived categories of the local scorer are marked wherever scores travel: the results
frame's ``attrs``, cross-tabs, heatmap labels and ``LocalBackend.coverage()``."""

from __future__ import annotations

import pandas as pd
import pytest

import modkit
from modkit import CATEGORIES
from modkit.backends import LocalBackend
from modkit.plots import heatmap

pytest.importorskip("plotly")


@pytest.fixture(scope="module")
def results():
    texts = modkit.expand("I am going to hurt {group: my neighbour|my coworker}.")
    return modkit.moderate(texts, backend=LocalBackend(), cache=None, progress=False)


def test_results_frame_names_each_derived_category_and_its_rule(results):
    backend = LocalBackend()
    derived = results.attrs["derived"]
    assert derived == backend.derived_categories
    statuses = backend.coverage()["status"]
    assert set(derived) == set(statuses[statuses == "derived"].index)
    for cat, rule in derived.items():
        sources = backend.info["categories"][cat]["from"]
        assert all(s in rule for s in sources)
        assert all(s in CATEGORIES for s in sources)


def test_crosstab_and_heatmap_label_derived_columns(results):
    table = modkit.crosstab(results, "group")
    assert table.attrs["derived"] == results.attrs["derived"]
    fig = heatmap(table)
    labels = list(fig.data[0].x)
    for cat in CATEGORIES:
        expected = f"{cat} (derived)" if cat in results.attrs["derived"] else cat
        assert expected in labels
    assert "derived, not independent" in fig.layout.xaxis.title.text


def test_crosstab_of_a_subset_keeps_only_its_derived_columns(results):
    table = modkit.crosstab(results, "group", categories=["violence", "harassment"])
    assert "derived" not in table.attrs
    assert "(derived)" not in " ".join(heatmap(table).data[0].x)


def test_frames_without_the_note_are_labelled_plainly():
    frame = pd.DataFrame({"group": ["a", "b"], "harassment/threatening": [0.2, 0.4]})
    fig = heatmap(modkit.crosstab(frame, "group"))
    assert list(fig.data[0].x) == ["harassment/threatening"]


def test_coverage_says_where_derived_scores_come_from_and_each_heads_limits():
    cov = LocalBackend().coverage()
    derived = cov[cov["status"] == "derived"]
    assert derived["derived_from"].notna().all() and len(derived) >= 1
    assert cov.loc[cov["status"] == "trained", "derived_from"].isna().all()
    assert cov["limits"].str.len().gt(0).all()
