"""Rate limits for transports: messages per second, behind one small Protocol.

A transport calls `acquire(n)` before it hands n messages to the server, and never knows
which limiter it has:

- `TokenBucket` limits one process (a one-off command, or no database at hand);
- `DatabaseRateLimiter` holds the bucket in the database, so one rate is shared by every
  worker everywhere. One `token_buckets` row per transport: `tokens` refill at `rate` per
  second up to `burst`, computed from the time elapsed since `updated_at`. Taking tokens
  is one short transaction (row lock on PostgreSQL, the write lock on SQLite), so two
  workers never spend the same tokens. A worker asks for a whole batch's worth and takes
  what is there; it sleeps only for the shortfall, so the database sees a few statements
  per batch, not one per message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, cast

from sqlalchemy import Executable, Table, select, update

from clippost.db.base import utcnow
from clippost.db.dialect import insert_or_ignore
from clippost.db.engine import Database
from clippost.models import TokenBucket as TokenBucketRow

buckets = cast(Table, TokenBucketRow.__table__)

# Never sleep longer than this between looks: other workers may stop and leave tokens.
_MAX_WAIT = 1.0


class RateLimiter(Protocol):
    async def acquire(self, n: int = 1) -> None:
        """Return once `n` more messages may be sent."""
        ...


class Unlimited:
    """No limit at all: what a transport uses when none is configured."""

    async def acquire(self, n: int = 1) -> None:
        return None


class TokenBucket:
    """`rate` messages a second on average, bursts of up to `burst` (default: one second's
    worth). A request for more than is available takes it on credit and waits until the
    debt is paid, so a batch larger than the burst is paced rather than refused."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self, n: int = 1) -> None:
        # The lock makes waiters queue in order: each one pays its own debt before the next
        # one looks at the bucket.
        async with self._lock:
            self._refill()
            self._tokens -= n
            if self._tokens < 0:
                await asyncio.sleep(-self._tokens / self.rate)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


class DatabaseRateLimiter:
    """`await acquire(n)` returns once `n` sends are allowed by the shared bucket."""

    def __init__(
        self,
        db: Database,
        *,
        key: str,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.db = db
        self.key = key
        self.rate = rate
        # One second's worth by default: a burst after idleness stays within the rate.
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.clock = clock

    async def acquire(self, n: int = 1) -> None:
        remaining = float(n)
        while True:
            remaining -= await self._take(remaining)
            if remaining <= 1e-9:
                return
            await asyncio.sleep(min(_MAX_WAIT, max(remaining, 1.0) / self.rate))

    async def _take(self, wanted: float) -> float:
        """Take up to `wanted` tokens now; returns how many were taken."""
        now = self.clock()
        async with self.db.transaction() as session:
            connection = await session.connection()
            await connection.execute(self._insert_if_missing(now))
            row = (
                await connection.execute(
                    select(buckets.c.tokens, buckets.c.updated_at)
                    .where(buckets.c.key == self.key)
                    .with_for_update()
                )
            ).one()
            elapsed = max(0.0, (now - row.updated_at).total_seconds())
            available = min(self.burst, row.tokens + elapsed * self.rate)
            taken = min(available, wanted)
            await connection.execute(
                update(buckets)
                .where(buckets.c.key == self.key)
                .values(tokens=available - taken, updated_at=max(now, row.updated_at))
            )
        return float(taken)

    def _insert_if_missing(self, now: datetime) -> Executable:
        return insert_or_ignore(self.db, buckets, keys=["key"]).values(
            key=self.key, tokens=self.burst, updated_at=now
        )
