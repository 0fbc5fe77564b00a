"""Policy-prompt backend (gpt-oss-safeguard): the official ``openai`` SDK's chat completions
against :class:`PolicyModelFake` over real HTTP; the answer parser and the label-token
arithmetic as properties."""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit.backends import PolicyBackend, parse_policy_answer, read_policies
from modkit.backends._verdict import label_probabilities, token_at
from modkit.cli import main
from modkit.testing import Fault, PolicyModelFake

TEXTS = [
    f"post {i}: " + ("I will kill you" if i % 3 == 0 else "a walk in the park") for i in range(9)
]
MODEL = "openai/gpt-oss-safeguard-20b"
VIOLENCE = "# Violence\nFlag threats of violence.\n\n## Output\nAnswer 1 if violating, else 0.\n"
HATE = '# Hate\nFlag slurs.\n\n## Output\nJSON: {"violation": 0 or 1, "policy_category": ...}\n'


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def policies(tmp_path):
    v, h = tmp_path / "violence.md", tmp_path / "hate.md"
    v.write_text(VIOLENCE, encoding="utf-8")
    h.write_text(HATE, encoding="utf-8")
    return v, h


def _run(fake, policy, texts=TEXTS, run=None, **kw):
    with PolicyBackend(MODEL, base_url=fake.url, policy=policy, **kw) as backend:
        df = modkit.moderate(
            texts, backend=backend, cache=None, progress=False, max_retries=3, **(run or {})
        )
    return df, backend


def test_logprob_scores_are_the_label_token_probability_and_the_policy_is_in_the_model(
    policies,
):
    v, h = policies
    with PolicyModelFake(api_key="sk-policy-canary-1") as fake:
        df, backend = _run(fake, [v, h], api_key="sk-policy-canary-1", reasoning_effort="high")
        sent = fake.requests
    assert (df["error"] == "").all()
    for row in df.to_dict("records"):
        # bare label (violence) and JSON field (hate): both read at the label's token
        assert row["violence"] == pytest.approx(fake.p_violation(row["text"], VIOLENCE))
        assert row["hate"] == pytest.approx(fake.p_violation(row["text"], HATE))
        assert bool(row["flagged"]) == (row["violence"] >= 0.5 or row["hate"] >= 0.5)
    digest = {
        c: hashlib.sha256(p.read_bytes()).hexdigest() for c, p in (("violence", v), ("hate", h))
    }
    combined = hashlib.sha256("".join(f"{c}:{d}\n" for c, d in digest.items()).encode()).hexdigest()
    assert (df["model"] == f"{MODEL}@policy-sha256:{combined}+logprobs").all()
    applied = json.loads(df["result_json"].iloc[0])["category_applied_input_types"]
    assert applied["score_method"] == ["logprobs"]
    assert applied["policy_sha256"] == [f"{c}:{d}" for c, d in digest.items()]
    body = sent[0].body
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][0]["content"] in (VIOLENCE, HATE)
    assert body["reasoning_effort"] == "high" and body["logprobs"] is True
    assert body["temperature"] == 0
    assert sent[0].headers["authorization"] == "<redacted>"
    assert "canary" not in repr(backend) + df.to_json()
    assert backend.parse_counts == {"answers": 2 * len(TEXTS)}
    assert backend.parse_failure_rate == 0.0


def test_one_policy_file_is_recorded_by_its_own_sha256_and_an_edit_is_a_new_snapshot(
    policies, tmp_path
):
    v, _ = policies
    with PolicyModelFake() as fake:
        before, _ = _run(fake, v)
        v.write_text(VIOLENCE + "Threats against animals count too.\n", encoding="utf-8")
        after, _ = _run(fake, v)
    old = f"{MODEL}@policy-sha256:{hashlib.sha256(VIOLENCE.encode()).hexdigest()}+logprobs"
    assert (before["model"] == old).all()
    assert before["model"].iloc[0] != after["model"].iloc[0]
    # the threshold file keeps the snapshot; check reports both sides
    ts = modkit.ThresholdSet.from_thresholds({"violence": 0.5}, model=before["model"].iloc[0])
    path = ts.save(tmp_path / "t.json")
    loaded = modkit.load_thresholds(path)
    assert loaded.model == old
    labels = pd.DataFrame({"violence": before["text"].str.contains("kill").astype(float)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", modkit.thresholds.FitWarning)  # few rows
        fitted = modkit.fit_thresholds(before, labels, "f1")
    assert fitted.model == old  # the fitted file records the policy's sha256
    gate = modkit.check_thresholds(loaded, after, baseline=before, max_changed=1.0)
    assert gate.meta["thresholds_model"] == old and gate.meta["model"] != old
    drift = modkit.decision_drift(before, after, loaded)
    assert len(drift.decisions) == len(TEXTS)


def test_without_logprobs_auto_votes_and_records_the_method(policies):
    v, _ = policies
    with PolicyModelFake(logprobs=False) as fake:
        df, _ = _run(fake, v, votes=4, run={"batch_size": 1, "concurrency": 1})
        sent = fake.requests
    assert (df["error"] == "").all()
    assert (df["model"].str.endswith("+vote4")).all()
    for s in df["violence"]:
        assert s * 4 == pytest.approx(round(s * 4))  # a share of 4 votes
    harmful = df[df["text"].str.contains("kill")]["violence"].mean()
    calm = df[~df["text"].str.contains("kill")]["violence"].mean()
    assert harmful > calm
    votes = [r.body for r in sent if r.body.get("temperature") == 1.0]
    assert len(votes) == 4 * len(TEXTS) and all("logprobs" not in b for b in votes)
    # one at a time: only the first request asked for logprobs, then the backend voted only
    assert sum(1 for r in sent if r.body.get("logprobs")) == 1
    applied = json.loads(df["result_json"].iloc[0])["category_applied_input_types"]
    assert applied["score_method"] == ["vote4"]


def test_logprobs_method_without_logprobs_is_a_per_row_error_not_a_score(policies):
    v, _ = policies
    with PolicyModelFake(logprobs=False) as fake:
        df, _ = _run(fake, v, texts=TEXTS[:3], score_method="logprobs")
    assert "violence" not in df.columns  # no row has a score
    assert df["error"].str.contains("logprobs do not cover the label").all()


def test_unparseable_answers_are_per_row_errors_and_the_failure_rate_is_reported(
    policies, tmp_path, capsys
):
    v, h = policies
    texts = [f"message number {i}" for i in range(40)]
    with PolicyModelFake(garbage=0.25) as fake:
        df, backend = _run(fake, [v, h], texts=texts)
        garbage = [fake.is_garbage(t) for t in texts]
    assert 0 < sum(garbage) < len(texts)
    bad = df["error"] != ""
    assert bad.tolist() == garbage
    assert df.loc[bad, ["violence", "hate"]].isna().all().all()  # never a score
    assert df.loc[bad, "error"].str.contains("holds no label: 'I cannot tell.'").all()
    assert backend.parse_counts["failures"] == 2 * sum(garbage)
    assert backend.parse_failure_rate == pytest.approx(sum(garbage) / len(texts))
    # the CLI reports the rate
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    with PolicyModelFake(garbage=0.25) as fake:
        code = main(
            ["moderate", str(src), "-o", str(out), "--backend", "policy", "--base-url", fake.url,
             "--model", MODEL, "-O", f"policy={v}", "-O", "reasoning_effort=low", "--no-progress",
             "--no-cache"]
        )  # fmt: skip
    assert code in (0, None)
    err = capsys.readouterr().err
    k = sum(garbage)
    assert f"parse failures): {k} of {len(texts)} ({k / len(texts):.1%})" in err
    written = modkit.read_table(out)
    assert (written["error"] != "").sum() == k


def test_vote_needs_a_majority_of_labels(policies):
    v, _ = policies
    with PolicyModelFake(garbage=1.0) as fake:
        df, _ = _run(fake, v, texts=["anything"], score_method="vote", votes=3)
    assert "violence" not in df.columns
    assert "3 of 3 votes without a label" in df["error"].iloc[0]


def test_server_errors_are_retried_and_a_bad_key_is_named(policies):
    v, _ = policies
    with PolicyModelFake() as fake:
        fake.push(Fault.server_error(), Fault.rate_limited(0))
        df, _ = _run(fake, v, texts=TEXTS[:2])
    assert (df["error"] == "").all()
    with (
        PolicyModelFake(api_key="right") as fake,
        pytest.raises(modkit.AuthenticationError, match="POLICY_KEY"),
    ):
        _run(fake, v, texts=TEXTS[:1], api_key="wrong", api_key_env="POLICY_KEY")


def test_bad_policy_files_and_options_are_named(tmp_path):
    with pytest.raises(modkit.InputError, match=r"policy .*nope\.md: no such file"):
        modkit.make_backend(
            "policy", model=MODEL, base_url="http://x/v1", policy=tmp_path / "nope.md"
        )
    empty = tmp_path / "empty.md"
    empty.write_text("  \n", encoding="utf-8")
    with pytest.raises(modkit.InputError, match=r"empty\.md: the file is empty"):
        read_policies(empty)
    latin = tmp_path / "latin.md"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(modkit.InputError, match=r"latin.md: not UTF-8 \(byte 3\)"):
        read_policies(latin)
    upper = tmp_path / "Violence.md"
    upper.write_text("policy", encoding="utf-8")
    with pytest.raises(modkit.InputError, match="category name 'Violence' must be lower case"):
        read_policies(upper)
    assert read_policies({"self-harm/intent": upper}) == {"self-harm/intent": "policy"}
    with pytest.raises(modkit.InputError, match="needs option 'policy'"):
        modkit.make_backend("policy", model=MODEL, base_url="http://x/v1")
    with pytest.raises(modkit.InputError, match="reasoning_effort"):
        modkit.make_backend(
            "policy", model=MODEL, base_url="http://x/v1", policy=upper, reasoning_effort="max"
        )
    with pytest.raises(modkit.InputError, match="votes"):
        modkit.make_backend("policy", model=MODEL, base_url="http://x/v1", policy=upper, votes=0)


def test_cli_names_a_missing_policy_file_in_one_line(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("hello\n", encoding="utf-8")
    code = main(
        ["moderate", str(src), "-o", str(tmp_path / "o.jsonl"), "--backend", "policy",
         "--base-url", "http://127.0.0.1:9/v1", "--model", MODEL, "-O",
         f"policy={tmp_path / 'missing.md'}"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code not in (0, None)
    assert "missing.md: no such file" in err and "Traceback" not in err


# ---------------------------------------------------------------- properties
_LABELS = ["0", "1", "true", "false", "yes", "no", "unsafe", "safe", "violation", "violating"]


@given(st.text())
def test_any_answer_gives_a_verdict_on_a_label_or_none_never_an_exception(text):
    verdict = parse_policy_answer(text)
    if verdict is not None:
        assert 0 <= verdict.start < verdict.end <= len(text)
        word = text[verdict.start : verdict.end].strip("\"'").lower()
        assert word in {*_LABELS, "no violation", "non-violating"}


@given(
    st.sampled_from([0, 1, True, False]),
    st.text(st.characters(blacklist_characters='"'), max_size=20),
    st.text(max_size=40),
)
def test_a_violation_field_is_read_whatever_surrounds_it(value, category, reasoning):
    body = json.dumps({"violation": value, "policy_category": category, "rationale": "x"})
    text = f"<|channel|>analysis<|message|>{reasoning}<|end|><|channel|>final<|message|>{body}"
    verdict = parse_policy_answer(text)
    assert verdict is not None and verdict.violation == bool(value)
    assert text[verdict.start : verdict.end].lower() in ("0", "1", "true", "false")


@given(st.sampled_from(_LABELS), st.sampled_from(["", " ", "\n", '"', "."]))
def test_a_bare_label_is_read_with_its_position(label, pad):
    text = f"{pad}{label.upper() if label.isalpha() else label}{pad}"
    verdict = parse_policy_answer(text)
    assert verdict is not None
    assert verdict.violation == (label in ("1", "true", "yes", "unsafe", "violation", "violating"))
    assert text[verdict.start : verdict.end].lower() == label


_token = st.fixed_dictionaries(
    {
        "token": st.text(max_size=4),
        "logprob": st.one_of(st.floats(allow_nan=True), st.just(-0.5)),
        "top_logprobs": st.lists(
            st.fixed_dictionaries(
                {"token": st.sampled_from(["1", "0", " 1", "x", ""]), "logprob": st.floats()}
            ),
            max_size=4,
        ),
    }
)


_answer_piece = st.sampled_from(
    ['{"', "violation", '": ', "1", "0", " 1", "true", "}", "I", " think", "\n", "unsafe", " "]
)
_answer_token = st.fixed_dictionaries(
    {
        "token": _answer_piece,
        "logprob": st.floats(-30, 0),
        "top_logprobs": st.lists(
            st.fixed_dictionaries({"token": _answer_piece, "logprob": st.floats(-30, 0)}),
            max_size=4,
        ),
    }
)


@given(st.lists(_answer_token, max_size=10), st.booleans(), st.text(max_size=20))
def test_any_answer_gives_a_score_only_with_a_label(tokens, spelled, other):
    """Any model text and logprobs: a label and a probability, a label alone (a vote or a
    per-row error follows), or a parse error; never an exception, never a score without a
    label."""
    content = "".join(t["token"] for t in tokens) if spelled else other
    verdict, p = PolicyBackend.label_score(content, tokens)
    if verdict is None:
        assert p is None
    if p is not None:
        assert 0.0 <= p <= 1.0
        chosen = tokens[token_at(tokens, content, verdict.start)]
        # the probability is read where the label is: a token that is itself a label word
        assert parse_policy_answer(chosen["token"]) is not None


@given(st.lists(_token, max_size=6), st.text(max_size=10), st.integers(-2, 12))
def test_token_arithmetic_never_raises_and_gives_probabilities(tokens, text, index):
    i = token_at(tokens, text, index)
    if i is None:
        return
    assert 0 <= i < len(tokens)
    probs = label_probabilities(tokens[i], {"1": "pos", "0": "neg"}.get)
    if probs is not None:
        assert all(0.0 <= p <= 1.0 for p in probs.values())
        assert math.isclose(sum(probs.values()), 1.0)


@settings(max_examples=25, deadline=None)
@given(st.floats(0.011, 0.989))
def test_the_score_is_the_label_probability_over_http(p):
    """End to end: whatever the model's P(violation), the score is that probability."""

    class Fixed(PolicyModelFake):
        def p_violation(self, text, policy):
            return p

    import tempfile
    from pathlib import Path

    policy = Path(tempfile.mkdtemp()) / "violence.md"
    policy.write_text(VIOLENCE, encoding="utf-8")
    with Fixed() as fake:
        df, _ = _run(fake, policy, texts=["t"])
    assert df["violence"].iloc[0] == pytest.approx(p)


def test_the_cache_answers_the_same_policy_and_asks_again_after_an_edit(policies, tmp_path):
    v, _ = policies
    cache = modkit.Cache(tmp_path / "cache.sqlite")
    with PolicyModelFake() as fake:
        for _ in range(2):
            with PolicyBackend(MODEL, base_url=fake.url, policy=v) as backend:
                first = modkit.moderate(TEXTS, backend=backend, cache=cache, progress=False)
        assert len(fake.requests) == len(TEXTS)  # the second run came from the cache
        v.write_text(VIOLENCE + "Edited.\n", encoding="utf-8")
        with PolicyBackend(MODEL, base_url=fake.url, policy=v) as backend:
            edited = modkit.moderate(TEXTS, backend=backend, cache=cache, progress=False)
        assert len(fake.requests) == 2 * len(TEXTS)
    cache.close()
    assert first["model"].iloc[0] != edited["model"].iloc[0]
