"""Run-wide pacing and backoff (modkit._pacing): one Throttle shared by a run's requests."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from modkit._pacing import Throttle, backoff


def test_throttle_rate_limit_halves_concurrency_once_per_episode():
    async def scenario():
        t = Throttle(8)
        t.on_rate_limited(0.01, 1)
        t.on_rate_limited(0.01, 1)  # the same episode
        return t.limit

    assert asyncio.run(scenario()) == 4


@given(st.integers(0, 40))
def test_backoff_is_full_jitter_capped_at_20_seconds(attempt):
    delay = backoff(attempt)
    assert 0 <= delay <= min(20.0, 0.25 * 2**attempt)


def test_headers_pace_requests_one_refill_interval_apart():
    async def scenario():
        t = Throttle(4)
        # 3 requests left of 10, refilling in 7 s: one more every second; too few for 4 in
        # flight, so starts are paced 1 s apart
        t.on_success({"limit_requests": 10, "remaining_requests": 3, "reset_requests": 7.0})
        return t.interval

    assert asyncio.run(scenario()) == 1.0
