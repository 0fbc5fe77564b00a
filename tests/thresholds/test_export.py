"""`modkit export`: every exported form makes the same decisions as `ThresholdSet.decide`.

Each form is read the way its consumer reads it (a POSIX shell sources the env file, a YAML
or JSON parser reads the others, LiteLLM's guardrail rule "block when the moderation
response is flagged" runs against `modkit serve` over HTTP) and decided by code written
here from the exported text alone, never by modkit.
"""

import json
import math
import re
import shutil
import subprocess
import sys

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, InputError
from modkit.cli import main
from modkit.server import ServeProcess
from modkit.thresholds import (
    CategoryThreshold,
    ThresholdFile,
    ThresholdSet,
    env_name,
    export_thresholds,
    load_threshold_file,
)

MODKIT = [sys.executable, "-m", "modkit"]
CATS = ["violence", "hate", "self-harm/intent", "harassment/threatening", "sexual"]


POLICIES = ("backend_flag", "review", "never_flag")


def _file(
    spec: dict[str, tuple[float | None, float | None]],
    profiles=("input",),
    policy="backend_flag",
    own=None,
):
    """A file of ``spec`` ((review, block) per category), with the profile's ``policy``
    and some categories' ``own`` policy for when they have no threshold."""
    own = own or {}
    sets = {}
    for p in profiles:
        cats = {
            c: CategoryThreshold(block=b, review=r, unthresholded=own.get(c))
            for c, (r, b) in spec.items()
        }
        sets[p] = ThresholdSet(cats, profile=p, model="test-model", unthresholded=policy)
    return ThresholdFile(sets)


SPEC = {
    "violence": (0.5, 0.93),
    "hate": (None, 0.25),
    "self-harm/intent": (0.1, None),  # review only: never blocks
    "harassment/threatening": (None, None),  # never fires
    "sexual": (0.3, 0.3),  # review == block
}


def _edge_scores(spec):
    """Scores exactly at, just below and just above every threshold, plus missing ones."""
    # a category the file does not hold ("illicit"): the policy decides it. (An unknown key
    # is an error in decide, so the exporters need not agree on it.)
    out = [{}, {"violence": None}, {"illicit": 0.99}]
    for c, (r, b) in spec.items():
        for t in (r, b):
            if t is None:
                continue
            for s in (t, math.nextafter(t, 0.0), math.nextafter(t, 1.0)):
                out.append({c: s})
                out.append(dict.fromkeys(spec, s))
    return out


scores_st = st.dictionaries(
    st.sampled_from(CATS),
    st.one_of(st.none(), st.floats(0.0, 1.0), st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.93, 1.0])),
)
flags_st = st.dictionaries(st.sampled_from([*CATS, "illicit"]), st.booleans())
own_st = st.dictionaries(st.sampled_from(CATS), st.sampled_from(POLICIES))
spec_st = st.dictionaries(
    st.sampled_from(CATS),
    st.tuples(
        st.one_of(st.none(), st.floats(0.0, 1.0)), st.one_of(st.none(), st.floats(0.0, 1.0))
    ).map(lambda rb: (min(rb), max(rb)) if None not in rb else rb),
    min_size=1,
)


def _decide(
    thresholds: dict[str, tuple[float | None, float | None]],
    scores: dict,
    flags: dict | None = None,
    policy: str = "backend_flag",
    own: dict | None = None,
) -> dict:
    """The documented rule, from (review, block) pairs and the policies read out of an
    exported form, and the backend's own flags."""
    flags, own = flags or {}, own or {}
    blocked, review, decided = [], [], False
    for c in {*thresholds, *scores, *flags}:
        low, high = thresholds.get(c, (None, None))
        s = scores.get(c)
        if low is not None or high is not None:
            if s is None:
                continue
            decided = True
            if high is not None and s >= high:
                blocked.append(c)
            elif low is not None and s >= low:
                review.append(c)
            continue
        if s is None and c not in flags:
            continue
        decided = True
        rule = own.get(c, policy)
        if rule == "never_flag":
            continue
        if c not in flags:  # no threshold, no backend flag: review
            review.append(c)
        elif flags[c]:
            (blocked if rule == "backend_flag" else review).append(c)
    action = "unscored" if not decided else "block" if blocked else "review" if review else "allow"
    return {"action": action, "blocked": sorted(blocked), "review": sorted(review)}


def _expected(ts: ThresholdSet, scores: dict, flags: dict | None = None) -> dict:
    d = ts.decide(scores, categories=flags)
    return {
        "action": d.action,
        "blocked": sorted(d.blocked_categories),
        "review": sorted(d.review_categories),
    }


# ---------------------------------------------------------------- json-flat and yaml
def _from_flat(doc: dict, profile: str) -> tuple[dict, str, dict]:
    """``(thresholds, profile policy, own policies)`` read from a json-flat export."""
    out: dict[str, list] = {}
    own = {}
    for key, value in doc.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == profile and parts[2] == "unthresholded":
            own[parts[1]] = value
        elif len(parts) == 3 and parts[0] == profile:
            out.setdefault(parts[1], [None, None])[parts[2] == "block"] = value
    return {c: tuple(v) for c, v in out.items()}, doc[f"{profile}.unthresholded"], own


def _from_yaml(doc: dict, profile: str) -> tuple[dict, str, dict]:
    prof = doc["profiles"][profile]
    cats = prof["categories"]
    own = {c: t["unthresholded"] for c, t in cats.items() if "unthresholded" in t}
    return {c: (t["review"], t["block"]) for c, t in cats.items()}, prof["unthresholded"], own


@given(
    spec=spec_st,
    scores=st.lists(st.tuples(scores_st, flags_st), max_size=20),
    policy=st.sampled_from(POLICIES),
    own=own_st,
)
def test_json_flat_and_yaml_decide_as_decide(spec, scores, policy, own):
    tf = _file(spec, policy=policy, own=own)
    flat = _from_flat(json.loads(export_thresholds(tf, "json-flat")), "input")
    ydoc = yaml.safe_load(export_thresholds(tf, "yaml"))
    assert ydoc["decision_rule"] == "flag when score >= threshold"
    from_yaml = _from_yaml(ydoc, "input")
    for s, flags in [*scores, *((e, {}) for e in _edge_scores(spec))]:
        want = _expected(tf["input"], s, flags)
        thresholds, pol, own_pol = flat
        assert _decide(thresholds, s, flags, pol, own_pol) == want
        thresholds, pol, own_pol = from_yaml
        assert _decide(thresholds, s, flags, pol, own_pol) == want


# ---------------------------------------------------------------- env, sourced by sh
@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_env_file_sourced_by_a_shell_decides_as_decide(tmp_path):
    own = {"harassment/threatening": "never_flag"}
    tf = _file(SPEC, profiles=("input", "output"), policy="review", own=own)
    path = tmp_path / "thresholds.env"
    path.write_text(export_thresholds(tf, "env"), encoding="utf-8")
    out = subprocess.run(
        ["sh", "-c", f'set -a; . "{path}"; env'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    for profile in ("input", "output"):
        names = env[f"MODKIT_{profile.upper()}_CATEGORIES"].split(",")
        assert sorted(names) == sorted(SPEC)

        def read(c, which, profile=profile):
            raw = env[env_name("MODKIT_", profile, c, which)]
            return float(raw) if raw else None

        thresholds = {c: (read(c, "review"), read(c, "block")) for c in names}
        policy = env[f"MODKIT_{profile.upper()}_UNTHRESHOLDED"]
        own = {
            c: env[env_name("MODKIT_", profile, c, "unthresholded")]
            for c in names
            if env_name("MODKIT_", profile, c, "unthresholded") in env
        }
        assert policy == "review" and own == {"harassment/threatening": "never_flag"}
        for s in _edge_scores(SPEC):
            for flags in ({}, dict.fromkeys(SPEC, True), {"illicit": True}):
                got = _decide(thresholds, s, flags, policy, own)
                assert got == _expected(tf[profile], s, flags), (s, flags)
    assert env_name("MODKIT_", "input", "self-harm/intent", "block") == (
        "MODKIT_INPUT_SELF_HARM_INTENT_BLOCK"
    )


def test_env_names_of_every_api_category_are_distinct():
    names = {env_name("MODKIT_", "input", c, "block") for c in CATEGORIES}
    assert len(names) == len(CATEGORIES)


# ---------------------------------------------------------------- rego
def _rego_thresholds(text: str) -> dict:
    m = re.search(r"^thresholds := (\{.*?^\})$", text, re.MULTILINE | re.DOTALL)
    assert m, "the policy holds its thresholds as one JSON object"
    return json.loads(m.group(1))


def _is_number(x) -> bool:  # Rego's is_number: booleans and null are not numbers
    return isinstance(x, int | float) and not isinstance(x, bool)


def _rego_eval(text: str, inp: dict) -> dict:
    """An independent reading of the exported rules (no OPA binary is available here).

    Each step transcribes one rule of the policy with Rego's semantics: a rule body whose
    expression is undefined (a missing key) does not hold; `is_number` rejects null and
    booleans, so a null threshold never fires (without it Rego would order null below
    every number and `score >= null` would hold).
    """
    thresholds = _rego_thresholds(text)
    default = re.search(r'^default profile := "(\w+)"$', text, re.MULTILINE).group(1)
    m = re.search(r"^unthresholded := (\{.*?^\})$", text, re.MULTILINE | re.DOTALL)
    assert m, "the policy holds the profiles' unthresholded policies as one JSON object"
    policies = json.loads(m.group(1))
    profile = inp.get("profile", default)
    table = thresholds.get(profile, {})
    scores = inp.get("category_scores", {})
    flags = inp.get("categories", {})

    def has_threshold(c):
        return c in table and (_is_number(table[c]["block"]) or _is_number(table[c]["review"]))

    def policy(c):  # object.get(thresholds[profile], [c, "unthresholded"], profile_policy)
        return table.get(c, {}).get("unthresholded", policies.get(profile, "backend_flag"))

    scored = {c for c in table if has_threshold(c) and _is_number(scores.get(c))}
    blocked = {
        c for c in scored if _is_number(table[c]["block"]) and scores[c] >= table[c]["block"]
    }
    review = {
        c
        for c in scored - blocked
        if _is_number(table[c]["review"]) and scores[c] >= table[c]["review"]
    }
    mentioned = {c for c, v in scores.items() if _is_number(v)}
    mentioned |= {c for c, f in flags.items() if isinstance(f, bool)}
    unthresholded = {c for c in mentioned if not has_threshold(c)}
    blocked |= {c for c in unthresholded if policy(c) == "backend_flag" and flags.get(c) is True}
    review |= {c for c in unthresholded if policy(c) == "review" and flags.get(c) is True}
    review |= {
        c for c in unthresholded if policy(c) != "never_flag" and not isinstance(flags.get(c), bool)
    }
    if blocked:
        action = "block"
    elif review:
        action = "review"
    elif scored | unthresholded:
        action = "allow"
    else:
        action = "unscored"
    return {"action": action, "blocked": sorted(blocked), "review": sorted(review)}


def test_rego_policy_is_the_documented_rule(tmp_path):
    tf = _file(SPEC, profiles=("input", "output"), own={"harassment/threatening": "review"})
    text = export_thresholds(tf, "rego", rego_package="acme.moderation")
    assert "package acme.moderation" in text and "import rego.v1" in text
    # the rules the independent reading above transcribes, guard by guard
    for line in (
        "is_number(input.category_scores[c])",
        "t := thresholds[profile][c].block",
        "t := thresholds[profile][c].review",
        "not c in blocked",
        "input.category_scores[c] >= t",
        'default action := "unscored"',
        "has_threshold(c) if is_number(thresholds[profile][c].block)",
        "has_threshold(c) if is_number(thresholds[profile][c].review)",
        'profile_policy := object.get(unthresholded, profile, "backend_flag")',
        'policy(c) := object.get(object.get(thresholds, profile, {}), [c, "unthresholded"], '
        "profile_policy)",
        "some c, f in input.categories",
        "not has_threshold(c)",
        'policy(c) == "backend_flag"',
        "input.categories[c] == true",
        'policy(c) != "never_flag"',
        "not is_boolean(input.categories[c])",
        "decided := scored | unthresholded_categories",
    ):
        assert text.count(line) >= 1, line
    assert text.count("is_number(t)") == 2  # null thresholds never fire
    for profile in ("input", "output"):
        for s in _edge_scores(SPEC):
            for flags in ({}, dict.fromkeys([*SPEC, "illicit"], True), {"illicit": False}):
                inp = {"category_scores": s, "categories": flags, "profile": profile}
                assert _rego_eval(text, inp) == _expected(tf[profile], s, flags), (s, flags)
    if shutil.which("opa"):  # the real engine, where installed
        policy = tmp_path / "p.rego"
        policy.write_text(text, encoding="utf-8")
        for s in _edge_scores(SPEC)[:20]:
            inp = tmp_path / "in.json"
            inp.write_text(json.dumps({"category_scores": s, "categories": {}}), encoding="utf-8")
            out = subprocess.run(
                ["opa", "eval", "-f", "json", "-d", str(policy), "-i", str(inp), "data.acme"],
                capture_output=True,
                text=True,
                check=True,
            )
            value = json.loads(out.stdout)["result"][0]["expressions"][0]["value"]
            value = value["moderation"]["decision"]
            assert value["action"] == _expected(tf["input"], s)["action"]


def test_rego_of_one_profile_defaults_to_that_profile():
    tf = _file({"violence": (0.2, 0.4)}, profiles=("output",))
    text = export_thresholds(tf, "rego", profile="output")
    assert 'default profile := "output"' in text
    got = _rego_eval(text, {"category_scores": {"violence": 0.5}})
    assert got["action"] == "block"


@given(
    spec=spec_st,
    scores=st.lists(st.tuples(scores_st, flags_st), max_size=20),
    policy=st.sampled_from(POLICIES),
    own=own_st,
)
def test_rego_thresholds_decide_as_decide(spec, scores, policy, own):
    tf = _file(spec, policy=policy, own=own)
    text = export_thresholds(tf, "rego")
    for s, flags in [*scores, *((e, {}) for e in _edge_scores(spec))]:
        inp = {"category_scores": s, "categories": flags}
        assert _rego_eval(text, inp) == _expected(tf["input"], s, flags)


# ---------------------------------------------------------------- litellm
@pytest.mark.slow
def test_litellm_guardrail_blocks_exactly_what_decide_blocks(tmp_path):
    tf = _file(SPEC)
    path = tf.save(tmp_path / "thresholds.json")
    # recorded scores around every threshold, replayed by `modkit serve`
    texts, lines = [], []
    for i, s in enumerate(_edge_scores(SPEC)):
        scores = {c: 0.0 for c in CATEGORIES}
        scores.update({c: v for c, v in s.items() if c in scores and v is not None})
        text = f"text {i}"
        texts.append((text, scores))
        result = {
            "flagged": False,
            "categories": dict.fromkeys(CATEGORIES, False),
            "category_scores": scores,
        }
        lines.append(json.dumps({"input": text, "model": "rec-1", "result": result}))
    replay = tmp_path / "recorded.jsonl"
    replay.write_text("\n".join(lines) + "\n", encoding="utf-8")
    serve = ["--backend", "replay", "--replay", str(replay), "--thresholds", str(path)]
    with ServeProcess([*serve, "--profile", "input", "--no-access-log"], timeout=120) as srv:
        doc = yaml.safe_load(
            export_thresholds(tf, "litellm", litellm_api_base=srv.url, litellm_api_key_env="K")
        )
        (guard,) = doc["guardrails"]
        params = guard["litellm_params"]
        assert params["guardrail"] == "openai_moderation" and params["mode"] == "pre_call"
        assert params["api_key"] == "os.environ/K"
        with httpx.Client(timeout=30) as http:
            for text, scores in texts:
                # what LiteLLM's openai_moderation guardrail does with its config
                r = http.post(
                    f"{params['api_base']}/moderations",
                    json={"model": "omni-moderation-latest", "input": text},
                    headers={"Authorization": "Bearer unused"},
                )
                r.raise_for_status()
                blocked_by_litellm = r.json()["results"][0]["flagged"]
                assert blocked_by_litellm == (tf["input"].decide(scores).action == "block")


# ---------------------------------------------------------------- the command
def test_cli_writes_each_format_to_stdout_or_a_file(tmp_path, capsys):
    path = _file(SPEC, profiles=("input", "output")).save(tmp_path / "t.json")
    for fmt in ("env", "yaml", "litellm", "rego", "json-flat"):
        assert main(["export", str(path), "--format", fmt, "--profile", "output"]) == 0
        printed = capsys.readouterr().out
        tf = load_threshold_file(path)
        assert printed == export_thresholds(tf, fmt, profile="output")
        assert printed != export_thresholds(tf, fmt)
        target = tmp_path / f"x.{fmt}"
        assert main(["export", str(path), "-f", fmt, "-o", str(target)]) == 0
        assert target.read_text(encoding="utf-8") == export_thresholds(
            load_threshold_file(path), fmt
        )
    # the installed command, once
    out = subprocess.run(
        [*MODKIT, "export", str(path), "--format", "json-flat"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["input.violence.block"] == 0.93


def test_cli_bad_input_is_one_line_and_nonzero(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1}', encoding="utf-8")
    out = subprocess.run(
        [*MODKIT, "export", str(bad), "--format", "env"], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert out.stderr.startswith("modkit export: error:") and "bad.json" in out.stderr
    with pytest.raises(InputError, match="rego package"):
        export_thresholds(_file(SPEC), "rego", rego_package="1bad")
    with pytest.raises(InputError, match="unknown export format"):
        export_thresholds(_file(SPEC), "toml")
    assert modkit.thresholds.EXPORT_FORMATS == ("env", "yaml", "litellm", "rego", "json-flat")


def test_litellm_with_both_profiles_points_each_guardrail_at_its_server():
    tf = _file(SPEC, profiles=("input", "output"))
    doc = yaml.safe_load(
        export_thresholds(
            tf, "litellm", litellm_api_base="http://a/v1", litellm_output_api_base="http://b/v1"
        )
    )
    got = {g["litellm_params"]["mode"]: g["litellm_params"]["api_base"] for g in doc["guardrails"]}
    assert got == {"pre_call": "http://a/v1", "post_call": "http://b/v1"}
    only_out = yaml.safe_load(export_thresholds(tf, "litellm", profile="output"))
    assert only_out["guardrails"][0]["litellm_params"]["api_base"] == "http://127.0.0.1:8000/v1"


def test_cli_unknown_profile_names_the_file(tmp_path, capsys):
    path = modkit.ThresholdSet.from_thresholds({"violence": 0.5}).save(tmp_path / "t.json")
    assert main(["export", str(path), "--format", "env", "--profile", "tenant_nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"modkit export: error: {path}: no profile 'tenant_nope' (profiles: input)")
