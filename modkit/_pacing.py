"""Run-wide pacing and backoff: one :class:`Throttle` shared by every request of a run."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Throttle", "backoff"]


@dataclass
class Throttle:
    """Run-wide pacing shared by every request of a run.

    Three mechanisms:

    * a pause every request honours (``retry-after`` of a 429, or an exhausted
      ``x-ratelimit-remaining-*`` until its reset);
    * pacing: when the rate-limit headers say fewer requests are left than could be in
      flight, requests start one refill interval apart (the interval is
      ``reset / (limit - remaining)``, the time the endpoint takes to grant one more
      request), so the run settles at the budget instead of hammering it;
    * without such headers, a 429 sets the pace at the success rate of the last few
      seconds (what the budget let through); each further 429 slows it by 10 % and
      each success speeds it up by 1 %, so it settles just under the budget;
    * an AIMD concurrency limit, halved once per episode of 429s when neither tells
      the pace, and grown back by one per ``limit`` successes.
    """

    ceiling: int
    limit: float = 0.0
    in_flight: int = 0
    pause_until: float = 0.0
    last_cut: float = -1e9
    interval: float = 0.0
    next_start: float = 0.0
    learned: bool = False  # interval learned from 429s (no rate-limit headers)
    successes: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    cond: asyncio.Condition = field(default_factory=asyncio.Condition)

    def __post_init__(self) -> None:
        self.limit = float(self.ceiling)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        async with self.cond:
            while True:
                now = loop.time()
                start_at = max(self.pause_until, self.next_start if self.interval else 0.0)
                if start_at > now:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.cond.wait(), timeout=start_at - now)
                    continue
                if self.in_flight < max(1, int(self.limit)):
                    self.in_flight += 1
                    if self.interval:
                        self.next_start = max(now, self.next_start) + self.interval
                    return
                await self.cond.wait()

    async def release(self) -> None:
        async with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def on_success(self, rate: dict[str, float] | None) -> None:
        now = asyncio.get_running_loop().time()
        self.successes.append(now)
        self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
        if self.learned:
            self.interval *= 0.99  # probe for more budget, slowly
        if not rate:
            return
        remaining = rate.get("remaining_requests")
        reset = rate.get("reset_requests")
        limit = rate.get("limit_requests")
        if remaining is not None and reset is not None and limit and limit > remaining:
            per_request = reset / (limit - remaining) if reset > 0 else 0.0
            self.learned = False  # the headers know better
            if remaining < 2 * self.ceiling:  # could run dry with what is in flight: pace
                self.interval = per_request
            elif remaining >= 4 * self.ceiling:  # plenty left: full speed again
                self.interval = 0.0
        for kind in ("requests", "tokens"):
            remaining = rate.get(f"remaining_{kind}")
            reset = rate.get(f"reset_{kind}")
            if remaining is None or reset is None or remaining >= 1:
                continue
            if kind == "requests" and self.interval:
                continue  # paced already: the next start is one interval away
            self.pause_until = max(self.pause_until, now + reset)

    def on_rate_limited(self, retry_after: float | None, attempt: int) -> None:
        now = asyncio.get_running_loop().time()
        delay = retry_after if retry_after is not None else backoff(attempt)
        self.pause_until = max(self.pause_until, now + delay)
        if self.interval and not self.learned:
            return  # paced by the headers: concurrency is not what overran the budget
        if self.interval:  # paced by what we learned, and still too fast: slow down
            self.interval *= 1.1
            return
        rate = self._recent_success_rate(now)
        if rate is not None:
            # Over budget, with no headers to say by how much: what got through lately
            # is what the budget allows. Pace there, then probe upwards (on_success).
            self.interval = 1.0 / rate
            self.learned = True
        elif now - self.last_cut > max(delay, 0.05):  # cut once per episode, not per 429
            self.limit = max(1.0, self.limit / 2)
            self.last_cut = now

    def _recent_success_rate(self, now: float) -> float | None:
        """Successes per second over the last few seconds (None: too few to tell)."""
        recent = [t for t in self.successes if now - t <= 5.0]
        if len(recent) < 4 or now - recent[0] <= 0:
            return None
        return (len(recent) - 1) / (now - recent[0])


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 0.25 * 2**attempt s, capped at 20 s."""
    return random.uniform(0, min(20.0, 0.25 * 2**attempt))
