"""TokenBucket: bursts up to its size, then paces to its rate."""

from __future__ import annotations

import asyncio
import time

import pytest

from clippost.transports.ratelimit import TokenBucket, Unlimited


class TestTokenBucket:
    async def test_burst_is_immediate(self) -> None:
        """Up to `burst` acquisitions return at once."""
        bucket = TokenBucket(10, burst=5)
        start = time.monotonic()
        for _ in range(5):
            await bucket.acquire()
        assert time.monotonic() - start < 0.05

    async def test_paces_beyond_the_burst(self) -> None:
        """Beyond the burst, n more messages wait about n / rate seconds."""
        bucket = TokenBucket(50, burst=1)
        start = time.monotonic()
        for _ in range(11):
            await bucket.acquire()
        assert 0.18 <= time.monotonic() - start < 1.0

    async def test_large_request_is_paced_not_refused(self) -> None:
        """A request larger than the burst waits for its debt, then later ones wait too."""
        bucket = TokenBucket(100, burst=10)
        start = time.monotonic()
        await bucket.acquire(30)
        await bucket.acquire(1)
        assert 0.18 <= time.monotonic() - start < 1.0

    async def test_concurrent_waiters_share_the_rate(self) -> None:
        """Twenty concurrent acquirers at 100/s with burst 1 take about 0.19 s together."""
        bucket = TokenBucket(100, burst=1)
        start = time.monotonic()
        await asyncio.gather(*(bucket.acquire() for _ in range(20)))
        assert 0.17 <= time.monotonic() - start < 1.0

    def test_rate_must_be_positive(self) -> None:
        """A zero rate is refused (Unlimited is the way to say no limit)."""
        with pytest.raises(ValueError, match="positive"):
            TokenBucket(0)

    async def test_unlimited_never_waits(self) -> None:
        """Unlimited returns at once, whatever is asked."""
        start = time.monotonic()
        await Unlimited().acquire(1_000_000)
        assert time.monotonic() - start < 0.05
