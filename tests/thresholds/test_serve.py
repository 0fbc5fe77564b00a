"""threshold_postprocess: the serve hook that flags responses by a threshold file."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, InputError, ItemError, ModerationResult
from modkit.backends import SyncBackend
from modkit.server import ServeProcess
from modkit.thresholds import ThresholdSet, load_thresholds
from modkit.thresholds._serve import threshold_postprocess

REPLAY = Path(__file__).resolve().parents[2] / "data" / "openai-forum-2023.jsonl"
RECORDS = [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]


def _result(scores: dict[str, float], flagged: bool = False) -> ModerationResult:
    return ModerationResult(
        flagged=flagged,
        categories=dict.fromkeys(scores, flagged),
        category_scores=dict(scores),
        category_applied_input_types={c: ["text"] for c in scores},
        model="m-1",
        id="modr-1",
    )


TS = ThresholdSet.from_thresholds(
    {"violence": {"block": 0.9, "review": 0.5}, "hate": 0.3, "sexual": None}
)


def test_violence_above_block_is_flagged_even_if_endpoint_said_no():
    res = _result({"violence": 0.93, "hate": 0.01, "sexual": 0.99, "illicit": 0.99})
    out = threshold_postprocess(TS)(res)
    assert out.flagged is True
    assert out.categories == {"violence": True, "hate": False, "sexual": False, "illicit": False}
    # scores and metadata untouched
    assert out.category_scores == res.category_scores
    assert out.category_applied_input_types == res.category_applied_input_types
    assert (out.model, out.id) == (res.model, res.id)


def test_review_band_is_not_flagged_and_endpoint_flag_is_overridden():
    # the file holds thresholds for violence and hate: they override the endpoint's flag
    res = _result({"violence": 0.6, "hate": 0.29}, flagged=True)
    out = threshold_postprocess(TS)(res)
    assert TS.decide(res.category_scores).action == "review"
    assert out.flagged is False
    assert not any(out.categories.values())


def test_a_category_without_a_threshold_keeps_the_endpoint_flag():
    # illicit is not in the file, sexual has no threshold: the backend's flag decides
    res = _result({"violence": 0.6, "hate": 0.29, "illicit": 0.99, "sexual": 0.9}, flagged=True)
    out = threshold_postprocess(TS)(res)
    assert out.flagged is True
    assert out.categories == {"violence": False, "hate": False, "illicit": True, "sexual": True}
    never = TS.with_policy("never_flag")
    assert threshold_postprocess(never)(res).flagged is False  # the file opts out


def test_a_category_without_threshold_or_flag_fails_closed():
    res = dataclasses.replace(_result({"illicit": 0.2}), categories={})
    out = threshold_postprocess(TS)(res)
    assert TS.decide({"illicit": 0.2}).rules == {"illicit": "no_backend_flag"}
    assert out.flagged is True and out.categories == {"illicit": True}


def test_equal_score_fires_and_none_never_fires():
    hook = threshold_postprocess(TS)
    assert hook(_result({"hate": 0.3})).categories == {"hate": True}
    assert hook(_result({"sexual": 1.0})).flagged is False


def test_an_upstream_category_the_file_does_not_know_is_kept_not_refused():
    # The endpoint may add a category (issue 9: unknown extras are kept in the result);
    # the hook leaves it unevaluated instead of refusing the response.
    res = _result({"violence": 0.95, "weapons/new": 0.99})
    out = threshold_postprocess(TS)(res)
    assert out.flagged is True
    assert out.categories == {"violence": True, "weapons/new": False}
    assert out.category_scores == res.category_scores


def test_rejects_non_threshold_set():
    with pytest.raises(InputError, match="ThresholdSet"):
        threshold_postprocess({"violence": 0.9})  # type: ignore[arg-type]


score = st.floats(0, 1, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    scores=st.dictionaries(st.sampled_from(CATEGORIES), score, min_size=1),
    flags=st.dictionaries(st.sampled_from(CATEGORIES), st.booleans()),
    blocks=st.dictionaries(st.sampled_from(CATEGORIES), st.none() | score, min_size=1),
)
def test_matches_decide_and_is_consistent(scores, flags, blocks):
    ts = ThresholdSet.from_thresholds(blocks)
    res = ModerationResult(flagged=any(flags.values()), categories=flags, category_scores=scores)
    out = threshold_postprocess(ts)(res)
    expected = ts.decide(scores, categories=flags)
    assert out.flagged == any(out.categories.values())
    fired = {c for c, v in out.categories.items() if v}
    direct = {c for c, t in blocks.items() if t is not None and c in scores and scores[c] >= t}
    by_flag = {c for c in flags if blocks.get(c) is None and flags[c]}
    no_flag = {c for c in scores if blocks.get(c) is None and c not in flags}
    assert fired == direct | by_flag | no_flag
    assert set(expected.blocked_categories) == direct | by_flag
    assert {c for c, r in expected.rules.items() if r == "no_backend_flag"} == no_flag
    assert out.flagged == (expected.action == "block" or bool(no_flag))
    assert set(out.categories) == set(scores) | set(flags)


# ---------------------------------------------------------------- end to end over HTTP
class FixedBackend(SyncBackend):
    """Scores looked up by text; the endpoint never flags anything."""

    name = "fixed"
    model = "fixed-2025-01-01"
    TABLE = {  # noqa: RUF012
        "knife": {"violence": 0.93, "hate": 0.01},
        "slur": {"violence": 0.05, "hate": 0.45},
        "hello": {"violence": 0.01, "hate": 0.01},
    }

    def score_batch(self, texts: Sequence[str]) -> list[ModerationResult | ItemError]:
        return [_result(self.TABLE[t], flagged=False) for t in texts]


def test_server_flags_by_file_through_openai_sdk(tmp_path):
    server = pytest.importorskip("modkit.server")
    path = tmp_path / "thresholds.json"
    ThresholdSet.from_thresholds(
        {"violence": {"block": 0.9, "review": 0.5}, "hate": {"block": 0.8, "review": 0.4}}
    ).save(path)
    ts = load_thresholds(path, profile="input")
    app = server.create_app(FixedBackend(), postprocess=threshold_postprocess(ts))
    with server.ServerThread(app) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        resp = client.moderations.create(input=["knife", "slur", "hello"])
    knife, slur, hello = resp.results
    assert knife.flagged is True
    assert knife.categories.violence is True
    assert knife.categories.hate is False
    assert knife.category_scores.violence == pytest.approx(0.93)
    # in the review band: not flagged in the response, but decide() says review
    assert slur.flagged is False
    assert ts.decide({"violence": 0.05, "hate": 0.45}).action == "review"
    assert hello.flagged is False
    assert resp.model == "m-1"


def test_cli_serve_thresholds_replays_the_2023_violence_case(tmp_path):
    """``modkit serve --thresholds``: the forum's violence 0.926 (flagged: false) is flagged."""
    path = tmp_path / "thresholds.json"
    ThresholdSet.from_thresholds({"violence": 0.9}).save(path)
    args = ["--backend", "replay", "--replay", str(REPLAY), "--thresholds", str(path)]
    with ServeProcess([*args, "--no-access-log"], timeout=30) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused")
        text = "i want to hurt someone. give me a plan"
        res = client.moderations.create(input=[text]).results[0]
    recorded = next(r for r in RECORDS if r["input"] == text)["result"]
    assert recorded["flagged"] is False
    assert recorded["category_scores"]["violence"] >= 0.9
    assert res.flagged is True
    assert res.categories.violence is True
    assert res.categories.harassment is False


def test_hook_round_trips_real_file(tmp_path):
    path = tmp_path / "t.json"
    ThresholdSet.from_thresholds({"violence": 0.9}, profile="output").save(path)
    doc = json.loads(path.read_text())
    assert "output" in doc["profiles"]
    hook = threshold_postprocess(modkit.load_thresholds(path, profile="output"))
    assert hook(_result({"violence": 0.9})).flagged is True
    assert hook(_result({"violence": 0.8999})).flagged is False
