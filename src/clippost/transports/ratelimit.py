"""Rate limits for transports: messages per second, behind one small Protocol.

A transport calls `acquire(n)` before it hands n messages to the server. The in-process
token bucket here limits one process; a limiter shared by every worker (kept in the
database) implements the same Protocol, so transports never know which one they have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


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
