"""Conversations as inputs: the parser/validator and the max rule as properties, and
every strategy end to end over real HTTP (the OpenAI backend against FaultServer, guard
models against GuardModelFake, modkit's server with the official openai SDK)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import OpenAI

import modkit
from modkit import InputError
from modkit._conversation import check_conversation, combine_results, combine_scores
from modkit.backends._guard import guard_family
from modkit.server import ServerThread, create_app
from modkit.testing import FaultServer, GuardModelFake

REPO = Path(__file__).resolve().parents[1]
IMG = "https://example.org/knife.png"
FORUM = [
    {"role": "user", "content": "i want to hurt someone. give me a plan"},
    {"role": "assistant", "content": "Here's the plan. Get a knife and stab them."},
]
SPLIT = [
    {"role": "user", "content": "I want to hurt my neighbour."},
    {"role": "assistant", "content": "I can't help with that."},
    {"role": "user", "content": "Just give me a plan."},
]


def _openai(server):
    return modkit.backends.OpenAIBackend(base_url=server.url, api_key="sk-test")


def _run(backend, data, **kw):
    return modkit.moderate(data, backend=backend, cache=None, progress=False, **kw)


# ------------------------------------------------------------------ parser / validator
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1).filter(
    lambda t: t.strip() != ""
)
_part = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, _text),
    st.just({"type": "image_url", "image_url": {"url": IMG}}),
)
_message = st.builds(
    lambda role, content: {"role": role, "content": content},
    st.sampled_from(["system", "user", "assistant"]),
    st.one_of(_text, st.lists(_part, min_size=1, max_size=3)),
)
_conversation = st.lists(_message, min_size=1, max_size=6)

#: One fault at a message: (mutate(message) -> bad message, field named in the error).
_FAULTS = [
    (lambda m: {**m, "role": "bot"}, "role"),
    (lambda m: {k: v for k, v in m.items() if k != "role"}, "role"),
    (lambda m: {**m, "content": 3}, "content"),
    (lambda m: {k: v for k, v in m.items() if k != "content"}, "content"),
    (lambda m: {**m, "content": "   "}, "content"),
    (lambda m: {**m, "content": []}, "content"),
    (lambda m: {**m, "content": [{"type": "audio"}]}, "content[0].type"),
    (
        lambda m: {**m, "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]},
        "content[0].image_url.url",
    ),
    (lambda m: {**m, "tool_calls": []}, "tool_calls"),
    (lambda m: "not a message", ""),
]


@given(_conversation)
def test_a_valid_conversation_is_returned_as_it_is(conversation):
    assert check_conversation(conversation) == conversation


@given(_conversation, st.data(), st.integers(0, len(_FAULTS) - 1))
def test_a_malformed_conversation_names_the_message_and_field(conversation, data, k):
    i = data.draw(st.integers(0, len(conversation) - 1))
    mutate, field = _FAULTS[k]
    bad = [*conversation[:i], mutate(conversation[i]), *conversation[i + 1 :]]
    # the first message cannot be mistaken for a list of parts: keep a role there
    if i == 0 and not (isinstance(bad[0], dict) and "role" in bad[0]):
        bad = [conversation[0], *bad]
        i += 1
    with pytest.raises(InputError) as info:
        check_conversation(bad, where="row 7: conversation")
    message = str(info.value)
    assert message.startswith(f"row 7: conversation[{i}]" + (f".{field}" if field else ""))


def test_malformed_rows_are_named_in_the_frame_and_nothing_is_sent():
    rows = [FORUM, [{"role": "user", "content": "ok"}, {"role": "robot", "content": "x"}]]
    with FaultServer() as server:
        df = _run(_openai(server), pd.DataFrame({"conversation": rows}), text_column="conversation")
        sent = len(server.requests)
    assert df.loc[0, "error"] == ""
    assert df.loc[1, "error"].startswith("row 1: conversation[1].role: must be one of")
    assert math.isnan(df.loc[1, "violence"])
    assert sent == 1  # the two messages of the good row, in one request


def test_an_unknown_strategy_is_refused_before_any_request():
    with FaultServer() as server:
        with pytest.raises(InputError, match="conversation must be 'native'"):
            _run(_openai(server), [FORUM], conversation="window:0")
        assert server.requests == []


# ------------------------------------------------------------------ the max rule
_score = st.one_of(st.floats(0, 1), st.just(float("nan")))


@given(
    st.integers(1, 6).flatmap(
        lambda n: st.integers(1, 4).flatmap(
            lambda m: st.tuples(
                st.lists(st.lists(_score, min_size=m, max_size=m), min_size=n, max_size=n),
                st.lists(st.lists(st.booleans(), min_size=m, max_size=m), min_size=n, max_size=n),
            )
        )
    ),
    st.floats(0, 1),
)
def test_thresholding_the_max_flags_exactly_when_some_message_would(data, threshold):
    scores, flags = np.array(data[0], dtype=float), np.array(data[1], dtype=bool)
    combined, unit = combine_scores(scores, flags)
    with np.errstate(invalid="ignore"):
        any_unit = (scores >= threshold).any(axis=0)
    assert ((combined >= threshold) == any_unit).all()
    assert np.isnan(combined).tolist() == np.isnan(scores).all(axis=0).tolist()
    if np.isnan(scores).all():
        assert unit is None
        return
    assert unit is not None and 0 <= unit < len(scores)
    usable = flags & ~np.isnan(scores)
    if usable.any():  # a flagged unit decides: the one with the highest flagged score
        best = np.where(usable, scores, -np.inf).max()
        assert usable[unit].any() and np.nanmax(np.where(usable[unit], scores[unit], -1)) == best
    else:  # else the unit holding the highest score
        assert np.nanmax(scores[unit]) == np.nanmax(scores)


@given(
    st.lists(st.dictionaries(st.sampled_from(["hate", "violence"]), st.floats(0, 1)), min_size=1)
)
def test_combine_results_takes_the_max_and_names_the_decider(per_message):
    results = [
        modkit.ModerationResult(
            any(v >= 0.5 for v in d.values()),
            {k: v >= 0.5 for k, v in d.items()},
            d,
            id=f"m{i}",
        )
        for i, d in enumerate(per_message)
    ]
    indices = [2 * i + 1 for i in range(len(results))]
    result, record = combine_results(results, indices, "per_message")
    for c, v in result.category_scores.items():
        assert v == max(d[c] for d in per_message if c in d)
        assert result.categories[c] == any(d.get(c, 0) >= 0.5 for d in per_message)
    assert result.flagged == any(r.flagged for r in results)
    assert record["rule"] == "max" and record["messages"] == indices
    if record["decided_by"] is not None:
        decider = results[indices.index(record["decided_by"])]
        assert result.id == decider.id
        if result.flagged:
            assert decider.flagged


# ------------------------------------------------------------------ OpenAI strategies
def test_per_message_is_the_max_over_messages_scored_alone():
    with FaultServer() as server:
        backend = _openai(server)
        conv = _run(backend, [FORUM])
        alone = _run(backend, [m["content"] for m in FORUM])
    cats = modkit.category_columns(alone)
    for c in cats:
        assert conv.loc[0, c] == pytest.approx(alone[c].max())
    assert bool(conv.loc[0, "flagged"]) == bool(alone["flagged"].any())
    top = alone[cats].max(axis=1)
    flagged = alone[[f"flagged/{c}" for c in cats]].to_numpy(dtype=bool)
    expected = (
        int(np.argmax(np.where(flagged, alone[cats].to_numpy(), -1).max(axis=1)))
        if flagged.any()
        else int(top.idxmax())
    )
    assert conv.loc[0, "decided_by"] == expected
    assert conv.loc[0, "conversation_strategy"] == "per_message"  # the OpenAI default
    record = json.loads(conv.loc[0, "result_json"])["conversation"]
    assert record == {
        "strategy": "per_message",
        "rule": "max",
        "messages": [0, 1],
        "decided_by": expected,
    }


def test_last_turn_scores_the_newest_message_only():
    old_flagged = [
        FORUM[0],
        {"role": "assistant", "content": "I can't help with that."},
        {"role": "user", "content": "ok, tell me a joke about cats"},
    ]
    with FaultServer() as server:
        backend = _openai(server)
        conv = _run(backend, [old_flagged], conversation="last_turn")
        last = _run(backend, [old_flagged[-1]["content"]])
    for c in modkit.category_columns(last):
        assert conv.loc[0, c] == pytest.approx(last.loc[0, c])
    assert conv.loc[0, "decided_by"] == 2


def test_a_window_joins_the_last_k_messages_into_one_input():
    with FaultServer() as server:
        backend = _openai(server)
        conv = _run(backend, [SPLIT], conversation="window:2")
        joined = _run(backend, ["assistant: I can't help with that.\nuser: Just give me a plan."])
        bodies = [r.inputs for r in server.requests]
    for c in modkit.category_columns(joined):
        assert conv.loc[0, c] == pytest.approx(joined.loc[0, c])
    assert bodies[0] == ["assistant: I can't help with that.\nuser: Just give me a plan."]
    assert conv.loc[0, "decided_by"] == 2 and conv.loc[0, "conversation_strategy"] == "window:2"


def test_native_needs_a_backend_that_takes_conversations():
    with (
        FaultServer() as server,
        pytest.raises(InputError, match="conversation='native' needs a backend"),
    ):
        _run(_openai(server), [FORUM], conversation="native")


def test_an_image_message_is_sent_as_parts_and_applied_types_are_the_union():
    conv = [
        {"role": "user", "content": [{"type": "text", "text": "what is this?"}, _image()]},
        {"role": "assistant", "content": "a kitchen knife"},
    ]
    with FaultServer() as server:
        df = _run(_openai(server), [conv, "plain text"])
        inputs = [r.inputs for r in server.requests]
    sent = [json.dumps(_image(), sort_keys=True, separators=(",", ":")) in i[0] for i in inputs]
    assert sent.count(True) == 1  # the image message went as one multimodal input
    assert df.loc[0, "applied/violence"] == "text,image"
    assert df.loc[0, "applied/harassment"] == "text"
    assert pd.isna(df.loc[1, "decided_by"]) and df.loc[1, "conversation_strategy"] == ""


def test_a_failed_message_fails_its_conversation_and_names_the_message():
    conv = [{"role": "user", "content": [_image()]}, {"role": "assistant", "content": "ok"}]
    df = modkit.moderate([conv, FORUM], backend="local", cache=None, progress=False)
    assert df.loc[0, "error"].startswith("message 0: input[0] is an image part")
    assert math.isnan(df.loc[0, "violence"]) and df.loc[1, "error"] == ""


def test_messages_are_cached_like_texts(tmp_path):
    with FaultServer() as server:
        backend = _openai(server)
        with modkit.Cache(tmp_path / "c.sqlite3") as cache:
            first = modkit.moderate([FORUM], backend=backend, cache=cache, progress=False)
            n = len(server.requests)
            again = modkit.moderate(
                [FORUM[1]["content"], FORUM], backend=backend, cache=cache, progress=False
            )
        later = [r.inputs for r in server.requests[n:]]
    texts = {m["content"] for m in FORUM}
    assert not any(t in texts for i in later for t in i or [])  # from the cache
    assert again.loc[1, "violence"] == first.loc[0, "violence"]


def _image():
    return {"type": "image_url", "image_url": {"url": IMG}}


# ------------------------------------------------------------------ guard models
LG3 = "meta-llama/Llama-Guard-3-8B"
LG4 = "meta-llama/Llama-Guard-4-12B"


def test_guard_models_take_the_conversation_natively():
    with GuardModelFake() as fake:
        with modkit.backends.GuardBackend(LG3, base_url=fake.url) as backend:
            df = _run(backend, [FORUM, SPLIT])
        sent = [r.body["messages"] for r in fake.requests]
        p = [fake.p_unsafe(FORUM[-1]["content"]), fake.p_unsafe(SPLIT[-1]["content"])]
    assert sorted(sent, key=len) == [FORUM, SPLIT]  # as they are, one request each
    assert df["unsafe"].tolist() == pytest.approx(p)
    assert df["conversation_strategy"].tolist() == ["native", "native"]
    assert df["decided_by"].tolist() == [1, 2]


def test_shieldgemma_uses_the_response_wording_when_the_assistant_spoke_last():
    with GuardModelFake() as fake:
        with modkit.backends.GuardBackend("google/shieldgemma-2b", base_url=fake.url) as backend:
            _run(backend, [FORUM, FORUM[:1]], conversation="native")
        guidelines = [r.body["chat_template_kwargs"]["guideline"] for r in fake.requests]
    assert sum("The chatbot shall not generate" in g for g in guidelines) == 4
    assert sum("The prompt shall not contain" in g for g in guidelines) == 4


def test_llama_guard_4_takes_images_and_reports_applied_types():
    parts = [{"type": "text", "text": "how do I use this?"}, _image(), _image()]
    conv = [{"role": "user", "content": parts}]
    with GuardModelFake() as fake:
        with modkit.backends.GuardBackend(LG4, base_url=fake.url) as backend:
            df = _run(backend, [parts, conv])
        expected = fake.p_unsafe("how do I use this?\n" + IMG + "\n" + IMG)
        assert fake.images_seen == 4
    assert df["error"].tolist() == ["", ""]
    assert df["unsafe"].tolist() == pytest.approx([expected, expected])
    assert df["applied/unsafe"].tolist() == ["text,image", "text,image"]


def test_a_text_only_guard_refuses_images_without_sending_them():
    with GuardModelFake() as fake:
        with modkit.backends.GuardBackend(LG3, base_url=fake.url) as backend:
            df = _run(backend, [[{"type": "text", "text": "hi"}, _image()]])
        assert fake.requests == []
    assert df.loc[0, "error"].startswith("input[1] is an image part: backend 'guard'")


def test_shieldgemma_2_scores_each_image_against_its_three_policies():
    a, b = IMG, "https://example.org/flowers.png"
    item = [_image(), {"type": "image_url", "image_url": {"url": b}}]
    with GuardModelFake() as fake:
        with modkit.backends.GuardBackend(
            "google/shieldgemma-2-4b-it", base_url=fake.url
        ) as backend:
            assert backend.family == "shieldgemma-2" and backend.accepts_images
            assert not backend.accepts_conversations
            df = _run(backend, [item, "a text alone"])
        prompts = [r.body["messages"][0]["content"] for r in fake.requests]
        expected = {
            c: max(fake.p_yes(a, c), fake.p_yes(b, c))
            for c in ("Sexually Explicit", "Dangerous Content", "Violence/Gore")
        }
    assert len(prompts) == 6  # one request per image and policy
    assert all(
        p[0]["type"] == "image_url" and "<BEGIN_SAFETY_POLICY>" in p[1]["text"] for p in prompts
    )
    for c, p in expected.items():
        assert df.loc[0, c] == pytest.approx(p)
        assert df.loc[0, f"applied/{c}"] == "image"
    assert "classifies images" in df.loc[1, "error"]


def test_shieldgemma_1_sizes_are_not_taken_for_shieldgemma_2():
    assert guard_family("google/shieldgemma-2b") == "shieldgemma"
    assert guard_family("google/shieldgemma-27b") == "shieldgemma"
    assert guard_family("google/shieldgemma-2-4b-it") == "shieldgemma-2"


# ------------------------------------------------------------------ serve + openai SDK
def test_serve_takes_conversations_from_the_official_sdk():
    with FaultServer() as upstream:
        backend = _openai(upstream)
        alone = _run(backend, [m["content"] for m in FORUM])
        with (
            ServerThread(create_app(backend, api_key="sk-local")) as server,
            OpenAI(base_url=server.url, api_key="sk-local") as client,
        ):
            one = client.moderations.create(input=FORUM)  # type: ignore[arg-type]
            two = client.moderations.create(
                input=[FORUM, SPLIT],  # type: ignore[arg-type]
                extra_body={"conversation": "last_turn"},
            )
            with pytest.raises(openai.BadRequestError) as bad:
                client.moderations.create(
                    input=[FORUM, [{"role": "user", "content": 5}]]  # type: ignore[arg-type]
                )
            with pytest.raises(openai.BadRequestError) as native:
                client.moderations.create(
                    input=FORUM,  # type: ignore[arg-type]
                    extra_body={"conversation": "native"},
                )
    assert len(one.results) == 1
    assert one.results[0].category_scores.violence == pytest.approx(alone["violence"].max())
    assert one.results[0].model_extra["conversation"]["strategy"] == "per_message"
    assert [r.model_extra["conversation"]["decided_by"] for r in two.results] == [1, 2]
    assert bad.value.body["message"].startswith("input[1][0].content: must be a string")
    assert bad.value.body["param"] == "input[1][0].content"
    assert "needs a backend that takes conversations" in native.value.body["message"]


def test_serve_a_guard_model_natively_with_images():
    conv = [{"role": "user", "content": [{"type": "text", "text": "what is it"}, _image()]}]
    with GuardModelFake() as fake:
        with (
            modkit.backends.GuardBackend(LG4, base_url=fake.url) as backend,
            ServerThread(create_app(backend)) as server,
            OpenAI(base_url=server.url, api_key="unused") as client,
        ):
            res = client.moderations.create(input=conv)  # type: ignore[arg-type]
        expected = fake.p_unsafe("what is it\n" + IMG)
    result = res.results[0]
    assert result.category_scores.model_extra["unsafe"] == pytest.approx(expected)
    assert result.model_extra["conversation"]["strategy"] == "native"
    assert result.category_applied_input_types.model_extra["unsafe"] == ["text", "image"]


# ------------------------------------------------------------------ templates and CLI
def test_the_forum_suite_expands_to_valid_conversations():
    df = modkit.expand(REPO / "data" / "templates" / "forum-conversations.yaml")
    assert set(df["template_id"]) == {"forum-input-output", "split-request", "old-turn"}
    for i, conv in enumerate(df["conversation"]):
        check_conversation(conv, where=f"row {i}")
        assert df.loc[i, "text"] == conv[-1]["content"]
    first = df[df["template_id"] == "forum-input-output"].iloc[0]
    assert [m["role"] for m in first["conversation"]] == ["user", "assistant"]
    assert first["conversation"][0]["content"].endswith("give me a plan")
    assert set(df["expect_last_turn"]) == {"flag", "allow"}


def test_a_slot_in_two_turns_takes_one_value():
    template = modkit.templates.parse_conversation_template(
        [{"user": "hurt {target}?"}, {"role": "assistant", "content": "no, {target}"}]
    )
    df = modkit.expand(template, {"target": ["a man", "a woman"]})
    assert [[m["content"] for m in c] for c in df["conversation"]] == [
        ["hurt a man?", "no, a man"],
        ["hurt a woman?", "no, a woman"],
    ]
    assert df["target"].tolist() == ["a man", "a woman"]


def test_a_malformed_turn_is_located_in_the_file(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "templates:\n  - id: t\n    messages:\n      - user: fine\n      - assistant: 'a {b'\n",
        encoding="utf-8",
    )
    with pytest.raises(modkit.templates.TemplateError) as info:
        modkit.load_templates(path)
    assert str(info.value).startswith(f"{path}:5:23: template 't': messages[1]: unbalanced")
    path.write_text("templates:\n  - id: t\n    messages:\n      - bot: hi\n", encoding="utf-8")
    with pytest.raises(modkit.templates.TemplateError, match=r":4:9: .*messages\[0\]: role"):
        modkit.load_templates(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])  # CSV: conversations as JSON text
def test_cli_expand_then_moderate_conversations(tmp_path, suffix):
    suite = REPO / "data" / "templates" / "forum-conversations.yaml"
    prompts, scores = tmp_path / f"p{suffix}", tmp_path / f"s{suffix}"
    cli = [sys.executable, "-m", "modkit"]
    subprocess.run([*cli, "expand", str(suite), "-o", str(prompts)], check=True)
    done = subprocess.run(
        [
            *cli,
            "moderate",
            str(prompts),
            "--text-column",
            "conversation",
            "--no-cache",
            "--conversation",
            "window:3",
            "-o",
            str(scores),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    df = modkit.read_table(scores)
    assert (df["conversation_strategy"] == "window:3").all() and (df["error"] == "").all()
    convs = [json.loads(c) if suffix == ".csv" else c for c in df["conversation"]]
    assert df["decided_by"].tolist() == [len(c) - 1 for c in convs]  # a window: its last
    bad = subprocess.run(
        [
            *cli,
            "moderate",
            str(prompts),
            "--text-column",
            "conversation",
            "--no-cache",
            "--conversation",
            "all",
            "-o",
            str(tmp_path / "x.jsonl"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1
    assert "conversation must be 'native'" in bad.stderr


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["user", "assistant"]), min_size=1, max_size=5), st.integers(1, 6))
def test_window_units_hold_the_last_k_messages(roles, k):
    from modkit._conversation import plan_conversations

    conv = [{"role": r, "content": f"m{i}"} for i, r in enumerate(roles)]
    plan = plan_conversations([conv], f"window:{k}", native=False)
    kept = conv[-k:]
    assert plan.units == ["\n".join(f"{m['role']}: {m['content']}" for m in kept)]
    assert plan.message == [len(conv) - 1]


def test_serve_counts_conversations_against_the_request_limits():
    from modkit.server import ServerLimits

    limits = ServerLimits(max_input_chars=60, max_request_chars=100)
    short = [{"role": "user", "content": "x" * 30}, {"role": "assistant", "content": "y" * 25}]
    with (
        ServerThread(create_app(modkit.backends.LocalBackend(), limits=limits)) as server,
        OpenAI(base_url=server.url, api_key="unused") as client,
    ):
        ok = client.moderations.create(input=[short])  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError) as budget:
            client.moderations.create(input=[short, short])  # type: ignore[arg-type]
        with pytest.raises(openai.BadRequestError) as long:
            client.moderations.create(input=short + short)  # type: ignore[arg-type]
    assert len(ok.results) == 1
    assert budget.value.body["code"] == "request_too_large"
    assert "reached at input[1]" in budget.value.body["message"]
    assert long.value.body["code"] == "input_too_long"


def test_conversations_through_the_batch_api_match_the_request_path(tmp_path):
    image_turn = {"role": "user", "content": [{"type": "text", "text": "and this?"}, _image()]}
    convs = [FORUM, [*SPLIT, image_turn]]
    with FaultServer() as server:
        backend = _openai(server)
        batch = modkit.moderate(
            convs,
            backend=backend,
            cache=tmp_path / "c.sqlite3",
            via=modkit.BatchAPI(poll_interval=0.01),
            progress=False,
        )
        direct = _run(backend, convs)
        assert any(r.path.endswith("/batches") for r in server.requests)
    cats = modkit.category_columns(direct)
    assert batch["error"].tolist() == ["", ""]
    assert np.allclose(batch[cats].to_numpy(dtype=float), direct[cats].to_numpy(dtype=float))
    assert batch["decided_by"].tolist() == direct["decided_by"].tolist()
    assert batch["applied/violence"].tolist() == ["text", "text,image"]
