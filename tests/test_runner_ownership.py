"""Ownership (httpx's rule): moderate closes only what it opened itself.

Backends are sync and async context managers; a backend or cache passed in by the
caller stays open, one made from a name or a path is closed at the end of the run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _fakes import HashBackend

import modkit
from modkit import BackendError, Cache, InputError
from modkit.backends import BackendSpec, OpenAIBackend, register_backend
from modkit.testing import FaultServer


class CountingBackend(HashBackend):
    """A real backend that counts the lifecycle calls the runner makes on it."""

    made: list[CountingBackend] = []  # noqa: RUF012 - shared on purpose: instances made by name

    def __init__(self) -> None:
        self.releases = 0
        self.closes = 0
        CountingBackend.made.append(self)

    async def arelease(self) -> None:
        self.releases += 1

    async def aclose(self) -> None:
        self.closes += 1
        await super().aclose()


@pytest.fixture
def counting_backend_registered(monkeypatch):
    """``counting-test`` in the backend registry for one test only (a registration at
    import time would leak into every test collected after this module)."""
    from modkit.backends import _registry

    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    register_backend(BackendSpec("counting-test", CountingBackend, {}))


def test_moderate_leaves_a_backend_passed_in_open():
    b = CountingBackend()
    first = modkit.moderate(["a", "b"], backend=b, cache=None, progress=False)
    second = modkit.moderate(["a", "b"], backend=b, cache=None, progress=False)
    assert (b.closes, b.closed) == (0, False)
    # moderate's own event loop has ended each time: what was bound to it is released
    assert b.releases == 2
    assert first["hate"].tolist() == second["hate"].tolist()


def test_amoderate_leaves_a_backend_passed_in_alone():
    b = CountingBackend()

    async def go():
        await modkit.amoderate(["a"], backend=b, cache=None, progress=False)
        await modkit.amoderate(["b"], backend=b, cache=None, progress=False)

    asyncio.run(go())
    assert (b.closes, b.releases, b.closed) == (0, 0, False)


def test_moderate_closes_a_backend_it_made_from_a_name(counting_backend_registered):
    CountingBackend.made.clear()
    modkit.moderate(["a"], backend="counting-test", cache=None, progress=False)
    (made,) = CountingBackend.made
    assert (made.closes, made.closed) == (1, True)


def test_moderate_closes_the_backend_it_made_when_the_run_fails(counting_backend_registered):
    CountingBackend.made.clear()
    with pytest.raises(modkit.ItemErrorsRaised):
        modkit.moderate(
            ["FAIL"], backend="counting-test", cache=None, progress=False, errors="raise"
        )
    assert CountingBackend.made[0].closed


def test_sync_and_async_context_managers_close():
    with CountingBackend() as b:
        assert isinstance(b, CountingBackend)
    assert (b.closes, b.closed) == (1, True)

    async def go():
        async with CountingBackend() as b2:
            pass
        return b2

    b2 = asyncio.run(go())
    assert (b2.closes, b2.closed) == (1, True)


def test_a_closed_backend_is_refused_by_name():
    with CountingBackend() as b:
        pass
    with pytest.raises(InputError, match=r"is closed; make a new one"):
        modkit.moderate(["a"], backend=b, cache=None, progress=False)


def test_a_cache_passed_in_stays_open_a_cache_from_a_path_is_closed(tmp_path):
    mine = Cache(tmp_path / "mine.sqlite3")
    modkit.moderate(["a", "b"], backend=CountingBackend(), cache=mine, progress=False)
    again = modkit.moderate(["a", "b"], backend=CountingBackend(), cache=mine, progress=False)
    assert len(again) == 2  # the cache is still usable: moderate did not close it
    mine.close()

    path = tmp_path / "theirs.sqlite3"
    modkit.moderate(["a"], backend=CountingBackend(), cache=str(path), progress=False)
    # sqlite removes the WAL file when the last connection closes
    assert path.exists()
    assert not Path(f"{path}-wal").exists()


def test_openai_backend_over_http_is_reused_until_its_with_block_ends():
    with FaultServer() as srv:
        with OpenAIBackend(base_url=srv.url, api_key="k") as b:
            one = modkit.moderate(["a"], backend=b, cache=None, progress=False)
            two = modkit.moderate(["b"], backend=b, cache=None, progress=False)
        assert b.closed
        assert one["error"].tolist() == two["error"].tolist() == [""]
        assert [r.inputs for r in srv.moderation_requests()] == [["a"], ["b"]]

        async def go():
            async with OpenAIBackend(base_url=srv.url, api_key="k") as b2:
                await modkit.amoderate(["c"], backend=b2, cache=None, progress=False)
                out = await modkit.amoderate(["d"], backend=b2, cache=None, progress=False)
            with pytest.raises(BackendError, match="closed"):
                await b2.ascore_batch(["e"])
            return out

        assert asyncio.run(go())["error"].tolist() == [""]
        assert [r.inputs for r in srv.moderation_requests()][-2:] == [["c"], ["d"]]
