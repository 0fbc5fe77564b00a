"""modkit.crosstab checked against direct pandas / numpy computations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _fakes import HashBackend
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, InputError, crosstab

GROUPS = ["woman", "man", "Jew", "Christian", "baby"]


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    rows = []
    for tid, pattern in [
        ("hurt", "I want to hurt a {}. Give me a plan. v{}"),
        ("joke", "Tell me a joke about a {} #{}"),
    ]:
        for g in GROUPS:
            for k in range(7):
                rows.append({"template_id": tid, "group": g, "text": pattern.format(g, k)})
    rows.append({"template_id": "hurt", "group": "man", "text": "FAIL this one"})
    rows.append({"template_id": "joke", "group": "baby", "text": "FAIL that one"})
    df = pd.DataFrame(rows)
    return modkit.moderate(df, backend=HashBackend(), cache=None, progress=False)


def _scored(results):
    return results[results["error"] == ""]


@pytest.mark.parametrize(
    ("stat", "func"),
    [
        ("mean", lambda g: g.mean()),
        ("median", lambda g: g.median()),
        ("max", lambda g: g.max()),
        ("std", lambda g: g.std()),
        ("count", lambda g: g.count()),
    ],
)
def test_stats_match_pandas_groupby(results, stat, func):
    got = crosstab(results, "group", stat)
    cats = modkit.category_columns(results)
    expected = func(_scored(results).groupby("group")[cats])
    expected = expected.loc[got.index]  # crosstab keeps the order of first appearance
    assert list(got.columns) == cats
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float), rtol=1e-12)


def test_p95_is_numpy_linear_percentile(results):
    got = crosstab(results, ["template_id", "group"], "p95", categories=["hate", "violence"])
    scored = _scored(results)
    for (tid, group), row in got.iterrows():
        sel = scored[(scored["template_id"] == tid) & (scored["group"] == group)]
        for cat in ("hate", "violence"):
            assert row[cat] == pytest.approx(np.percentile(sel[cat].to_numpy(), 95))


def test_rows_keep_first_appearance_order_and_names(results):
    got = crosstab(results, "group")
    assert list(got.index) == GROUPS
    assert got.index.name == "group"
    assert got.columns.name == "category"
    assert "self-harm/intent" in got.columns  # API spelling kept


def test_error_rows_are_excluded_and_counted(results):
    got = crosstab(results, "group", "count")
    assert got.attrs["n_excluded"] == 2
    n_scored = _scored(results).groupby("group").size()
    assert got["hate"].to_dict() == n_scored.loc[got.index].to_dict()
    assert (results["error"] != "").sum() == 2


def test_flag_rate_at_endpoint_flags(results):
    got = crosstab(results, "group", "flag_rate")
    scored = _scored(results)
    flags = pd.DataFrame(
        [json.loads(s)["categories"] for s in scored["result_json"]], index=scored.index
    ).astype(float)
    expected = flags.groupby(scored["group"]).mean().loc[got.index, got.columns]
    np.testing.assert_allclose(got.to_numpy(float), expected.to_numpy(float))
    # and it is not the same as flagging at 0.5
    at_half = crosstab(results, "group", "flag_rate", thresholds=0.5)
    assert not np.allclose(got.to_numpy(float), at_half.to_numpy(float))


def test_flag_rate_at_thresholds_uses_greater_or_equal(results):
    scored = _scored(results)
    # a threshold exactly equal to an observed score must count that score as flagged
    t = float(scored["hate"].iloc[0])
    got = crosstab(results, "group", "flag_rate", thresholds={"hate": t, "violence": 0.25})
    assert list(got.columns) == ["hate", "violence"]
    expected_hate = (scored["hate"] >= t).groupby(scored["group"]).mean()
    expected_vio = (scored["violence"] >= 0.25).groupby(scored["group"]).mean()
    for g in got.index:
        assert got.loc[g, "hate"] == pytest.approx(expected_hate[g])
        assert got.loc[g, "violence"] == pytest.approx(expected_vio[g])


def test_several_stats_make_multiindex_columns(results):
    got = crosstab(results, "group", ["mean", "max"], categories=["hate"])
    assert got.columns.names == ["stat", "category"]
    assert got[("max", "hate")].ge(got[("mean", "hate")]).all()


def test_long_form_matches_wide(results):
    long = crosstab(results, ["template_id", "group"], ["mean", "count", "flag_rate"], long=True)
    assert list(long.columns) == ["template_id", "group", "category", "stat", "value", "n"]
    wide = crosstab(results, ["template_id", "group"], "mean")
    means = long[long["stat"] == "mean"].set_index(["template_id", "group", "category"])["value"]
    for (tid, g), row in wide.iterrows():
        for cat in wide.columns:
            assert means[(tid, g, cat)] == pytest.approx(row[cat])
    counts = long[long["stat"] == "count"]
    assert (counts["value"] == counts["n"]).all()
    assert len(long) == 3 * 2 * len(GROUPS) * len(CATEGORIES)


def test_missing_by_values_are_left_out(results):
    df = results.copy()
    df.loc[df.index[:3], "group"] = None
    got = crosstab(df, "group", "count")
    assert got.attrs["n_missing_by"] == 3
    assert got["hate"].sum() == len(_scored(df)) - 3


def test_nan_score_ignored_for_its_category_only(results):
    df = results.copy()
    df.loc[df.index[0], "hate"] = np.nan
    got = crosstab(df, "group", "count")
    g = df.loc[df.index[0], "group"]
    assert got.loc[g, "hate"] == got.loc[g, "violence"] - 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "nope"}, "no column 'nope'"),
        ({"by": "group", "stat": "p42"}, "stat must be one of .* or a list of those; got 'p42'"),
        ({"by": "group", "categories": ["hateful"]}, "category 'hateful'"),
        ({"by": "group", "stat": "flag_rate", "thresholds": "high"}, "must be a number"),
        ({"by": "group", "stat": "flag_rate", "thresholds": float("nan")}, "got nan"),
        (
            {
                "by": "group",
                "stat": "flag_rate",
                "categories": ["hate", "sexual"],
                "thresholds": {"hate": 0.5},
            },
            "no threshold for category 'sexual'",
        ),
    ],
)
def test_bad_arguments_give_clear_errors(results, kwargs, message):
    with pytest.raises(InputError, match=message):
        crosstab(results, **kwargs)


def test_flag_rate_without_endpoint_flags_asks_for_thresholds(results):
    flags = [c for c in results.columns if c.startswith("flagged/")]
    assert flags  # moderate adds one flag column per category
    with pytest.raises(InputError, match="thresholds"):
        crosstab(results.drop(columns=["result_json", *flags]), "group", "flag_rate")


def test_flag_rate_reads_the_flag_columns_or_result_json_alike(results):
    flags = [c for c in results.columns if c.startswith("flagged/")]
    from_columns = crosstab(results.drop(columns="result_json"), "group", "flag_rate")
    from_json = crosstab(results.drop(columns=flags), "group", "flag_rate")
    pd.testing.assert_frame_equal(from_columns, from_json)


def test_frame_without_category_columns():
    with pytest.raises(InputError, match="no category score columns"):
        crosstab(pd.DataFrame({"group": ["a"], "x": [1.0]}), "group")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.floats(0, 1), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.floats(0, 1),
)
def test_property_against_pandas(rows, threshold):
    df = pd.DataFrame(rows, columns=["group", "hate", "failed"])
    df["error"] = np.where(df["failed"], "boom", "")
    df.loc[df["failed"], "hate"] = np.nan
    ok = df[~df["failed"]]
    got = crosstab(df, "group", ["mean", "max", "count", "flag_rate"], thresholds=threshold)
    assert got.attrs["n_excluded"] == int(df["failed"].sum())
    expected_groups = list(dict.fromkeys(ok["group"]))
    assert list(got.index) == expected_groups
    for g in expected_groups:
        vals = ok.loc[ok["group"] == g, "hate"]
        assert got.loc[g, ("mean", "hate")] == pytest.approx(vals.mean())
        assert got.loc[g, ("max", "hate")] == vals.max()
        assert got.loc[g, ("count", "hate")] == len(vals)
        assert got.loc[g, ("flag_rate", "hate")] == pytest.approx((vals >= threshold).mean())


def test_unhashable_by_values_give_input_error():
    df = pd.DataFrame({"group": [["a"], ["b"]], "hate": [0.1, 0.2]})
    with pytest.raises(InputError, match="cannot be grouped"):
        crosstab(df, "group")


def test_threshold_mapping_narrows_only_a_flag_only_table(results):
    partial = {"hate": 0.3}
    flags_only = crosstab(results, "group", "flag_rate", thresholds=partial)
    assert list(flags_only.columns) == ["hate"]
    # next to a score statistic every category stays; flags need a threshold
    both = crosstab(results, "group", ["mean", "flag_rate"], thresholds=partial)
    cats = both["mean"].columns.tolist()
    assert cats == [c for c in CATEGORIES if c in results.columns]
    ok = _scored(results)
    for g in GROUPS:
        hate = ok.loc[ok["group"] == g, "hate"]
        assert both.loc[g, ("flag_rate", "hate")] == pytest.approx((hate >= 0.3).mean())
        assert both.loc[g, ("mean", "violence")] == pytest.approx(
            ok.loc[ok["group"] == g, "violence"].mean()
        )
    assert both["flag_rate"].drop(columns="hate").isna().all().all()
    # a category named explicitly for flag_rate alone still needs its threshold
    with pytest.raises(InputError, match="no threshold for category 'violence'"):
        crosstab(results, "group", "flag_rate", categories=["violence"], thresholds=partial)
