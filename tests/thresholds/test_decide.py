"""``ThresholdSet.decide`` on plain dicts, ``decide_many`` on many items and ``apply`` on a
frame run the one rule and give the same decisions (issue 19 point 2); ``modkit serve``
decides a request in one batch, off the event loop when it is large."""

from __future__ import annotations

import math
import re
import threading

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CategoryThreshold, InputError, ModerationResult, ThresholdSet
from modkit.backends import SyncBackend
from modkit.server import DecisionPolicy, ServerThread, ThresholdSource, create_app

POOL = ("harassment", "hate", "self-harm/intent", "sexual", "violence", "violence/graphic")
POLICIES = ("backend_flag", "review", "never_flag")

limit = st.one_of(st.none(), st.floats(0, 1))


@st.composite
def band(draw):
    block = draw(limit)
    review = draw(st.one_of(st.none(), st.floats(0, 1 if block is None else block)))
    return block, review


@st.composite
def category_threshold(draw):
    block, review = draw(band())
    typed = None
    if draw(st.booleans()):
        kinds = draw(st.lists(st.sampled_from(("text", "image")), min_size=1, unique=True))
        typed = {}
        for kind in kinds:
            b, r = draw(band())
            typed[kind] = {"block": b, "review": r}
    policy = draw(st.one_of(st.none(), st.sampled_from(POLICIES)))
    return CategoryThreshold(block, review=review, by_input_type=typed, unthresholded=policy)


threshold_sets = st.builds(
    lambda cats, policy: ThresholdSet(cats, unthresholded=policy),
    st.dictionaries(st.sampled_from(POOL), category_threshold(), max_size=4),
    st.sampled_from(POLICIES),
)
score = st.one_of(st.none(), st.just(math.nan), st.floats(0, 1), st.sampled_from([0.0, 0.5, 1.0]))


@st.composite
def items(draw):
    scores = draw(st.dictionaries(st.sampled_from(POOL), score, max_size=6))
    flags = draw(st.dictionaries(st.sampled_from(POOL), st.one_of(st.none(), st.booleans())))
    applied = draw(
        st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(POOL),
                st.lists(st.sampled_from(("text", "image")), unique=True, max_size=2),
            ),
        )
    )
    return scores, applied, flags


def _one_row_frame(scores, applied, flags) -> pd.DataFrame:
    row: dict[str, object] = {c: np.nan if v is None else v for c, v in scores.items()}
    for c, f in flags.items():
        row[f"flagged/{c}"] = "" if f is None else ("true" if f else "false")
    for c, types in (applied or {}).items():
        row[f"applied/{c}"] = ",".join(types)
    return pd.DataFrame([row])


def _from_frame(out: pd.DataFrame) -> tuple:
    row = out.iloc[0]
    cats = [k.split(":", 1)[1] for k in out.columns if k.startswith("action:")]
    per = {c: row[f"action:{c}"] for c in cats if row[f"action:{c}"] != ""}
    rules = {c: row[f"rule:{c}"] for c in cats if row[f"rule:{c}"] != ""}
    split = lambda s: tuple(s.split(",")) if s else ()  # noqa: E731
    return (
        row["action"],
        split(row["blocked_categories"]),
        split(row["review_categories"]),
        per,
        rules,
    )


def _tuple(d: modkit.Decision) -> tuple:
    return d.action, d.blocked_categories, d.review_categories, d.categories, d.rules


@settings(max_examples=300, deadline=None)
@given(threshold_sets, items(), st.lists(items(), max_size=3), st.integers(0, 3))
def test_dict_batch_and_frame_paths_decide_alike(ts, item, others, at):
    scores, applied, flags = item
    alone = ts.decide(scores, applied, categories=flags)
    # the batch path, with the item among others: rows never mix
    batch = [*others[:at], item, *others[at:]]
    many = ts.decide_many(
        [s for s, _, _ in batch], [a for _, a, _ in batch], categories=[f for _, _, f in batch]
    )
    assert _tuple(many[min(at, len(others))]) == _tuple(alone)
    for (s, a, f), d in zip(batch, many, strict=True):
        assert _tuple(d) == _tuple(ts.decide(s, a, categories=f))
    # the frame path (the rule vectorised)
    framed = _from_frame(ts.apply(_one_row_frame(scores, applied, flags), missing="ignore"))
    assert framed == _tuple(alone)


def test_the_rule_on_a_known_example():
    ts = ThresholdSet.from_thresholds(
        {"violence": {"block": 0.8, "review": 0.5}, "hate": 0.3}, unthresholded="review"
    )
    d = ts.decide({"violence": 0.6, "hate": 0.3, "sexual": 0.9}, categories={"sexual": True})
    assert d.action == "block"
    assert d.blocked_categories == ("hate",)
    assert d.review_categories == ("sexual", "violence")
    assert d.rules == {"hate": "threshold", "sexual": "review", "violence": "threshold"}
    assert ts.decide({"violence": None, "hate": math.nan}).action == "unscored"
    assert [d.action for d in ts.decide_many([{"hate": 0.1}, {}, {"violence": 0.5}])] == [
        "allow",
        "unscored",
        "review",
    ]


@pytest.mark.parametrize(
    ("scores", "flags", "message"),
    [
        (
            {"self_harm_intent": 0.1},
            None,
            r"decide: unknown category key 'self_harm_intent'; "
            r"did you mean 'self-harm/intent'\?",
        ),
        (
            {"violence": "high"},
            None,
            r"decide scores column 'violence': score 'high' is not a number",
        ),
        (
            {"violence": 1.5},
            None,
            r"decide scores column 'violence': score 1.5 is outside \[0, 1\]",
        ),
        ({"violence": "nan"}, None, r"score 'nan' is not a number"),
        ({"violence": [0.5]}, None, r"score \[0.5\] is not a number"),
        ({}, {"violence": "yes"}, r"decide: categories\['violence'\]: flag must be true or false"),
        (
            {},
            {"violense": True},
            r"decide: categories: unknown category key 'violense'; did you mean 'violence'\?",
        ),
    ],
)
def test_bad_input_is_named(scores, flags, message):
    ts = ThresholdSet.from_thresholds({"violence": 0.5})
    with pytest.raises(InputError, match=message):
        ts.decide(scores, categories=flags)
    with pytest.raises(InputError, match=message.replace("decide", r"decide_many item 1", 1)):
        ts.decide_many([{"violence": 0.1}, scores], categories=[None, flags])


def test_numeric_text_and_blank_scores_are_read_as_the_frame_reads_them():
    ts = ThresholdSet.from_thresholds({"violence": 0.5})
    assert ts.decide({"violence": " 0.7 "}).action == "block"
    assert ts.decide({"violence": "  "}).action == "unscored"
    assert ts.decide({"violence": np.float32(0.2)}).action == "allow"


def test_decide_many_refuses_sequences_of_other_lengths():
    ts = ThresholdSet.from_thresholds({"violence": 0.5})
    with pytest.raises(InputError, match="categories must be a sequence of 2 entries"):
        ts.decide_many([{}, {}], categories=[{}])
    with pytest.raises(InputError, match="sequence of mappings"):
        ts.decide_many({"violence": 0.5})


class Dial(SyncBackend):
    """Scores read from the text (``"violence=0.7"``); flags at 0.5."""

    name, model = "dial", "dial-1"

    def score_batch(self, texts):
        out = []
        for t in texts:
            scores = {"violence": 0.0, "hate": 0.0}
            scores.update({k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", t)})
            flags = {c: s >= 0.5 for c, s in scores.items()}
            out.append(ModerationResult(any(flags.values()), flags, scores, model="dial-1"))
        return out


class Recording(DecisionPolicy):
    """A real policy that notes the thread each request was decided in."""

    threads: list[str]

    def decide_batch(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        return super().decide_batch(*args, **kwargs)


@pytest.mark.parametrize("shadow", [False, True])
def test_serve_decides_a_large_request_off_the_event_loop_and_alike(tmp_path, shadow):
    path = ThresholdSet.from_thresholds({"violence": {"block": 0.8, "review": 0.4}}).save(
        tmp_path / "t.json"
    )
    enforced = ThresholdSet.from_thresholds({"violence": 0.3}).save(tmp_path / "old.json")
    policy = Recording(
        ThresholdSource.load(path),
        shadow=shadow,
        enforced=ThresholdSource.load(enforced) if shadow else None,
        actions=True,
    )
    policy.threads = []
    ts = modkit.load_thresholds(enforced if shadow else path)
    values = [round(i / 50, 2) for i in range(50)]
    texts = [f"violence={v}" for v in values]
    with ServerThread(create_app(Dial(), decisions=policy)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        small = client.moderations.create(input=texts[:4])
        large = client.moderations.create(input=texts)
    loop_thread, worker = policy.threads
    assert worker != loop_thread  # 50 results: decided in a worker thread
    expected = ts.decide_many(
        [{"violence": v, "hate": 0.0} for v in values],
        categories=[{"violence": v >= 0.5, "hate": False} for v in values],
    )
    for got, want in zip(small.results + large.results, expected[:4] + expected, strict=True):
        assert got.flagged == want.flagged
        assert got.model_extra["modkit"]["action"] == want.action


def test_a_postprocess_hook_runs_off_the_event_loop_for_a_large_request(tmp_path):
    ts = ThresholdSet.from_thresholds({"violence": 0.3})
    hook = modkit.thresholds.threshold_postprocess(ts)
    threads: list[str] = []

    def recording(result):
        threads.append(threading.current_thread().name)
        return hook(result)

    values = [round(i / 40, 3) for i in range(40)]
    with ServerThread(create_app(Dial(), postprocess=recording)) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        small = client.moderations.create(input=["violence=0.5"])
        large = client.moderations.create(input=[f"violence={v}" for v in values])
    assert small.results[0].flagged
    assert threads[0] != threads[1]  # 1 result on the loop, 40 in a worker thread
    assert len(set(threads[1:])) == 1
    assert [r.flagged for r in large.results] == [v >= 0.3 for v in values]
