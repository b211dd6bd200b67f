"""When to try a transient failure again: exponential backoff, full jitter, a deadline.

Pure: the caller passes the clock reading and the random source. Full jitter (a uniform
draw between 0 and the exponential ceiling) spreads retries of a batch that failed together,
so a recovering server is not hit by all of them at the same instant.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from clippost.mail import Transient


def next_attempt(
    *,
    attempts: int,
    first_queued_at: datetime,
    now: datetime,
    result: Transient,
    rng: random.Random,
    deadline: timedelta = timedelta(hours=48),
    base: float = 30,
    cap: float = 3600,
) -> datetime | None:
    """The time of the next attempt after `attempts` failed ones (at least 1), or None
    when the deadline has passed and the message should fail.

    The delay is uniform in [0, min(cap, base * 2**(attempts - 1))], never less than the
    server's retry_after, and the last attempt is placed at the deadline itself rather than
    given up early. A retry_after that reaches past the deadline means giving up now."""
    if attempts < 1:
        raise ValueError("attempts counts the failed attempts so far, at least 1")
    give_up_at = first_queued_at + deadline
    if now >= give_up_at:
        return None
    ceiling = cap if attempts > 60 else min(cap, base * 2 ** (attempts - 1))
    delay = rng.uniform(0, ceiling)
    floor = result.retry_after or 0.0
    if now + timedelta(seconds=floor) > give_up_at:
        return None
    return min(now + timedelta(seconds=max(delay, floor)), give_up_at)
