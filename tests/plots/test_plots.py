"""modkit.plots: figures build, carry the right numbers, and render with no CDN."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit import (
    InputError,
    bias_metrics,
    counterfactual_gap,
    crosstab,
)

go = pytest.importorskip("plotly.graph_objects")
pio = pytest.importorskip("plotly.io")

from _fakes import HashBackend  # noqa: E402

from modkit import plots  # noqa: E402

GROUPS = ["woman", "man", "Jew", "Christian", "baby"]


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    rows = [
        {"template_id": t, "group": g, "text": f"{t} about a {g} #{k}", "label": int(t == "hurt")}
        for t in ("hurt", "joke")
        for g in GROUPS
        for k in range(4)
    ]
    rows.append({"template_id": "hurt", "group": "man", "text": "FAIL", "label": 1})
    return modkit.moderate(pd.DataFrame(rows), backend=HashBackend(), cache=None, progress=False)


def _z(fig):
    return np.array(
        [[np.nan if v is None else v for v in row] for row in fig.data[0].z], dtype=float
    )


def test_heatmap_z_equals_crosstab(results):
    table = crosstab(results, "group", "p95")
    fig = plots.heatmap(table)
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    np.testing.assert_allclose(_z(fig), table.to_numpy(float))
    assert list(fig.data[0].x) == list(table.columns)
    assert list(fig.data[0].y) == GROUPS
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0.0, 1.0)
    assert "p95" in fig.layout.title.text


def test_heatmap_multiindex_rows_and_counts(results):
    table = crosstab(results, ["template_id", "group"], "count")
    fig = plots.heatmap(table)
    assert fig.data[0].y[0] == "hurt · woman"
    np.testing.assert_array_equal(_z(fig), table.to_numpy(float))
    assert fig.data[0].zmax is None  # counts use the data range


def test_heatmap_from_long_form(results):
    long = crosstab(results, "group", ["mean", "max"], long=True)
    fig = plots.heatmap(long[long["stat"] == "max"])
    np.testing.assert_allclose(_z(fig), crosstab(results, "group", "max").to_numpy(float))
    with pytest.raises(InputError, match="several stats"):
        plots.heatmap(long)
    with pytest.raises(InputError, match="several stats"):
        plots.heatmap(crosstab(results, "group", ["mean", "max"]))


def test_heatmap_nan_cells_become_none(results):
    table = crosstab(results, "group", "std")
    table.iloc[0, 0] = np.nan
    fig = plots.heatmap(table)
    assert fig.data[0].z[0][0] is None


def test_score_strip(results):
    fig = plots.score_strip(results, "group", "violence", threshold=0.5)
    assert [t.name for t in fig.data] == GROUPS
    ok = results[results["error"] == ""]
    for trace in fig.data:
        expected = ok.loc[ok["group"] == trace.name, "violence"].tolist()
        assert list(trace.y) == expected
        assert trace.boxpoints == "all"
        assert len(trace.text) == len(expected)
    assert "1 unscored rows excluded" in fig.layout.title.text
    assert fig.layout.shapes[0].y0 == 0.5


def test_counterfactual_gap_chart(results):
    gap = counterfactual_gap(results, "group")
    fig = plots.counterfactual_gap_chart(gap, top=5)
    by_name = {t.name: t for t in fig.data}
    top = gap.nlargest(5, "gap")
    assert list(by_name["max"].x) == pytest.approx(top["max_score"].tolist())
    assert list(by_name["min"].text) == top["min_value"].tolist()
    assert len(by_name["max"].y) == 5
    with pytest.raises(InputError, match="detail=False"):
        plots.counterfactual_gap_chart(counterfactual_gap(results, "group", detail=True))


def test_bias_chart(results):
    bias = bias_metrics(results, "group", "label", "violence", threshold=0.5)
    fig = plots.bias_chart(bias)
    assert [t.name for t in fig.data] == ["subgroup_auc", "bpsn_auc", "bnsp_auc"]
    for trace in fig.data:
        assert list(trace.y) == pytest.approx(bias[trace.name].tolist())
        assert list(trace.x) == GROUPS
    rates = plots.bias_chart(bias, metrics=("fpr", "fnr"))
    assert list(rates.data[1].y) == pytest.approx(bias["fnr"].tolist())
    with pytest.raises(InputError, match="lacks"):
        plots.bias_chart(bias, metrics=("gini",))


def _script_srcs(html: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']([^\"']+)", html, flags=re.I)


def test_html_export_embeds_plotlyjs_without_cdn(results):
    fig = plots.heatmap(crosstab(results, "group"))
    html = pio.to_html(fig, include_plotlyjs=True)
    assert _script_srcs(html) == []
    assert len(html) > 1_000_000  # plotly.js itself is inside


def test_use_offline_renderer_has_no_cdn(results):
    before = pio.renderers.default
    try:
        name = plots.use_offline_renderer()
        assert pio.renderers.default == name
        assert "connected" not in name and "cdn" not in name
        fig = plots.bias_chart(bias_metrics(results, "group", "label", "hate"))
        bundle = {}
        for part in name.split("+"):
            bundle.update(pio.renderers[part].to_mimebundle(fig.to_dict()))
        assert "application/vnd.plotly.v1+json" in bundle
        assert _script_srcs(bundle["text/html"]) == []
        assert "mathjax" not in bundle["text/html"].lower()
    finally:
        pio.renderers.default = before


def test_figures_never_show(results, monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("show() called")

    monkeypatch.setattr(go.Figure, "show", boom)
    monkeypatch.setattr(pio, "show", boom)
    plots.heatmap(crosstab(results, "group"))
    plots.score_strip(results, "group", "hate")
    plots.counterfactual_gap_chart(counterfactual_gap(results, "group"))
    plots.bias_chart(bias_metrics(results, "group", "label", "hate"))


def test_missing_plotly_gives_install_hint(results, monkeypatch):
    for name in ("plotly", "plotly.graph_objects", "plotly.io"):
        monkeypatch.setitem(sys.modules, name, None)  # makes "import plotly" fail
    with pytest.raises(ImportError, match=r"pip install 'modkit\[notebook\]'"):
        plots.heatmap(crosstab(results, "group"))
    with pytest.raises(ImportError, match="needs plotly"):
        plots.use_offline_renderer()


def test_axis_titles_come_from_the_data(results):
    grid = crosstab(results, ["template_id", "group"], "mean", categories=["hate"])
    fig = plots.heatmap(grid["hate"].unstack("group"))
    assert fig.layout.xaxis.title.text == "group"  # the columns' name, not "category"
    assert fig.layout.yaxis.title.text == "template_id"
    assert plots.heatmap(crosstab(results, "group", "mean")).layout.xaxis.title.text == "category"
    bias = bias_metrics(results, "group", "label", "violence", threshold=0.5)
    chart = plots.bias_chart(bias, metrics=("fpr", "fnr"))
    assert chart.layout.xaxis.title.text == "group"
    assert chart.layout.yaxis.title.text == "rate"
    assert plots.bias_chart(bias).layout.yaxis.title.text == "AUC"
    gap = counterfactual_gap(results, "group", categories=["hate"])
    assert plots.counterfactual_gap_chart(gap).layout.xaxis.title.text == "hate score"


def test_bias_chart_sorted_like_its_table_with_a_fixed_height(results):
    bias = bias_metrics(results, "group", "label", "violence", threshold=0.2)
    table = bias.sort_values("fpr", ascending=False, na_position="last", kind="stable")
    fig = plots.bias_chart(bias, metrics=("fpr", "fnr"), sort_by="fpr")
    assert list(fig.data[0].x) == table["subgroup"].astype(str).tolist()
    assert list(fig.data[0].y) == pytest.approx(table["fpr"].tolist(), nan_ok=True)
    assert fig.layout.height == 420
    assert plots.bias_chart(bias, height=300).layout.height == 300
    with pytest.raises(InputError, match="sort_by"):
        plots.bias_chart(bias, sort_by="nope")


def test_labels_are_not_clipped_and_numbers_share_one_format(results):
    gap = counterfactual_gap(results, "group")
    fig = plots.counterfactual_gap_chart(gap, top=5)
    assert all(t.cliponaxis is False for t in fig.data if t.mode == "markers+text")
    strip = plots.score_strip(results, "group", "hate", threshold=0.5)
    (note,) = strip.layout.annotations
    assert note.text == "threshold 0.500"
    assert strip.layout.height == 420
    hm = plots.heatmap(crosstab(results, "group", "mean"))
    assert hm.data[0].texttemplate == "%{z:.3f}" and ":.3f}" in hm.data[0].hovertemplate
