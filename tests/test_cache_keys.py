"""Cache keys are unchanged by the refactor: a key computed before equals the key now.

The reference is the formula of the cache files written so far (modkit 0.1, up to
commit bc0aaf5): ``sha256(json.dumps([namespace, model, value]))`` with the value a
text, or the parts / messages with every object's keys sorted. The runner (through
``modkit.moderate``), the batch runner and ``modkit serve`` all key through
``modkit._cache.input_key``; a cache file written before must still hit.
"""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

import modkit
from modkit._cache import Cache, input_key, multimodal_keys, text_keys
from modkit._frame import check_multimodal
from modkit.backends import SyncBackend


def _old_key(namespace: str, model: str, value) -> str:
    """The key as modkit 0.1 wrote it (the formula of the existing cache files)."""
    if not isinstance(value, str):
        value = json.loads(json.dumps(value, sort_keys=True))
    payload = json.dumps([namespace, model, value], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
text_part = st.fixed_dictionaries({"type": st.just("text"), "text": texts})
url = st.sampled_from(
    ["https://example.com/a.png", "http://x.test/i.jpg", "data:image/png;base64,iVBORw0KGgo="]
)
image_part = st.fixed_dictionaries(
    {"type": st.just("image_url"), "image_url": st.fixed_dictionaries({"url": url})},
    optional={"detail": st.sampled_from(["low", "high", "auto"])},
)
parts = st.lists(st.one_of(text_part, image_part), min_size=1, max_size=4).map(
    lambda ps: [dict(reversed(list(p.items()))) for p in ps]  # key order must not matter
)
message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant"]),
        "content": st.one_of(texts.filter(lambda t: t.strip() != ""), parts),
    }
)
conversation = st.lists(message, min_size=1, max_size=3)


@settings(max_examples=200, deadline=None)
@given(ns=texts, model=texts, values=st.lists(texts, max_size=6))
def test_text_keys_equal_the_old_keys(ns, model, values):
    keys, unique, errors = text_keys(values, ns, model)
    assert errors == {}
    assert keys == [_old_key(ns, model, v) for v in values]
    assert keys == [input_key(ns, model, v) for v in values]
    assert list(unique.values()) == list(dict.fromkeys(values))
    plain, _, _ = text_keys(values, ns, model, digest=False)
    assert (
        plain
        == ["=" + v for v in values]
        == [input_key(ns, model, v, digest=False) for v in values]
    )


@settings(max_examples=200, deadline=None)
@given(ns=texts, model=texts, rows=st.lists(st.one_of(texts, parts, conversation), max_size=5))
def test_multimodal_keys_equal_the_old_keys(ns, model, rows):
    keys, _, _ = text_keys(rows, ns, model)
    checked, errors = check_multimodal(rows, keys)
    assert errors == {}
    unique = multimodal_keys(checked, keys, ns, model)
    expected = []
    for row in rows:
        if isinstance(row, str):
            expected.append(_old_key(ns, model, row))
        elif "role" in row[0]:  # the old runner keyed the checked messages: role and content
            canonical = [{"role": m["role"], "content": m["content"]} for m in row]
            expected.append(_old_key(ns, model, canonical))
        else:
            expected.append(_old_key(ns, model, row))
    assert keys == expected
    for key, value in unique.items():  # the server keys what it validated the same way
        assert input_key(ns, model, value) == key
        assert value == json.loads(json.dumps(value, sort_keys=True))


def test_a_key_written_before_is_the_same_digest():
    # frozen digests of cache rows written by modkit 0.1 (computed at commit bc0aaf5)
    assert input_key("openai", "m-1", "hello") == (
        "890dcc4fdfc66b831b93416b66f5de8449e3a38cc2c8b5b9fd20a5e61ea7bcb3"
    )
    image = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    assert input_key("openai:https://api.openai.com/v1", "omni-moderation-latest", image) == (
        "69f19e7f5b0a939acd766308804781daf7e5893175615966a0e05c6f08681a19"
    )


def test_malformed_parts_are_a_row_error_naming_row_part_and_field():
    rows = ["fine", [{"type": "image_url", "image_url": {"url": "ftp://x"}}], [{"type": "video"}]]
    keys, _, _ = text_keys(rows, "ns", "m")
    checked, errors = check_multimodal(rows, keys)
    assert checked == {}
    assert keys[1:] == ["invalid-input:1", "invalid-input:2"]
    assert str(errors["invalid-input:1"].message) == (
        "row 1: input[0].image_url.url: must be an http(s) or data: URL"
    )
    assert (
        "row 2: input[0].type: must be 'text' or 'image_url'" in errors["invalid-input:2"].message
    )


class _Images(SyncBackend):
    name, model, accepts_images = "images", "img-1", True

    def __init__(self):
        self.seen = []

    def score_batch(self, texts):
        self.seen += texts
        return [modkit.ModerationResult(False, {"sexual": False}, {"sexual": 0.25}) for _ in texts]


def test_a_cache_row_keyed_the_old_way_is_hit_by_moderate(tmp_path):
    parts = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    backend = _Images()
    with Cache(tmp_path / "c.sqlite3") as cache:
        old = _old_key(backend.cache_namespace, "img-1", parts)
        hit = modkit.ModerationResult(True, {"sexual": True}, {"sexual": 0.75}, model="img-1")
        cache.put_many(
            {old: (hit, json.dumps(parts))}, namespace=backend.cache_namespace, model="img-1"
        )
        df = modkit.moderate([parts, "a text"], backend=backend, cache=cache, progress=False)
    assert df["sexual"].tolist() == [0.75, 0.25]  # the image from the cache, the text scored
    assert backend.seen == ["a text"]
