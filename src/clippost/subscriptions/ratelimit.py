"""Fixed-window rate limits held in the database, so they hold across processes and machines.

One statement per check: an upsert that either opens a new window (count 1) or counts one
more event in the current one, and returns the count. PostgreSQL takes a row lock for the
conflicting key, so concurrent checks of the same key queue behind each other and each sees
the previous one's count; SQLite serializes writers (BEGIN IMMEDIATE). The check runs inside
the caller's transaction: when the request fails (or is refused), its count rolls back with
it, so only events that really happened are counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, literal, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.db.dialect import insert_or_update
from clippost.errors import RateLimited
from clippost.models import RateLimitWindow


@dataclass(frozen=True, slots=True)
class Limit:
    key: str
    allowed: int
    window: timedelta
    refusal: str  # what the reader is told, before "Please try again after ..."


@dataclass(frozen=True, slots=True)
class Count:
    count: int
    window_start: datetime


async def hit(session: AsyncSession, limit: Limit, *, now: datetime) -> None:
    """Count one event under `limit`; raises RateLimited when it is one too many."""
    counted = await count_event(session, limit.key, window=limit.window, now=now)
    if counted.count > limit.allowed:
        raise refusal(limit, retry_at=counted.window_start + limit.window, now=now)


def refusal(limit: Limit, *, retry_at: datetime, now: datetime) -> RateLimited:
    """What a request refused under `limit` until `retry_at` is told (and its
    Retry-After). A window only fills up until it ends, so a refusal holds until then."""
    seconds = max(1, math.ceil((retry_at - now).total_seconds()))
    return RateLimited(
        f"{limit.refusal} Please try again after {_minutes(retry_at, now)}.", retry_after=seconds
    )


async def count_event(
    session: AsyncSession, key: str, *, window: timedelta, now: datetime
) -> Count:
    """Add one event to `key`'s current window (opening a new one if it expired)."""
    table = RateLimitWindow.__table__
    expired = table.c.window_start <= now - window
    # Typed like the column, so both drivers bind it as the UTC timestamp it is.
    opened = literal(now, type_=table.c.window_start.type)
    statement = (
        insert_or_update(
            session,
            RateLimitWindow,
            keys=[table.c.key],
            # Both dialects evaluate every SET expression against the row as it was.
            set_={
                "count": case((expired, 1), else_=table.c.count + 1),
                "window_start": case((expired, opened), else_=table.c.window_start),
            },
        )
        .values(key=key, window_start=now, count=1)
        .returning(table.c.count, table.c.window_start)
    )
    row = (await session.execute(statement)).one()
    count, window_start = row
    return Count(count=int(count), window_start=window_start)


async def delete_windows_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete windows opened before `cutoff` (every window is an hour: long over)."""
    result = await session.execute(
        delete(RateLimitWindow).where(RateLimitWindow.window_start < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def forget(session: AsyncSession, key: str) -> None:
    """Delete `key`'s window (an erased address leaves no count behind)."""
    await session.execute(delete(RateLimitWindow).where(RateLimitWindow.key == key))


async def give_back(session: AsyncSession, key: str, *, window: timedelta, now: datetime) -> None:
    """Take back one event counted under `key` in its current window (the work it was
    counted for was refused before it was done)."""
    await session.execute(
        update(RateLimitWindow)
        .where(
            RateLimitWindow.key == key,
            RateLimitWindow.count > 0,
            RateLimitWindow.window_start > now - window,
        )
        .values(count=RateLimitWindow.count - 1)
    )


def _minutes(retry_at: datetime, now: datetime) -> str:
    minutes = max(1, int((retry_at - now).total_seconds() // 60) + 1)
    return "a minute" if minutes == 1 else f"{minutes} minutes"
