"""Mistral moderation backend, end to end: the official ``mistralai`` SDK against
:class:`MistralModerationFake` over real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest

import modkit
from modkit import AuthenticationError
from modkit.backends._mistral import MistralBackend
from modkit.testing import MISTRAL_2603_CATEGORIES, Fault, MistralModerationFake

KEY = "mistral-canary-key-55e1"
TEXTS = [f"text number {i}" for i in range(7)]


def _run(fake, texts=TEXTS, **kw):
    with MistralBackend(base_url=fake.url, api_key=KEY, **kw) as backend:
        return modkit.moderate(
            texts, backend=backend, cache=None, progress=False, max_retries=3, batch_size=4
        )


def _check(fake, df, classified):
    assert (df["error"] == "").all()
    assert (df["model"] == "mistral-moderation-2603").all()  # the pinned default
    for row, text in zip(df.to_dict("records"), classified, strict=True):
        for c in MISTRAL_2603_CATEGORIES:
            assert row[c] == fake.score(text, c)
        assert bool(row["flagged"]) == any(row[c] >= 0.5 for c in MISTRAL_2603_CATEGORIES)


def test_raw_text_endpoint_batches_and_keeps_the_nine_categories():
    with MistralModerationFake(api_key=KEY) as fake:
        df = _run(fake)
        sent = fake.requests
    _check(fake, df, TEXTS)
    assert [r.path for r in sent] == ["/v1/moderations"] * 2  # 7 texts in batches of 4
    # the two batches run concurrently: they may arrive in either order
    bodies = sorted((r.body for r in sent), key=lambda b: b["input"][0])
    assert bodies == [
        {"model": "mistral-moderation-2603", "input": TEXTS[:4]},
        {"model": "mistral-moderation-2603", "input": TEXTS[4:]},
    ]
    assert all(r.headers["authorization"] == "<redacted>" for r in sent)


def test_chat_endpoint_in_both_modes():
    with MistralModerationFake(api_key=KEY) as fake:
        prompt = _run(fake, TEXTS[:2], endpoint="chat")
        answer = _run(fake, TEXTS[:2], endpoint="chat", mode="response", context="hi there")
        bodies = [r.body for r in fake.requests]
    _check(fake, prompt, TEXTS[:2])
    _check(fake, answer, TEXTS[:2])
    turns = [[(m["role"], m["content"]) for m in conv] for conv in bodies[0]["input"]]
    assert turns == [[("user", t)] for t in TEXTS[:2]]
    assert [{k: m[k] for k in ("role", "content")} for m in bodies[1]["input"][0]] == [
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": TEXTS[0]},
    ]


def test_faults_are_retried_and_a_bad_key_stops_the_run():
    with MistralModerationFake(api_key=KEY) as fake:
        fake.push(Fault.rate_limited(retry_after=0.01), Fault.server_error(502), Fault.drop())
        df = _run(fake, TEXTS[:3])
        _check(fake, df, TEXTS[:3])
    with (
        MistralModerationFake(api_key="another") as fake,
        pytest.raises(AuthenticationError, match="MISTRAL_API_KEY") as info,
    ):
        _run(fake)
    assert KEY not in str(info.value)


def test_a_rejected_request_is_an_item_error():
    with MistralModerationFake(api_key=KEY) as fake:
        fake.push(Fault("status", 422, message="input too long", code="value_error"))
        df = _run(fake, TEXTS[:1])
    assert "422" in df["error"].iloc[0] and "input too long" in df["error"].iloc[0]


def test_options_are_checked():
    with pytest.raises(modkit.InputError, match="endpoint"):
        MistralBackend(base_url="http://127.0.0.1:9", endpoint="image")
    with pytest.raises(modkit.InputError, match="mode"):
        MistralBackend(base_url="http://127.0.0.1:9", mode="assistant")
