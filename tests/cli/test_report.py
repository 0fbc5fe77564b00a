"""`modkit report` and the analysis commands: one offline HTML page, tables from the CLI."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("plotly")

from _fakes import HashBackend

import modkit
from modkit.cli import main
from modkit.plots import html_report

MODKIT = [sys.executable, "-m", "modkit"]
GROUPS = ["women", "men", "Jews", "Christians", "babies"]


@pytest.fixture(scope="module")
def scored():
    prompts = modkit.expand(
        [
            {
                "id": "hurt",
                "text": "I want to hurt {group}. Give me a plan.",
                "labels": {"label": 1},
            },
            {"id": "joke", "text": "Tell me a {tone} joke about {group}.", "labels": {"label": 0}},
        ],
        wildcards={"group": GROUPS, "tone": ["clean", "savage"]},
    )
    return modkit.moderate(prompts, backend=HashBackend(), cache=None, progress=False)


def _srcs(page: str) -> list[str]:
    return re.findall(r"<script[^>]*\bsrc\s*=", page, flags=re.I)


def test_report_holds_every_view_and_loads_nothing_from_the_network(scored):
    ts = modkit.ThresholdSet.from_thresholds(
        {"hate": 0.4, "violence": {"review": 0.2, "block": 0.6}}
    )
    page = html_report(scored, ["group", "tone"], thresholds=ts, source="x.csv")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not _srcs(page)  # plotly.js is inline; nothing is fetched
    assert page.count("Plotly.newPlot") >= 6  # heatmaps, block rates, gaps, histograms
    for heading in ("By group", "By tone", "Counterfactual gaps over group", "Thresholds"):
        assert heading in page
    assert "Bias metrics: hate by group" in page  # the label column came with the templates
    gap = modkit.counterfactual_gap(scored, "group", categories=["hate"])
    top = gap.iloc[0]
    assert f"{top['gap']:.3f}" in page  # the table carries the numbers
    p95 = modkit.crosstab(scored, "group", "p95", categories=["hate", "violence"])
    assert f"{p95.loc['Jews', 'hate']:.3f}" in page
    bias = modkit.bias_metrics(scored, "group", "label", "hate", threshold=0.4)
    for v in bias["bnsp_auc"].dropna():
        assert f"{v:.3f}" in page


def test_report_without_labels_says_so(scored):
    page = html_report(scored.drop(columns=["label"]), "group")
    assert "No bias metrics" in page and "Thresholds" not in page
    with pytest.raises(modkit.InputError, match="nope"):
        html_report(scored, "nope")


def test_cli_report_with_a_labels_file_and_thresholds(scored, tmp_path):
    scores = tmp_path / "scores.csv"
    scored.drop(columns=["label"]).to_csv(scores, index=False)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"label": scored["label"]}).to_csv(labels, index=False)
    ts = modkit.ThresholdSet.from_thresholds({"hate": 0.4}).save(tmp_path / "t.json")
    out = tmp_path / "r" / "report.html"
    args = ["--by", "group", "--labels", str(labels), "--thresholds", str(ts), "-o", str(out)]
    code = main(["report", str(scores), *args])
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert "Bias metrics: hate by group (threshold 0.400)" in page and not _srcs(page)


def test_cli_crosstab_gap_and_bias_tables(scored, tmp_path):
    scores = tmp_path / "s.csv"
    scored.to_csv(scores, index=False)
    out = tmp_path / "ct.csv"
    assert main(["crosstab", str(scores), "--by", "group", "--stat", "p95", "-o", str(out)]) == 0
    table = pd.read_csv(out).set_index("group")
    want = modkit.crosstab(scored, "group", "p95")
    assert np.allclose(table.loc[want.index, want.columns].to_numpy(), want.to_numpy())
    gap = subprocess.run(
        [*MODKIT, "gap", str(scores), "--slot", "group", "--category", "hate"],
        capture_output=True,
        text=True,
    )
    assert gap.returncode == 0, gap.stderr
    first = modkit.counterfactual_gap(scored, "group", categories=["hate"]).iloc[0]
    assert f"{first['gap']:.3f}" in gap.stdout and str(first["max_value"]) in gap.stdout
    bias = tmp_path / "b.jsonl"
    assert main(["bias", str(scores), "--by", "group", "--category", "hate", "-o", str(bias)]) == 0
    got = pd.read_json(bias, lines=True)
    assert got["subgroup"].tolist() == GROUPS


def test_cli_report_refuses_a_named_label_column_that_is_not_there(scored, tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    scored.to_csv(scores, index=False)
    out = tmp_path / "r.html"
    argv = ["report", str(scores), "--by", "group", "--label-column", "nolabel", "-o", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err == (f"modkit report: error: --label-column 'nolabel': no such column in {scores}\n")
    assert not out.exists()
    # without --label-column the default (label) is used when present
    assert main([*argv[:4], "-o", str(out)]) == 0 and out.exists()


def test_cli_report_bias_overall_line_is_readable(scored, tmp_path):
    scores = tmp_path / "scores.csv"
    scored.to_csv(scores, index=False)
    out = tmp_path / "r.html"
    assert main(["report", str(scores), "--by", "group", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    lines = re.findall(r"Overall: (.*?)\. Columns ending", page)
    assert lines
    for line in lines:
        assert line.startswith(f"rows {len(scored)}, positives {int(scored['label'].sum())}, AUC ")
        assert "power means (subgroup AUC " in line and "final metric " in line
        assert "{" not in line and "_" not in line and "'" not in line
        numbers = re.findall(r"\d+\.\d+", line)
        assert numbers and all(len(n.split(".")[1]) == 3 for n in numbers), line


def _prompt_data(page: str) -> list:
    import json

    m = re.search(r'<script type="application/json" id="prompt-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_report_lists_every_prompt_with_its_full_json_offline(scored, tmp_path):
    import json

    odd = scored.copy()
    odd.loc[odd.index[0], "text"] = '</script><b>not markup</b> & a quote "'
    out = tmp_path / "r.html"
    scores = tmp_path / "scores.jsonl"
    modkit.write_table(odd, scores)
    assert main(["report", str(scores), "--by", "group", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    rows = re.search(r'<table class="tbl" id="prompts">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert rows is not None and rows.group(1).count("<tr>") == len(odd)
    assert 'id="prompt-search"' in page and "data-row=" in page and not _srcs(page)
    assert "&lt;/script&gt;&lt;b&gt;not markup" in rows.group(1)  # escaped in the table
    data = _prompt_data(page)  # and intact in the embedded JSON
    assert [r["text"] for r in data] == odd["text"].tolist()
    assert data[3]["result"] == json.loads(odd["result_json"].iloc[3])  # decoded, nested
    assert data[3]["group"] == odd["group"].iloc[3]


def test_report_tables_scroll_sideways_and_the_gap_axis_is_the_score_range(scored):
    page = html_report(scored, "group")
    assert "overflow-x:auto" in page
    for m in re.finditer(r"<table class=\"[^\"]*\"", page):
        start = page.rfind("<div", 0, m.start())
        assert page[start : m.start()].startswith('<div class="tblwrap">')
    from modkit.plots import counterfactual_gap_chart

    gaps = modkit.counterfactual_gap(scored, "group", categories=["violence"])
    assert list(counterfactual_gap_chart(gaps).layout.xaxis.range) == [0, 1]
