"""examples/consume_thresholds.py needs only the standard library and agrees with decide()."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modkit import InputError
from modkit.thresholds import ThresholdFile, ThresholdSet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_thresholds.py"


def _proc(*args, stdin=None):
    # -I -S: isolated mode, no site-packages, so anything beyond the standard library fails.
    return subprocess.run(
        [sys.executable, "-I", "-S", str(EXAMPLE), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _run(*args, stdin=None):
    proc = _proc(*args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_consumer_agrees_with_decide(tmp_path):
    inp = ThresholdSet.from_thresholds(
        {
            "violence": {"review": 0.4, "block": 0.8},
            "hate": 0.6,
            "self-harm/intent": {"review": 0.2, "block": None},
            "sexual": {"review": None, "block": None},
        }
    )
    out = ThresholdSet.from_thresholds({"violence": 0.3}, profile="output")
    path = tmp_path / "t.json"
    ThresholdFile([inp, out]).save(path)
    rng = np.random.default_rng(0)
    cats = ["violence", "hate", "self-harm/intent", "sexual", "illicit"]
    cases = [{}, {"violence": 0.8}, {"violence": 0.79999}, {"illicit": 1.0}]
    for _ in range(12):
        cases.append(
            {
                c: float(rng.choice([0.2, 0.4, 0.6, 0.8, rng.random()]))
                for c in cats
                if rng.random() < 0.8
            }
        )
    for i, scores in enumerate(cases):
        # every third item is a whole result with the backend's own flags
        flags = {c: bool(rng.random() < 0.5) for c in cats if rng.random() < 0.7}
        whole = i % 3 == 0
        for profile, ts in (("input", inp), ("output", out)):
            body = {"category_scores": scores, "categories": flags} if whole else scores
            payload = json.dumps(body)
            if i % 2:
                got = _run(str(path), payload, "--profile", profile)
            else:
                got = _run(str(path), "--profile", profile, stdin=payload)
            want = ts.decide(scores, categories=flags if whole else None)
            assert got == {
                "action": want.action,
                "blocked_categories": list(want.blocked_categories),
                "review_categories": list(want.review_categories),
                "rules": want.rules,
            }, (scores, flags, whole)


def test_consumer_refuses_unknown_keys_like_decide(tmp_path):
    ts = ThresholdSet.from_thresholds({"self-harm/intent": 0.5, "violence": 0.5})
    path = tmp_path / "t.json"
    ThresholdFile([ts]).save(path)
    payload = json.dumps({"self_harm_intent": 0.99, "violence": 0.0})
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(EXAMPLE), str(path), payload],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "did you mean 'self-harm/intent'?" in proc.stderr
    with pytest.raises(InputError, match="did you mean 'self-harm/intent'"):
        ts.decide({"self_harm_intent": 0.99, "violence": 0.0})


def test_consumer_uses_only_the_standard_library():
    source = EXAMPLE.read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= set(sys.stdlib_module_names)


@pytest.mark.parametrize("bad", ["scores", "file"])
def test_consumer_malformed_json_is_one_line(tmp_path, bad):
    path = tmp_path / "t.json"
    ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.5})]).save(path)
    payload = '{"violence": 0.9}'
    if bad == "scores":
        payload = "{bad"
    else:
        path.write_text("{bad", encoding="utf-8")
    proc = _proc(str(path), payload)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    where = "scores" if bad == "scores" else str(path)
    assert len(lines) == 1 and lines[0].startswith(f"{where}: not valid JSON: "), proc.stderr
