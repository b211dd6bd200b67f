"""Transport rate limits: the in-process TokenBucket, and the database-held bucket every
worker shares (same key, same rate)."""

from __future__ import annotations

import asyncio
import time

import pytest

from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.transports.ratelimit import DatabaseRateLimiter, TokenBucket, Unlimited


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


class TestDatabaseRateLimiter:
    async def test_burst_is_granted_at_once(self, database: Database) -> None:
        """A fresh bucket grants its burst without waiting."""
        limiter = DatabaseRateLimiter(database, key="smtp", rate=20, burst=10)
        started = time.perf_counter()
        await limiter.acquire(10)
        assert time.perf_counter() - started < 0.3

    async def test_beyond_the_burst_waits_for_the_rate(self, database: Database) -> None:
        """Taking 20 tokens from a bucket of 10 at 20/s takes about half a second."""
        limiter = DatabaseRateLimiter(database, key="smtp", rate=20, burst=10)
        started = time.perf_counter()
        await limiter.acquire(20)
        elapsed = time.perf_counter() - started
        assert 0.4 <= elapsed < 2.0

    async def test_limiters_on_one_key_share_the_rate(self, database_url: str) -> None:
        """Two processes' limiters on one key together stay within the one rate."""
        dbs = [Database(normalise_database_url(database_url)) for _ in range(2)]
        limiters = [DatabaseRateLimiter(db, key="shared", rate=40, burst=10) for db in dbs]
        started = time.perf_counter()
        try:
            await asyncio.gather(*(limiter.acquire(20) for limiter in limiters))
        finally:
            for db in dbs:
                await db.dispose()
        # 40 tokens, 10 in the bucket: 30 more at 40/s is 0.75 s whoever takes them.
        assert time.perf_counter() - started >= 0.7

    async def test_other_keys_are_independent(self, database: Database) -> None:
        """Emptying one transport's bucket leaves another's full."""
        await DatabaseRateLimiter(database, key="a", rate=5, burst=5).acquire(5)
        started = time.perf_counter()
        await DatabaseRateLimiter(database, key="b", rate=5, burst=5).acquire(5)
        assert time.perf_counter() - started < 0.3
