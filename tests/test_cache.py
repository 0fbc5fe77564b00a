"""The sqlite3 result cache."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modkit import CATEGORIES, Cache, InputError, ModerationResult, moderate
from modkit._cache import cache_key, default_cache_path


def _res(score: float, model: str = "m-1", rid: str = "modr-a") -> ModerationResult:
    return ModerationResult(
        flagged=score >= 0.5,
        categories={"hate": score >= 0.5, "self-harm/intent": False},
        category_scores={"hate": score, "self-harm/intent": score / 3},
        category_applied_input_types={"hate": ["text"], "self-harm/intent": ["text", "image"]},
        model=model,
        id=rid,
    )


def test_cache_key_is_sha256_of_namespace_model_and_text():
    key = cache_key("openai:https://api.openai.com/v1", "omni-moderation-latest", "hi")
    expected = hashlib.sha256(
        json.dumps(
            ["openai:https://api.openai.com/v1", "omni-moderation-latest", "hi"],
            separators=(",", ":"),
        ).encode()
    ).hexdigest()
    assert key == expected
    keys = {
        cache_key(*parts)
        for parts in [
            ("a", "m", "t"),
            ("b", "m", "t"),
            ("a", "n", "t"),
            ("a", "m", "u"),
            ("a", "m,t", ""),
            ("a,m", "t", ""),
        ]
    }
    assert len(keys) == 6  # no two of these collide, even with commas inside


def test_round_trip_persistence_and_wal(tmp_path):
    path = tmp_path / "sub" / "c.sqlite3"
    with Cache(path) as cache:
        cache.put_many(
            {"k1": (_res(0.7), "text one"), "k2": (_res(0.1), "text two")},
            namespace="ns",
            model="m",
        )
        assert len(cache) == 2
    with Cache(path) as cache:  # a new connection sees it
        got = cache.get_many(["k1", "k2", "missing"])
        assert got == {"k1": _res(0.7), "k2": _res(0.1)}
        assert got["k1"].model == "m-1" and got["k1"].id == "modr-a"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_texts_are_not_stored_unless_asked(tmp_path):
    secret = "a very private sentence 8f2c"
    key = cache_key("ns", "m", secret)
    with Cache(tmp_path / "plain.sqlite3") as cache:
        cache.put_many({key: (_res(0.3), secret)}, namespace="ns", model="m")
        blobs = [p.read_bytes() for p in tmp_path.glob("plain.sqlite3*")]
    assert blobs and not any(secret.encode() in b for b in blobs)
    with Cache(tmp_path / "texts.sqlite3", store_texts=True) as cache:
        cache.put_many({key: (_res(0.3), secret)}, namespace="ns", model="m")
    with sqlite3.connect(tmp_path / "texts.sqlite3") as conn:
        assert conn.execute("SELECT text FROM results").fetchone()[0] == secret


def test_moderate_stores_no_text_by_default(tmp_path):
    from modkit.backends import SyncBackend

    class Echo(SyncBackend):
        name = model = "echo"

        def score_batch(self, texts):
            return [_res(0.2) for _ in texts]

    secret = "do not keep this sentence 51aa"
    moderate([secret], backend=Echo(), cache=str(tmp_path / "c.sqlite3"), progress=False)
    for p in tmp_path.glob("c.sqlite3*"):
        assert secret.encode() not in p.read_bytes()


def test_corrupt_or_foreign_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "not-a-db.sqlite3"
    bad.write_bytes(b"this is not sqlite at all, just some bytes" * 100)
    with pytest.raises(InputError, match=r"not-a-db\.sqlite3: not a usable modkit cache"):
        Cache(bad)


def test_clear_and_replace(tmp_path):
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.put_many({"k": (_res(0.2), "t")}, namespace="ns", model="m")
        cache.put_many({"k": (_res(0.9), "t")}, namespace="ns", model="m")
        assert len(cache) == 1 and cache.get_many(["k"])["k"] == _res(0.9)
        cache.clear()
        assert len(cache) == 0


def test_many_keys_and_threads(tmp_path):
    with Cache(tmp_path / "c.sqlite3") as cache:

        def writer(w: int) -> None:
            for chunk in range(5):
                items = {f"{w}-{chunk}-{i}": (_res(i / 300), "t") for i in range(300)}
                cache.put_many(items, namespace="ns", model="m")

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        keys = [f"{w}-{c}-{i}" for w in range(4) for c in range(5) for i in range(300)]
        got = cache.get_many([*keys, "nope"])  # more than one IN (...) chunk
        assert set(got) == set(keys)
        assert got["3-4-150"].category_scores["hate"] == 150 / 300


def test_default_path_honours_modkit_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MODKIT_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_path() == tmp_path / "here" / "moderations.sqlite3"
    with Cache() as cache:
        assert cache.path == tmp_path / "here" / "moderations.sqlite3"
    assert "moderations.sqlite3" in repr(cache)


scores = st.floats(0, 1, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    cats=st.dictionaries(st.sampled_from(CATEGORIES), scores, min_size=1),
    flagged=st.booleans(),
    model=st.text(max_size=20),
    rid=st.text(max_size=20),
)
def test_property_any_result_round_trips_exactly(tmp_path_factory, cats, flagged, model, rid):
    res = ModerationResult(
        flagged=flagged,
        categories={k: v >= 0.5 for k, v in cats.items()},
        category_scores=cats,
        category_applied_input_types={k: ["text"] for k in cats},
        model=model,
        id=rid,
    )
    path = tmp_path_factory.mktemp("prop") / "c.sqlite3"
    with Cache(path) as cache:
        cache.put_many({"k": (res, "x")}, namespace="n", model="m")
        assert cache.get_many(["k"])["k"] == res
