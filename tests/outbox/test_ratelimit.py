"""The database-held send rate: shared by every limiter on the same key."""

from __future__ import annotations

import asyncio
import time

from clippost.config import normalise_database_url
from clippost.db.engine import Database
from clippost.outbox.ratelimit import DatabaseRateLimiter


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
