"""Qwen3Guard-Gen backend: the official ``openai`` SDK's chat completions against
:class:`Qwen3GuardFake` over real HTTP; tiers as columns, strict and loose readings,
allow / review / block thresholds; the answer parser as properties."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit.backends import QWEN3GUARD_CATEGORIES, QWEN3GUARD_TIERS, parse_qwen3guard
from modkit.cli import main
from modkit.testing import Qwen3GuardFake

MODEL = "Qwen/Qwen3Guard-Gen-4B"
TEXTS = [
    f"note {i}: " + w
    for i, w in enumerate(
        ["I will kill you", "a walk", "I hate them", "nice day", "you idiot", "suicide"] * 3
    )
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def _run(fake, texts=TEXTS, **kw):
    with modkit.backends.Qwen3GuardBackend(MODEL, base_url=fake.url, **kw) as backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)


def test_tier_probabilities_and_categories_are_columns():
    with Qwen3GuardFake(api_key="sk-qwen-canary-7") as fake:
        df = _run(fake, api_key="sk-qwen-canary-7")
        sent = fake.requests
    assert (df["error"] == "").all()
    cats = [c for c in QWEN3GUARD_CATEGORIES]
    assert set(QWEN3GUARD_TIERS) | {"unsafe_strict"} | set(cats) <= set(df.columns)
    assert modkit.providers.detect_provider(df.columns) == "qwen3guard"
    for row in df.to_dict("records"):
        want = fake.tier_probabilities(row["text"])
        for t in QWEN3GUARD_TIERS:
            assert row[t] == pytest.approx(want[t])
        assert row["unsafe_strict"] == pytest.approx(1 - row["Safe"])
        total = sum(row[c] for c in cats)
        tier = max(want, key=lambda t: want[t])
        if tier == "Safe":
            assert total == 0  # no category generated: a lower bound
        else:
            assert total == pytest.approx(row["unsafe_strict"], rel=1e-6)
            weights = fake.category_weights(row["text"], tuple(cats))
            first = max(weights, key=lambda c: weights[c])
            assert row[first] == pytest.approx(row["unsafe_strict"] * weights[first])
    body = sent[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert sent[0].headers["authorization"] == "<redacted>"
    assert "canary" not in df.to_json()


def test_strict_and_loose_readings_differ_only_on_controversial():
    with Qwen3GuardFake() as fake:
        strict = _run(fake, reading="strict")
        loose = _run(fake, reading="loose")
    score_cols = [*QWEN3GUARD_TIERS, "unsafe_strict"]
    pd.testing.assert_frame_equal(strict[score_cols], loose[score_cols])
    tier = strict[list(QWEN3GUARD_TIERS)].idxmax(axis=1)
    assert (tier == "Controversial").any() and (tier == "Unsafe").any()
    assert (strict["flagged"] == tier.isin(["Unsafe", "Controversial"])).all()
    assert (loose["flagged"] == (tier == "Unsafe")).all()
    applied = json.loads(loose["result_json"].iloc[0])["category_applied_input_types"]
    assert applied["reading"] == ["loose"]


def test_response_mode_sends_the_conversation_and_records_refusal():
    with Qwen3GuardFake() as fake:
        df = _run(fake, TEXTS[:3], mode="response", context="how do I bake bread?")
        sent = fake.requests
    assert (df["error"] == "").all()
    assert "Jailbreak" not in df.columns  # prompts only
    assert sent[0].body["messages"] == [
        {"role": "user", "content": "how do I bake bread?"},
        {"role": "assistant", "content": sent[0].body["messages"][1]["content"]},
    ]
    applied = json.loads(df["result_json"].iloc[0])["category_applied_input_types"]
    assert applied["refusal"] == ["No"]


def test_answers_without_a_tier_are_per_row_errors_never_scores():
    texts = [f"line {i}" for i in range(30)]
    with Qwen3GuardFake(garbage=0.3) as fake:
        df = _run(fake, texts)
        bad = [modkit.testing.unit_score(t, "qwen3guard-garbage") < 0.3 for t in texts]
    assert 0 < sum(bad) < len(texts)
    assert (df["error"] != "").tolist() == bad
    assert df.loc[bad, list(QWEN3GUARD_TIERS)].isna().all().all()
    assert df.loc[bad, "error"].str.contains("holds no 'Safety:' label").all()


def test_review_and_block_fitted_on_the_tiers_give_three_actions(tmp_path):
    rng = np.random.default_rng(0)
    words = ["kill", "hurt", "hate", "idiot", "walk", "bread", "garden", "music"]
    texts = [f"{i} {rng.choice(words)} {rng.choice(words)}" for i in range(160)]
    with Qwen3GuardFake() as fake:
        df = _run(fake, texts)
    harmful = df["text"].str.contains("kill|hurt|hate")
    labels = pd.DataFrame(
        {"unsafe_strict": harmful.astype(float), "Unsafe": df["text"].str.contains("kill")}
    ).astype(float)
    review = modkit.fit_thresholds(df, labels[["unsafe_strict"]], "recall>=0.9")
    block = modkit.fit_thresholds(df, labels[["Unsafe"]], "precision>=0.9")
    assert review.provider == block.provider == "qwen3guard"
    ts = modkit.ThresholdSet.from_thresholds(
        {
            "unsafe_strict": {"review": review["unsafe_strict"].block},
            "Unsafe": {"block": block["Unsafe"].block},
        },
        provider="qwen3guard",
        model=MODEL,
    )
    path = ts.save(tmp_path / "qwen3guard.json")
    loaded = modkit.load_thresholds(path)
    actions = [
        loaded.decide(row).action for row in df[["unsafe_strict", "Unsafe"]].to_dict("records")
    ]
    assert {"allow", "review", "block"} <= set(actions)
    killing = df["text"].str.contains("kill").to_numpy()
    blocked = np.array([a == "block" for a in actions])
    assert blocked[killing].mean() > blocked[~killing].mean()


def test_cli_with_the_loose_reading(tmp_path, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    with Qwen3GuardFake() as fake:
        code = main(
            ["moderate", str(src), "-o", str(out), "--backend", "qwen3guard", "--base-url",
             fake.url, "--model", MODEL, "-O", "reading=loose", "--no-progress", "--no-cache"]
        )  # fmt: skip
        bad = main(
            ["moderate", str(src), "-o", str(out), "--backend", "qwen3guard", "--base-url",
             fake.url, "--model", MODEL, "-O", "reading=medium"]
        )  # fmt: skip
    assert code in (0, None) and bad not in (0, None)
    df = modkit.read_table(out)
    assert df["Unsafe"].between(0, 1).all()
    err = capsys.readouterr().err
    assert "reading must be" in err and "Traceback" not in err


def test_no_logprobs_is_an_error_that_says_so():
    class NoLogprobs(Qwen3GuardFake):
        def answer(self, method, path, query, headers, body):
            reply = super().answer(method, path, query, headers, body)
            if reply.status == 200:
                reply.body["choices"][0]["logprobs"] = None
            return reply

    with NoLogprobs() as fake, pytest.raises(modkit.BackendError, match="no logprobs"):
        _run(fake, TEXTS[:1])


# ---------------------------------------------------------------- properties
_piece = st.sampled_from(
    ["Safety:", " Safe", " Unsafe", " Controversial", "\n", "Categories:", " Violent", ",",
     " PII", " None", "Refusal:", " Yes", " No", "x", " ", "Non-violent Illegal Acts"]
)  # fmt: skip


def _names_a_tier(text: str) -> bool:
    """'Safety: <tier>' with the tier a whole word ('Safety: Safe0' names none)."""
    for tier in QWEN3GUARD_TIERS:
        said = f"Safety: {tier}"
        at = text.find(said)
        while at != -1:
            if re.match(r"\w", text[at + len(said) : at + len(said) + 1]) is None:
                return True
            at = text.find(said, at + 1)
    return False


@given(st.one_of(st.text(), st.lists(_piece, max_size=12).map("".join)))
def test_any_answer_parses_to_a_tier_or_none_never_an_exception(text):
    answer = parse_qwen3guard(text)
    if answer is None:
        assert not _names_a_tier(text)
        return
    assert text[answer.tier_at :].startswith(answer.tier)
    assert set(answer.categories) <= set(QWEN3GUARD_CATEGORIES)
    if answer.categories:
        assert text[answer.category_at :].lower().startswith(answer.categories[0].lower())


_alt = st.fixed_dictionaries(
    {"token": _piece, "logprob": st.one_of(st.floats(), st.floats(-20, 0))}
)
_tok = st.fixed_dictionaries(
    {"token": _piece, "logprob": st.floats(-20, 0), "top_logprobs": st.lists(_alt, max_size=4)}
)


@given(st.lists(_tok, max_size=12), st.booleans())
def test_any_tokens_give_probabilities_or_a_parse_error_never_an_exception(tokens, spelled):
    backend = modkit.backends.Qwen3GuardBackend(MODEL, base_url="http://127.0.0.1:9/v1")
    content = "".join(t["token"] for t in tokens) if spelled else "Safety: Unsafe"
    result = backend.result_of(content, tokens)
    if isinstance(result, modkit.ItemError):
        assert result.code == "parse_error"
        return
    assert parse_qwen3guard(content) is not None  # never a score without a tier
    scores = result.category_scores
    assert all(0.0 <= v <= 1.0 + 1e-9 for v in scores.values())
    assert math.isclose(sum(scores[t] for t in QWEN3GUARD_TIERS), 1.0)
    assert (
        sum(scores[c] for c in backend.categories) <= scores["unsafe_strict"] * (1 + 1e-9) + 1e-12
    )
