"""``modkit fit``, ``modkit apply`` and ``modkit validate`` end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modkit.cli import main
from modkit.thresholds import fit_thresholds, load_threshold_file, load_thresholds


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    y = (rng.random((n, 2)) < 0.3).astype(float)
    y[rng.random((n, 2)) < 0.1] = np.nan
    s = np.where(y == 1, rng.beta(4, 2, (n, 2)), rng.beta(1, 4, (n, 2))).round(4)
    ids = [f"x{i}" for i in range(n)]
    scores = pd.DataFrame(
        {
            "id": ids,
            "text": [f"t{i}" for i in range(n)],
            "violence": s[:, 0],
            "self-harm": s[:, 1],
            "model": "omni-moderation-2024-09-26",
        }
    )
    labels = pd.DataFrame({"id": ids, "violence": y[:, 0], "self-harm": y[:, 1]})
    scores_path, labels_path = tmp_path / "scores.csv", tmp_path / "labels.csv"
    scores.to_csv(scores_path, index=False)
    labels.to_csv(labels_path, index=False)  # NaN -> blank cells
    return scores, labels, scores_path, labels_path


def test_fit_writes_the_same_thresholds_as_the_python_api(tables, tmp_path, capsys):
    scores, labels, sp, lp = tables
    out = tmp_path / "thresholds.json"
    code = main(
        [
            "fit",
            str(sp),
            str(lp),
            "-o",
            str(out),
            "--objective",
            "precision>=0.9",
            "--review",
            "recall>=0.95",
            "--objective-for",
            "self-harm=f1",
            "--daily-volume",
            "1000",
            "--bootstrap",
            "200",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "violence" in printed and "out-of-fold" in printed and "review queue" in printed
    got = load_thresholds(out)
    want = fit_thresholds(
        scores,
        labels[["violence", "self-harm"]],
        {"*": "precision>=0.9", "self-harm": "f1"},
        "recall>=0.95",
        daily_volume=1000,
        bootstrap=200,
    )
    assert got.block == want.block and got.review == want.review
    assert got["self-harm"].objective == "f1"
    assert got.model == "omni-moderation-2024-09-26"
    assert got["violence"].out_of_fold == want["violence"].out_of_fold


def test_fit_joins_on_id_when_rows_are_shuffled(tables, tmp_path):
    _, labels, sp, lp = tables
    shuffled = tmp_path / "shuffled.jsonl"
    labels.sample(frac=1, random_state=1).to_json(shuffled, orient="records", lines=True)
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["fit", str(sp), str(lp), "-o", str(a), "--objective", "f1"]) == 0
    assert main(["fit", str(sp), str(shuffled), "-o", str(b), "--objective", "f1"]) == 0
    ta, tb = load_thresholds(a), load_thresholds(b)
    assert ta.block == tb.block and ta.labels_sha256 == tb.labels_sha256


def test_bad_label_value_names_file_row_and_column(tables, tmp_path, capsys):
    _, labels, sp, lp = tables
    bad = labels.astype(object).where(labels.notna(), "")
    bad.loc[16, "violence"] = 2  # data row 17, line 18 of the CSV
    bad.to_csv(lp, index=False)
    code = main(["fit", str(sp), str(lp), "-o", str(tmp_path / "t.json"), "--objective", "f1"])
    assert code == 1
    err = capsys.readouterr().err
    assert (
        f"{lp} row 17 (line 18) column 'violence': label 2 is not 1/0, true/false, yes/no or blank"
        in err
    )


def test_other_input_errors(tables, tmp_path, capsys):
    scores, labels, sp, lp = tables
    out = str(tmp_path / "t.json")
    short = tmp_path / "short.csv"
    labels.drop(columns="id").head(10).to_csv(short, index=False)
    assert main(["fit", str(sp), str(short), "-o", out, "--objective", "f1"]) == 1
    assert "has 10 rows but" in capsys.readouterr().err
    assert main(["fit", str(sp), str(lp), "-o", out, "--objective", "precision>=2"]) == 1
    assert "'precision>=2'" in capsys.readouterr().err
    assert (
        main(
            [
                "fit",
                str(sp),
                str(lp),
                "-o",
                out,
                "--objective",
                "f1",
                "--objective-for",
                "violense=f1",
            ]
        )
        == 1
    )
    assert "unknown category 'violense'" in capsys.readouterr().err
    scores.assign(
        violence=scores["violence"].astype(object).where(scores.index != 4, "high")
    ).to_csv(sp, index=False)
    assert main(["fit", str(sp), str(lp), "-o", out, "--objective", "f1"]) == 1
    assert "row 5 (line 6) column 'violence': score 'high' is not a number" in (
        capsys.readouterr().err
    )


def test_merge_into_keeps_the_other_profile(tables, tmp_path):
    _, _, sp, lp = tables
    first, both = tmp_path / "in.json", tmp_path / "both.json"
    assert main(["fit", str(sp), str(lp), "-o", str(first), "--objective", "f1"]) == 0
    assert (
        main(
            [
                "fit",
                str(sp),
                str(lp),
                "-o",
                str(both),
                "--objective",
                "recall>=0.9",
                "--profile",
                "output",
                "--merge-into",
                str(first),
            ]
        )
        == 0
    )
    f = load_threshold_file(both)
    assert set(f.profiles) == {"input", "output"}
    assert f["input"].block == load_thresholds(first).block
    assert f["output"]["violence"].objective == "recall>=0.9"


def test_apply_and_validate(tables, tmp_path, capsys):
    scores, _, sp, lp = tables
    th = tmp_path / "t.json"
    assert (
        main(
            [
                "fit",
                str(sp),
                str(lp),
                "-o",
                str(th),
                "--objective",
                "f1",
                "--review",
                "recall>=0.95",
            ]
        )
        == 0
    )
    out = tmp_path / "decisions.csv"
    assert main(["apply", str(th), str(sp), "-o", str(out)]) == 0
    got = pd.read_csv(out, keep_default_na=False)
    want = load_thresholds(th).apply(scores)
    assert list(got["id"]) == list(scores["id"])
    assert list(got["action"]) == list(want["action"])
    assert list(got["action:violence"]) == list(want["action:violence"])
    capsys.readouterr()
    assert main(["validate", str(th)]) == 0
    assert "ok (schema version" in capsys.readouterr().err
    doc = json.loads(th.read_text())
    doc["profiles"]["input"]["categories"]["violence"]["block"] = 3
    doc["profiles"]["input"]["categories"]["violence"]["colour"] = "red"
    th.write_text(json.dumps(doc))
    assert main(["validate", str(th)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 2
    assert any(
        line.startswith(
            f"modkit validate: error: {th}: $.profiles.input.categories.violence.block: 3 is out of"
        )
        for line in lines
    )
    assert any("categories.violence.colour: unknown key" in line for line in lines)
    assert main(["apply", str(th), str(sp), "-o", str(out)]) == 1


def test_fit_cli_writes_the_intervals_that_hold(tables, tmp_path, capsys):
    # Issue 18: the file says what each interval is; out_of_fold (the procedure's
    # estimate) claims none, selection_ci bounds the exported threshold and is never a
    # point (a threshold of None gets none); --method holm uses Holm's grid.
    _, _, sp, lp = tables
    out = tmp_path / "thresholds.json"
    args = ["fit", str(sp), str(lp), "-o", str(out), "--bootstrap", "40", "--confidence", "0.9"]
    code = main([*args, "--objective", "precision>=0.6", "--method", "holm"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "no interval" in printed and "joined with exact" in printed
    doc = json.loads(out.read_text())
    for cat, entry in doc["profiles"]["input"]["categories"].items():
        assert entry["out_of_fold"]["interval"] == "none", cat
        assert set(entry["out_of_fold"]["ci"].values()) == {None}
        if entry["block"] is None:
            assert entry["selection_ci"] is None
            continue
        sel = entry["selection_ci"]
        assert sel["method"] == "refit-bootstrap-oob+clopper-pearson" and sel["level"] == 0.95
        for m in ("precision", "recall", "fpr"):
            assert sel[m][0] < sel[m][1], (cat, m, sel[m])
    assert any(e["block"] is not None for e in doc["profiles"]["input"]["categories"].values())
