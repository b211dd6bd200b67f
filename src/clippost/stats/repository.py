"""The reads behind the operator's figures, each shaped to stay cheap on a long history.

- The queue by state and kind counts every outbox row (a GROUP BY over the table): the one
  figure that grows with the history. /metrics caches it (`metrics.py`).
- What is due and how late: the oldest due pending row reads the partial pending index
  (`IS_PENDING` written into the SQL, so PostgreSQL's generic plan can use it); the planner
  lag reads ix_subscribers_status_next_slot_at. Both are one index probe.
- Skipped digests: a range of ix_skipped_digests_recorded_at (migration 0009).
- What happened on each of the last days: one statement of per-day sums over a range of
  ix_outbox_finished_at (migration 0008), so it reads those days' rows, not all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.db.periods import in_range, period_sums
from clippost.models import (
    OutboxMessage,
    OutboxState,
    SkippedDigest,
    Subscriber,
    SubscriberStatus,
)
from clippost.outbox.repository import IS_PENDING

_outbox = cast(Table, OutboxMessage.__table__)
_subscribers = cast(Table, Subscriber.__table__)
# The outcomes a day's figures count, by the state a row finished in.
FINISHED_STATES = (OutboxState.SENT.value, OutboxState.FAILED.value)


async def queue_by_state_and_kind(session: AsyncSession) -> dict[tuple[str, str], int]:
    found = await session.execute(
        select(_outbox.c.state, _outbox.c.kind, func.count()).group_by(
            _outbox.c.state, _outbox.c.kind
        )
    )
    return {(state, kind): int(count) for state, kind, count in found}


async def oldest_due(session: AsyncSession, *, now: datetime) -> datetime | None:
    """The due time of the pending row that has waited longest (leased or not)."""
    found: datetime | None = await session.scalar(
        select(func.min(_outbox.c.due_at)).where(IS_PENDING, _outbox.c.due_at <= now)
    )
    return found


async def oldest_due_slot(session: AsyncSession, *, now: datetime) -> datetime | None:
    """The next slot of the confirmed reader whose digest is most overdue for planning."""
    found: datetime | None = await session.scalar(
        select(func.min(_subscribers.c.next_slot_at)).where(
            _subscribers.c.status == SubscriberStatus.CONFIRMED.value,
            _subscribers.c.next_slot_at <= now,
        )
    )
    return found


async def skipped_since(session: AsyncSession, since: datetime) -> int:
    """Slots the planner recorded as skipped (late, missed, suppressed) since `since`."""
    found = await session.scalar(
        select(func.count()).select_from(SkippedDigest).where(SkippedDigest.recorded_at >= since)
    )
    return int(found or 0)


async def finished_per_period(
    session: AsyncSession, boundaries: Sequence[datetime]
) -> dict[str, list[int]]:
    """Rows that finished sent or failed in each period between `boundaries`, by state."""
    column = _outbox.c.finished_at
    found = await session.execute(
        select(_outbox.c.state, *period_sums(column, boundaries))
        .where(in_range(column, boundaries), _outbox.c.state.in_(FINISHED_STATES))
        .group_by(_outbox.c.state)
    )
    return {row[0]: [int(count or 0) for count in row[1:]] for row in found}
