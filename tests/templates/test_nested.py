"""Choices made inside a nested wildcard value get their own slot columns."""

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

import modkit
from modkit import crosstab

WILDCARDS = {
    "group": ["{age} people", "{size: tall|short} {kind}", "babies", "{old|young} {kind}"],
    "age": ["old", "young"],
    "kind": ["men", "women"],
}


def test_columns_and_the_naming_rule():
    df = modkit.expand("Tell me about {group} and {age}.", wildcards=WILDCARDS)
    assert df.attrs["slots"]["t1"] == ["group", "group.age", "size", "kind", "group.slot1", "age"]
    by_text = df.set_index("text")
    row = by_text.loc["Tell me about old people and young."]
    # {age} inside a value of {group} is an independent draw from the top-level {age}:
    # the template already has an `age` column, so the nested one is `group.age`
    assert (row["group"], row["group.age"], row["age"]) == ("old people", "old", "young")
    row = by_text.loc["Tell me about short women and old."]
    assert (row["size"], row["kind"]) == ("short", "women")
    assert pd.isna(row["group.age"]) and pd.isna(row["group.slot1"])  # no such choice made
    row = by_text.loc["Tell me about young men and old."]
    assert (row["group.slot1"], row["kind"]) == ("young", "men")  # unnamed: <slot>.slotK
    row = by_text.loc["Tell me about babies and old."]
    assert row[["group.age", "size", "kind", "group.slot1"]].isna().all()


def test_without_a_clash_the_nested_wildcard_keeps_its_name_and_one_column():
    # {kind} is used in two different values of {group}: one column, filled from either
    df = modkit.expand("About {group}.", wildcards=WILDCARDS)
    assert df.attrs["slots"]["t1"] == ["group", "age", "size", "kind", "group.slot1"]
    assert set(df["kind"].dropna()) == {"men", "women"}
    assert df["kind"].notna().sum() == 8


def test_deeper_nesting_and_sampling_agree_with_the_full_product():
    wild = {
        "who": ["{adj} {noun}", "nobody"],
        "adj": ["very {mood}", "calm"],
        "mood": ["sad", "mad"],
        "noun": ["cat", "dog"],
    }
    full = modkit.expand("{who} here", wildcards=wild)
    assert full.attrs["slots"]["t1"] == ["who", "adj", "noun", "mood"]
    row = full.set_index("text").loc["very mad dog here"]
    assert (row["adj"], row["mood"], row["noun"]) == ("very mad", "mad", "dog")
    sample = modkit.expand("{who} here", wildcards=wild, sample=3, seed=4)
    merged = sample.merge(full, on="text", suffixes=("", "_full"))
    for col in ("adj", "mood", "noun"):
        assert merged[col].fillna("").equals(merged[f"{col}_full"].fillna(""))


words = st.text("abcdefgh", min_size=1, max_size=5)


@given(
    inner=st.lists(words, min_size=1, max_size=4, unique=True),
    n_nested=st.integers(1, 3),
    plain=st.lists(words.map(lambda w: "P" + w), max_size=2, unique=True),
)
def test_nested_column_is_the_choice_that_made_the_value(inner, n_nested, plain):
    values = [f"{{inner}} X{i}" for i in range(n_nested)] + plain
    df = modkit.expand("say {outer}", wildcards={"outer": values, "inner": inner})
    assert len(df) == n_nested * len(inner) + len(plain)
    for _, row in df.iterrows():
        assert row["text"] == f"say {row['outer']}"
        if row["outer"] in plain:
            assert pd.isna(row["inner"])
        else:
            word, suffix = row["outer"].rsplit(" ", 1)
            assert row["inner"] == word and suffix.startswith("X")


def test_cross_tab_by_a_nested_choice():
    from _fakes import HashBackend

    df = modkit.expand("About {group}.", wildcards=WILDCARDS)
    results = modkit.moderate(df, backend=HashBackend(), cache=None, progress=False)
    table = crosstab(results, "kind", "mean", categories=["hate"])
    assert list(table.index) == ["men", "women"]
    want = results[results["kind"] == "men"]["hate"].mean()
    assert table.loc["men", "hate"] == want


def test_an_alternative_that_is_only_a_wildcard_adds_no_column():
    df = modkit.expand(
        "Hi {target: {kind}}!",
        wildcards={
            "kind": ["{age} men", "women"],
            **{k: v for k, v in WILDCARDS.items() if k == "age"},
        },
    )
    assert df.attrs["slots"]["t1"] == ["target", "age"]  # no `kind`: it is the slot itself
    assert df.set_index("text").loc["Hi old men!", "age"] == "old"
