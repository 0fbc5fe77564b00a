"""Five boundary kinds from public reports, each fixed as a kind (issue 18, point 3).

1. a provider's answer with ``null`` / missing / unlisted categories never aborts a run:
   one lenient parser (NaN + a note, an unlisted category gets its own column + a note)
   for Mistral (raw and chat), Azure, Perspective, as for OpenAI;
2. every machine-read report is well-formed whatever the text (JUnit XML, JSON, JSONL);
3. a guard score from incomplete ``top_logprobs`` alternatives is marked, never a silent
   0 or 1;
4. (1) again for the category the backend does not list (Azure's ``flagged`` explained);
5. a Batch API output holding a ``custom_id`` twice (or one not requested) is an error
   for that row, never the later line.

End to end over real HTTP on 127.0.0.1 against the fakes of ``modkit.testing``, with
the official SDKs inside the backends (``mistralai``, ``azure-ai-contentsafety``,
``openai``), through the public API and the CLI; hypothesis for the spaces of inputs.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modkit
from modkit import BatchAPI, CheckResult, GateReport, read_table
from modkit.backends import OpenAIBackend
from modkit.cli import main
from modkit.testing import (
    MISTRAL_CATEGORIES,
    AzureContentSafetyFake,
    BatchScript,
    Fault,
    FaultServer,
    GraniteGuardianThinkFake,
    GuardModelFake,
    MistralModerationFake,
    PerspectiveFake,
    fake_result,
)
from modkit.thresholds import CategoryThreshold, ThresholdSet

TEXTS = ["a first text", "I will hurt you", "a third text"]
NO_CACHE = ["--no-progress", "--no-cache"]
UNLISTED = "category {!r} is not one the provider lists: kept as its own column"


def _run(backend, texts=TEXTS):
    with backend:
        return modkit.moderate(texts, backend=backend, cache=None, progress=False)


# ------------------------------------------------------------------ 1. Mistral nulls


@pytest.mark.parametrize("endpoint", ["raw", "chat"])
def test_mistral_null_missing_and_unlisted_categories_keep_the_run(endpoint):
    with MistralModerationFake(api_key="k") as fake:
        fake.push(Fault.drift(nulls=("pii",), missing=("law",), extra={"Weird Cat": 0.7}))
        df = _run(modkit.backends.MistralBackend(base_url=fake.url, api_key="k", endpoint=endpoint))
        assert len(fake.requests) == 1  # a 200 that parsed: never retried
    assert not df["error"].astype(bool).any()
    assert df["pii"].isna().all() and df["flagged/pii"].isna().all()
    assert df["law"].isna().all()
    assert df["Weird Cat"].tolist() == [0.7] * 3 and df["flagged/Weird Cat"].all()
    assert df["flagged"].all()  # explained by the Weird Cat column
    for text, (_, row) in zip(TEXTS, df.iterrows(), strict=True):
        for c in fake.categories_of(modkit.backends.MistralBackend(api_key="k").model):
            if c not in ("pii", "law"):
                assert row[c] == fake.score(text, c)  # the rest exactly
    notes = df.attrs["notes"]
    assert notes["category_scores['pii'] is null: NaN"] == 3
    assert notes["categories['pii'] is null: unknown"] == 3
    assert notes["category_scores['law'] is missing: NaN"] == 3
    assert notes[UNLISTED.format("Weird Cat")] == 3
    assert "Weird Cat" in modkit.category_columns(df)


def test_mistral_null_through_the_cli_writes_every_row(tmp_path, caplog):
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    with MistralModerationFake() as fake, caplog.at_level(logging.WARNING, "modkit"):
        fake.push(Fault.drift(nulls=("selfharm",)))
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "mistral",
                "--base-url",
                fake.url,
                *NO_CACHE,
            ]
        )
    assert code in (0, None)
    df = read_table(out)
    assert len(df) == 3 and df["selfharm"].isna().all() and df["sexual"].notna().all()
    assert "category_scores['selfharm'] is null: NaN" in caplog.text


def test_modkit_serve_in_front_of_mistral_passes_a_null_on_as_null():
    """The server's proxy path: the official ``openai`` SDK asks ``modkit serve`` (a thread
    here), which asks the Mistral fake; the null score stays a null, the rest is kept."""
    from openai import OpenAI

    from modkit.server import ServerThread

    with MistralModerationFake() as fake:
        fake.push(Fault.drift(nulls=("pii",), extra={"Weird Cat": 0.7}))
        backend = modkit.backends.MistralBackend(base_url=fake.url, api_key="k")
        with (
            ServerThread(backend, cache=None) as srv,
            OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
        ):
            raw = client.moderations.with_raw_response.create(input=TEXTS, model="mistral")
            body = raw.http_response.json()
    assert raw.http_response.status_code == 200
    for text, result in zip(TEXTS, body["results"], strict=True):
        assert result["category_scores"]["pii"] is None
        assert result["category_scores"]["Weird Cat"] == 0.7
        assert result["category_scores"]["sexual"] == fake.score(text, "sexual")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 9) | st.floats(-1, 2) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
CATEGORY = st.sampled_from(MISTRAL_CATEGORIES) | st.text(min_size=1, max_size=6)
RESULT = st.fixed_dictionaries(
    {},
    optional={
        "categories": st.dictionaries(CATEGORY, JSON, max_size=6) | JSON,
        "category_scores": st.dictionaries(CATEGORY, JSON, max_size=6) | JSON,
    },
)


@pytest.fixture(scope="module")
def mistral_fake():
    with MistralModerationFake() as fake:
        yield fake


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(result=RESULT | JSON, model=JSON)
def test_any_mistral_body_with_one_result_never_raises(mistral_fake, result, model):
    body = {"id": "x", "model": model, "results": [result]}
    mistral_fake.push(Fault.raw(json.dumps(body)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend = modkit.backends.MistralBackend(base_url=mistral_fake.url, api_key="k")
        df = _run(backend, ["one text"])
    assert len(df) == 1
    row = df.iloc[0]
    scores = result.get("category_scores") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(scores, dict):
        assert row["error"].startswith("mistral: results[0] is malformed")
        return
    assert row["error"] == ""
    res = json.loads(row["result_json"])
    for k, v in scores.items():
        number = isinstance(v, int | float) and not isinstance(v, bool)
        got = res["category_scores"][k]
        assert got == (float(v) if number else None)
        if k in df.columns:  # a column unless its name is taken (text, error, ...)
            assert (row[k] == float(v)) if number else math.isnan(row[k])
    flags = result.get("categories")
    assert bool(row["flagged"]) == (
        isinstance(flags, dict) and any(v is True for v in flags.values())
    )


def test_mistral_scores_are_read_as_sent_not_as_the_sdk_coerces_them():
    """The SDK's model turns a score ``true`` into 1.0 and a flag ``1`` into True."""
    result = {"categories": {"pii": 1, "law": False}, "category_scores": {"pii": True, "law": 0.5}}
    with MistralModerationFake() as fake:
        fake.push(Fault.raw(json.dumps({"id": "x", "model": "m", "results": [result]})))
        df = _run(modkit.backends.MistralBackend(base_url=fake.url, api_key="k"), ["one text"])
    assert math.isnan(df["pii"].iloc[0]) and df["law"].iloc[0] == 0.5
    assert pd.isna(df["flagged/pii"].iloc[0]) and not df["flagged"].iloc[0]
    assert df.attrs["notes"] == {
        "category_scores['pii'] is True: NaN": 1,
        "categories['pii'] is 1: unknown": 1,
    }


def test_a_score_too_large_for_a_float_is_nan_with_a_note():
    body = '{"id": "x", "model": "m", "results": [{"categories": {"pii": false}, '
    body += '"category_scores": {"pii": 1' + "0" * 400 + ', "law": 1e999, "sexual": 0.25}}]}'
    with MistralModerationFake() as fake:
        fake.push(Fault.raw(body))
        df = _run(modkit.backends.MistralBackend(base_url=fake.url, api_key="k"), ["one text"])
    assert df["error"].iloc[0] == "" and df["sexual"].iloc[0] == 0.25
    assert df["pii"].isna().all() and df["law"].isna().all()
    assert "category_scores['law'] is inf: NaN" in df.attrs["notes"]
    assert f"category_scores['pii'] is 1{'0' * 38}…: NaN" in df.attrs["notes"]
    assert json.loads(df["result_json"].iloc[0])["category_scores"]["law"] is None


# ------------------------------------------------------------------ 1+4. Azure


def test_azure_null_missing_and_unlisted_category_explains_flagged(monkeypatch):
    with AzureContentSafetyFake(api_key="k") as fake:
        fake.push(*[Fault.drift(nulls=("Hate",), missing=("Sexual",), extra={"Gibberish": 6})] * 3)
        df = _run(modkit.backends.AzureContentSafetyBackend(fake.url, api_key="k"))
    assert not df["error"].astype(bool).any()
    assert df["Hate"].isna().all() and df["Sexual"].isna().all()
    assert df["Gibberish"].tolist() == [6.0] * 3
    assert df["flagged/Gibberish"].all() and df["flagged"].all()  # the column explains it
    for text, v in zip(TEXTS, df["Violence"], strict=True):
        assert v == fake.severity(text, "Violence")
    notes = df.attrs["notes"]
    assert notes["category_scores['Hate'] is null: NaN"] == 3
    assert notes["category_scores['Sexual'] is missing: NaN"] == 3
    assert notes[UNLISTED.format("Gibberish")] == 3
    assert "Gibberish" in modkit.category_columns(df)


AZURE_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "category": st.sampled_from(["Hate", "SelfHarm", "Sexual", "Violence"])
        | st.text(max_size=5)
        | JSON,
        "severity": JSON,
    },
)


@pytest.fixture(scope="module")
def azure_fake():
    with AzureContentSafetyFake(api_key="k") as fake:
        yield fake


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(analysis=st.lists(AZURE_ITEM, max_size=6) | JSON, matches=JSON)
def test_any_azure_body_never_raises(azure_fake, analysis, matches):
    body = {"categoriesAnalysis": analysis, "blocklistsMatch": matches}
    azure_fake.push(Fault.raw(json.dumps(body)))
    df = _run(modkit.backends.AzureContentSafetyBackend(azure_fake.url, api_key="k"), ["one text"])
    assert len(df) == 1 and df["error"].iloc[0] == ""
    row = df.iloc[0]
    named = {}
    for item in analysis if isinstance(analysis, list) else []:
        if isinstance(item, dict) and isinstance(item.get("category"), str) and item["category"]:
            named[item["category"]] = item.get("severity")
    for c, v in named.items():
        if c in df.columns:
            number = isinstance(v, int | float) and not isinstance(v, bool)
            assert (row[c] == float(v)) if number else math.isnan(row[c])
    for c in ("Hate", "SelfHarm", "Sexual", "Violence"):
        if c not in named:
            assert math.isnan(row[c])  # requested, not answered: NaN with a note
            assert df.attrs["notes"][f"category_scores[{c!r}] is missing: NaN"] == 1


def test_a_warm_cache_gives_the_same_columns_and_notes(tmp_path):
    cache = tmp_path / "c.sqlite3"
    with AzureContentSafetyFake(api_key="k") as fake:
        fake.push(*[Fault.drift(nulls=("Hate",), extra={"Gibberish": 6})] * 3)
        runs = []
        for _ in range(2):
            backend = modkit.backends.AzureContentSafetyBackend(fake.url, api_key="k")
            with backend:
                runs.append(modkit.moderate(TEXTS, backend=backend, cache=cache, progress=False))
        assert len(fake.requests) == 3  # the second run is served from the cache
    cold, warm = runs
    pd.testing.assert_frame_equal(cold, warm)
    assert cold.attrs["notes"] == warm.attrs["notes"]
    assert warm.attrs["notes"][UNLISTED.format("Gibberish")] == 3


def test_azure_unlisted_category_through_the_cli(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AZURE_CONTENT_SAFETY_KEY", "k")
    src, out = tmp_path / "in.txt", tmp_path / "out.csv"
    src.write_text("a text\n", encoding="utf-8")
    with AzureContentSafetyFake(api_key="k") as fake, caplog.at_level(logging.WARNING, "modkit"):
        fake.push(Fault.drift(nulls=(), extra={"Gibberish": 5}))
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "azure",
                "--base-url",
                fake.url,
                *NO_CACHE,
            ]
        )
    assert code in (0, None)
    df = read_table(out)
    assert df["Gibberish"].tolist() == [5.0] and df["flagged/Gibberish"].tolist() == [True]
    assert "'Gibberish' is not one the provider lists" in caplog.text


# ------------------------------------------------------------------ 1. Perspective


def test_perspective_null_and_unlisted_attributes_keep_the_run():
    with PerspectiveFake(api_key="k") as fake:
        fake.push(*[Fault.drift(nulls=("TOXICITY",), extra={"NEW_ATTRIBUTE": 0.9})] * 3)
        df = _run(modkit.backends.PerspectiveBackend(base_url=fake.url, api_key="k"))
    assert not df["error"].astype(bool).any()
    assert df["TOXICITY"].isna().all()
    assert df["NEW_ATTRIBUTE"].tolist() == [0.9] * 3
    assert df.attrs["notes"]["category_scores['TOXICITY'] is null: NaN"] == 3
    assert df.attrs["notes"][UNLISTED.format("NEW_ATTRIBUTE")] == 3


ATTRIBUTE = st.sampled_from(["TOXICITY", "INSULT", "THREAT"]) | st.text(min_size=1, max_size=5)
SUMMARY = st.fixed_dictionaries({}, optional={"value": JSON, "type": JSON}) | JSON


@pytest.fixture(scope="module")
def perspective_fake():
    with PerspectiveFake(api_key="k") as fake:
        yield fake


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scores=st.dictionaries(
        ATTRIBUTE, st.fixed_dictionaries({}, optional={"summaryScore": SUMMARY}) | JSON
    )
    | JSON
)
def test_any_perspective_body_never_raises(perspective_fake, scores):
    perspective_fake.push(Fault.raw(json.dumps({"attributeScores": scores})))
    backend = modkit.backends.PerspectiveBackend(base_url=perspective_fake.url, api_key="k")
    df = _run(backend, ["one text"])
    row = df.iloc[0]
    if not isinstance(scores, dict):
        assert row["error"] == "perspective: HTTP 200 without attributeScores: not scored"
        return
    assert row["error"] == ""
    for attr, value in scores.items():
        summary = value.get("summaryScore") if isinstance(value, dict) else None
        v = summary.get("value") if isinstance(summary, dict) else None
        if attr in df.columns:
            number = isinstance(v, int | float) and not isinstance(v, bool)
            assert (row[attr] == float(v)) if number else math.isnan(row[attr])


# ------------------------------------------------------------------ 3. guard logprobs


def test_guard_without_top_logprobs_is_a_row_error_not_a_silent_zero_or_one():
    with GuardModelFake(max_alternatives=0) as fake:
        backend = modkit.backends.GuardBackend("meta-llama/Llama-Guard-3-8B", base_url=fake.url)
        df = _run(backend)
        assert len(fake.requests) == 3  # not retried: the same answer would come back
    assert df["error"].str.contains("no top_logprobs alternatives at the verdict").all()
    assert modkit.category_columns(df) == []  # no 0/1 made up
    with GuardModelFake(max_alternatives=0) as fake, pytest.raises(modkit.ItemErrorsRaised):
        modkit.moderate(
            TEXTS,
            backend=modkit.backends.GuardBackend("google/shieldgemma-2b", base_url=fake.url),
            cache=None,
            progress=False,
            errors="raise",
        )


def test_guard_without_top_logprobs_through_the_cli_writes_each_row_with_its_error(tmp_path):
    src, out = tmp_path / "in.txt", tmp_path / "out.csv"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    with GuardModelFake(max_alternatives=0) as fake:
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "guard",
                "--base-url",
                fake.url,
                "--model",
                "meta-llama/Llama-Guard-3-8B",
                *NO_CACHE,
            ]
        )
    assert code in (0, None)
    df = read_table(out)
    assert df["text"].tolist() == TEXTS
    assert df["error"].str.contains("no top_logprobs alternatives").all()


def test_a_guard_answer_without_a_verdict_fails_that_text_alone():
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "google/shieldgemma-2b",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "I"},
                "logprobs": {"content": [{"token": "I", "logprob": -0.1, "top_logprobs": []}]},
                "finish_reason": "length",
            }
        ],
    }
    with GuardModelFake() as fake:
        fake.push(Fault.raw(json.dumps(body)))
        backend = modkit.backends.GuardBackend(
            "google/shieldgemma-2b", base_url=fake.url, categories=["Harassment"]
        )
        df = _run(backend)
        assert len(fake.requests) == 3  # not retried
    assert df["error"].astype(bool).sum() == 1
    assert "no verdict token in the answer 'I'" in df.loc[df["error"] != "", "error"].iloc[0]
    assert df["Harassment"].notna().sum() == 2


@pytest.mark.parametrize("top", [1, 20])
def test_granite_33_with_only_the_chosen_token_listed_is_a_row_error(top):
    """The label-in-text guard formats (Granite Guardian 3.3, Qwen3Guard, policy models)
    share ``label_probabilities``: one listed token is no probability, not a 1.0."""
    texts = ["I will kill you", "a calm sentence"]
    with GraniteGuardianThinkFake() as fake:
        backend = modkit.backends.GraniteGuardian33Backend(
            "ibm-granite/granite-guardian-3.3-8b", base_url=fake.url, top_logprobs=top
        )
        df = _run(backend, texts)
    if top == 1:
        assert df["error"].str.contains("the logprobs do not cover the score").all()
    else:
        assert not df["error"].astype(bool).any()
        scores = df[modkit.category_columns(df)].to_numpy()
        assert ((scores > 0) & (scores < 1)).all()


def test_guard_with_one_verdict_missing_from_the_alternatives_gets_a_note():
    texts = ["I will kill you, I hate you, idiot", "a calm sentence"]
    with GuardModelFake(max_alternatives=2) as fake:
        backend = modkit.backends.GuardBackend(
            "ibm-granite/granite-guardian-3.1-2b", base_url=fake.url, categories=["harm"]
        )
        df = _run(backend, texts)
        p = [fake.p_yes(t, "harm") for t in texts]
    assert not df["error"].astype(bool).any()
    # the top 2 of Yes 0.8p, yes 0.2p, No 1-p: "no" is left out when 0.2p > 1-p
    left_out = [0.2 * q > 1 - q for q in p]
    assert any(left_out) and not all(left_out)
    note = (
        "guard: harm: no 'no' among the top_logprobs at the verdict: scored with the least "
        "listed probability for it (a bound)"
    )
    assert df.attrs["notes"] == {note: sum(left_out)}
    for q, out, score in zip(p, left_out, df["harm"], strict=True):
        # "no" listed: Yes and No are the top 2 (" yes" is left out, as top_k documents)
        # left out: "no" gets the least listed probability, " yes" (0.2p): (0.8 + 0.2) / 1.2
        assert score == pytest.approx(1 / 1.2 if out else 0.8 * q / (0.8 * q + 1 - q))


ALTERNATIVE = st.fixed_dictionaries(
    {
        "token": st.sampled_from(["Yes", " yes", "No", "no ", "I", "\n"]),
        "logprob": st.floats(-30, 0) | st.none() | st.just("x"),
    }
)


@pytest.fixture(scope="module")
def guard_fake():
    with GuardModelFake() as fake:
        yield fake


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    verdict=st.sampled_from(["safe", "unsafe"]),
    alternatives=st.lists(ALTERNATIVE, max_size=4) | st.none(),
    codes=st.lists(
        st.fixed_dictionaries(
            {
                "token": st.sampled_from(["\n", "S", "1", "10", "S2", ",", "x"]) | st.none(),
                "logprob": st.floats(-30, 0) | st.none() | st.just("x"),
                "top_logprobs": st.lists(ALTERNATIVE, max_size=3) | st.none(),
            }
        ),
        max_size=6,
    ),
)
def test_any_llama_guard_answer_gives_scores_in_0_1_or_a_row_error(
    guard_fake, verdict, alternatives, codes
):
    for alt in alternatives or []:
        alt["token"] = {"Yes": "unsafe", " yes": "Unsafe", "No": "safe"}.get(alt["token"], "\n")
    position = {"token": verdict, "logprob": -0.1, "top_logprobs": alternatives}
    text = verdict + "".join(c["token"] or "" for c in codes)
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "meta-llama/Llama-Guard-3-8B",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": {"content": [position, *codes]},
                "finish_reason": "stop",
            }
        ],
    }
    guard_fake.push(Fault.raw(json.dumps(body)))
    df = _run(
        modkit.backends.GuardBackend("meta-llama/Llama-Guard-3-8B", base_url=guard_fake.url), ["t"]
    )
    if df["error"].iloc[0]:
        assert "no top_logprobs alternatives" in df["error"].iloc[0]
        return
    scores = df[modkit.category_columns(df)].iloc[0]
    assert len(scores) == 15 and scores.between(0.0, 1.0).all()
    assert scores.drop("unsafe").le(scores["unsafe"] + 1e-12).all()  # a code is at most unsafe
    assert 0.0 < scores["unsafe"] < 1.0  # never a silent 0 or 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chosen=st.sampled_from(["Yes", "No"]),
    chosen_logprob=st.floats(-5, 0),
    alternatives=st.lists(ALTERNATIVE, max_size=5) | st.none(),
)
def test_any_alternatives_give_a_marked_score_or_a_row_error(
    guard_fake, chosen, chosen_logprob, alternatives
):
    position = {"token": chosen, "logprob": chosen_logprob, "top_logprobs": alternatives}
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "google/shieldgemma-2b",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": chosen},
                "logprobs": {"content": [position]},
                "finish_reason": "stop",
            }
        ],
    }
    guard_fake.push(Fault.raw(json.dumps(body)))
    backend = modkit.backends.GuardBackend(
        "google/shieldgemma-2b", base_url=guard_fake.url, categories=["Harassment"]
    )
    df = _run(backend, ["one text"])
    listed = [
        a["token"].strip().lower()
        for a in alternatives or []
        if isinstance(a["logprob"], float) and a["token"] != chosen
    ]
    words = set(listed) | {chosen.lower()}
    if not listed:  # nothing besides the chosen token: no score
        assert "no top_logprobs alternatives" in df["error"].iloc[0]
        return
    assert df["error"].iloc[0] == ""
    score = df["Harassment"].iloc[0]
    assert 0.0 <= score <= 1.0
    if {"yes", "no"} <= words:
        assert "notes" not in df.attrs
    else:  # one verdict unlisted: a bound strictly inside (0, 1), and a note says so
        assert 0.0 < score < 1.0
        (note,) = df.attrs["notes"]
        assert "among the top_logprobs at the verdict" in note


# ------------------------------------------------------------------ 5. batch custom_id


def _batch(srv, texts, tmp_path, script):
    srv.batch_api.script(script)
    backend = OpenAIBackend("omni-moderation-latest", base_url=srv.url, api_key="sk-b")
    return modkit.moderate(
        texts,
        backend=backend,
        cache=tmp_path / "c.sqlite3",
        via=BatchAPI(poll_interval=0.01),
        progress=False,
    )


@pytest.mark.parametrize(
    ("outcome", "says"), [("duplicate", "the same"), ("conflict", "different")]
)
def test_a_custom_id_answered_twice_is_a_row_error_and_is_scored_again(
    tmp_path, caplog, outcome, says
):
    texts = [f"batch text {i}" for i in range(4)]
    with FaultServer() as srv, caplog.at_level(logging.WARNING, "modkit"):
        df = _batch(srv, texts, tmp_path, BatchScript(outcome, after=1))
        failed = df["error"].astype(bool)
        assert failed.sum() == 1
        (message,) = df.loc[failed, "error"]
        assert f"custom_id answered on 2 lines ({says} answer" in message
        for _, row in df[~failed].iterrows():
            assert row["violence"] == fake_result(row["text"])["category_scores"]["violence"]
        assert "answered on 2 lines: that row is an error" in caplog.text
        again = _batch(srv, texts, tmp_path, BatchScript("expire", after=99))
        assert not again["error"].astype(bool).any()  # not cached: sent again, scored
        second = srv.batch_api.uploads()[1]
        resent = [line["body"]["input"] for line in srv.batch_api.input_lines(second.id)]
    assert resent == df.loc[failed, "text"].tolist()


def test_a_duplicate_custom_id_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-b")
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    texts = [f"batch text {i}" for i in range(3)]
    src.write_text("\n".join(texts) + "\n", encoding="utf-8")
    with FaultServer() as srv:
        srv.batch_api.script(BatchScript("conflict", after=1))
        code = main(
            [
                "moderate",
                str(src),
                "-o",
                str(out),
                "--backend",
                "openai",
                "--base-url",
                srv.url,
                "--cache",
                str(tmp_path / "c.sqlite3"),
                "--batch-api",
                "--poll-interval",
                "0.01",
                "--no-progress",
            ]
        )
    assert code in (0, None)
    df = read_table(out)
    assert df["error"].str.contains("custom_id answered on 2 lines").sum() == 1


def test_a_custom_id_no_request_has_is_not_taken(tmp_path, caplog):
    texts = [f"batch text {i}" for i in range(3)]
    with FaultServer() as srv, caplog.at_level(logging.WARNING, "modkit"):
        df = _batch(srv, texts, tmp_path, BatchScript("foreign", after=2))
    assert not df["error"].astype(bool).any() and len(df) == 3
    assert caplog.text.count("which no request of this run has: ignored") == 2


def test_a_batch_answering_another_batchs_request_fails_that_row(tmp_path, caplog):
    texts = [f"batch text {i}" for i in range(4)]
    with FaultServer() as srv, caplog.at_level(logging.WARNING, "modkit"):
        srv.batch_api.script(BatchScript("expire", after=99), BatchScript("crossed", after=1))
        backend = OpenAIBackend("omni-moderation-latest", base_url=srv.url, api_key="sk-b")
        df = modkit.moderate(
            texts,
            backend=backend,
            cache=tmp_path / "c.sqlite3",
            via=BatchAPI(poll_interval=0.01, max_requests_per_file=2),
            progress=False,
        )
        first_file = srv.batch_api.uploads()[0].id
        first = {line["body"]["input"] for line in srv.batch_api.input_lines(first_file)}
    failed = df["error"].astype(bool)
    assert failed.sum() == 1  # two batches answered it: neither answer is taken
    (text,) = df.loc[failed, "text"]
    assert text in first
    assert "which it did not hold (another batch did)" in df.loc[failed, "error"].iloc[0]


# ------------------------------------------------------------------ 2. report writers

XML_CHARS = st.characters(codec="utf-8") | st.characters(min_codepoint=0, max_codepoint=0x1F)
ANY_TEXT = st.text(st.characters(), max_size=30)  # lone surrogates included


def _as_xml_keeps_it(text: str) -> str:
    """What a report field reads as after XML: every character XML 1.0 allows as it is,
    anything else as a visible escape (``\\x1b``, ``\\ud800``)."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\t\n\r" or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code > 0xFFFF:
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x20 else f"\\u{code:04x}")
    return "".join(out)


def _line_ends(text: str) -> str:
    """XML parsers read CR and CRLF in character data as LF (XML 1.0, 2.11)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@given(
    name=ANY_TEXT, message=ANY_TEXT, kind=ANY_TEXT, status=st.sampled_from(["pass", "fail", "skip"])
)
def test_any_text_in_any_report_field_gives_well_formed_junit_and_json(name, message, kind, status):
    report = GateReport([CheckResult(kind, name, status, math.nan, math.inf, message)])
    xml = report.to_junit_xml(suite=name)
    root = ET.fromstring(xml.encode("utf-8"))  # well-formed, and encodable as UTF-8
    case = root.find("testsuite/testcase")
    assert case is not None
    # every character XML allows round-trips; what it forbids is a visible escape
    assert case.get("name") == _as_xml_keeps_it(name)  # attributes keep CR, LF and tab
    assert case.get("classname") == "modkit.check." + _as_xml_keeps_it(kind)
    assert root.get("name") == _as_xml_keeps_it(name)
    if status == "fail":
        failure = case.find("failure")
        assert failure.get("message") == _as_xml_keeps_it(message)
        assert (failure.text or "") == _line_ends(_as_xml_keeps_it(message))
    elif status == "pass":
        assert (case.find("system-out").text or "") == _line_ends(_as_xml_keeps_it(message))
    text = report.to_json()
    text.encode("utf-8")  # writable
    back = json.loads(text)
    assert back["checks"][0]["name"] == name and back["checks"][0]["message"] == message
    assert back["checks"][0]["measured"] is None and back["checks"][0]["limit"] is None


def test_check_cli_writes_well_formed_reports_for_scraped_text(tmp_path):
    """Slot values holding ESC colour codes, BEL, NUL and U+FFFE, through ``modkit check``."""
    ts = ThresholdSet({"hate": CategoryThreshold(block=0.5, review=0.3)})
    path = ts.save(tmp_path / "t.json")
    groups = ["\x1b[31mred\x1b[0m", "bell\x07", "nul\x00 and \ufffe"]
    lines = [
        {"template_id": "t\x0c1", "text": f"joke about {g}", "group": g, "hate": s}
        for g, s in zip(groups, [0.10, 0.12, 0.15], strict=True)
    ]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")
    out = {"--junit": tmp_path / "r.xml", "--json": tmp_path / "r.json"}
    args = ["check", str(path), "--scores", str(tmp_path / "s.jsonl"), "--gap-by", "group"]
    args += ["--max-gap", "0.01", *[str(x) for kv in out.items() for x in kv]]
    code = main(args)
    assert code == 1  # the gap is over the limit: a failure the CI shows
    tree = ET.parse(tmp_path / "r.xml")  # a CI parser reads it
    (failure,) = tree.getroot().iter("failure")
    assert "\\x1b[31mred\\x1b[0m" in failure.get("message")  # visible, not raw ESC
    assert "\\x0c1" in tree.getroot().find("testsuite/testcase").get("name")
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    (check,) = report["checks"]
    assert "\x1b[31mred\x1b[0m" in check["message"]  # JSON carries the text itself


@given(name=ANY_TEXT, message=ANY_TEXT, status=st.sampled_from(["pass", "fail", "skip"]))
def test_any_text_in_a_monitor_check_gives_well_formed_junit(name, message, status):
    """``modkit monitor --junit``: check names carry category names from the decision log."""
    from modkit._monitor import MonitorReport

    check = {"limit": "max_psi", "name": name, "status": status, "message": message}
    empty = pd.DataFrame()
    report = MonitorReport(rates=empty, overall=empty, drift=empty, checks=[check])
    root = ET.fromstring(report.to_junit_xml(suite=name).encode("utf-8"))
    case = root.find("testsuite/testcase")
    assert case.get("name") == _as_xml_keeps_it(name)
    if status == "fail":
        assert case.find("failure").get("message") == _as_xml_keeps_it(message)


# ------------------------------------------- verdicts read from text (policy, Qwen3Guard, ...)
_verdict_token = st.sampled_from(["yes", "no", " yes", "No", "maybe", "the", "\n"])


@given(
    st.sampled_from(["yes", "no", " yes"]),
    st.floats(-20, 0),
    st.lists(st.tuples(_verdict_token, st.floats(-20, 0)), min_size=1, max_size=5),
)
def test_a_verdict_from_incomplete_alternatives_is_never_exactly_0_or_1(chosen, lp, alts):
    """The label-in-text backends (policy, qwen3guard, granite-guardian-3.3, nemotron) read
    their verdict's probability with labels=: a verdict missing from the listed alternatives
    gets the least listed probability (a bound), so a score is never exactly 0 or 1 because
    the server listed too few alternatives."""
    from modkit.backends._verdict import label_probabilities

    def yes_no(token: str) -> str | None:
        word = token.strip().lower()
        return word if word in ("yes", "no") else None

    position = {
        "token": chosen,
        "logprob": lp,
        "top_logprobs": [{"token": t, "logprob": v} for t, v in alts],
    }
    probs = label_probabilities(position, yes_no, labels=("yes", "no"))
    listed = {t for t, _ in alts} | {chosen}
    if len(listed) < 2:
        assert probs is None  # only the chosen token: no signal, the caller's row error
        return
    assert probs is not None
    assert set(probs) == {"yes", "no"}
    assert 0.0 < probs["yes"] < 1.0
    assert abs(probs["yes"] + probs["no"] - 1.0) < 1e-9
