"""Nemotron Safety Guard backend: the official ``openai`` SDK's chat completions against
:class:`NemotronSafetyGuardFake` over real HTTP; the user's prompt template (placeholders,
sha256 in the model string), P(unsafe) at the rating token, categories as columns,
per-row errors; the answer parser as a property; the CLI."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit.backends import NEMOTRON_SAFETY_CATEGORIES, parse_nemotron_safety
from modkit.cli import main
from modkit.testing import NemotronSafetyGuardFake, unit_score

MODEL = "nvidia/Llama-3.1-Nemotron-Safety-Guard-8B-v3"
TEMPLATE = (
    "Check the conversation against the categories; answer in JSON only.\n"
    "user: {query}\n"
    "response: agent: {response}\n"
    'Output JSON: {"User Safety": ..., "Response Safety": ...}\n'
)
TEXTS = [
    f"note {i}: " + w
    for i, w in enumerate(
        ["I will kill you", "a walk", "I hate them", "nice day", "you idiot", "suicide"] * 3
    )
]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def template(tmp_path):
    path = tmp_path / "nemotron.txt"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


def _run(fake, template, texts=TEXTS, **kw):
    with modkit.backends.NemotronSafetyGuardBackend(
        MODEL, base_url=fake.url, prompt_template=template, **kw
    ) as backend:
        df = modkit.moderate(texts, backend=backend, cache=None, progress=False, max_retries=3)
        return df, backend


def test_unsafe_probability_and_categories_are_columns(template):
    with NemotronSafetyGuardFake(api_key="sk-nemo-canary-3") as fake:
        df, backend = _run(fake, template, api_key="sk-nemo-canary-3")
        sent = fake.requests
    assert (df["error"] == "").all()
    assert {"unsafe", *NEMOTRON_SAFETY_CATEGORIES} <= set(df.columns)
    assert modkit.providers.detect_provider(df.columns) == "nemotron-safety-guard"
    digest = hashlib.sha256(TEMPLATE.encode()).hexdigest()
    assert (df["model"] == f"{MODEL}@prompt-template-sha256:{digest}").all()
    flagged_some = False
    for row in df.to_dict("records"):
        prompt = backend.prompt(row["text"])
        p = fake.unsafe_probability(prompt)
        assert row["unsafe"] == pytest.approx(p)
        assert row["flagged"] == (p >= 0.5)
        listed = fake.listed_categories(prompt) if p >= 0.5 else []
        flagged_some |= bool(listed)
        for c in NEMOTRON_SAFETY_CATEGORIES:
            assert row[c] == pytest.approx(p if c in listed else 0.0)
    assert flagged_some
    body = sent[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["temperature"] == 0
    sent_prompts = sorted(r.body["messages"][0]["content"] for r in sent)
    assert [len(r.body["messages"]) for r in sent] == [1] * len(TEXTS)  # one user message
    assert sent_prompts == sorted(backend.prompt(t) for t in TEXTS)
    assert any("user: note 0: I will kill you\nresponse: agent: \n" in c for c in sent_prompts)
    assert sent[0].headers["authorization"] == "<redacted>"
    assert "canary" not in df.to_json()


def test_response_mode_rates_the_response(template):
    with NemotronSafetyGuardFake() as fake:
        df, _ = _run(fake, template, TEXTS[:6], mode="response", context="{query} hi")
        sent = fake.requests
    assert (df["error"] == "").all()
    contents = [r.body["messages"][0]["content"] for r in sent]
    # one pass: braces in the context are text, never placeholders
    assert any(f"user: {{query}} hi\nresponse: agent: {TEXTS[0]}\n" in c for c in contents)
    after = "\n" + TEMPLATE.split("{response}\n")[1]  # the fake rates what follows the marker
    for row in df.to_dict("records"):
        assert row["unsafe"] == pytest.approx(fake.unsafe_probability(row["text"] + after))
    applied = json.loads(df["result_json"].iloc[0])["category_applied_input_types"]
    assert applied["rating"][0].startswith("Response Safety: ")


def test_template_errors_name_the_file_and_the_placeholder(tmp_path):
    no_query = tmp_path / "no_query.txt"
    no_query.write_text("response: {response}", encoding="utf-8")
    no_response = tmp_path / "no_response.txt"
    no_response.write_text("user: {query}", encoding="utf-8")
    make = modkit.backends.NemotronSafetyGuardBackend
    with pytest.raises(modkit.InputError, match=r"no_query\.txt: no \{query\} placeholder"):
        make(MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=no_query)
    with pytest.raises(modkit.InputError, match=r"no_response\.txt: no \{response\} placeholder"):
        make(MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=no_response, mode="response")
    with pytest.raises(modkit.InputError, match=r"missing\.txt: no such file"):
        make(MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=tmp_path / "missing.txt")
    with pytest.raises(modkit.InputError, match="prompt_template"):
        modkit.make_backend("nemotron-safety-guard", model=MODEL, base_url="http://x/v1")
    # prompt mode needs no {response}
    make(MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=no_response).close()


def test_a_template_edit_is_a_new_snapshot(template, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(TEMPLATE + "Be strict.\n", encoding="utf-8")
    with NemotronSafetyGuardFake() as fake:
        a, _ = _run(fake, template, TEXTS[:2])
        b, _ = _run(fake, other, TEXTS[:2])
    assert a["model"].iloc[0] != b["model"].iloc[0]
    assert hashlib.sha256(other.read_bytes()).hexdigest() in b["model"].iloc[0]


def test_answers_without_a_rating_are_per_row_errors_never_scores(template):
    texts = [f"line {i}" for i in range(30)]
    with NemotronSafetyGuardFake(garbage=0.3) as fake:
        df, backend = _run(fake, template, texts)
        bad = [unit_score(backend.prompt(t), "nemotron-garbage") < 0.3 for t in texts]
    assert 0 < sum(bad) < len(texts)
    assert (df["error"] != "").tolist() == bad
    assert df.loc[bad, "unsafe"].isna().all()
    assert df.loc[bad, "error"].str.contains("holds no safety rating").all()


def test_no_alternatives_at_the_rating_is_a_per_row_error_never_0_or_1(template):
    with NemotronSafetyGuardFake() as fake:
        df, _ = _run(fake, template, TEXTS[:4], top_logprobs=1)
    assert "unsafe" not in df.columns or df["unsafe"].isna().all()
    assert df["error"].str.contains("list no alternative").all()


def test_no_logprobs_is_an_error_that_says_so(template):
    class NoLogprobs(NemotronSafetyGuardFake):
        def answer(self, method, path, query, headers, body):
            reply = super().answer(method, path, query, headers, body)
            if reply.status == 200:
                reply.body["choices"][0]["logprobs"] = None
            return reply

    with NoLogprobs() as fake, pytest.raises(modkit.BackendError, match="no logprobs"):
        _run(fake, template, TEXTS[:1])


def test_cli_moderate_with_a_prompt_template(tmp_path, template, capsys):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    bad_template = tmp_path / "bad.txt"
    bad_template.write_text("no placeholders here", encoding="utf-8")
    base = ["moderate", str(src), "-o", str(out), "--backend", "nemotron-safety-guard",
            "--model", MODEL, "--no-progress", "--no-cache"]  # fmt: skip
    with NemotronSafetyGuardFake() as fake:
        code = main([*base, "--base-url", fake.url, "-O", f"prompt_template={template}"])
        bad = main([*base, "--base-url", fake.url, "-O", f"prompt_template={bad_template}"])
    assert code in (0, None) and bad not in (0, None)
    df = modkit.read_table(out)
    assert df["unsafe"].between(0, 1).all() and "Violence" in df.columns
    err = capsys.readouterr().err
    assert "bad.txt: no {query} placeholder" in err and "Traceback" not in err


# ---------------------------------------------------------------- properties
_piece = st.sampled_from(
    ['{', '}', '"User Safety"', '"Response Safety"', '"Safety Categories"', ": ", '"',
     "safe", "unsafe", "UNSAFE", ", ", "Violence", "S3: Criminal Planning/Confessions",
     "Sexual (minor)", "Other.", "x", " ", "\n"]
)  # fmt: skip


@given(st.one_of(st.text(), st.lists(_piece, max_size=16).map("".join)))
def test_any_answer_parses_to_a_rating_and_categories_or_none_never_an_exception(text):
    answer = parse_nemotron_safety(text)
    oracle = {
        key: re.search(f'"{key}"\\s*:\\s*"\\s*(safe|unsafe)\\b', text, re.IGNORECASE)
        for key in ("User Safety", "Response Safety")
    }
    if answer is None:
        assert not any(oracle.values())
        return
    for key, rating, at in (
        ("User Safety", answer.user_safety, answer.user_at),
        ("Response Safety", answer.response_safety, answer.response_at),
    ):
        m = oracle[key]
        assert (rating is None) == (m is None)
        if rating is not None:
            assert rating in ("safe", "unsafe") and at is not None
            assert text[at:].lower().startswith(rating)
    assert set(answer.categories) <= set(NEMOTRON_SAFETY_CATEGORIES)
    assert len(set(answer.categories)) == len(answer.categories)


@given(st.lists(st.sampled_from(NEMOTRON_SAFETY_CATEGORIES), min_size=1, max_size=5))
def test_every_listed_category_name_is_read_back(names):
    text = json.dumps({"User Safety": "unsafe", "Safety Categories": ", ".join(names)})
    answer = parse_nemotron_safety(text)
    assert answer is not None and answer.user_safety == "unsafe"
    assert answer.categories == tuple(dict.fromkeys(names))


def test_response_mode_needs_the_response_rating(template):
    backend = modkit.backends.NemotronSafetyGuardBackend(
        MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=template, mode="response"
    )
    text = '{"User Safety": "unsafe"}'
    tokens = [{"token": text, "logprob": -0.1, "top_logprobs": []}]
    out = backend.result_of(text, tokens)
    backend.close()
    assert isinstance(out, modkit.ItemError) and out.code == "parse_error"
    assert "no 'Response Safety' rating" in out.message


@pytest.fixture(scope="module")
def prompt_backend(tmp_path_factory):
    path = tmp_path_factory.mktemp("nemotron") / "template.txt"
    path.write_text(TEMPLATE, encoding="utf-8")
    backend = modkit.backends.NemotronSafetyGuardBackend(
        MODEL, base_url="http://127.0.0.1:9/v1", prompt_template=path
    )
    yield backend
    backend.close()


_split = st.lists(st.integers(min_value=1, max_value=6), max_size=12)


_well_formed = st.builds(
    lambda rating, cats, spaced: json.dumps(
        {"User Safety": rating, "Safety Categories": ", ".join(cats)},
        separators=(", ", ": ") if spaced else (",", ":"),
    ),
    st.sampled_from(["safe", "unsafe", "Unsafe"]),
    st.lists(st.sampled_from(NEMOTRON_SAFETY_CATEGORIES), max_size=3),
    st.booleans(),
)


@given(
    st.one_of(st.lists(_piece, max_size=12).map("".join), _well_formed),
    _split,
    st.lists(st.floats(min_value=-30, max_value=0), min_size=1, max_size=4),
)
def test_any_answer_and_tokens_give_a_result_or_a_row_error_never_an_exception(
    prompt_backend, text, cuts, logprobs
):
    pieces, at = [], 0
    for n in cuts:
        if at < len(text):
            pieces.append(text[at : at + n])
            at += n
    if at < len(text):
        pieces.append(text[at:])
    alts = ["safe", "unsafe", " x"]
    tokens = [
        {
            "token": p,
            "logprob": logprobs[0],
            "top_logprobs": [
                {"token": a, "logprob": lp} for a, lp in zip(alts, logprobs[1:], strict=False)
            ],
        }
        for p in pieces
    ]
    out = prompt_backend.result_of(text, tokens)
    if isinstance(out, modkit.ItemError):
        assert out.code == "parse_error"
    else:
        assert all(0.0 <= v <= 1.0 for v in out.category_scores.values())
        assert out.flagged == (parse_nemotron_safety(text).user_safety == "unsafe")
