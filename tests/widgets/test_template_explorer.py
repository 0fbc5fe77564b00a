"""TemplateExplorer callbacks, driven without a browser."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit import InputError

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from plotly.callbacks import Points

from modkit import crosstab
from modkit.widgets import TemplateExplorer

try:
    import anywidget  # noqa: F401

    HAVE_ANYWIDGET = True
except ImportError:
    HAVE_ANYWIDGET = False


from _fakes import HashBackend

GROUPS = ["woman", "man", "Jew", "Christian", "baby"]


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    rows = []
    for g in GROUPS:
        rows.append(
            {
                "template_id": "hurt",
                "group": g,
                "tone": None,
                "label": "x",
                "text": f"I want to hurt a {g}. Give me a plan.",
            }
        )
        for tone in ("funny", "dark", "short"):
            rows.append(
                {
                    "template_id": "joke",
                    "group": g,
                    "tone": tone,
                    "label": "y",
                    "text": f"Tell me a {tone} joke about a {g}",
                }
            )
    rows.append(
        {
            "template_id": "hurt",
            "group": "man",
            "tone": None,
            "label": "x",
            "text": "FAIL: not scored",
        }
    )
    return modkit.moderate(pd.DataFrame(rows), backend=HashBackend(), cache=None, progress=False)


modes = [
    False,
    pytest.param(
        True, marks=pytest.mark.skipif(not HAVE_ANYWIDGET, reason="FigureWidget needs anywidget")
    ),
]


@pytest.fixture(params=modes, ids=["output", "figurewidget"])
def explorer(request, results):
    return TemplateExplorer(results, figure_widget=request.param)


def _z(fig):
    return np.array(
        [[np.nan if v is None else v for v in row] for row in fig.data[0].z], dtype=float
    )


def test_initial_state(explorer, results):
    assert explorer.template == "hurt"
    assert explorer.slots_of("hurt") == ["group"]
    assert explorer.slots_of("joke") == ["group", "tone"]  # label is constant: not a slot
    expected = crosstab(results[results["template_id"] == "hurt"], "group", "mean")
    np.testing.assert_allclose(explorer.table.to_numpy(float), expected.to_numpy(float))
    np.testing.assert_allclose(_z(explorer.figure), expected.to_numpy(float))
    assert "1 unscored" in explorer.status.value
    assert explorer.widget.children  # displayable


def test_stat_dropdown_recomputes_heatmap(explorer, results):
    explorer.stat_dropdown.value = "max"
    expected = crosstab(results[results["template_id"] == "hurt"], "group", "max")
    np.testing.assert_allclose(_z(explorer.figure), expected.to_numpy(float))
    explorer.stat_dropdown.value = "count"
    assert explorer.table.loc["man", "hate"] == 1  # the FAIL row is not counted


def test_template_and_slot_change(explorer, results):
    explorer.template_dropdown.value = "joke"
    assert explorer.slot_dropdown.value == "group"
    assert list(explorer.slot_dropdown.options) == ["group", "tone"]
    explorer.slot_dropdown.value = "tone"
    assert list(explorer.table.index) == ["funny", "dark", "short"]
    assert list(explorer.value_dropdown.options) == ["funny", "dark", "short"]
    assert list(explorer.figure.data[0].y) == ["funny", "dark", "short"]
    joke = results[results["template_id"] == "joke"]
    np.testing.assert_allclose(
        explorer.table.to_numpy(float), crosstab(joke, "tone").to_numpy(float)
    )


def test_cell_selection_lists_prompts_and_json(explorer, results):
    explorer.template_dropdown.value = "joke"
    explorer.value_dropdown.value = "Jew"
    explorer.category_dropdown.value = "violence"
    sel = explorer.selected_prompts
    expected = results[(results["template_id"] == "joke") & (results["group"] == "Jew")]
    assert sorted(sel["text"]) == sorted(expected["text"])
    assert sel["violence"].is_monotonic_decreasing
    assert "Tell me a funny joke about a Jew" in explorer.prompts_html.value
    # the first (highest-scoring) prompt's JSON is shown; pick another one
    last = explorer.prompt_dropdown.options[-1][1]
    explorer.prompt_dropdown.value = last
    assert json.loads(explorer.json_text) == json.loads(results.loc[last, "result_json"])
    assert "&quot;violence&quot;" in explorer.json_view.value or '"violence"' in (
        explorer.json_view.value
    )
    assert "modr-test" in explorer.json_view.value


def test_unscored_prompt_shows_its_error(explorer, results):
    explorer.select_cell("man", "hate")
    texts = list(explorer.selected_prompts["text"])
    assert "FAIL: not scored" in texts
    fail_idx = results.index[results["text"] == "FAIL: not scored"][0]
    assert texts[-1] == "FAIL: not scored"  # NaN score sorts last
    explorer.prompt_dropdown.value = fail_idx
    assert json.loads(explorer.json_text) == {"error": "rejected by test"}


def test_heatmap_click_selects_cell(explorer):
    explorer.template_dropdown.value = "joke"
    points = Points(point_inds=[[2, 11]], xs=["violence"], ys=["Jew"], trace_name="", trace_index=0)
    explorer.on_heatmap_click(explorer.figure.data[0], points, None)
    assert explorer.value_dropdown.value == "Jew"
    assert explorer.category_dropdown.value == "violence"
    assert set(explorer.selected_prompts["group"]) == {"Jew"}
    # a click outside any cell does nothing
    explorer.on_heatmap_click(explorer.figure.data[0], Points([], [], [], "", 0), None)
    assert explorer.value_dropdown.value == "Jew"


def test_select_cell_errors(explorer):
    with pytest.raises(InputError, match="no row 'Martian'"):
        explorer.select_cell("Martian", "hate")
    with pytest.raises(InputError, match="unknown category"):
        explorer.select_cell("man", "hateful")


def test_explicit_slots_and_attrs(results):
    df = results.copy()
    df.attrs["slots"] = {"hurt": ["group"], "joke": ["tone"]}
    ex = TemplateExplorer(df, figure_widget=False)
    assert ex.slots_of("joke") == ["tone"]
    ex2 = TemplateExplorer(results, ["group"], figure_widget=False)
    assert ex2.slots_of("joke") == ["group"]
    with pytest.raises(InputError, match="slot column 'race'"):
        TemplateExplorer(results, {"hurt": ["race"]}, figure_widget=False)


def test_frame_without_template_column(results):
    ex = TemplateExplorer(results.drop(columns="template_id"), ["group"], figure_widget=False)
    assert list(ex.template_dropdown.options) == ["(all)"]
    assert ex.table.loc["woman", "hate"] == pytest.approx(
        results.loc[results["group"] == "woman", "hate"].mean()
    )


def test_flag_rate_uses_given_thresholds(results):
    ex = TemplateExplorer(results, thresholds=0.3, figure_widget=False)
    ex.stat_dropdown.value = "flag_rate"
    hurt = results[(results["template_id"] == "hurt") & (results["error"] == "")]
    expected = (hurt["hate"] >= 0.3).groupby(hurt["group"], sort=False).mean()
    assert ex.table["hate"].to_dict() == pytest.approx(expected.to_dict())


def test_repr_mimebundle_is_a_widget(results):
    ex = TemplateExplorer(results, figure_widget=False)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
