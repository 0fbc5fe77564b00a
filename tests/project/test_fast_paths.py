"""The fast data path: cache keys, compact cached results, flag columns, vectorised gaps.

Each fast path is checked against the plain computation it replaces.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _fakes import HashBackend
from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit import CATEGORIES, Cache, ModerationResult, counterfactual_gap
from modkit._cache import cache_key, text_keys
from modkit._frame import endpoint_flags, flag_column
from modkit._result import ResultRows

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30
) | st.sampled_from(['say "hi"', "back\\slash", "tab\t", "nl\n", "\x7f", "\u2028"])


@given(st.lists(texts, max_size=20), st.text(max_size=8), st.text(max_size=8))
def test_text_keys_are_cache_keys(values, namespace, model):
    keys, unique, errors = text_keys(values, namespace, model)
    assert keys == [cache_key(namespace, model, t) for t in values]
    assert list(unique.values()) == list(dict.fromkeys(values))
    assert errors == {}


def test_text_keys_without_digest_deduplicate_and_keep_errors():
    keys, unique, errors = text_keys(["a", "b", "a", 3, "x\ud800"], "ns", "m", digest=False)
    assert keys[:4] == ["=a", "=b", "=a", None]
    assert list(unique) == ["=a", "=b"]
    assert list(errors) == [keys[4]] and "lone surrogate" in errors[keys[4]].message


score = st.floats(0, 1, allow_nan=False)


@st.composite
def results(draw: Any) -> ModerationResult:
    cats = draw(st.lists(st.sampled_from(CATEGORIES), unique=True, min_size=1))
    return ModerationResult(
        flagged=draw(st.booleans()),
        categories={c: draw(st.booleans()) for c in cats},
        category_scores={c: draw(score) for c in cats},
        category_applied_input_types={c: ["text"] for c in cats},
        model=draw(st.text(max_size=5)),
        id=draw(st.text(max_size=5)),
    )


@settings(max_examples=50)
@given(st.lists(results(), min_size=1, max_size=8))
def test_compact_form_round_trips(res):
    rows = ResultRows.unpack(
        [str(i) for i in range(len(res))],
        [ResultRows.compact(r) for r in res],
        [r.model for r in res],
        [r.id for r in res],
    )
    for i, r in enumerate(res):
        for j, c in enumerate(CATEGORIES):
            if c in r.category_scores:
                assert rows.scores[i, j] == r.category_scores[c]
                assert rows.flags[i, j] == int(r.categories[c])
            else:
                assert np.isnan(rows.scores[i, j]) and rows.flags[i, j] == -1
        assert rows.flagged[i] == r.flagged


def test_a_result_with_an_unknown_category_has_no_compact_form():
    r = ModerationResult(True, {"new/key": True}, {"new/key": 0.9})
    assert ResultRows.compact(r) is None


def _run(data, cache, **kw):
    return modkit.moderate(data, backend=HashBackend(), cache=cache, progress=False, **kw)


def test_warm_frame_equals_cold_frame(tmp_path):
    data = [f'text {i % 37} é "q"' for i in range(120)] + [None, "FAIL me"]
    with Cache(tmp_path / "c.sqlite3") as cache:
        cold = _run(data, cache)
        warm = _run(data, cache)
    pd.testing.assert_frame_equal(cold, warm)
    none = _run(data, None)
    pd.testing.assert_frame_equal(cold, none)


def test_rows_written_by_an_older_modkit_are_still_read(tmp_path):
    path = tmp_path / "old.sqlite3"
    data = [f"old {i}" for i in range(5)]
    with Cache(path) as cache:
        fresh = _run(data, cache)
    con = sqlite3.connect(path)  # as 0.1 wrote them: no compact columns
    con.execute("UPDATE results SET packed = NULL, snapshot = NULL, rid = NULL, raw_len = NULL")
    con.commit()
    con.close()
    with Cache(path) as cache:
        rows, others = cache.get_rows(list(cache_key_of(data)))
        assert len(rows) == 0 and len(others) == 5
        pd.testing.assert_frame_equal(_run(data, cache), fresh)


def cache_key_of(data):
    b = HashBackend()
    return [cache_key(b.cache_namespace, b.model, t) for t in data]


def test_cache_blob_stays_readable_as_before(tmp_path):
    with Cache(tmp_path / "c.sqlite3") as cache:
        frame = _run(["hello"], cache)
        (key,) = cache_key_of(["hello"])
        assert cache.get_many([key])[key].to_dict() == json.loads(frame["result_json"][0])
        blob = cache._conn.execute("SELECT result FROM results").fetchone()[0]
    body = json.loads(blob)
    assert body.pop("model") == frame["model"][0] and body.pop("id") == frame["moderation_id"][0]
    assert body == json.loads(frame["result_json"][0])


def test_flag_columns_are_the_endpoint_flags():
    frame = _run([f"t{i}" for i in range(40)] + ["FAIL"], None)
    cats = modkit.category_columns(frame)
    for c in cats:
        col = frame[flag_column(c)]
        assert str(col.dtype) == "boolean"
        want = [json.loads(r)["categories"][c] if r else None for r in frame["result_json"]]
        assert [None if pd.isna(v) else bool(v) for v in col] == want
    by_cols = endpoint_flags(frame, cats)
    by_json = endpoint_flags(frame.drop(columns=[flag_column(c) for c in cats]), cats)
    np.testing.assert_array_equal(by_cols, by_json)


def test_result_json_is_optional():
    frame = _run(["a", "b"], None, result_json=False)
    assert "result_json" not in frame.columns
    assert modkit.crosstab(frame.assign(g=1), "g", "flag_rate").notna().all().all()


@pytest.mark.parametrize("fmt", [".csv", ".jsonl", ".parquet"])
def test_flag_columns_survive_a_file(tmp_path, fmt):
    frame = _run(["a", "b", "FAIL"], None, result_json=False)
    path = modkit.write_table(frame, tmp_path / f"r{fmt}")
    back = modkit.read_table(path)
    cats = modkit.category_columns(frame)
    np.testing.assert_array_equal(endpoint_flags(back, cats), endpoint_flags(frame, cats))


def _gap_reference(df, slot, by, cats):
    """The plain computation: per template and category, the per-value means."""
    rows = []
    ok = df[df["error"] == ""].dropna(subset=[*by, slot])
    for c in cats:
        for key, grp in ok.groupby(by, sort=False) if by else [((), ok)]:
            per_value = grp.groupby(slot, sort=False)[c].mean().dropna()
            if per_value.empty:
                continue
            rows.append(
                (
                    *((key,) if not isinstance(key, tuple) else key),
                    c,
                    per_value.max() - per_value.min(),
                    per_value.idxmax(),
                    per_value.idxmin(),
                    per_value.mean(),
                    len(per_value),
                    int(grp[c].notna().sum()),
                )
            )
    return rows


@settings(max_examples=40)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["t1", "t2", "t3"]),
            st.sampled_from(["a", "b", "c", "d"]),
            st.one_of(score, st.just(np.nan)),
            st.one_of(score, st.just(np.nan)),
        ),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_vectorised_gap_equals_the_plain_computation(data, one_template):
    df = pd.DataFrame(data, columns=["template_id", "group", "hate", "violence"]).assign(error="")
    by = [] if one_template else ["template_id"]
    got = counterfactual_gap(df, "group", by=by or None, categories=["hate", "violence"])
    want = _gap_reference(df, "group", by, ["hate", "violence"])
    got_rows = {(*(r[b] for b in by), r["category"]): r for r in got.to_dict("records")}
    assert len(got_rows) == len(want)
    for *key, c, gap, vmax, vmin, mean, n_values, n in want:
        r = got_rows[(*key, c)]
        assert r["gap"] == pytest.approx(gap, abs=1e-12)
        assert (r["max_value"], r["min_value"]) == (vmax, vmin)
        assert r["mean"] == pytest.approx(mean, abs=1e-12)
        assert (r["n_values"], r["n"]) == (n_values, n)
    assert got["gap"].is_monotonic_decreasing
    detail = counterfactual_gap(df, "group", by=by or None, detail=True)
    assert len(detail) == sum(w[-2] for w in want)
    np.testing.assert_allclose(detail["diff"], detail["score"] - detail["mean"])


# --- the one JSON-lines reader --------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('\n \n{"text": \n', r"f\.jsonl:3:10: invalid JSON \(Expecting value\)"),
        ("\n[1, 2]\n", r"f\.jsonl:2: expected a JSON object per line"),
        ("[" * 100_000 + "\n", r"f\.jsonl:1: JSON nested too deeply"),
    ],
)
def test_one_jsonl_reader_one_wording(tmp_path, content, message):
    from modkit import DatasetError, InputError, read_table
    from modkit.backends import ReplayBackend
    from modkit.datasets import read_dataset_file

    path = tmp_path / "f.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_table(path)
    with pytest.raises(InputError, match=message):
        ReplayBackend(path)
    with pytest.raises(DatasetError, match=message):
        read_dataset_file(path, "openai-moderation-1680")


@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5))))
def test_iter_jsonl_reads_back_what_json_wrote(records):
    from modkit._io import iter_jsonl

    lines = [json.dumps(r) for r in records]
    got = list(iter_jsonl([*lines, "", "  "], "x"))
    assert [rec for _, rec in got] == records
    assert [n for n, _ in got] == list(range(1, len(records) + 1))
