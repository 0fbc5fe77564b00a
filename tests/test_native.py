"""Thresholds on a provider's own categories and scale: fitting on Azure severities (a
threshold is one of the levels), the threshold file records provider, model and scale, and
``modkit serve`` and the standard-library consumer apply such a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import OpenAI

import modkit
from modkit import InputError, ThresholdSet, fit_migration, fit_thresholds, load_thresholds
from modkit.backends import AzureContentSafetyBackend, PerspectiveBackend
from modkit.server import ServeProcess
from modkit.testing import AzureContentSafetyFake, PerspectiveFake
from modkit.thresholds import FitWarning, ThresholdFileError, validate_threshold_file

CONSUMER = Path(__file__).resolve().parents[1] / "examples" / "consume_thresholds.py"
KEY = "azure-native-canary-51"
FOUR = "content-safety-2023-10-01:FourSeverityLevels"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def _suite() -> pd.DataFrame:
    return modkit.expand(
        "I {verb: hate|love|will hurt|met|want to kill|admire} "
        "{group: women|men|Jews|Muslims|bakers|nurses} {tail: today|again|now|at home}."
    )


@pytest.fixture(scope="module")
def azure_results():
    with (
        AzureContentSafetyFake(api_key=KEY) as fake,
        AzureContentSafetyBackend(
            fake.url, api_key=KEY, output_type="FourSeverityLevels"
        ) as backend,
    ):
        return modkit.moderate(_suite(), backend=backend, cache=None, progress=False)


def _labels(results: pd.DataFrame) -> pd.DataFrame:
    text = results["text"].str.lower()
    return pd.DataFrame(
        {
            "Hate": text.str.contains("hate").astype(float),
            "Violence": text.str.contains("hurt|kill").astype(float),
        },
        index=results.index,
    )


def test_fit_on_azure_severities_records_provider_model_and_scale(azure_results, tmp_path):
    ts = fit_thresholds(azure_results, _labels(azure_results), "f1", cv=3, bootstrap=20)
    assert ts.provider == "azure" and ts.model == FOUR
    assert ts.scale.kind == "ordinal" and ts.scale.levels == (0, 2, 4, 6)
    for c in ("Hate", "Violence"):
        assert ts[c].block in ts.scale.levels  # a threshold is one of the levels
        assert ts[c].block in set(azure_results[c])
    path = ts.save(tmp_path / "azure.json")
    doc = json.loads(path.read_text())
    prof = doc["profiles"]["input"]
    assert prof["provider"] == "azure" and prof["model"] == FOUR
    assert prof["scale"] == {"kind": "ordinal", "low": 0.0, "high": 6.0, "levels": [0, 2, 4, 6]}
    validate_threshold_file(path)
    assert load_thresholds(path) == ts
    decisions = ts.apply(azure_results)
    expect = np.where(
        (azure_results["Hate"] >= ts["Hate"].block)
        | (azure_results["Violence"] >= ts["Violence"].block),
        "block",
        "allow",
    )
    assert decisions["action"].tolist() == expect.tolist()


@settings(max_examples=30)
@given(
    st.lists(st.tuples(st.sampled_from([0, 2, 4, 6]), st.integers(0, 1)), min_size=12, max_size=60)
)
def test_ordinal_fits_land_on_levels(rows):
    sev, lab = (np.array(x, dtype=float) for x in zip(*rows, strict=True))
    scores = pd.DataFrame({"Hate": sev, "model": FOUR})
    labels = pd.DataFrame({"Hate": lab})
    with warnings.catch_warnings():  # tiny or one-class samples warn; not the point here
        warnings.simplefilter("ignore", FitWarning)
        ts = fit_thresholds(scores, labels, "f1", cv=0, bootstrap=0, min_positives=1)
    block = ts["Hate"].block
    assert block is None or block in {0.0, 2.0, 4.0, 6.0}


def test_files_off_the_scale_or_without_a_provider_are_refused(tmp_path):
    ts = ThresholdSet.from_thresholds({"Hate": 4}, provider="azure", model=FOUR)
    doc = modkit.ThresholdFile([ts]).to_dict()
    doc["profiles"]["input"]["categories"]["Hate"]["block"] = 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ThresholdFileError, match=r"categories\.Hate\.block: .*not a level"):
        validate_threshold_file(path)
    del doc["profiles"]["input"]["provider"]
    doc["profiles"]["input"]["categories"]["Hate"]["block"] = 4
    path.write_text(json.dumps(doc))
    with pytest.raises(ThresholdFileError, match=r"categories\.Hate: unknown key"):
        validate_threshold_file(path)
    with pytest.raises(InputError, match="unknown category key 'Hate'"):
        ThresholdSet.from_thresholds({"Hate": 4})
    with pytest.raises(InputError, match="outside"):
        ThresholdSet.from_thresholds({"TOXICITY": 1.5}, provider="perspective")


def _consume(path: Path, scores: dict) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(CONSUMER), str(path), json.dumps(scores)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


def test_serve_and_the_stdlib_consumer_apply_a_file_fitted_on_azure(azure_results, tmp_path):
    ts = fit_thresholds(azure_results, _labels(azure_results), "f1", cv=3, bootstrap=20)
    path = ts.save(tmp_path / "azure.json")
    # the standard-library consumer decides as ThresholdSet.decide does
    for scores in ({"Hate": 6, "Violence": 0, "Sexual": 2, "SelfHarm": 0},
                   {"Hate": 0, "Violence": 2}, {"Hate": 2.0}, {}):  # fmt: skip
        code, out = _consume(path, scores)
        assert code == 0, out
        got = json.loads(out)
        want = ts.decide(scores)
        assert got["action"] == want.action
        assert got["blocked_categories"] == list(want.blocked_categories)
    code, err = _consume(path, {"Hate": 9})
    assert code != 0 and "outside [0.0, 6.0]" in err
    # modkit serve --backend azure --thresholds: flags by the file over real HTTP
    texts = azure_results["text"].tolist()[:24]
    with AzureContentSafetyFake(api_key=KEY) as fake:
        env = {**os.environ, "AZ_KEY": KEY}
        args = ["--backend", "azure", "--base-url", fake.url, "--upstream-api-key-env", "AZ_KEY",
                "-O", "output_type=FourSeverityLevels", "--thresholds", str(path)]  # fmt: skip
        with (
            ServeProcess(args, env=env) as srv,
            OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
        ):
            body = client.moderations.with_raw_response.create(input=texts).http_response.json()
    for text, result in zip(texts, body["results"], strict=True):
        decision = ts.decide(result["category_scores"])
        assert result["flagged"] == (decision.action == "block")
        for c in ("Hate", "Violence"):
            assert result["categories"][c] == (c in decision.blocked_categories)
        assert result["category_scores"]["Hate"] == fake.severity(
            text, "Hate", "FourSeverityLevels"
        )


def test_a_migration_becomes_a_threshold_file(azure_results, tmp_path):
    texts = azure_results[["text"]]
    with PerspectiveFake() as pf, PerspectiveBackend(base_url=pf.url) as pb:
        old = modkit.moderate(texts, backend=pb, cache=None, progress=False)
    m = fit_migration(old, azure_results, source_thresholds={"IDENTITY_ATTACK": 0.5, "THREAT": 0.5})
    ts = m.to_threshold_set()
    assert ts.provider == "azure" and ts.model == FOUR and ts.scale == m.scale
    loaded = load_thresholds(ts.save(tmp_path / "migrated.json"))
    decided = loaded.apply(azure_results)
    for c, thr in m.thresholds.items():
        fired = decided[f"action:{c}"] == "block"
        assert fired.tolist() == (azure_results[c] >= thr).tolist()
