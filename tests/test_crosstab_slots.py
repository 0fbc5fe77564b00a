"""Rows of templates that lack a slot never show up in cross-tabs, gaps or the report.

As pandas' ``groupby(dropna=True)``: such rows (NaN, or the blank a CSV round trip leaves)
are dropped and counted in ``attrs``; in a template that has the slot, ``""`` stays a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit.cli import main

VALUES = ["women", "men", "Jews", "Muslims"]


@st.composite
def template_results(draw):
    """Scored rows of templates, some with the slot ``group`` and some without."""
    n_templates = draw(st.integers(1, 5))
    rows = []
    for t in range(n_templates):
        has = draw(st.booleans())
        for _ in range(draw(st.integers(1, 6))):
            group = draw(st.sampled_from(VALUES)) if has else draw(st.sampled_from([None, ""]))
            rows.append(
                {
                    "template_id": f"t{t}",
                    "text": f"text {len(rows)}",
                    "group": group,
                    "violence": draw(st.floats(0, 1)),
                    "error": draw(st.sampled_from(["", "", "", "HTTP 500"])),
                }
            )
    return pd.DataFrame(rows)


def _lacking(frame: pd.DataFrame) -> pd.Series:
    filled = frame["group"].fillna("").astype(str) != ""
    return ~filled.groupby(frame["template_id"]).transform("any")


@settings(max_examples=120, deadline=None)
@given(template_results(), st.booleans())
def test_rows_lacking_the_slot_never_appear_and_are_counted(frame, round_trip):
    if round_trip:  # a CSV round trip turns a missing slot into ""
        frame = frame.assign(group=frame["group"].fillna(""))
    scored = frame[frame["error"] == ""]
    lacking = _lacking(scored)
    kept = scored[~lacking]
    if kept.empty:
        return
    table = modkit.crosstab(frame, "group", ["mean", "count"])
    assert set(table.index) == set(kept["group"])
    assert "" not in table.index and not table.index.isna().any()
    assert table.attrs["n_missing_by"] == int(lacking.sum())
    assert table.attrs["n_excluded"] == int((frame["error"] != "").sum())
    expected = kept.groupby("group", sort=False)["violence"].mean()
    np.testing.assert_allclose(
        table[("mean", "violence")].to_numpy(), expected.loc[table.index].to_numpy()
    )
    long = modkit.crosstab(frame, ["template_id", "group"], long=True)
    assert set(long["template_id"]) == set(kept["template_id"])
    gap = modkit.counterfactual_gap(frame, "group", categories=["violence"])
    assert set(gap["template_id"]) <= set(kept["template_id"])
    assert gap.attrs["n_missing_slot"] == int(lacking.sum())


def test_an_empty_alternative_in_a_template_with_the_slot_stays_a_value():
    frame = pd.DataFrame(
        {
            "template_id": ["a", "a", "b", "b"],
            "tone": ["", "really", "", ""],  # template a has {|really}; b lacks the slot
            "violence": [0.1, 0.3, 0.9, 0.9],
        }
    )
    table = modkit.crosstab(frame, "tone")
    assert table.index.tolist() == ["", "really"]
    assert table.attrs["n_missing_by"] == 2
    assert table.loc["", "violence"] == pytest.approx(0.1)


@pytest.fixture
def expanded(tmp_path):
    prompts = modkit.expand(["I hate {group: women|men}.", "Hello there {name: Bob|Al}."])
    results = prompts.assign(violence=[0.1, 0.2, 0.3, 0.4], error="")
    path = tmp_path / "scores.csv"
    modkit.write_table(results, path)
    return path


def test_cli_crosstab_drops_and_counts_templates_without_the_slot(expanded, capsys):
    assert main(["crosstab", str(expanded), "--by", "group"]) == 0
    out, err = capsys.readouterr()
    rows = [line.split()[0] for line in out.splitlines()[2:]]
    assert rows == ["women", "men"]
    assert "modkit crosstab: 2 scored rows have no group value" in err
    assert main(["gap", str(expanded), "--slot", "group"]) == 0
    assert "modkit gap: 2 scored rows have no group value" in capsys.readouterr().err


def test_html_report_says_how_many_rows_lack_the_slot(expanded):
    pytest.importorskip("plotly")
    from modkit.plots import html_report

    page = html_report(modkit.read_table(expanded), "group")
    assert "2 scored rows have no group value" in page


def test_bias_metrics_never_make_a_subgroup_of_rows_without_one(tmp_path, capsys):
    frame = pd.DataFrame(
        {
            "target_ident": ["women", "women", "men", "men", "", None, "", "women"],
            "label": [1, 0, 1, 0, 1, 0, 0, 1],
            "hate": [0.9, 0.2, 0.8, 0.3, 0.7, 0.1, 0.4, 0.6],
        }
    )
    bias = modkit.bias_metrics(frame, "target_ident", "label", "hate", bootstrap=0)
    assert bias["subgroup"].tolist() == ["women", "men"]
    assert bias.attrs["n_missing_by"] == 3
    path = tmp_path / "b.csv"
    frame.to_csv(path, index=False)
    assert main(["bias", str(path), "--by", "target_ident", "--category", "hate"]) == 0
    out, err = capsys.readouterr()
    assert "modkit bias: 3 rows have no target_ident value" in err
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["women", "men"]
