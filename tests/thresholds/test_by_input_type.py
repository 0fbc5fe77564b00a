"""Thresholds that differ by input type (``by_input_type``): the file, ``decide``,
``apply``, the standard-library consumer and ``modkit serve --thresholds``."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openai
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import InputError
from modkit.server import ServeProcess
from modkit.testing import FaultServer, fake_multimodal_result
from modkit.thresholds import ThresholdFile, ThresholdFileError, ThresholdSet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "consume_thresholds.py"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _consumer():
    spec = importlib.util.spec_from_file_location("consume_thresholds", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONSUMER = _consumer()


def _reference(entry, scores, applied):
    """The rule written out plainly: per category, the lowest thresholds of its types; a
    category with none for the item's types has no backend flag here: review."""
    blocked, review, scored = [], [], False
    for cat in sorted({*entry, *scores}, key=modkit.CATEGORIES.index):
        spec = entry.get(cat, {})
        score = scores.get(cat)
        if score is None:
            continue
        scored = True
        types = applied.get(cat, ["text"])
        by_type = spec.get("by_input_type") or {}
        pairs = [by_type.get(t, spec) for t in types] if types and by_type else [spec]
        blocks = [p.get("block") for p in pairs if p.get("block") is not None]
        reviews = [p.get("review") for p in pairs if p.get("review") is not None]
        if not blocks and not reviews:  # no threshold, no flag: fail closed
            review.append(cat)
        elif blocks and score >= min(blocks):
            blocked.append(cat)
        elif reviews and score >= min(reviews):
            review.append(cat)
    action = "block" if blocked else "review" if review else "allow"
    return (action if scored else "unscored"), blocked, review


_level = st.sampled_from([None, 0.0, 0.25, 0.5, 0.75, 1.0])


@st.composite
def _pair(draw):
    block = draw(_level)
    review = draw(_level)
    if block is not None and review is not None and review > block:
        block, review = review, block
    return {"block": block, "review": review}


@st.composite
def _spec(draw):
    spec = draw(_pair())
    kinds = draw(st.sets(st.sampled_from(["text", "image"])))
    if kinds:
        spec["by_input_type"] = {k: draw(_pair()) for k in sorted(kinds)}
    return spec


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["violence", "sexual", "hate"]), _spec(), min_size=1),
    st.dictionaries(st.sampled_from(["violence", "sexual", "hate"]), _level.filter(bool)),
    st.dictionaries(
        st.sampled_from(["violence", "sexual", "hate"]),
        st.sampled_from([[], ["text"], ["image"], ["text", "image"]]),
    ),
)
def test_decide_apply_and_consumer_follow_the_rule(entry, scores, applied):
    ts = ThresholdSet.from_thresholds(entry)
    entry = {c: entry[c] for c in ts.categories}  # the canonical order decide reports in
    action, blocked, review = _reference(entry, scores, applied)
    decision = ts.decide(scores, applied)
    assert (decision.action, list(decision.blocked_categories)) == (action, blocked)
    assert list(decision.review_categories) == review
    row = {c: scores.get(c, np.nan) for c in {*entry, *scores}}
    row |= {f"applied/{c}": ",".join(applied[c]) if c in applied else None for c in entry}
    got = ts.apply(pd.DataFrame([row]))
    assert got["action"].iloc[0] == action
    assert got["blocked_categories"].iloc[0] == ",".join(blocked)
    limits = {c: CONSUMER.limits_for(e, applied.get(c)) for c, e in entry.items()}
    assert CONSUMER.decide(limits, scores)[:3] == (action, blocked, review)


def test_threshold_file_round_trip_and_errors(tmp_path):
    ts = ThresholdSet.from_thresholds(
        {
            "violence": {"block": 0.8, "review": 0.5, "by_input_type": {"image": {"block": 0.4}}},
            "hate": 0.6,
        }
    )
    path = ts.save(tmp_path / "t.json")
    doc = json.loads(path.read_text())
    cats = doc["profiles"]["input"]["categories"]
    assert cats["violence"]["by_input_type"] == {"image": {"block": 0.4}}
    assert "by_input_type" not in cats["hate"]  # absent when not set: older readers unchanged
    assert modkit.validate_threshold_file(path)
    loaded = modkit.load_thresholds(path)
    assert loaded["violence"].by_input_type == {"image": {"block": 0.4}}
    assert loaded.decide({"violence": 0.5}, {"violence": ["text", "image"]}).action == "block"
    assert loaded.decide({"violence": 0.5}).action == "review"  # unknown types: text
    bad = json.loads(path.read_text())
    bad["profiles"]["input"]["categories"]["violence"]["by_input_type"] = {
        "audio": {"block": 0.1},
        "image": {"block": 0.2, "review": 0.3},
    }
    with pytest.raises(ThresholdFileError) as info:
        modkit.validate_threshold_file(bad)
    paths = [p for p, _ in info.value.problems]
    assert "$.profiles.input.categories.violence.by_input_type.audio" in paths
    assert "$.profiles.input.categories.violence.by_input_type.image.review" in paths
    with pytest.raises(InputError, match=r"by_input_type\['video'\]: input type must be one of"):
        ThresholdSet.from_thresholds({"violence": {"block": 1, "by_input_type": {"video": {}}}})


def test_consumer_reads_a_whole_result_with_applied_input_types(tmp_path):
    ts = ThresholdSet.from_thresholds(
        {"violence": {"block": 0.9, "by_input_type": {"image": {"block": 0.3}}}}
    )
    path = ts.save(tmp_path / "t.json")

    def run(payload):
        proc = subprocess.run(
            [sys.executable, "-I", "-S", str(EXAMPLE), str(path), json.dumps(payload)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(proc.stdout)["action"]

    scores = {"violence": 0.5}
    assert run(scores) == "allow"
    assert run({"category_scores": scores}) == "allow"
    image = {"category_scores": scores, "category_applied_input_types": {"violence": ["image"]}}
    assert run(image) == "block"


def test_serve_thresholds_by_input_type_end_to_end(tmp_path):
    """modkit serve --backend openai --thresholds: an image input is flagged by the image
    thresholds, a text by the text ones (upstream: the FaultServer)."""
    (tmp_path / "x.png").write_bytes(PNG)
    parts = modkit.images.multimodal_input("a caption", [tmp_path / "x.png"])
    image_score = fake_multimodal_result(parts)["category_scores"]["violence"]
    ts = ThresholdSet.from_thresholds(
        {"violence": {"block": 1.0, "by_input_type": {"image": {"block": 0.0}}}}
    )
    path = ts.save(tmp_path / "t.json")
    assert image_score < 1.0  # flagged by the image threshold only
    with FaultServer() as upstream:
        args = ["--backend", "openai", "--base-url", upstream.url, "--no-cache"]
        args += ["--thresholds", str(path), "--no-access-log"]
        env = {**os.environ, "OPENAI_API_KEY": "sk-upstream"}
        with (
            ServeProcess(args, env=env) as srv,
            openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0) as client,
        ):
            image = client.moderations.create(model="omni-moderation-latest", input=parts)
            text = client.moderations.create(model="omni-moderation-latest", input="a caption")
    assert image.results[0].flagged and image.results[0].categories.violence
    # violence is not flagged by the text threshold; the categories the file holds no
    # threshold for keep the upstream's own flag (unthresholded: backend_flag)
    flags = text.results[0].categories.model_dump(by_alias=True)
    assert flags.pop("violence") is False
    assert text.results[0].flagged is any(flags.values())
    assert text.results[0].category_scores.violence < 1.0
    ThresholdFile.load(path)  # still a valid file for the loader
