"""Granite Guardian 3.3 (think / score): the official ``openai`` SDK's chat completions against
:class:`GraniteGuardianThinkFake` over real HTTP; the ``<score>`` parser as properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit.backends import GraniteGuardian33Backend, parse_granite_score
from modkit.cli import main
from modkit.testing import GraniteGuardianThinkFake

MODEL = "ibm-granite/granite-guardian-3.3-8b"
TEXTS = [f"msg {i}: " + ("I will kill you" if i % 2 else "a quiet walk") for i in range(8)]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


def _run(fake, texts=TEXTS, **kw):
    with GraniteGuardian33Backend(MODEL, base_url=fake.url, **kw) as backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)


@pytest.mark.parametrize("think", [False, True])
@pytest.mark.parametrize("reasoning_parser", [False, True])
def test_the_score_is_p_yes_at_the_score_token(think, reasoning_parser):
    with GraniteGuardianThinkFake(reasoning_parser=reasoning_parser) as fake:
        df = _run(fake, categories=["harm", "violence"], think=think)
        sent = fake.requests
    assert (df["error"] == "").all()
    for row in df.to_dict("records"):
        for c in ("harm", "violence"):
            assert row[c] == pytest.approx(fake.p_yes(row["text"], c))
    kwargs = [r.body["chat_template_kwargs"] for r in sent]
    assert {k["guardian_config"]["criteria_id"] for k in kwargs} == {"harm", "violence"}
    assert all(k["think"] is think for k in kwargs)
    assert modkit.providers.detect_provider(df.columns) == "granite-guardian"


def test_an_answer_without_a_score_is_a_per_row_error():
    class NoScore(GraniteGuardianThinkFake):
        def answer(self, method, path, query, headers, body):
            reply = super().answer(method, path, query, headers, body)
            if reply.status == 200 and "kill" in body["messages"][-1]["content"]:
                choice = reply.body["choices"][0]
                choice["message"]["content"] = "I think it is fine"
                choice["logprobs"]["content"] = [
                    {"token": "I think it is fine", "logprob": -0.1, "top_logprobs": []}
                ]
            return reply

    with NoScore() as fake:
        df = _run(fake)
    bad = df["text"].str.contains("kill")
    assert (
        df.loc[bad, "error"]
        .str.contains("criterion 'harm': granite-guardian-3.3: no <score>")
        .all()
    )
    assert df.loc[bad, "harm"].isna().all() and (df.loc[~bad, "error"] == "").all()


def test_cli_and_bad_options(tmp_path, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS[:3]) + "\n", encoding="utf-8")
    with GraniteGuardianThinkFake() as fake:
        code = main(
            ["moderate", str(src), "-o", str(out), "--backend", "granite-guardian-3.3",
             "--base-url", fake.url, "--model", MODEL, "-O", "think=true",
             "-O", 'categories=["harm","profanity"]', "--no-progress", "--no-cache"]
        )  # fmt: skip
    assert code in (0, None)
    df = modkit.read_table(out)
    assert df[["harm", "profanity"]].stack().between(0, 1).all()
    with pytest.raises(modkit.InputError, match="unknown Granite Guardian criteria"):
        modkit.make_backend(
            "granite-guardian-3.3", model=MODEL, base_url="http://x/v1", categories=["hate"]
        )


@given(st.text(), st.sampled_from(["yes", "no", "YES", " No "]), st.text(max_size=30))
def test_the_last_score_block_is_read_whatever_precedes_it(before, word, thought):
    text = f"{before}<think>{thought}</think>\n<score>{word}</score>"
    parsed = parse_granite_score(text)
    assert parsed is not None
    label, at = parsed
    assert label == (word.strip().lower() == "yes")
    assert text[at : at + len(word.strip())].lower() == word.strip().lower()


@given(st.text())
def test_any_text_gives_a_label_or_none_never_an_exception(text):
    parsed = parse_granite_score(text)
    assert parsed is None or text[parsed[1] :].lower().startswith(("yes", "no"))
    outcome = GraniteGuardian33Backend.score_of(text, None)
    assert isinstance(outcome, modkit.ItemError) and outcome.code == "parse_error"
