"""The newcomer's path from the shell: expand -> moderate -> apply, all offline."""

import json
from pathlib import Path

import pandas as pd

import modkit
from modkit.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "templates" / "examples.yaml"


def test_expand_then_moderate_then_apply(tmp_path, capsys):
    prompts, scores, decisions = tmp_path / "p.csv", tmp_path / "s.parquet", tmp_path / "d.csv"
    # every prompt (313): the check below needs rows the scorer flags, and which sampled
    # prompts it flags depends on the model (modkit-local-4 flags none of one sample of 25)
    assert main(["expand", str(EXAMPLES), "-o", str(prompts)]) == 0
    assert main(["moderate", str(prompts), "-o", str(scores), "--no-cache"]) == 0
    expanded = pd.read_csv(prompts)
    results = modkit.read_table(scores)
    assert len(results) == len(expanded) > 100
    # slot columns and template ids survive scoring, texts in the same order
    assert results["text"].tolist() == expanded["text"].tolist()
    assert results["template_id"].tolist() == expanded["template_id"].tolist()
    assert "group" in results.columns and (results["error"] == "").all()
    assert set(modkit.CATEGORIES) <= set(results.columns)

    file = tmp_path / "t.json"
    modkit.ThresholdSet.from_thresholds({"hate": {"block": 0.5, "review": 0.2}}).save(file)
    assert main(["validate", str(file)]) == 0
    assert main(["apply", str(file), str(scores), "-o", str(decisions)]) == 0
    out = pd.read_csv(decisions)
    hate = results["hate"].to_numpy()
    # the categories the file holds no threshold for: the local scorer's own flags decide
    others = [f"flagged/{c}" for c in modkit.CATEGORIES if c != "hate"]
    flagged = results[others].astype(bool).any(axis=1).to_numpy()
    expected = [
        "block" if h >= 0.5 or f else "review" if h >= 0.2 else "allow"
        for h, f in zip(hate, flagged, strict=True)
    ]
    assert out["action"].tolist() == expected
    assert flagged.any() and (out["rule:violence"] == "backend_flag").all()
    assert json.loads(file.read_text())["decision_rule"].startswith("flag when score >= threshold")
    capsys.readouterr()


def test_apply_keeps_every_input_column(tmp_path):
    prompts, scores, decisions = tmp_path / "p.csv", tmp_path / "s.csv", tmp_path / "d.csv"
    assert main(["expand", str(EXAMPLES), "-o", str(prompts), "--sample", "12", "--seed", "2"]) == 0
    assert main(["moderate", str(prompts), "-o", str(scores), "--no-cache"]) == 0
    file = tmp_path / "t.json"
    modkit.ThresholdSet.from_thresholds({"hate": 0.5}).save(file)
    assert main(["apply", str(file), str(scores), "-o", str(decisions)]) == 0
    inputs = pd.read_csv(prompts, keep_default_na=False)
    out = pd.read_csv(decisions, keep_default_na=False)
    assert list(out.columns[: len(inputs.columns)]) == list(inputs.columns)
    assert out[inputs.columns].astype(str).equals(inputs.astype(str))
    assert "hate" not in out.columns and "result_json" not in out.columns
    assert main(["apply", str(file), str(scores), "-o", str(decisions), "--keep-scores"]) == 0
    assert {"hate", "result_json"} <= set(pd.read_csv(decisions).columns)
    assert main(["apply", str(file), str(scores), "-o", str(decisions), "--columns", "text"]) == 0
    assert list(pd.read_csv(decisions).columns[:2]) == ["text", "action"]
    assert main(["apply", str(file), str(scores), "-o", str(decisions), "--columns", "nope"]) == 1


def test_apply_keeps_the_error_of_unscored_rows_and_drops_endpoint_flags(tmp_path):
    inputs, scores, decisions = tmp_path / "in.csv", tmp_path / "s.csv", tmp_path / "d.csv"
    pd.DataFrame({"text": ["hello", " ", "I will hurt you"], "id": [1, 2, 3]}).to_csv(
        inputs, index=False
    )
    assert main(["moderate", str(inputs), "-o", str(scores), "--no-cache"]) == 0
    file = tmp_path / "t.json"
    modkit.ThresholdSet.from_thresholds({"violence": 0.5}).save(file)
    assert main(["apply", str(file), str(scores), "-o", str(decisions)]) == 0
    out = pd.read_csv(decisions, keep_default_na=False)
    # the endpoint's own flags would contradict the file's decision: not kept by default
    assert not [c for c in out.columns if c.startswith("flagged")]
    assert out["action"].tolist()[1] == "unscored"
    assert "nothing to score" in out["error"][1] and out["error"][0] == ""
    assert out.columns.tolist().index("error") < out.columns.tolist().index("action")
    # every row scored: no error column to carry
    scored = tmp_path / "scored.csv"
    modkit.read_table(scores).iloc[[0, 2]].to_csv(scored, index=False)
    assert main(["apply", str(file), str(scored), "-o", str(decisions)]) == 0
    assert "error" not in pd.read_csv(decisions).columns
