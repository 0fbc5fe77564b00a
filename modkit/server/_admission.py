"""Admission control: a bounded number of requests scored at once, a bounded queue."""

from __future__ import annotations

import asyncio
import collections
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["Admission", "Overloaded", "ScoringTimeout"]

T = TypeVar("T")


class Overloaded(Exception):
    """The queue is full: answer 429 with ``Retry-After`` (seconds)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class ScoringTimeout(Exception):
    """Waiting plus scoring took longer than the timeout: answer 503."""

    def __init__(self, timeout: float, retry_after: int) -> None:
        super().__init__(f"not scored within {timeout:g} s")
        self.timeout = timeout
        self.retry_after = retry_after


class Admission:
    """At most ``max_concurrent`` requests scoring, at most ``max_queue`` waiting.

    A request over both is refused at once (:class:`Overloaded`), so a flood gets fast
    429s instead of piling up. A request that is not done ``timeout`` seconds after it
    arrived gets :class:`ScoringTimeout`; its work is not abandoned mid-way (a thread
    cannot be stopped): it keeps its slot until it ends, so the slots always count the
    work really running, and what it scored still reaches the cache.

    Parameters
    ----------
    max_concurrent : int
        Requests scored at once.
    max_queue : int
        Requests waiting for a slot.
    timeout : float
        Seconds from arrival to answer, waiting included.
    """

    def __init__(self, max_concurrent: int, max_queue: int, timeout: float) -> None:
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.timeout = timeout
        self.active = 0
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None
        self._durations: collections.deque[float] = collections.deque(maxlen=32)

    @property
    def overloaded(self) -> bool:
        """True when the next request would be refused."""
        # ``waiting`` also counts requests about to take a free slot, so compare the sum
        return self.active + self.waiting >= self.max_concurrent + self.max_queue

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        state = "overloaded" if self.overloaded else "ok"
        return {
            "status": state,
            "scoring": self.active,
            "queued": self.waiting,
            "max_concurrent": self.max_concurrent,
            "max_queue": self.max_queue,
        }

    def retry_after(self) -> int:
        """Whole seconds until a slot is likely free (from recent request durations)."""
        typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 1.0
        rounds = (self.waiting + 1) / self.max_concurrent
        return max(1, min(3600, math.ceil(typical * rounds)))

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` in a slot; raise Overloaded or ScoringTimeout as above."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_concurrent)
        if self.overloaded:
            raise Overloaded(self.retry_after())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        self.waiting += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except TimeoutError:
            raise ScoringTimeout(self.timeout, self.retry_after()) from None
        finally:
            self.waiting -= 1
        self.active += 1
        started = time.monotonic()
        task = asyncio.ensure_future(work())

        def release(t: asyncio.Future[Any]) -> None:
            self.active -= 1
            self._durations.append(time.monotonic() - started)
            assert self._slots is not None
            self._slots.release()
            if not t.cancelled():
                t.exception()  # retrieved: a late failure is not "never retrieved"

        task.add_done_callback(release)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        if not done:
            raise ScoringTimeout(self.timeout, self.retry_after())
        return task.result()
