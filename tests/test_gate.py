"""`modkit check`: the CI gate fails exactly when a promise, the decisions or a gap break."""

import json
import subprocess
import sys
import warnings
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest

import modkit
from modkit import InputError, check_thresholds
from modkit.cli import main
from modkit.thresholds import CategoryThreshold, ThresholdSet

MODKIT = [sys.executable, "-m", "modkit"]


def _scored(n: int, seed: int, shift: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores for violence and hate with known label distributions; ``shift`` raises the
    negatives' scores (a new snapshot that flags more safe texts)."""
    rng = np.random.default_rng(seed)
    y = rng.random((n, 2)) < 0.3
    s = np.where(y, rng.beta(6, 2, (n, 2)), np.clip(rng.beta(2, 6, (n, 2)) + shift, 0, 1))
    results = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(n)],
            "text": [f"text {i}" for i in range(n)],
            "violence": s[:, 0],
            "hate": s[:, 1],
            "error": "",
        }
    )
    labels = pd.DataFrame({"id": results["id"], "violence": y[:, 0] * 1.0, "hate": y[:, 1] * 1.0})
    return results, labels


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("check")
    results, labels = _scored(3000, seed=0)
    with warnings.catch_warnings():  # hate's review band is clamped to block: FitWarning
        warnings.simplefilter("ignore", modkit.thresholds.FitWarning)
        ts = modkit.fit_thresholds(
            results,
            labels[["violence", "hate"]],
            "precision>=0.9",
            review="recall>=0.9",
            bootstrap=0,
        )
    path = ts.save(tmp / "thresholds.json")
    return ts, path


def test_promises_hold_on_the_same_distribution_and_break_under_a_shift(fitted):
    ts, _ = fitted
    assert {ts[c].status for c in ("violence", "hate")} == {"ok"}
    same, same_labels = _scored(3000, seed=1)
    good = check_thresholds(ts, same, labels=same_labels[["violence", "hate"]], confidence=0.99)
    assert good.ok, good.summary()
    assert {c.name for c in good.checks} == {
        "violence block precision>=0.9",
        "violence review recall>=0.9",
        "hate block precision>=0.9",
        "hate review recall>=0.9",
    }
    shifted, shifted_labels = _scored(3000, seed=2, shift=0.35)
    bad = check_thresholds(
        ts, shifted, labels=shifted_labels[["violence", "hate"]], confidence=0.99
    )
    failed = {c.name for c in bad.failures}
    assert failed == {"violence block precision>=0.9", "hate block precision>=0.9"}
    for c in bad.failures:  # the measured value is the precision at the file's threshold
        flag = shifted[c.name.split()[0]] >= ts[c.name.split()[0]].block
        pos = shifted_labels.loc[flag, c.name.split()[0]] == 1
        assert c.measured == pytest.approx(pos.mean())
        assert c.measured < 0.9


def test_point_estimate_vs_confidence():
    ts = ThresholdSet(
        {"violence": CategoryThreshold(block=0.5, objective="precision>=0.9", status="ok")}
    )
    # 17 of 20 flagged are positives: precision 0.85 misses 0.9 at the point estimate,
    # but 20 items cannot show it broken at 95% confidence
    s = np.r_[np.full(20, 0.9), np.full(30, 0.1)]
    y = np.r_[np.ones(17), np.zeros(3), np.zeros(30)]
    res = pd.DataFrame({"text": [str(i) for i in range(50)], "violence": s})
    lab = pd.DataFrame({"violence": y})
    assert not check_thresholds(ts, res, labels=lab).ok
    assert check_thresholds(ts, res, labels=lab, confidence=0.95).ok


def test_categories_without_a_promise_are_skipped_not_failed():
    ts = ThresholdSet(
        {
            "violence": CategoryThreshold(
                block=None, objective="precision>=0.9", status="infeasible"
            ),
            "hate": CategoryThreshold(block=0.5, objective="f1", status="ok"),
        }
    )
    res, lab = _scored(100, seed=3)
    rep = check_thresholds(ts, res, labels=lab[["violence", "hate"]])
    assert rep.ok and [c.status for c in rep.checks] == ["skip"]
    with pytest.raises(InputError, match="nothing to check"):
        check_thresholds(ts, res)


def test_drift_and_gap_checks():
    ts = ThresholdSet({"hate": CategoryThreshold(block=0.5, review=0.3)})
    groups = ["women", "men", "Jews"]
    old = pd.DataFrame(
        {
            "template_id": "t1",
            "text": [f"joke about {g}" for g in groups],
            "group": groups,
            "hate": [0.10, 0.12, 0.15],
        }
    )
    new = old.assign(hate=[0.10, 0.12, 0.62])  # one group crosses block
    rep = check_thresholds(ts, new, baseline=old, max_changed=0.0, gap_by="group")
    by_kind = {c.kind: c for c in rep.checks}
    assert by_kind["drift"].status == "fail" and by_kind["drift"].measured == pytest.approx(1 / 3)
    assert "allow -> block" in by_kind["drift"].message
    gap = by_kind["gap"]
    assert gap.status == "fail" and gap.measured == pytest.approx(0.52)
    assert gap.limit == pytest.approx(0.05 + 0.05)  # the baseline's gap + tolerance
    assert check_thresholds(ts, old, baseline=old, max_changed=0.0, gap_by="group").ok
    assert not check_thresholds(ts, old, gap_by="group", max_gap=0.04).ok


def test_cli_gate_writes_json_and_junit_and_exits_nonzero(fitted, tmp_path):
    _, path = fitted
    for name, seed, shift in (("same", 1, 0.0), ("shifted", 2, 0.35)):
        res, lab = _scored(3000, seed=seed, shift=shift)
        res.sample(frac=1.0, random_state=0).to_csv(tmp_path / f"{name}.csv", index=False)
        lab.to_csv(tmp_path / f"{name}_labels.csv", index=False)  # matched by id
    common = [str(path), "--confidence", "0.99", "--labels"]
    same = [str(tmp_path / "same_labels.csv"), "--scores", str(tmp_path / "same.csv")]
    ok = main(["check", *common, *same, "--json", str(tmp_path / "ok.json")])
    assert ok == 0 and json.loads((tmp_path / "ok.json").read_text())["ok"] is True
    out = subprocess.run(
        [
            *MODKIT,
            "check",
            *common,
            str(tmp_path / "shifted_labels.csv"),
            *("--scores", str(tmp_path / "shifted.csv"), "--junit", str(tmp_path / "r.xml")),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    assert report["ok"] is False and report["counts"]["fail"] == 2
    assert "FAILED: 2 passed, 2 failed, 0 skipped" in out.stderr
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert sorted(failed) == ["hate block precision>=0.9", "violence block precision>=0.9"]


def test_cli_rescores_a_pinned_suite(tmp_path):
    ts = ThresholdSet({"hate": CategoryThreshold(block=0.5)}, model="rec")
    path = ts.save(tmp_path / "t.json")
    texts = ["a", "b", "c"]
    old_scores = [0.1, 0.2, 0.3]
    new_scores = [0.1, 0.2, 0.7]
    for name, scores in (("old", old_scores), ("new", new_scores)):
        lines = [
            json.dumps(
                {
                    "input": t,
                    "result": {
                        "flagged": False,
                        "categories": {"hate": False},
                        "category_scores": {"hate": s},
                    },
                }
            )
            for t, s in zip(texts, scores, strict=True)
        ]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "suite.csv", index=False)
    base = [str(path), "--suite", str(tmp_path / "suite.csv"), "--backend", "replay", "--no-cache"]
    assert (
        main(
            [
                "check",
                *base,
                "--replay",
                str(tmp_path / "old.jsonl"),
                "--scores-out",
                str(tmp_path / "baseline.csv"),
                "--gap-by",
                "text",
                "--max-gap",
                "1",
                "--json",
                str(tmp_path / "a.json"),
            ]
        )
        == 0
    )
    code = main(
        [
            "check",
            *base,
            "--replay",
            str(tmp_path / "new.jsonl"),
            "--baseline",
            str(tmp_path / "baseline.csv"),
            "--json",
            str(tmp_path / "b.json"),
        ]
    )
    assert code == 1
    (drift,) = json.loads((tmp_path / "b.json").read_text())["checks"]
    assert drift["status"] == "fail" and drift["details"]["transitions"] == {"allow -> block": 1}


def test_cli_errors_are_one_line(tmp_path, capsys):
    path = ThresholdSet({"hate": CategoryThreshold(block=0.5)}).save(tmp_path / "t.json")
    pd.DataFrame({"text": ["a"], "hate": [0.1]}).to_csv(tmp_path / "s.csv", index=False)
    assert main(["check", str(path), "--scores", str(tmp_path / "s.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("modkit check: error:") and "nothing to check" in err
    assert "\n" not in err
