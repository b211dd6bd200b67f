"""Every statement on the delivery_events table: what was reported about each delivery.

Two kinds of source write here. Reports that arrive after a message was accepted (a
provider's webhook, the bounce mailbox) are recorded by `bounces.service` through `record`.
A refusal the sending transport gave there and then (an SMTP 550, a provider's "inactive
recipient") is recorded by the worker with its results (`outbox.claims`, through
`record_refusals`), so that every bounce is counted in one place whichever way it came:
the stats, the operator page and /metrics read their bounce and complaint figures here.

Each report is kept once: (provider, provider_event_id) is UNIQUE and every insert is ON
CONFLICT DO NOTHING, so a webhook retried, a mailbox read twice or a batch recorded again
inserts nothing the second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clippost.db.dialect import insert_or_ignore
from clippost.db.periods import in_range, period_sums
from clippost.models import DeliveryEvent

events = cast(Table, DeliveryEvent.__table__)
Executor = AsyncSession | AsyncConnection

HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"
# The provider name of a refusal the sending transport itself reported.
SENDER = "sender"


@dataclass(frozen=True, slots=True)
class NewEvent:
    provider: str
    provider_event_id: str
    kind: str
    outbox_id: int | None
    recipient_hash: str  # "" when nobody was named
    detail: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Refusal:
    """A hard bounce the transport answered with, for one outbox row."""

    outbox_id: int
    recipient_hash: str
    reason: str


async def record(session: AsyncSession, event: NewEvent, *, received_at: datetime) -> bool:
    """Keep the event; False when this provider's event id was already kept (a replay)."""
    statement = insert_or_ignore(session, events, keys=["provider", "provider_event_id"])
    result = await session.execute(
        statement.values(
            provider=event.provider,
            provider_event_id=event.provider_event_id,
            outbox_id=event.outbox_id,
            kind=event.kind,
            detail=event.detail,
            recipient_hash=event.recipient_hash,
            occurred_at=event.occurred_at,
            received_at=received_at,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def record_refusals(
    connection: AsyncConnection, refusals: Sequence[Refusal], *, now: datetime
) -> None:
    """Keep the transport's hard bounces of one batch as events (one statement)."""
    if not refusals:
        return
    rows = [
        {
            "provider": SENDER,
            "provider_event_id": f"outbox:{refusal.outbox_id}",
            "outbox_id": refusal.outbox_id,
            "kind": HARD_BOUNCE,
            "detail": refusal.reason[:1000],
            "recipient_hash": refusal.recipient_hash,
            "occurred_at": now,
            "received_at": now,
        }
        for refusal in refusals
    ]
    statement = insert_or_ignore(connection, events, keys=["provider", "provider_event_id"])
    await connection.execute(statement, rows)


async def forget_recipient(session: AsyncSession, recipient_hash: str) -> None:
    """An erased reader's reports stay counted (the operator's figures) but no longer name
    the address or quote what the receiving server said about it."""
    await session.execute(
        update(events)
        .where(events.c.recipient_hash == recipient_hash)
        .values(recipient_hash="", detail=None)
    )


async def soft_bounces(session: AsyncSession, recipient_hash: str, *, since: datetime) -> int:
    """Distinct messages that soft-bounced for the address since `since` (an event matched
    to no message counts alone): one message reported twice is one soft bounce."""
    unmatched = func.sum(case((events.c.outbox_id.is_(None), 1), else_=0))
    found = await session.execute(
        select(func.count(func.distinct(events.c.outbox_id)), unmatched).where(
            events.c.recipient_hash == recipient_hash,
            events.c.kind == SOFT_BOUNCE,
            events.c.occurred_at >= since,
        )
    )
    distinct, alone = found.one()
    return int(distinct or 0) + int(alone or 0)


async def totals_by_kind(executor: Executor) -> dict[str, int]:
    """Every event kept, by kind (the table holds reports, not sends: it stays small)."""
    found = await executor.execute(select(events.c.kind, func.count()).group_by(events.c.kind))
    return {kind: int(count) for kind, count in found}


async def per_period_by_kind(
    executor: Executor, boundaries: Sequence[datetime]
) -> dict[str, list[int]]:
    """Events of each kind in each period between `boundaries` (index on occurred_at)."""
    column = events.c.occurred_at
    found = await executor.execute(
        select(events.c.kind, *period_sums(column, boundaries))
        .where(in_range(column, boundaries))
        .group_by(events.c.kind)
    )
    return {row[0]: [int(count or 0) for count in row[1:]] for row in found}
