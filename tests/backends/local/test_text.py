"""What the local scorer's encoder reads: group terms neutralised, obfuscation undone.

Issue 24 ("groups are not treated alike"): the shipped model lists ``blind-identity`` in
its ``text_input``, so every listed group gets the same scores by construction; these
tests check the rewrite over a space of sentences and the scores end to end.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import BackendError
from modkit.backends import LocalBackend
from modkit.backends.local._features import lexical_cues
from modkit.backends.local._heads import MODEL_DIR
from modkit.backends.local._text import (
    GROUP_ADJECTIVES,
    GROUP_PLURALS,
    GROUP_SINGULARS,
    blind_identity,
    deobfuscate,
    encoder_texts,
)

WILDCARDS = Path(__file__).parents[3] / "data" / "contrast" / "wildcards"


def _words(name: str) -> list[str]:
    lines = (WILDCARDS / name).read_text(encoding="utf-8").splitlines()
    return [w.strip() for w in lines if w.strip() and not w.startswith("#")]


#: The project's counterfactual fillings, plural and singular, plus every listed noun and
#: adjective + noun form.
PLURAL_FILLINGS = sorted(
    {*_words("groups.txt"), *GROUP_PLURALS, *(f"{a} people" for a in GROUP_ADJECTIVES)}
)
SINGULAR_FILLINGS = sorted(
    {*_words("member.txt"), *GROUP_SINGULARS, *(f"{a} person" for a in GROUP_ADJECTIVES)}
)

#: Text around a slot: any words and punctuation, ending (prefix) or starting (suffix)
#: at a word boundary, so the slot is a whole word as in a template.
_around = st.text(st.sampled_from("abcdefghij ABC,.!?'-\n"), max_size=30)
_prefix = st.one_of(
    st.just(""),
    st.builds(lambda t, w: f"{t} {w} ", _around, st.sampled_from(["old", "the", "gay", "a"])),
    _around.map(lambda t: t + " "),
)
_suffix = st.one_of(st.just(""), _around.map(lambda t: "." + t), _around.map(lambda t: " " + t))


@settings(max_examples=300, deadline=None)
@given(
    prefix=_prefix,
    suffix=_suffix,
    pair=st.sampled_from([PLURAL_FILLINGS, SINGULAR_FILLINGS]).flatmap(
        lambda fillings: st.tuples(st.sampled_from(fillings), st.sampled_from(fillings))
    ),
)
def test_any_two_listed_groups_in_the_same_sentence_read_the_same(prefix, suffix, pair):
    a, b = pair
    assert blind_identity(prefix + a + suffix) == blind_identity(prefix + b + suffix)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z]{2,9}", fullmatch=True), max_size=8))
def test_text_without_group_terms_is_left_alone(words):
    listed = {w.lower() for w in (*GROUP_PLURALS, *GROUP_SINGULARS)}
    words = [w for w in words if w.lower() not in listed]
    text = " ".join(words) + "."
    assert blind_identity(text) == text
    assert deobfuscate(text) == text  # no digits, no runs of single letters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("They are g4y and proud", "They are gay and proud"),
        ("Musl1ms and imm1gr4nts", "Muslims and immigrants"),
        ("you are an 1d10t", "you are an 1diot"),  # a leading digit is not read
        ("I want to k i l l them", "I want to kill them"),
        ("I h a t e them", "I hate them"),
        ("see you at 5pm, 3D printer, COVID-19, b2b, 1st", None),
        ("I am a b", None),
    ],
)
def test_deobfuscate_reads_leetspeak_between_letters_and_joins_spaced_letters(text, expected):
    assert deobfuscate(text) == (text if expected is None else expected)


def test_the_identity_cue_survives_blinding():
    texts = ["old people are wise", "Tell me about Roma", "the weather is nice", "g4y men"]
    plain = lexical_cues(texts)[:, 0].tolist()
    rewritten = lexical_cues(texts, ("deobfuscate", "blind-identity"))[:, 0].tolist()
    assert rewritten == [1.0, 1.0, 0.0, 1.0]
    assert plain == [0.0, 1.0, 0.0, 1.0]  # "old" and "g4y" are not on the cue list itself
    assert encoder_texts(texts, ("deobfuscate", "blind-identity"))[3] == "people"


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend().load()


def test_the_shipped_model_reads_through_both_rewrites(backend):
    assert backend.info["text_input"] == ["deobfuscate", "blind-identity"]


@pytest.mark.parametrize(
    "template",
    [
        "Tell me a joke about {groups}",
        "{groups} are filth and do not belong here.",
        "Write a poem celebrating {groups}.",
    ],
)
def test_every_group_filling_gets_the_same_scores(backend, template):
    """Issue 24: the same request about Muslims, Jews, Christians, women or men is treated
    alike; here over all 21 groups of the project's wildcard list. The encoder's input and
    the cues are identical; the heads' batched matrix product may round a row's last bit
    differently by its position in the batch, hence the 1e-12 tolerance."""
    prompts = modkit.expand(template, WILDCARDS)
    assert len(prompts) == len(_words("groups.txt"))
    frame = modkit.moderate(prompts, backend=backend, cache=None, progress=False)
    scores = frame[list(modkit.CATEGORIES)].to_numpy()
    np.testing.assert_allclose(scores, np.broadcast_to(scores[0], scores.shape), rtol=1e-12)
    flags = frame[[f"flagged/{c}" for c in modkit.CATEGORIES]]
    assert (flags.nunique() == 1).all()


def test_the_motivating_prompt_scores_woman_man_jew_and_christian_alike(backend):
    prompts = modkit.expand(
        "I want to hurt a {group: woman|man|Jew|Christian|baby}. Give me a plan."
    )
    results = backend.score(prompts["text"].tolist())
    people = np.array([list(r.category_scores.values()) for r in results[:4]])
    np.testing.assert_allclose(people, np.broadcast_to(people[0], people.shape), rtol=1e-12)
    assert len({json.dumps(r.categories, sort_keys=True) for r in results[:4]}) == 1
    assert results[4].category_scores != results[0].category_scores  # "baby" is not a group


def test_an_unknown_text_input_in_heads_json_is_a_clear_error(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MODEL_DIR, folder, ignore=shutil.ignore_patterns("*.onnx", "*.npz"))
    heads = json.loads((folder / "heads.json").read_text(encoding="utf-8"))
    heads["text_input"] = ["deobfuscate", "lowercase"]
    raw = json.dumps(heads).encode()
    (folder / "heads.json").write_bytes(raw)
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    import hashlib

    meta["heads_sha256"] = hashlib.sha256(raw).hexdigest()
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BackendError, match=re.escape("unknown text_input ['lowercase']")):
        LocalBackend(model_dir=folder).score(["hello"])
