"""Issue 18 point 1: a threshold file fails closed for the categories it holds no threshold for.

The file states its ``unthresholded`` policy (default ``backend_flag``: the backend's own
per-category flag decides; no flag means review); ``never_flag`` is an explicit opt-out,
per file, profile or category. Checked through the public API (decide, apply, the file
round trip), every command that reads a file, and ``modkit serve`` over real HTTP with
the official ``openai`` SDK.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modkit import CATEGORIES
from modkit.cli import main
from modkit.server import ServeProcess
from modkit.thresholds import (
    RULES,
    SCHEMA_VERSION,
    UNTHRESHOLDED,
    CategoryThreshold,
    ThresholdFile,
    ThresholdFileError,
    ThresholdPolicyWarning,
    ThresholdSet,
    load_threshold_file,
    load_thresholds,
    validate_threshold_file,
)

SUICIDE = "I have been thinking about suicide a lot lately"
FOUR = ["harassment", "hate", "sexual", "violence"]


# ---------------------------------------------------------------- the property
threshold = st.none() | st.floats(0, 1)
entry = st.builds(
    lambda b, r, own: CategoryThreshold(
        block=b if b is None or r is None else max(b, r),
        review=r if b is None or r is None else min(b, r),
        unthresholded=own,
    ),
    threshold,
    threshold,
    st.none() | st.sampled_from(UNTHRESHOLDED),
)
file_st = st.builds(
    lambda cats, policy: ThresholdSet(cats, unthresholded=policy),
    st.dictionaries(st.sampled_from(CATEGORIES), entry, max_size=6),
    st.sampled_from(UNTHRESHOLDED),
)
score = st.floats(0, 1) | st.none()


@settings(max_examples=300, deadline=None)
@given(
    ts=file_st,
    scores=st.dictionaries(st.sampled_from(CATEGORIES), score),
    flags=st.dictionaries(st.sampled_from(CATEGORIES), st.booleans() | st.none()),
)
def test_no_category_the_backend_flags_is_silently_allowed(ts, scores, flags):
    """For any file and any scores and flags: a category the backend flags is allowed
    only by the file's own threshold or its explicit ``never_flag``, and the decision
    says which rule decided every category."""
    # the file as another service reads it: written as JSON, read back
    ts = ThresholdFile.from_dict(json.loads(json.dumps(ThresholdFile([ts]).to_dict())))["input"]
    decision = ts.decide(scores, categories=flags)
    assert set(decision.rules) == set(decision.categories)
    assert set(decision.rules.values()) <= set(RULES)
    for c in CATEGORIES:
        ct = ts.categories.get(c)
        thresholded = ct is not None and (ct.block is not None or ct.review is not None)
        has_score = scores.get(c) is not None
        flag = flags.get(c)
        if thresholded:
            assert decision.rules.get(c) == ("threshold" if has_score else None)
            continue
        if not has_score and flag is None:
            assert c not in decision.categories  # nothing to decide from
            continue
        policy = ts.policy_for(c)
        action, rule = decision.categories[c], decision.rules[c]
        if policy == "never_flag":  # the file says so, and the decision says it did
            assert (action, rule) == ("allow", "never_flag")
        elif flag is None:  # no threshold, no flag: fail closed
            assert (action, rule) == ("review", "no_backend_flag")
        elif flag:
            assert action == ("block" if policy == "backend_flag" else "review")
            assert rule == policy
        else:
            assert (action, rule) == ("allow", policy)
    # an item is never allowed while a category of it is not
    if decision.action == "allow":
        assert set(decision.categories.values()) == {"allow"}
    # the vectorised path decides the same
    row = {c: (np.nan if v is None else v) for c, v in scores.items()}
    row |= {f"flagged/{c}": f for c, f in flags.items()}
    frame = pd.DataFrame([row])
    applied = ts.apply(frame, missing="ignore").iloc[0]
    assert applied["action"] == decision.action
    for c, action in decision.categories.items():
        assert applied[f"action:{c}"] == action
        assert applied[f"rule:{c}"] == decision.rules[c]


def test_the_issue_example_through_decide_and_apply():
    ts = ThresholdSet.from_thresholds(dict.fromkeys(FOUR, 0.5))
    scores = {c: 0.01 for c in CATEGORIES} | {"self-harm/intent": 0.88, "self-harm": 0.7}
    flags = {c: False for c in CATEGORIES} | {"self-harm/intent": True, "self-harm": True}
    decision = ts.decide(scores, categories=flags)
    assert decision.flagged and decision.action == "block"
    assert decision.blocked_categories == ("self-harm", "self-harm/intent")
    assert decision.rules["self-harm/intent"] == "backend_flag"
    assert decision.rules["violence"] == "threshold"
    # without the backend's flags it cannot tell: review, and it says why
    blind = ts.decide(scores)
    assert blind.action == "review" and blind.rules["self-harm/intent"] == "no_backend_flag"
    # only an explicit opt-out allows it
    opted = ts.with_policy("never_flag", ["self-harm/intent", "self-harm"])
    assert opted.decide(scores, categories=flags).action == "allow"
    assert opted.decide(scores, categories=flags).rules["self-harm/intent"] == "never_flag"
    assert ts.with_policy("review").decide(scores, categories=flags).action == "review"


# ---------------------------------------------------------------- the file
def test_version_3_states_the_policy_at_every_level(tmp_path):
    ts = ThresholdSet.from_thresholds(
        {"violence": 0.8, "sexual": {"block": None, "unthresholded": "never_flag"}},
        unthresholded="review",
    )
    path = ts.save(tmp_path / "t.json")
    doc = json.loads(path.read_text("utf-8"))
    assert doc["schema_version"] == SCHEMA_VERSION == 3
    assert doc["unthresholded"] == "review"
    assert doc["profiles"]["input"]["unthresholded"] == "review"
    assert doc["profiles"]["input"]["categories"]["sexual"]["unthresholded"] == "never_flag"
    assert "unthresholded" not in doc["profiles"]["input"]["categories"]["violence"]
    again = load_thresholds(path)
    assert again == ts
    assert again.unthresholded_categories["sexual"] == "never_flag"
    assert again.unthresholded_categories["hate"] == "review"
    assert "violence" not in again.unthresholded_categories


def test_a_file_level_policy_applies_to_profiles_without_their_own():
    doc = ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.8})]).to_dict()
    doc["unthresholded"] = "never_flag"
    del doc["profiles"]["input"]["unthresholded"]
    ts = ThresholdFile.from_dict(doc)["input"]
    assert ts.unthresholded == "never_flag"
    assert ts.decide({"hate": 0.99}, categories={"hate": True}).action == "allow"


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("file", ["unthresholded"]),
        ("profile", ["profiles", "input", "unthresholded"]),
        ("category", ["profiles", "input", "categories", "violence", "unthresholded"]),
    ],
)
def test_a_bad_policy_is_named_by_its_json_path(where, path):
    doc = ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.8})]).to_dict()
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "allow"
    with pytest.raises(ThresholdFileError) as info:
        validate_threshold_file(doc)
    (problem,) = info.value.problems
    assert problem[0] == "$." + ".".join(path)
    assert "backend_flag" in problem[1]


def test_the_file_level_policy_is_required_in_version_3():
    doc = ThresholdFile([ThresholdSet.from_thresholds({"violence": 0.8})]).to_dict()
    del doc["unthresholded"]
    with pytest.raises(ThresholdFileError, match="missing key 'unthresholded'"):
        validate_threshold_file(doc)


def _version_2(ts: ThresholdSet) -> dict:
    """The document a modkit of schema version 2 wrote for this set."""
    doc = ThresholdFile([ts]).to_dict()
    doc["$schema"] = doc["$schema"].replace("/3.json", "/2.json")
    doc["schema_version"] = 2
    del doc["unthresholded"]
    for prof in doc["profiles"].values():
        del prof["unthresholded"]
    return doc


def test_a_version_2_file_loads_with_the_safe_default_and_a_warning(tmp_path):
    old = _version_2(ThresholdSet.from_thresholds({"violence": 0.8, "sexual": None}))
    validate_threshold_file(old)  # still valid against its own schema
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.warns(ThresholdPolicyWarning, match=r"old\.json: schema version 2.*backend_flag"):
        ts = load_thresholds(path)
    # in version 2 a null or absent category never fired; now the backend's flag decides
    assert ts.unthresholded == "backend_flag"
    assert ts.decide({"sexual": 0.9}, categories={"sexual": True}).action == "block"
    assert ts.decide({"hate": 0.9}, categories={"hate": True}).action == "block"
    saved = json.loads(ts.save(tmp_path / "new.json").read_text("utf-8"))
    assert saved["schema_version"] == 3 and saved["unthresholded"] == "backend_flag"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_thresholds(tmp_path / "new.json")  # a version 3 file loads without a warning


# ---------------------------------------------------------------- the commands
@pytest.fixture
def four(tmp_path):
    """Scores of all 13 categories with the endpoint's flags; labels for four of them."""
    rng = np.random.default_rng(1)
    n = 400
    scores = pd.DataFrame({"id": [f"x{i}" for i in range(n)]})
    labels = scores[["id"]].copy()
    for c in CATEGORIES:
        y = rng.random(n) < 0.3
        s = np.where(y, rng.beta(5, 2, n), rng.beta(1, 5, n)).round(4)
        scores[c] = s
        scores[f"flagged/{c}"] = s >= 0.5
        if c in FOUR:
            labels[c] = y.astype(int)
    labels.loc[: n // 2, "sexual"] = np.nan
    labels.loc[labels["sexual"].notna(), "sexual"] = 0  # no positives: cannot be fitted
    sp, lp = tmp_path / "scores.csv", tmp_path / "labels.csv"
    scores.to_csv(sp, index=False)
    labels.to_csv(lp, index=False)
    return sp, lp


def _fit(four, out, *extra):
    sp, lp = four
    return main(["fit", str(sp), str(lp), "-o", str(out), "--objective", "f1", *extra])


def test_fit_lists_the_categories_it_could_not_fit_and_why(four, tmp_path, capsys):
    out = tmp_path / "t.json"
    assert _fit(four, out, "--bootstrap", "0") == 0
    captured = capsys.readouterr()
    warning = next(
        line for line in captured.err.splitlines() if line.startswith("modkit fit: warning:")
    )
    assert "10 categories not fitted" in warning
    for c in CATEGORIES:
        if c not in FOUR:
            assert f"{c}: no label column" in warning
    assert "sexual: insufficient_data" in warning
    assert "decided by the backend's own flag" in warning
    assert "not fitted: sexual: insufficient_data" in captured.out  # the report says it too
    doc = json.loads(out.read_text("utf-8"))
    assert doc["unthresholded"] == doc["profiles"]["input"]["unthresholded"] == "backend_flag"
    assert sorted(doc["profiles"]["input"]["categories"]) == FOUR


def test_fit_records_an_explicit_opt_out(four, tmp_path, capsys):
    out = tmp_path / "t.json"
    args = ["--bootstrap", "0", "--unthresholded", "review"]
    assert _fit(four, out, *args, "--unthresholded-for", "sexual=never_flag") == 0
    capsys.readouterr()
    ts = load_thresholds(out)
    assert ts.unthresholded == "review"
    assert ts.policy_for("sexual") == "never_flag" and ts.policy_for("illicit") == "review"
    assert _fit(four, out, "--unthresholded-for", "sexual=allow") == 1
    assert "policy must be one of backend_flag, review, never_flag" in capsys.readouterr().err


def test_validate_says_what_decides_the_categories_without_a_threshold(tmp_path, capsys):
    new = ThresholdSet.from_thresholds(dict.fromkeys(FOUR, 0.5)).save(tmp_path / "new.json")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(_version_2(ThresholdSet.from_thresholds({"hate": 0.5}))), "utf-8")
    assert main(["validate", str(new), str(old)]) == 0
    err = capsys.readouterr().err
    assert f"{new}: profile input: unthresholded backend_flag; 9 without a threshold" in err
    assert "decided by the backend's own flag (no flag: review)" in err
    assert f"{old}: note: schema version 2 states no policy" in err
    assert "never_flag' keeps the old meaning" in err


def test_validate_counts_a_null_threshold_as_none(tmp_path, capsys):
    # fit writes a category it could not fit with block and review null: validate's count
    # must not call it a threshold while the next line lists it as without one
    ts = ThresholdSet(
        {"violence": CategoryThreshold(0.5), "hate": CategoryThreshold(None, review=None)}
    )
    path = ts.save(tmp_path / "t.json")
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: ok (schema version 3; profiles input; 1 category with a threshold)" in err
    assert "12 without a threshold" in err


def test_apply_and_check_follow_the_policy_and_say_so(four, tmp_path, capsys):
    sp, _ = four
    path = ThresholdSet.from_thresholds(dict.fromkeys(FOUR, 0.5)).save(tmp_path / "t.json")
    out = tmp_path / "decisions.csv"
    assert main(["apply", str(path), str(sp), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "9 without a threshold" in err and "decided by the backend's own flag:" in err
    got = pd.read_csv(out, keep_default_na=False)
    scores = pd.read_csv(sp)
    flagged = scores["flagged/self-harm/intent"]
    assert (got.loc[flagged, "action"] == "block").all()
    assert (got["rule:self-harm/intent"] == "backend_flag").all()
    assert (got["rule:violence"] == "threshold").all()
    assert (got.loc[flagged, "action:self-harm/intent"] == "block").all()
    # the same scores without the endpoint's flags: fail closed
    bare = tmp_path / "bare.csv"
    scores[["id", *CATEGORIES]].to_csv(bare, index=False)
    assert main(["apply", str(path), str(bare), "-o", str(out)]) == 0
    assert "sent to review: no threshold and no backend flag" in capsys.readouterr().err
    got = pd.read_csv(out, keep_default_na=False)
    assert (got["rule:self-harm/intent"] == "no_backend_flag").all()
    assert set(got["action"]) <= {"review", "block"}
    # check: the drift decisions follow the policy; the report records it
    report = tmp_path / "report.json"
    new = scores.assign(**{"flagged/self-harm/intent": ~flagged, "text": scores["id"]})
    base = scores.assign(text=scores["id"])
    new_p, base_p = tmp_path / "new.csv", tmp_path / "base.csv"
    new.to_csv(new_p, index=False)
    base.to_csv(base_p, index=False)
    check = ["check", str(path), "--scores", str(new_p), "--baseline", str(base_p)]
    code = main([*check, "--json", str(report)])
    assert code == 1  # the backend's flag flipped: decisions changed
    assert "modkit check: " in capsys.readouterr().err
    doc = json.loads(report.read_text("utf-8"))
    assert doc["meta"]["unthresholded"]["policy"] == "backend_flag"
    assert doc["meta"]["unthresholded"]["categories"]["self-harm/intent"] == "backend_flag"


def test_every_export_states_the_policy(tmp_path, capsys):
    ts = ThresholdSet.from_thresholds(
        {"violence": 0.8, "sexual": {"block": None, "unthresholded": "never_flag"}}
    )
    path = ts.save(tmp_path / "t.json")
    for fmt in ("env", "yaml", "litellm", "rego", "json-flat"):
        assert main(["export", str(path), "--format", fmt]) == 0
        text = capsys.readouterr().out
        if fmt == "json-flat":  # JSON has no comments: the policy is a key
            doc = json.loads(text)
            assert doc["input.unthresholded"] == "backend_flag"
            assert doc["input.sexual.unthresholded"] == "never_flag"
            continue
        assert "# profile input: unthresholded backend_flag; 11 without a threshold" in text, fmt
        assert "1 without a threshold (sexual) decided by the file's opt-out" in text, fmt
        if fmt != "litellm":  # the server applies it; the others carry every policy
            assert "never_flag" in text.split("decided by the backend")[-1], fmt
    tf = load_threshold_file(path)
    assert tf["input"].describe_policy().startswith("profile input: unthresholded backend_flag")


# ---------------------------------------------------------------- serve, over HTTP
def test_serve_flags_the_issue_example_with_a_four_category_file(four, tmp_path, capsys):
    """The issue's case: a file fitted on 4 categories, ``modkit serve --thresholds``, the
    official SDK; self-harm/intent 0.88, flagged by the backend alone, comes back flagged."""
    path = tmp_path / "t.json"
    assert _fit(four, path, "--bootstrap", "0") == 0
    capsys.readouterr()
    assert len(load_thresholds(path).categories) == 4
    scores = {c: 0.001 for c in CATEGORIES} | {"self-harm/intent": 0.88, "self-harm": 0.64}
    flags = {c: False for c in CATEGORIES} | {"self-harm/intent": True, "self-harm": True}
    records = [
        {
            "input": SUICIDE,
            "model": "omni-moderation-2024-09-26",
            "result": {"flagged": True, "categories": flags, "category_scores": scores},
        },
        {
            "input": "hello",
            "model": "omni-moderation-2024-09-26",
            "result": {
                "flagged": False,
                "categories": dict.fromkeys(CATEGORIES, False),
                "category_scores": dict.fromkeys(CATEGORIES, 0.001),
            },
        },
    ]
    replay = tmp_path / "recorded.jsonl"
    replay.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    args = ["--backend", "replay", "--replay", str(replay), "--thresholds", str(path)]
    with (
        ServeProcess([*args, "--no-access-log"], timeout=60) as srv,
        openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
    ):
        res, hello = client.moderations.create(input=[SUICIDE, "hello"]).results
    assert res.flagged is True
    assert res.categories.self_harm_intent is True
    assert res.categories.violence is False
    assert res.category_scores.self_harm_intent == pytest.approx(0.88)
    assert hello.flagged is False
    assert "10 without a threshold" in srv.stderr  # said at start (sexual: no positives)
    assert "decided by the backend's own flag" in srv.stderr
