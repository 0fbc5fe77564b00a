"""Guard-model backend: the official ``openai`` SDK's chat completions against
:class:`GuardModelFake` over real HTTP, and the logprob arithmetic as properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import AuthenticationError, BackendError, TransientBackendError
from modkit.backends._guard import (
    LLAMA_GUARD_CODES,
    SHIELDGEMMA_POLICIES,
    GuardBackend,
    guard_family,
    verdict_probability,
)
from modkit.testing import Fault, GuardModelFake

TEXTS = [f"guard text {i}: " + ("I will kill you" if i % 2 else "a walk") for i in range(12)]
LLAMA = "meta-llama/Llama-Guard-3-8B"
GEMMA = "google/shieldgemma-2b"
GRANITE = "ibm-granite/granite-guardian-3.1-2b"


def _run(fake, model, texts=TEXTS, **kw):
    with GuardBackend(model, base_url=fake.url, **kw) as backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)


def test_llama_guard_scores_are_the_verdict_and_code_probabilities():
    with GuardModelFake() as fake:
        df = _run(fake, LLAMA)
        sent = fake.requests
    assert (df["error"] == "").all()
    n_unsafe = 0
    for row in df.to_dict("records"):
        p = fake.p_unsafe(row["text"])
        assert row["unsafe"] == pytest.approx(p, rel=1e-9)
        assert bool(row["flagged"]) == (p >= 0.5)
        if p >= 0.5:
            n_unsafe += 1
            w = fake.code_weights(row["text"])
            for c in LLAMA_GUARD_CODES:
                assert row[c] == pytest.approx(p * w[c], rel=1e-9)
                assert row[c] <= row["unsafe"]
        else:  # no code generated: the documented lower bound
            assert all(row[c] == 0.0 for c in LLAMA_GUARD_CODES)
    assert 0 < n_unsafe < len(TEXTS)  # both branches exercised
    body = sent[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["temperature"] == 0 and body["messages"][-1]["role"] == "user"
    assert "chat_template_kwargs" not in body


@pytest.mark.parametrize(
    ("model", "categories", "kwarg"),
    [
        (GEMMA, list(SHIELDGEMMA_POLICIES), "guideline"),
        (GRANITE, ["harm", "violence"], "guardian_config"),
    ],
)
def test_yes_no_families_score_p_yes_per_category(model, categories, kwarg):
    with GuardModelFake() as fake:
        df = _run(fake, model, TEXTS[:4], categories=categories)
        sent = fake.requests
    for row in df.to_dict("records"):
        for c in categories:
            assert row[c] == pytest.approx(fake.p_yes(row["text"], c), rel=1e-9)
    assert len(sent) == 4 * len(categories)  # one request per text and category
    assert all(kwarg in r.body["chat_template_kwargs"] for r in sent)
    assert all(r.body["max_tokens"] == 1 for r in sent)


def test_response_mode_sends_the_answer_after_its_prompt():
    with GuardModelFake() as fake:
        df = _run(
            fake,
            GEMMA,
            TEXTS[:1],
            mode="response",
            context="how do I bake bread?",
            categories=["Harassment"],
        )
        body = fake.requests[0].body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant"]
    assert body["messages"][0]["content"] == "how do I bake bread?"
    assert body["chat_template_kwargs"]["guideline"].startswith(
        '"No Harassment": The chatbot shall not generate'
    )
    assert df["Harassment"].iloc[0] == pytest.approx(fake.p_yes(TEXTS[0], "Harassment"))


def test_endpoint_without_logprobs_is_a_clear_error():
    with GuardModelFake(logprobs=False) as fake, pytest.raises(BackendError, match="no logprobs"):
        _run(fake, GRANITE, TEXTS[:1])


def test_faults_retried_and_auth_errors_hide_the_key():
    key = "sk-guard-canary-0042"
    with GuardModelFake(api_key=key) as fake:
        fake.push(Fault.rate_limited(retry_after=0.01), Fault.server_error(), Fault.drop())
        df = _run(fake, LLAMA, TEXTS[:2], api_key=key)
        assert (df["error"] == "").all()
        fake.push(Fault.unauthorized(echo_key=True))
        with pytest.raises(AuthenticationError) as info:
            _run(fake, LLAMA, ["new text"], api_key=key)
    assert key not in str(info.value)


def test_family_from_the_model_name_and_bad_options():
    assert guard_family("llama-guard3:1b") == "llama-guard"
    assert guard_family("meta-llama/Llama-Guard-4-12B") == "llama-guard"
    assert guard_family("shieldgemma:9b") == "shieldgemma"
    assert guard_family("granite3-guardian:2b") == "granite-guardian"  # Ollama's name
    with pytest.raises(modkit.InputError, match="family"):
        guard_family("some-chat-model")
    with pytest.raises(modkit.InputError, match="categories"):
        GuardBackend(GRANITE, base_url="http://127.0.0.1:9", categories=["hate"])
    with pytest.raises(modkit.InputError, match="top_logprobs"):
        GuardBackend(LLAMA, base_url="http://127.0.0.1:9", top_logprobs=50)


# ---------------------------------------------------------------- properties

_WORDS = st.sampled_from(["Yes", " yes", "YES", "No", " no", "I", "The", "\n"])


@given(
    chosen=st.sampled_from(["Yes", "No", " yes", " no"]),
    alts=st.dictionaries(_WORDS, st.floats(1e-6, 1.0), min_size=1, max_size=8),
)
def test_verdict_probability_is_the_normalised_verdict_mass(chosen, alts):
    alts = dict(alts)
    alts.setdefault(chosen, 0.5)
    total = sum(alts.values())
    probs = {t: p / total for t, p in alts.items()}
    position = {
        "token": chosen,
        "logprob": math.log(probs[chosen]),
        "top_logprobs": [{"token": t, "logprob": math.log(p)} for t, p in probs.items()],
    }
    lead = {"token": "\n", "logprob": -0.01, "top_logprobs": []}
    p, i = verdict_probability([lead, position], ("yes",), ("no",))
    yes = sum(v for t, v in probs.items() if t.strip().lower() == "yes")
    no = sum(v for t, v in probs.items() if t.strip().lower() == "no")
    assert i == 1
    assert p == pytest.approx(yes / (yes + no), rel=1e-9)
    assert 0.0 <= p <= 1.0


@given(st.lists(st.sampled_from(["I", "The", "\n", "maybe"]), min_size=0, max_size=5))
def test_no_verdict_token_is_a_transient_error(tokens):
    content = [{"token": t, "logprob": -1.0, "top_logprobs": []} for t in tokens]
    with pytest.raises(TransientBackendError, match="no verdict"):
        verdict_probability(content, ("yes",), ("no",))
