"""The requested alias is not the snapshot that answered: forward it, pin it, and never
serve a cached result of a snapshot the alias has moved on from.

Over real HTTP on 127.0.0.1 with the official ``openai`` SDK: ``modkit.moderate`` and
``modkit serve``'s app against ``modkit.testing.FaultServer``, whose ``model`` (the
snapshot it names in responses) a test moves like an alias moving upstream.
"""

from __future__ import annotations

import openai
import pytest

import modkit
from modkit.backends import PROBE_TEXT
from modkit.server import ServerThread, create_app
from modkit.testing import FaultServer

OLD, NEW = "omni-moderation-2024-09-26", "omni-moderation-2025-06-01"
TEXTS = ["first text", "second text", "third text"]


def _run(srv, cache, texts=TEXTS, model="omni-moderation-latest"):
    backend = modkit.backends.OpenAIBackend(model, base_url=srv.url, api_key="sk-unused")
    return modkit.moderate(texts, backend=backend, cache=cache, progress=False)


def _sent(srv) -> list[list[str]]:
    return [r.inputs for r in srv.moderation_requests()]


def test_a_moved_alias_never_serves_the_old_snapshots_cached_results(tmp_path):
    cache = modkit.Cache(tmp_path / "c.sqlite3")
    with FaultServer(model=OLD) as srv:
        first = _run(srv, cache)
        assert (first["model"] == OLD).all()
        srv.model = NEW  # the alias moves upstream
        srv.reset()
        again = _run(srv, cache)  # everything is cached: one probe tells the alias moved
        assert _sent(srv) == [[PROBE_TEXT], TEXTS]  # the probe, then all three again
        assert (again["model"] == NEW).all()
        assert again.attrs["other_snapshots"] == {OLD: 3}
        srv.reset()
        third = _run(srv, cache)  # cached under today's snapshot: served
        assert _sent(srv) == [[PROBE_TEXT]]
        assert (third["model"] == NEW).all() and "other_snapshots" not in third.attrs
    cache.close()


def test_a_run_with_texts_to_send_learns_the_snapshot_without_a_probe(tmp_path):
    cache = modkit.Cache(tmp_path / "c.sqlite3")
    with FaultServer(model=OLD) as srv:
        _run(srv, cache, TEXTS[:2])
        srv.model = NEW
        srv.reset()
        df = _run(srv, cache, TEXTS)  # one new text: its response names the snapshot
        assert PROBE_TEXT not in [t for batch in _sent(srv) for t in batch]
        assert sorted(t for batch in _sent(srv) for t in batch) == sorted(TEXTS)
        assert (df["model"] == NEW).all() and df.attrs["other_snapshots"] == {OLD: 2}
    cache.close()


def test_a_dated_snapshot_is_its_own_key_and_is_never_probed(tmp_path):
    cache = modkit.Cache(tmp_path / "c.sqlite3")
    with FaultServer(model=OLD) as srv:
        _run(srv, cache, model=OLD)
        srv.reset()
        df = _run(srv, cache, model=OLD)
        assert _sent(srv) == []  # pinned to a snapshot: the cache is simply right
        assert (df["model"] == OLD).all()
    cache.close()


def test_serve_forwards_the_clients_model_upstream():
    with FaultServer(model=OLD) as upstream:
        proxy = modkit.backends.OpenAIBackend(base_url=upstream.url, api_key="sk-unused")
        with ServerThread(proxy) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="sk-unused", max_retries=0)
            with client:
                resp = client.moderations.create(input=["hello"], model=OLD)
                client.moderations.create(input=["hello"])  # no model: the server's
        models = [r.model for r in upstream.moderation_requests()]
    assert models == [OLD, "omni-moderation-latest"]
    assert resp.model == OLD


def test_a_pinned_server_refuses_another_model_with_a_400():
    with FaultServer(model=OLD) as upstream:
        backend = modkit.backends.OpenAIBackend(OLD, base_url=upstream.url, api_key="sk-unused")
        with ServerThread(create_app(backend, pin_model=True)) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="sk-unused", max_retries=0)
            with client:
                assert client.moderations.create(input=["a"], model=OLD).model == OLD
                with pytest.raises(openai.BadRequestError) as info:
                    client.moderations.create(input=["a"], model="omni-moderation-latest")
        assert len(upstream.moderation_requests()) == 1
    assert info.value.code == "model_mismatch"
    assert f"serves model {OLD!r} only" in info.value.message


def test_serve_never_answers_from_the_cache_of_a_snapshot_the_alias_left(tmp_path):
    cache = modkit.Cache(tmp_path / "c.sqlite3")
    with FaultServer(model=OLD) as upstream:
        proxy = modkit.backends.OpenAIBackend(base_url=upstream.url, api_key="sk-unused")
        with ServerThread(proxy, cache=cache) as srv:
            client = openai.OpenAI(base_url=srv.url, api_key="sk-unused", max_retries=0)
            with client:
                assert client.moderations.create(input=["a"]).model == OLD
                upstream.model = NEW
                assert client.moderations.create(input=["b"]).model == NEW  # learns NEW
                assert client.moderations.create(input=["a"]).model == NEW  # not OLD's
                assert client.moderations.create(input=["a"]).model == NEW  # cached now
        assert [r.inputs for r in upstream.moderation_requests()] == [["a"], ["b"], ["a"]]
    cache.close()
