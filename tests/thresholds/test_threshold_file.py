"""The threshold file: schema, round trip, profiles, and errors naming the JSON path."""

from __future__ import annotations

import copy
import json
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator

import modkit
from modkit.thresholds import (
    SCHEMA_ID,
    SCHEMA_VERSION,
    FitWarning,
    ThresholdFile,
    ThresholdFileError,
    ThresholdPolicyWarning,
    ThresholdSet,
    fit_thresholds,
    load_threshold_file,
    load_thresholds,
    threshold_file_schema,
    validate_threshold_file,
)


def _fitted(profile="input", seed=0):
    rng = np.random.default_rng(seed)
    n = 400
    y = (rng.random((n, 3)) < 0.25).astype(float)
    y[rng.random((n, 3)) < 0.2] = np.nan
    s = np.where(y == 1, rng.beta(4, 2, (n, 3)), rng.beta(1, 4, (n, 3))).round(3)
    cats = ["hate", "self-harm/intent", "violence"]
    scores = pd.DataFrame(s, columns=cats).assign(model="omni-moderation-2024-09-26")
    with warnings.catch_warnings():  # the clamped review band is not this file's subject
        warnings.simplefilter("ignore", FitWarning)
        return fit_thresholds(
            scores,
            pd.DataFrame(y, columns=cats),
            "precision>=0.8",
            review="recall>=0.9",
            bootstrap=100,
            daily_volume=5000,
            profile=profile,
        )


@pytest.fixture(scope="module")
def doc():
    return ThresholdFile([_fitted()]).to_dict()


def test_schema_id_matches_the_shipped_file_and_version():
    schema = threshold_file_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    shipped = resources.files("modkit.thresholds").joinpath(
        "schema", f"threshold-file-{SCHEMA_VERSION}.schema.json"
    )
    assert json.loads(shipped.read_text("utf-8")) == schema
    # $id: .../threshold-file/<version>.json, mirroring schema/threshold-file-<version>.schema.json
    stem = Path(str(shipped)).name.removesuffix(".schema.json")
    name, version = stem.rsplit("-", 1)
    assert schema["$id"] == SCHEMA_ID == f"https://modkit.dev/schemas/{name}/{version}.json"
    assert int(version) == SCHEMA_VERSION
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    cats = schema["$defs"]["profile"]["properties"]["categories"]["properties"]
    assert list(cats) == list(modkit.CATEGORIES)


def test_round_trip(tmp_path, doc):
    ts = _fitted()
    path = ts.save(tmp_path / "t.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = load_thresholds(path)
    assert back == ts
    assert back.to_dict() == ts.to_dict()
    raw = json.loads(text)
    assert raw["$schema"] == SCHEMA_ID
    assert raw["decision_rule"] == "flag when score >= threshold"
    assert raw["model"] == "omni-moderation-2024-09-26"
    assert raw["labels_sha256"] == ts.labels_sha256 and len(ts.labels_sha256) == 64
    assert raw["modkit_version"]
    entry = raw["profiles"]["input"]["categories"]["violence"]
    for key in (
        "block",
        "review",
        "objective",
        "status",
        "n_pos",
        "n_neg",
        "out_of_fold",
        "threshold_spread",
    ):
        assert key in entry
    assert entry["out_of_fold"]["interval"] == "none"  # the procedure's estimate: no interval
    assert entry["out_of_fold"]["ci"]["precision"] is None
    assert entry["selection_ci"]["precision"] is not None


def test_two_profiles_in_one_file(tmp_path):
    a, b = _fitted("input", 1), _fitted("output", 2)
    path = tmp_path / "both.json"
    ThresholdFile({"input": a, "output": b}).save(path)
    f = load_threshold_file(path)
    assert f["input"] == a and f["output"] == b
    # save(merge=True) replaces one profile and keeps the other
    c = _fitted("input", 3)
    c.save(path, merge=True)
    f = load_threshold_file(path)
    assert f["input"] == c and f["output"] == b
    c.save(path)  # without merge: only this profile
    assert list(load_threshold_file(path).profiles) == ["input"]
    with pytest.raises(modkit.InputError, match="no profile 'output'"):
        load_thresholds(path, profile="output")


def test_manual_set_round_trips(tmp_path):
    ts = ThresholdSet.from_thresholds(
        {"violence": 0.7, "hate": {"block": 0.8, "review": 0.4}}, profile="output"
    )
    ts.save(tmp_path / "m.json")
    back = load_thresholds(tmp_path / "m.json", profile="output")
    assert back.block == {"hate": 0.8, "violence": 0.7}
    assert back.review == {"hate": 0.4, "violence": None}
    assert back.decide({"hate": 0.5}).action == "review"
    with pytest.raises(modkit.InputError, match="above block"):
        ThresholdSet.from_thresholds({"hate": {"block": 0.3, "review": 0.4}})


def _problems(doc):
    with pytest.raises(ThresholdFileError) as info:
        validate_threshold_file(doc)
    return info.value.problems


def _edit(doc, path, value):
    d = copy.deepcopy(doc)
    node = d
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


CAT = ["profiles", "input", "categories", "self-harm/intent"]


@pytest.mark.parametrize(
    ("path", "value", "where", "fragment"),
    [
        (
            [*CAT, "block"],
            1.2,
            '$.profiles.input.categories["self-harm/intent"].block',
            "out of range",
        ),
        (
            [*CAT, "review"],
            -0.1,
            '$.profiles.input.categories["self-harm/intent"].review',
            "out of range",
        ),
        (
            [*CAT, "review"],
            0.999,
            '$.profiles.input.categories["self-harm/intent"].review',
            "above block",
        ),
        (
            [*CAT, "block"],
            "0.5",
            '$.profiles.input.categories["self-harm/intent"].block',
            "expected number or null",
        ),
        (
            [*CAT, "colour"],
            1,
            '$.profiles.input.categories["self-harm/intent"].colour',
            "unknown key",
        ),
        (
            ["profiles", "input", "categories", "violense"],
            {
                "block": 0.5,
                "review": None,
                "objective": "f1",
                "status": "ok",
                "n_pos": 1,
                "n_neg": 1,
            },
            "$.profiles.input.categories.violense",
            "unknown key",
        ),
        (["profiles", "Staging"], {"categories": {}}, "$.profiles.Staging", "unknown key"),
        (
            ["profiles", "staging"],  # a named profile must say which traffic it is for
            {"categories": {}},
            "$.profiles.staging",
            "missing key 'applies_to'",
        ),
        (["extra"], 1, "$.extra", "unknown key"),
        (["schema_version"], 4, "$.schema_version", "unsupported schema_version 4"),
        (["schema_version"], KeyError, "$.schema_version", "unsupported schema_version null"),
        (["decision_rule"], "flag when score > threshold", "$.decision_rule", "must be"),
        (
            [*CAT, "status"],
            KeyError,
            '$.profiles.input.categories["self-harm/intent"]',
            "missing key 'status'",
        ),
        (
            [*CAT, "out_of_fold", "ci", "recall"],
            [0.1, 2],
            '$.profiles.input.categories["self-harm/intent"].out_of_fold.ci.recall[1]',
            "",
        ),
    ],
)
def test_malformed_files_name_the_json_path(doc, path, value, where, fragment):
    doc = _edit(doc, [*CAT, "block"], 0.9) if "above block" in fragment else doc
    if "above block" in fragment:
        doc = _edit(doc, [*CAT, "review"], 0.5)
    problems = _problems(_edit(doc, path, value))
    assert any(p == where and fragment in m for p, m in problems), problems


def test_load_rejects_bad_files_with_their_name(tmp_path, doc):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_edit(doc, [*CAT, "block"], 7)))
    with pytest.raises(ThresholdFileError) as info:
        load_thresholds(bad)
    assert str(bad) in str(info.value)
    assert '$.profiles.input.categories["self-harm/intent"].block' in str(info.value)
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1,\n "profiles": }')
    with pytest.raises(ThresholdFileError, match="line 2 column"):
        load_thresholds(broken)
    nan = tmp_path / "nan.json"
    nan.write_text(
        json.dumps(doc)
        .replace('"block": null', '"block": NaN', 1)
        .replace('"block": 0.', '"block": NaN, "x": 0.', 1)
    )
    with pytest.raises(ThresholdFileError, match="NaN is not valid JSON"):
        load_thresholds(nan)
    with pytest.raises(modkit.InputError, match="file not found"):
        load_thresholds(tmp_path / "missing.json")


def test_apply_columns_and_unscored_rows():
    ts = ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.5}, "hate": 0.6})
    frame = pd.DataFrame(
        {"violence": [0.9, 0.6, 0.1, np.nan], "hate": [0.7, 0.1, 0.2, np.nan]},
        index=[10, 11, 12, 13],
    )
    out = ts.apply(frame)
    assert list(out.index) == [10, 11, 12, 13]
    assert list(out["action"]) == ["block", "review", "allow", "unscored"]
    assert list(out["blocked_categories"]) == ["hate,violence", "", "", ""]
    assert list(out["review_categories"]) == ["", "violence", "", ""]
    assert list(out["action:violence"]) == ["block", "review", "allow", ""]
    with pytest.raises(modkit.InputError, match="no score column"):
        ts.apply(frame[["hate"]])
    assert list(ts.apply(frame[["hate"]], missing="ignore")["action"])[:2] == ["block", "allow"]
    assert ts.decide({}).action == "unscored"
    assert ts.decide({"violence": 0.8}).flagged


V1 = Path(__file__).parents[1] / "fixtures" / "thresholds-v1.json"


def test_version_1_files_still_load_and_save_as_version_3(tmp_path):
    doc = json.loads(V1.read_text("utf-8"))
    assert doc["schema_version"] == 1
    validate_threshold_file(V1)  # the version 1 schema still applies to version 1 files
    with pytest.warns(ThresholdPolicyWarning, match="backend_flag"):
        ts = load_thresholds(V1)
    assert ts.unthresholded == "backend_flag"  # the safe default, not the old never-flag
    ct = ts["hate"]
    assert ct.block == doc["profiles"]["input"]["categories"]["hate"]["block"]
    assert ct.out_of_fold["interval"] == "percentile-bootstrap"  # what v1 computed
    assert ct.method is None and ct.selection_ci is None
    assert ts.decide({"hate": 1.0}).action == "block"
    out = ts.save(tmp_path / "v3.json")
    again = json.loads(out.read_text("utf-8"))
    assert again["schema_version"] == SCHEMA_VERSION == 3
    assert again["$schema"].endswith("/3.json")
    assert again["unthresholded"] == again["profiles"]["input"]["unthresholded"] == "backend_flag"
    assert load_thresholds(out).block == ts.block


def test_version_2_records_method_delta_and_interval_types():
    rng = np.random.default_rng(3)
    n = 600
    y = (rng.random(n) < 0.3).astype(int)
    s = np.where(y == 1, rng.beta(5, 2, n), rng.beta(2, 6, n)).round(4)
    ts = fit_thresholds(
        pd.DataFrame({"hate": s}),
        pd.DataFrame({"hate": y}),
        "precision>=0.8",
        confidence=0.9,
        method="holm",
        bootstrap=30,
    )
    doc = ThresholdFile([ts]).to_dict()
    validate_threshold_file(doc)
    entry = doc["profiles"]["input"]["categories"]["hate"]
    assert entry["method"] == "holm"
    assert entry["delta"] == pytest.approx(0.1)
    assert entry["out_of_fold"]["interval"] == "none"
    assert entry["selection_ci"]["method"] == "refit-bootstrap-oob+clopper-pearson"
    older = _edit(
        doc,
        ["profiles", "input", "categories", "hate", "selection_ci", "method"],
        "refit-bootstrap-oob",
    )
    validate_threshold_file(older)  # files written before the exact hull still load
    assert entry["selection_ci"]["resamples"] == 30
    assert entry["oof_status"] in ("meets", "misses")
    bad = _edit(doc, ["profiles", "input", "categories", "hate", "method"], "bonferroni")
    with pytest.raises(ThresholdFileError, match="method"):
        validate_threshold_file(bad)


def test_load_and_merge_validate_each_document_once(tmp_path, monkeypatch):
    import modkit.thresholds._set as set_module

    calls = []
    real = set_module.validate_threshold_file
    monkeypatch.setattr(
        set_module, "validate_threshold_file", lambda doc: calls.append(1) or real(doc)
    )
    path = _fitted().save(tmp_path / "t.json")
    assert len(calls) == 1  # the written document
    calls.clear()
    load_thresholds(path)
    assert len(calls) == 1
    calls.clear()
    _fitted(profile="output").save(path, merge=True)
    assert len(calls) == 2  # the existing file once, the merged document once


def test_a_failed_save_leaves_no_temporary_file_and_the_old_file_intact(tmp_path):
    ts = ThresholdSet.from_thresholds({"violence": 0.7})
    blocked = tmp_path / "taken.json"
    blocked.mkdir()  # a folder where the file should go: the rename fails
    with pytest.raises(modkit.InputError, match=r"taken\.json: cannot write"):
        ts.save(blocked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.json"]
    assert blocked.is_dir() and not any(blocked.iterdir())
    # a successful save over an existing file replaces it and leaves nothing beside it
    path = tmp_path / "t.json"
    path.write_text("old", encoding="utf-8")
    ts.save(path)
    assert load_thresholds(path).block == {"violence": 0.7}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "taken.json"]
