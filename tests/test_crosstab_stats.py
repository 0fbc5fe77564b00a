"""Cross-tab statistics are a registry: names, callables, p99, and one list for plots/widgets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modkit import InputError, Statistic, crosstab, register_statistic
from modkit._crosstab import STATISTICS


def _frame(scores: list[float], groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"group": groups, "hate": scores, "violence": [1 - s for s in scores], "error": ""}
    )


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.floats(0, 1, allow_nan=False)),
        min_size=1,
        max_size=40,
    )
)
def test_p99_is_numpy_linear_percentile(rows):
    df = _frame([s for _, s in rows], [g for g, _ in rows])
    got = crosstab(df, "group", "p99")
    for g, part in df.groupby("group"):
        for c in ("hate", "violence"):
            want = np.percentile(part[c].to_numpy(), 99, method="linear")
            assert got.loc[g, c] == pytest.approx(want, rel=1e-12, abs=1e-15)


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("xyz"),
            st.one_of(st.floats(0, 1, allow_nan=False), st.just(float("nan"))),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_callable_stat_gets_the_non_nan_scores_of_each_cell(rows):
    df = _frame([s for _, s in rows], [g for g, _ in rows])
    seen: list[np.ndarray] = []

    def spread(scores: np.ndarray) -> float:
        seen.append(scores)
        return float(scores.max() - scores.min())

    got = crosstab(df, "group", spread)
    assert got.attrs["stat"] == "spread"
    assert all(a.size and not np.isnan(a).any() for a in seen)
    for g, part in df.groupby("group"):
        col = part["hate"].dropna()
        want = col.max() - col.min() if len(col) else np.nan
        np.testing.assert_equal(got.loc[g, "hate"], want)


def test_a_callable_matches_the_named_statistic():
    df = _frame([0.1, 0.5, 0.9, 0.3, 0.7], list("aabbb"))
    pd.testing.assert_frame_equal(
        crosstab(df, "group", np.median), crosstab(df, "group", "median"), check_like=True
    )
    long = crosstab(df, "group", ["mean", np.median], long=True)
    assert set(long["stat"]) == {"mean", "median"}
    assert (long.loc[long["stat"] == "median", "n"] == [2, 2, 3, 3]).all()


def test_unknown_or_repeated_stats_raise():
    df = _frame([0.1], ["a"])
    with pytest.raises(InputError, match=r"stat must be one of \{.*'p99'.*\}, a callable"):
        crosstab(df, "group", "p98")
    with pytest.raises(InputError, match=r"stat\[1\] must be one of"):
        crosstab(df, "group", ["mean", 3])
    with pytest.raises(InputError, match="twice"):
        crosstab(df, "group", ["p99", "p99"])


@pytest.fixture
def iqr():
    stat = Statistic(
        "iqr",
        lambda g: g.scores.quantile(0.75) - g.scores.quantile(0.25),
        range=(0.0, 1.0),
        description="interquartile range",
    )
    register_statistic(stat)
    yield stat
    del STATISTICS["iqr"]


def test_a_registered_statistic_is_one_change_for_crosstab_plots_and_widgets(iqr):
    pytest.importorskip("plotly")
    from modkit.plots import heatmap

    df = _frame([0.1, 0.5, 0.9, 0.3], list("aaab"))
    got = crosstab(df, "group", "iqr")
    assert got.loc["a", "hate"] == pytest.approx(0.4)
    trace = heatmap(got).data[0]
    assert (trace.zmin, trace.zmax) == (0.0, 1.0)  # the registry's range, not a 2nd list
    pytest.importorskip("ipywidgets")
    from modkit.widgets import TemplateExplorer

    explorer = TemplateExplorer(df.assign(template_id="t", text="x"), slot_columns=["group"])
    assert "iqr" in explorer.stat_dropdown.options
    assert "p99" in explorer.stat_dropdown.options


def test_heatmap_scale_follows_the_registry():
    pytest.importorskip("plotly")
    from modkit.plots import heatmap

    df = _frame([0.1, 0.5, 0.9, 0.3], list("aaab"))
    assert heatmap(crosstab(df, "group", "p99")).data[0].zmax == 1.0
    count = heatmap(crosstab(df, "group", "count")).data[0]
    assert count.zmax is None
    assert count.texttemplate == "%{z:.0f}"
