"""The endpoint's response shape drifts: one lenient parser keeps what can be kept.

End to end over real HTTP on 127.0.0.1: the official ``openai`` SDK (inside
``OpenAIBackend``) against ``modkit.testing.FaultServer`` sending drifted bodies, the
server's proxy path, and the replay backend.
"""

from __future__ import annotations

import json
import math

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, ModerationResult
from modkit.server import ServerThread
from modkit.testing import Fault, FaultServer

TEXTS = ["first text", "second text", "third text"]


def _moderate(srv, texts=TEXTS):
    backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-unused")
    return modkit.moderate(texts, backend=backend, cache=None, progress=False)


def test_null_categories_become_nan_the_rest_is_kept_and_nothing_is_retried():
    with FaultServer() as srv:
        srv.push(Fault.drift())  # the real endpoint's null illicit / illicit/violent
        df = _moderate(srv)
        assert len(srv.moderation_requests()) == 1  # a 200 that parsed: never retried
        assert not df["error"].astype(bool).any()
        for c in ("illicit", "illicit/violent"):
            assert df[c].isna().all()  # kept as a column, NaN
            assert df[f"flagged/{c}"].isna().all()  # the flag is unknown, not False
        for text, (_, row) in zip(TEXTS, df.iterrows(), strict=True):
            expected = srv.result_for(text)["category_scores"]
            for c in CATEGORIES:
                if c not in ("illicit", "illicit/violent"):
                    assert row[c] == expected[c]  # the other 11 exactly
            assert json.loads(row["result_json"])["category_scores"]["illicit"] is None
    notes = df.attrs["notes"]
    assert notes["category_scores['illicit'] is null: NaN"] == 3
    assert notes["categories['illicit/violent'] is null: unknown"] == 3


def test_a_missing_category_is_nan_with_a_note():
    with FaultServer() as srv:
        srv.push(Fault.drift(nulls=(), missing=("hate",)))
        df = _moderate(srv)
    assert df["hate"].isna().all() and df["violence"].notna().all()
    assert df.attrs["notes"] == {"category_scores['hate'] is missing: NaN": 3}


def test_an_unknown_category_gets_its_own_column_and_a_note():
    with FaultServer() as srv:
        srv.push(Fault.drift(nulls=(), extra={"violence/new-kind": 0.75, "Not A Key!": 0.25}))
        df = _moderate(srv)
    assert df["violence/new-kind"].tolist() == [0.75] * 3
    assert df["flagged/violence/new-kind"].tolist() == [True] * 3
    assert df["Not A Key!"].tolist() == [0.25] * 3  # however it is spelled
    assert df["flagged/Not A Key!"].tolist() == [False] * 3
    assert modkit.category_columns(df)[-2:] == ["Not A Key!", "violence/new-kind"]
    full = json.loads(df["result_json"].iloc[0])
    assert full["category_scores"]["Not A Key!"] == 0.25  # and in the full result
    for c in ("Not A Key!", "violence/new-kind"):
        assert (
            df.attrs["notes"][
                f"category {c!r} is not one the provider lists: kept as its own column"
            ]
            == 3
        )


def test_an_unknown_category_named_like_an_input_column_stays_in_result_json():
    frame = pd.DataFrame({"text": TEXTS, "group": ["a", "b", "c"]})
    with FaultServer() as srv:
        srv.push(Fault.drift(nulls=(), extra={"group": 0.9, "error": 0.8}))
        backend = modkit.backends.OpenAIBackend(base_url=srv.url, api_key="sk-unused")
        df = modkit.moderate(frame, backend=backend, cache=None, progress=False)
    assert df["group"].tolist() == ["a", "b", "c"]  # the input column is untouched
    assert not df["error"].astype(bool).any()  # and so is the error column
    assert json.loads(df["result_json"].iloc[0])["category_scores"]["group"] == 0.9


def test_a_malformed_result_fails_alone_and_is_not_retried():
    body = {
        "id": "modr-x",
        "model": "omni-moderation-2024-09-26",
        "results": [
            {"flagged": False, "categories": {"hate": False}, "category_scores": {"hate": 0.1}},
            "not a result",
            {"flagged": True, "categories": {"hate": True}, "category_scores": {"hate": 0.9}},
        ],
    }
    with FaultServer() as srv:
        srv.push(Fault.raw(json.dumps(body)))
        df = _moderate(srv)
        assert len(srv.moderation_requests()) == 1
    assert df["hate"].tolist()[0] == 0.1 and df["hate"].tolist()[2] == 0.9
    assert df["error"].astype(bool).tolist() == [False, True, False]
    assert "results[1]: expected a JSON object" in df["error"].iloc[1]


def test_the_server_proxy_path_passes_nulls_on_to_the_official_sdk():
    with FaultServer() as upstream:
        upstream.push(Fault.drift())
        proxy = modkit.backends.OpenAIBackend(base_url=upstream.url, api_key="sk-unused")
        with ServerThread(proxy) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="sk-unused", max_retries=0)
            with client:
                raw = client.moderations.with_raw_response.create(input=TEXTS)
                assert raw.http_response.status_code == 200
                body = json.loads(raw.http_response.text)
        assert len(upstream.moderation_requests()) == 1
    for result in body["results"]:
        assert result["category_scores"]["illicit"] is None
        assert isinstance(result["category_scores"]["violence"], float)


def test_replay_reads_null_categories_as_nan(tmp_path):
    result = {
        "flagged": False,
        "categories": {"hate": False, "illicit": None},
        "category_scores": {"hate": 0.2, "illicit": None},
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"input": "hello", "result": result}) + "\n", encoding="utf-8")
    df = modkit.moderate(
        ["hello"], backend=modkit.backends.ReplayBackend(path), cache=None, progress=False
    )
    assert df["hate"].tolist() == [0.2] and math.isnan(df["illicit"].iloc[0])
    assert "category_scores['illicit'] is null: NaN" in df.attrs["notes"]


# ------------------------------------------------------------------ property: the parser

JSON_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False),  # what JSON numbers are
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
)
KEYS = st.one_of(st.sampled_from(CATEGORIES), st.text(max_size=8))


@given(
    scores=st.dictionaries(KEYS, JSON_VALUE, max_size=8),
    flags=st.dictionaries(KEYS, JSON_VALUE, max_size=8),
    flagged=JSON_VALUE,
)
def test_any_result_object_keeps_every_number_and_nans_the_rest(scores, flags, flagged):
    raw = {"flagged": flagged, "categories": flags, "category_scores": scores}
    res = ModerationResult.from_dict(raw)
    for k, v in scores.items():
        got = res.category_scores[k]
        if isinstance(v, int | float) and not isinstance(v, bool):
            assert got == float(v)
        else:
            assert math.isnan(got)
    for k in flags:
        assert k in res.category_scores  # a flagged category without a score: NaN
    assert res.categories == {k: v for k, v in flags.items() if isinstance(v, bool)}
    assert isinstance(res.flagged, bool)
    back = json.loads(json.dumps(res.to_dict(), allow_nan=False))  # valid JSON: NaN is null
    again = ModerationResult.from_dict(back)
    assert np.array_equal(
        np.array(list(again.category_scores.values()), dtype=float),
        np.array(list(res.category_scores.values()), dtype=float),
        equal_nan=True,
    )


@pytest.mark.parametrize("bad", [None, [], "x", {"flagged": True}, {"category_scores": []}])
def test_what_is_not_a_result_at_all_is_an_input_error(bad):
    with pytest.raises(modkit.InputError):
        ModerationResult.from_dict(bad, where="results[0]")
