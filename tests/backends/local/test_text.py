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
from hypothesis.provisional import urls

import modkit
from modkit import BackendError
from modkit.backends import LocalBackend
from modkit.backends.local._features import lexical_cues
from modkit.backends.local._heads import MODEL_DIR
from modkit.backends.local._text import (
    COMMON_ADJECTIVES,
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
    {
        *_words("groups.txt"),
        *GROUP_PLURALS,
        *(f"{a} {n}" for a in GROUP_ADJECTIVES for n in ("people", "women", "Muslims")),
    }
)
SINGULAR_FILLINGS = sorted(
    {
        *_words("member.txt"),
        *GROUP_SINGULARS,
        *(f"{a} {n}" for a in GROUP_ADJECTIVES for n in ("person", "woman", "man")),
    }
)
#: Listed adjectives that name the group on their own ("the Jewish community"); "Roma" is
#: also a listed plural, read "people" on its own (a known limit, in the module docstring).
LONE_ADJECTIVES = sorted(set(GROUP_ADJECTIVES) - set(COMMON_ADJECTIVES) - set(GROUP_PLURALS))

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


@settings(max_examples=300, deadline=None)
@given(
    prefix=_prefix,
    suffix=_suffix,
    pair=st.tuples(st.sampled_from(LONE_ADJECTIVES), st.sampled_from(LONE_ADJECTIVES)),
    case=st.sampled_from([str, str.lower, str.upper, str.title]),
)
def test_any_two_listed_adjectives_on_their_own_read_the_same(prefix, suffix, pair, case):
    """ "the Jewish community" / "the Muslim community", "he is gay" / "he is Hindu",
    "Muslim-majority" / "Sikh-majority": one reading, in any letter case."""
    a, b = (case(w) for w in pair)
    assert blind_identity(prefix + a + suffix) == blind_identity(prefix + b + suffix)


def _with_article(term: str) -> str:
    return ("an " if term[0].lower() in "aeiou" else "a ") + term


@settings(max_examples=300, deadline=None)
@given(
    prefix=_prefix,
    suffix=_suffix,
    pair=st.tuples(st.sampled_from(SINGULAR_FILLINGS), st.sampled_from(SINGULAR_FILLINGS)),
    case=st.sampled_from([str, str.capitalize, str.upper]),
)
def test_a_and_an_before_listed_singulars_read_alike(prefix, suffix, pair, case):
    """ "Her colleague is an immigrant" read "an person", "... a Muslim" "a person"."""
    a, b = (case(_with_article(w)) for w in pair)
    assert blind_identity(prefix + a + suffix) == blind_identity(prefix + b + suffix)


def _possessive(plural: str, apostrophe: str) -> str:
    return plural + (apostrophe if plural.endswith(("s", "S")) else apostrophe + "s")


@settings(max_examples=300, deadline=None)
@given(
    prefix=_prefix,
    pair=st.tuples(st.sampled_from(PLURAL_FILLINGS), st.sampled_from(PLURAL_FILLINGS)),
    apostrophe=st.sampled_from(["'", "\u2019"]),
    case=st.sampled_from([str, str.upper]),
)
def test_possessives_of_any_two_listed_plurals_read_the_same(prefix, pair, apostrophe, case):
    """ "Muslims' rights" read "people' rights", "women's rights" "people's rights"."""
    a, b = (case(_possessive(w, apostrophe)) for w in pair)
    assert blind_identity(f"{prefix}{a} rights") == blind_identity(f"{prefix}{b} rights")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [
        *(f"{word} " * 20_000 + "car" for word in ["old", "white", "gay", "Muslim", "a"]),
        "x" * 200_000 + " car",  # one long token: the URL / e-mail scan was quadratic
        "a1" * 100_000 + " car",
    ],
)
def test_a_long_text_is_rewritten_in_linear_time(text):
    """ "old old old ... car" (8,000 characters) took 4 s, 80,000 characters some 6 min."""
    assert encoder_texts([text], ("deobfuscate", "blind-identity"))[0].endswith(" car")


@settings(max_examples=200, deadline=None)
@given(word=st.sampled_from(sorted({w.lower() for w in GROUP_SINGULARS if len(w) >= 3})))
def test_a_spaced_out_word_before_the_pronoun_i_is_joined_without_it(word):
    """HateCheck's "shoot the next w o m a n I see" was read "womanI" (no group term)."""
    text = f"I am going to shoot the next {' '.join(word)} I see."
    assert deobfuscate(text) == f"I am going to shoot the next {word} I see."
    assert blind_identity(deobfuscate(text)) == "I am going to shoot the next person I see."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a Roma woman", "a person"),  # was "a people person": "Roma" read as the plural
        ("old Roma woman, gay Christian women", "person, people"),  # adjective + noun, one term
        ("old Roma are here", "people are here"),
        ("Queers and gays", "people and people"),  # "queers" was missing from the plurals
        ("the Jewish community", "the person community"),
        ("Muslim-majority countries", "person-majority countries"),
        ("he is GAY", "he is person"),
        ("an old car, white wine, foreign policy, trans fats", None),
    ],
)
def test_blind_identity_reads_each_group_term_once(text, expected):
    assert blind_identity(text) == (text if expected is None else expected)


@settings(max_examples=200, deadline=None)
@given(address=st.one_of(st.emails(), urls()), word=st.sampled_from(["g4y", "k i l l", ""]))
def test_urls_and_email_addresses_are_left_as_written(address, word):
    """ "j0hn@example.com" was read "johnaexample.com", "/p4ge" as "/page"."""
    text = f"{word} see {address} now"
    assert address in deobfuscate(text)


@settings(max_examples=200, deadline=None)
@given(
    word=st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True),
    apostrophe=st.sampled_from(["'", "\u2019"]),
    letters=st.lists(st.sampled_from("abcdefgkxyzI"), min_size=3, max_size=6),
)
def test_a_word_with_an_apostrophe_is_not_joined_to_spaced_letters(word, apostrophe, letters):
    """ "It’s a b c" was read "It’sabc" (typographic apostrophe); "It's a b c" "It's abc"."""
    text = f"{word}{apostrophe}s {' '.join(letters)}"
    assert deobfuscate(text).startswith(f"{word}{apostrophe}s ")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[A-Za-z]{2,9}", fullmatch=True), max_size=8))
def test_text_without_group_terms_is_left_alone(words):
    listed = {w.lower() for w in (*GROUP_PLURALS, *GROUP_SINGULARS, *LONE_ADJECTIVES)}
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
        ("I hate a s i a n s and a r a b s", "I hate asians and arabs"),  # was "a sians"
        ("I met a r o b o t", "I met a robot"),  # a leading "a" stays a word otherwise
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


def test_every_group_adjective_on_its_own_gets_the_same_scores(backend):
    """ "The Jewish community ..." and "The Muslim community ..." were two encoder inputs."""
    template = "The {adj: " + "|".join(LONE_ADJECTIVES) + "} community should leave."
    frame = modkit.moderate(modkit.expand(template), backend=backend, cache=None, progress=False)
    assert len(frame) == len(LONE_ADJECTIVES)
    scores = frame[list(modkit.CATEGORIES)].to_numpy()  # 1e-12: see the test above
    np.testing.assert_allclose(scores, np.broadcast_to(scores[0], scores.shape), rtol=1e-12)
    assert (frame[[f"flagged/{c}" for c in modkit.CATEGORIES]].nunique() == 1).all()


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
