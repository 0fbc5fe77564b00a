"""The cache's columnar paths (issue 20 points 1 and 8): ``Cache.put_rows`` stores what
``put_many`` stores; ``Cache.get_rows`` streams rows in the caller's order, with the
``result_json`` strings in Arrow when pandas keeps strings there; the frame made from
them is the frame made from Python strings."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modkit import CATEGORIES, Cache, ItemError, ModerationResult
from modkit._cache import cache_key
from modkit._frame import assemble
from modkit._result import ResultRows, arrow_strings, result_json


@st.composite
def results(draw) -> ModerationResult:
    cats = draw(st.lists(st.sampled_from(CATEGORIES), unique=True, min_size=1))
    score = st.one_of(st.floats(0, 1), st.just(math.nan))
    return ModerationResult(
        flagged=draw(st.booleans()),
        categories={c: draw(st.booleans()) for c in cats},
        category_scores={c: draw(score) for c in cats},
        category_applied_input_types=draw(
            st.sampled_from([{}, {c: ["text"] for c in cats}, {cats[0]: ["text", "image"]}])
        ),
        model=draw(st.sampled_from(["m-1", "m-é", 'q"uote'])),
        id=draw(st.text(max_size=6)),
    )


def _rows_of(keys: list[str], found: list[ModerationResult]) -> ResultRows:
    packed = [ResultRows.compact(r) for r in found]
    assert all(p is not None for p in packed)
    return ResultRows.unpack(
        keys,
        packed,  # type: ignore[arg-type]
        [r.model for r in found],
        [r.id for r in found],
        [result_json(r) for r in found],
    )


_COLS = "key, namespace, model, result, text, packed, snapshot, rid, raw_len"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(results(), min_size=1, max_size=8), st.booleans())
def test_put_rows_stores_what_put_many_stores(tmp_path_factory, found, store_texts):
    tmp = tmp_path_factory.mktemp("c")
    keys = [cache_key("ns", "m", f"text {i}") for i in range(len(found))]
    texts = [f"text {i}" for i in range(len(found))]
    with (
        Cache(tmp / "a", store_texts=store_texts) as a,
        Cache(tmp / "b", store_texts=store_texts) as b,
    ):
        a.put_many(
            {k: (r, t) for k, r, t in zip(keys, found, texts, strict=True)},
            namespace="ns",
            model="m",
        )
        b.put_rows(_rows_of(keys, found), texts, namespace="ns", model="m")
        rows_a = a._conn.execute(f"SELECT {_COLS} FROM results ORDER BY key").fetchall()
        rows_b = b._conn.execute(f"SELECT {_COLS} FROM results ORDER BY key").fetchall()
        assert rows_a == rows_b
        got = b.get_many(keys)
        for k, r in zip(keys, found, strict=True):
            assert got[k] == r


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_get_rows_keeps_the_callers_order_across_chunks(tmp_path_factory, data):
    n = data.draw(st.integers(1, 2500))
    tmp = tmp_path_factory.mktemp("c")
    keys = [cache_key("ns", "m", f"t{i}") for i in range(n)]
    stored = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    result = ModerationResult(True, {"hate": True}, {"hate": 0.5}, {}, "m-1", "id")
    order = data.draw(st.permutations(range(n)))
    asked = [keys[i] for i in order] + ["not-a-key"]
    with Cache(tmp / "c") as cache:
        cache.put_many(
            {k: (result, "") for k, s in zip(keys, stored, strict=True) if s},
            namespace="ns",
            model="m",
        )
        rows, others = cache.get_rows(asked)
    assert others == {}
    assert rows.keys == [k for k in asked if k in {keys[i] for i in range(n) if stored[i]}]
    raw = list(rows.raw) if rows.raw is not None else []
    assert [str(r) for r in raw] == [result_json(result)] * len(rows)
    assert np.all(rows.scores[:, CATEGORIES.index("hate")] == 0.5)


def test_frame_from_arrow_strings_is_the_frame_from_python_strings():
    found = [
        ModerationResult(i % 2 == 0, {"hate": i % 2 == 0}, {"hate": i / 10}, {}, "m-1", f"id{i}")
        for i in range(6)
    ]
    keys = [f"k{i}" for i in range(6)]
    rows = _rows_of(keys, found)
    if arrow_strings():
        from modkit._result import string_array

        arrow_rows = ResultRows(
            rows.keys,
            rows.scores,
            rows.flags,
            rows.flagged,
            rows.model,
            rows.id,
            string_array(list(rows.raw)),
        )
    else:  # pandas 2: strings stay Python objects, the Arrow path is not used
        arrow_rows = rows
    fresh = ModerationResult(True, {"violence": True}, {"violence": 0.9}, {}, "m-2", "f")
    outcomes = {"fresh": fresh, "bad": ItemError("too long")}
    cases = [
        keys,  # every row one cached result, in order: the column as it is
        [*keys[::-1], keys[0], None, "fresh", "bad", "missing"],  # reordered, repeated, mixed
    ]
    for row_keys in cases:
        frame = pd.DataFrame({"text": [str(k) for k in row_keys]})
        mine = {k: v for k, v in outcomes.items() if k in row_keys}
        want = assemble(frame, row_keys, mine, "not scored", rows=rows)
        got = assemble(frame, row_keys, mine, "not scored", rows=arrow_rows)
        pd.testing.assert_frame_equal(got, want)
        ok = got["error"] == ""
        for raw in got.loc[ok, "result_json"]:
            json.loads(raw)
