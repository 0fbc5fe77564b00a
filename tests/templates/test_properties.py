"""Property tests of the template grammar and expansion (hypothesis).

Templates are generated from a small model (literal text, inline alternatives, named
slots, wildcard references) whose expansion is computed here independently, with
``itertools.product``, and compared with :func:`modkit.templates.expand`.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modkit.templates import TemplateError, count_prompts, escape, expand

# literal text may hold every special character; the template gets it escaped
ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))
SPECIALS = "{}|\\:# "
TEXT = st.text(alphabet=st.one_of(ANY_CHAR, st.sampled_from(SPECIALS)), max_size=8)
VALUE = TEXT.filter(bool)
PLAIN = st.text(alphabet="abcxyz .,!?'-", max_size=6)  # no syntax at all

WILDCARD_NAMES = ["group", "thing", "place"]


def _one(text):
    """One template given unambiguously (a bare string ending in .yaml/.yml is a file path)."""
    return [{"id": "t1", "text": text}]


@st.composite
def models(draw, text=TEXT, value=VALUE):
    """(pieces, wildcards): pieces are ("lit", s), ("alt", name|None, [v]), ("ref", key)."""
    wildcards = {
        name: draw(st.lists(value, min_size=1, max_size=4, unique=True))
        for name in draw(st.sets(st.sampled_from(WILDCARD_NAMES), max_size=3))
    }
    keys = [n for n in wildcards] + [f"{n}#2" for n in wildcards]
    pieces = []
    named = 0
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["lit", "alt", "named", "ref"] if keys else ["lit", "alt"]))
        if kind == "lit":
            pieces.append(("lit", draw(text)))
        elif kind in ("alt", "named"):
            size = 2 if kind == "alt" else 1
            values = draw(st.lists(value, min_size=size, max_size=4, unique=True))
            name = None
            if kind == "named":
                named += 1
                name = f"n{named}"
            pieces.append(("alt", name, values))
        else:
            pieces.append(("ref", draw(st.sampled_from(keys))))
    return pieces, wildcards


def render(pieces) -> str:
    out = []
    for piece in pieces:
        if piece[0] == "lit":
            out.append(escape(piece[1]))
        elif piece[0] == "alt":
            _, name, values = piece
            head = f"{name}: " if name else ""
            out.append("{" + head + "|".join(escape(v) for v in values) + "}")
        else:
            out.append("{" + piece[1] + "}")
    return "".join(out)


def escaped(wildcards):
    """Wildcard values are template text too: escape them to mean the literal value."""
    return {name: [escape(v) for v in values] for name, values in wildcards.items()}


def reference(pieces, wildcards):
    """Expected (texts, rows, slot columns) in product order, computed without modkit."""
    slots = []  # (column, values, key)
    unnamed = 0
    for piece in pieces:
        if piece[0] == "alt":
            _, name, values = piece
            if name is None:
                unnamed += 1
                name = f"slot{unnamed}"
            slots.append((name, values, None))
        elif piece[0] == "ref" and piece[1] not in [s[2] for s in slots]:
            key = piece[1]
            slots.append((key, wildcards[key.split("#")[0]], key))
    texts, rows = [], []
    for combo in itertools.product(*(s[1] for s in slots)):
        chosen = dict(zip((s[0] for s in slots), combo, strict=True))
        text, alt_index = [], 0
        for piece in pieces:
            if piece[0] == "lit":
                text.append(piece[1])
            elif piece[0] == "alt":
                alt_slots = [s for s in slots if s[2] is None]
                text.append(chosen[alt_slots[alt_index][0]])
                alt_index += 1
            else:
                text.append(chosen[piece[1]])
        texts.append("".join(text))
        rows.append(chosen)
    return texts, rows, [s[0] for s in slots]


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(models())
def test_expansion_matches_the_reference_and_counts_equal_the_product(model):
    pieces, wildcards = model
    template = render(pieces)
    texts, rows, columns = reference(pieces, wildcards)
    df = expand(_one(template), escaped(wildcards), limit=None)
    assert df["text"].tolist() == texts
    assert count_prompts(_one(template), escaped(wildcards)) == len(texts) == len(df)
    assert df.attrs["slots"]["t1"] == columns
    for column in columns:
        assert df[column].tolist() == [row[column] for row in rows]


@FAST
@given(models(text=PLAIN, value=PLAIN.filter(bool)))
def test_every_expansion_re_parses_as_itself(model):
    pieces, wildcards = model
    df = expand(_one(render(pieces)), escaped(wildcards), limit=None)
    for text in df["text"].head(5):
        # no syntax left: each prompt is a template with no slots that gives itself
        again = expand(_one(text))
        assert again["text"].tolist() == [text]
        assert again.attrs["slots"]["t1"] == []


@FAST
@given(models())
def test_escaped_expansions_re_parse_as_themselves(model):
    pieces, wildcards = model
    df = expand(_one(render(pieces)), escaped(wildcards), limit=None)
    for text in df["text"].head(5):
        assert expand(_one(escape(text)))["text"].tolist() == [text]


@FAST
@given(st.text(alphabet=st.one_of(ANY_CHAR, st.sampled_from(SPECIALS)), max_size=40))
def test_escaping_round_trips(text):
    df = expand(_one(escape(text)))
    assert df["text"].tolist() == [text]


@FAST
@given(models(), st.integers(0, 40), st.integers(0, 2**32 - 1))
def test_sampling_is_reproducible_distinct_and_within_the_product(model, k, seed):
    pieces, wildcards = model
    template = render(pieces)
    texts, _, _ = reference(pieces, wildcards)
    first = expand(_one(template), escaped(wildcards), sample=k, seed=seed, limit=None)
    second = expand(_one(template), escaped(wildcards), sample=k, seed=seed, limit=None)
    assert first.equals(second)
    assert len(first) == min(k, len(texts))
    # distinct fillings: positions in the product, recovered from the slot values
    key_columns = first.attrs["slots"]["t1"]
    if key_columns:
        assert not first.duplicated(subset=key_columns).any()
    assert set(first["text"]) <= set(texts)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab {}|\\:#"), max_size=30))
def test_any_text_either_expands_or_raises_a_template_error(text):
    try:
        df = expand(_one(text), {"a": ["x", "y"]}, limit=10_000)
    except TemplateError as error:
        assert error.template_id == "t1"
        if error.position is not None:
            assert 0 <= error.position < len(text)
    else:
        assert len(df) >= 1


_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_PLAIN = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{}|\\:#"))


@given(before=_PLAIN, bad=_SURROGATE, after=_PLAIN, in_wildcard=st.booleans())
def test_a_lone_surrogate_anywhere_is_a_template_error_that_prints(before, bad, after, in_wildcard):
    """A lone surrogate (no UTF-8 encoding) in a template or a wildcard value is named
    with its position, and the message itself can be printed (UTF-8)."""
    value = before + bad + after
    if in_wildcard:
        call = lambda: expand("hurt a {group}", wildcards={"group": [value, "man"]})  # noqa: E731
    else:
        call = lambda: expand("hurt a {group: " + value + "|man}")  # noqa: E731
    try:
        call()
    except TemplateError as exc:
        assert f"U+{ord(bad):04X}" in str(exc)
        assert exc.position == (
            len(before) if in_wildcard else len("hurt a {group: ") + len(before)
        )
        str(exc).encode("utf-8")  # printable
    else:
        raise AssertionError("expanded a template holding a lone surrogate")
