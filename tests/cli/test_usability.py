"""CLI defects a new user found: each test goes through ``modkit.cli.main``."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from modkit.cli import main


@pytest.fixture
def fit_tables(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    y = (rng.random(n) < 0.3).astype(int)
    s = np.where(y == 1, rng.beta(4, 2, n), rng.beta(1, 4, n)).round(4)
    ids = [f"x{i}" for i in range(n)]
    scores = pd.DataFrame({"id": ids, "text": [f"t{i}" for i in range(n)], "violence": s})
    labels = pd.DataFrame({"id": ids, "text": [f"t{i}" for i in range(n)], "violence": y})
    sp, lp = tmp_path / "scores.csv", tmp_path / "labels.csv"
    scores.to_csv(sp, index=False)
    return sp, lp, labels


def _fit(sp, lp, out, *extra):
    argv = ["fit", str(sp), str(lp), "-o", str(out), "--objective", "f1"]
    return main([*argv, "--bootstrap", "0", "--cv", "2", *extra])


def test_fit_refuses_sdk_spelt_label_column(fit_tables, tmp_path, capsys):
    sp, lp, labels = fit_tables
    labels.assign(self_harm_intent=labels["violence"]).to_csv(lp, index=False)
    out = tmp_path / "t.json"
    assert _fit(sp, lp, out) == 1
    err = capsys.readouterr().err
    assert "'self_harm_intent'" in err and "did you mean 'self-harm/intent'?" in err
    assert not out.exists()


def test_fit_warns_about_unknown_label_column_in_one_line(fit_tables, tmp_path):
    sp, lp, labels = fit_tables
    labels.assign(bogus_cat=1).to_csv(lp, index=False)
    out = tmp_path / "t.json"
    argv = ["fit", str(sp), str(lp), "-o", str(out), "--objective", "f1", "--cv", "2"]
    proc = subprocess.run(
        [sys.executable, "-m", "modkit", *argv, "--bootstrap", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.exists()
    lines = proc.stderr.splitlines()
    assert (
        "modkit: labels columns that are not category keys are ignored: 'bogus_cat' (200 non-empty)"
    ) in lines
    assert "FitWarning" not in proc.stderr and "warnings.warn" not in proc.stderr


def test_serve_refuses_port_out_of_range(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", "99999"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err and "1..65535" in err and "Traceback" not in err


def test_serve_on_busy_port_is_one_line(capsys):
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "modkit", "serve", "--port", str(port), "--no-cache"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last == (
        f"modkit serve: error: cannot listen on 127.0.0.1:{port}: address already in use"
    )
    assert "Traceback" not in proc.stderr and "ERROR" not in proc.stderr


@pytest.mark.parametrize("command", ["fit", "train", "expand"])
def test_negative_seed_is_one_clear_line(command, fit_tables, tmp_path, capsys):
    sp, lp, labels = fit_tables
    labels.to_csv(lp, index=False)
    suite = tmp_path / "suite.txt"
    suite.write_text("hello {a|b}\n", encoding="utf-8")
    argv = {
        "fit": ["fit", str(sp), str(lp), "-o", str(tmp_path / "t.json"), "--objective", "f1"],
        "train": ["train", str(tmp_path / "heads")],
        "expand": ["expand", str(suite), "--sample", "1", "-o", str(tmp_path / "p.csv")],
    }[command]
    assert main([*argv, "--seed", "-1"]) == 1
    err = capsys.readouterr().err
    assert err == f"modkit {command}: error: --seed must be a non-negative integer, got -1\n"


def test_usage_errors_are_one_line_with_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", str(tmp_path / "t.json"), "--format", "toml"])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "usage:" not in captured.err
    assert lines[0].startswith("modkit export: error: argument --format")
    assert "invalid choice: 'toml' (choose from" in lines[0]


def test_lone_surrogate_item_error_has_no_stray_prefix(tmp_path, capsys):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"text": "ok"}\n{"text": "abc\\ud83d"}\n', encoding="utf-8")
    assert main(["moderate", str(src), "-o", str(out), "--no-cache", "--no-progress"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert not rows[0]["error"]
    assert rows[1]["error"] == "lone surrogate U+D83D at character 3 cannot be encoded as UTF-8"


def test_validate_and_gap_hint_the_api_spelling(tmp_path, capsys):
    from modkit.thresholds import ThresholdFile, ThresholdSet

    path = tmp_path / "t.json"
    ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.5})]).save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    cats = doc["profiles"]["input"]["categories"]
    cats["self_harm_intent"] = cats["violence"]
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "categories.self_harm_intent: unknown key; did you mean 'self-harm/intent'?" in err

    scores = tmp_path / "s.csv"
    pd.DataFrame(
        {"text": ["a", "b"], "group": ["x", "y"], "template_id": "t", "violence": [0.1, 0.2]}
    ).to_csv(scores, index=False)
    assert main(["gap", str(scores), "--slot", "group", "--category", "self_harm_intent"]) == 1
    err = capsys.readouterr().err
    assert "'self_harm_intent'" in err and "did you mean 'self-harm/intent'?" in err


@pytest.mark.parametrize("level", ["0", "1", "1.5"])
def test_fit_and_check_confidence_follow_one_rule(level, fit_tables, tmp_path, capsys):
    from modkit.thresholds import ThresholdFile, ThresholdSet

    sp, lp, labels = fit_tables
    labels.to_csv(lp, index=False)
    out = tmp_path / "t.json"
    assert _fit(sp, lp, out, "--confidence", level) == 1
    fit_err = capsys.readouterr().err
    ts = tmp_path / "ts.json"
    ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.5})]).save(ts)
    argv = ["check", str(ts), "--scores", str(sp), "--baseline", str(sp)]
    assert main([*argv, "--confidence", level]) == 1
    check_err = capsys.readouterr().err
    rule = f"confidence must be a number in (0, 1) or None; got {level}"
    assert rule in fit_err and rule in check_err, (fit_err, check_err)


@pytest.mark.parametrize(
    ("command", "name", "want"), [("fit", "t.txt", ".json"), ("report", "x.pdf", ".html")]
)
def test_wrong_output_extension_is_refused_before_any_work(
    command, name, want, fit_tables, tmp_path, capsys
):
    sp, lp, labels = fit_tables
    labels.to_csv(lp, index=False)
    out = tmp_path / name
    argv = {
        "fit": ["fit", str(sp), str(lp), "-o", str(out), "--objective", "f1"],
        "report": ["report", str(sp), "--by", "text", "-o", str(out)],
    }[command]
    assert main(argv) == 1
    ext = name.rsplit(".", 1)[1]
    assert capsys.readouterr().err == (
        f"modkit {command}: error: {out}: unsupported output format '.{ext}'; use {want}\n"
    )
    assert not out.exists()
