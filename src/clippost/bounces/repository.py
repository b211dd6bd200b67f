"""The SQL of bounce handling: delivery events, and the outbox row an event is about.

Runs inside the caller's transaction (the webhook's request, one mailbox message), never
commits. What an event calls for is written by the modules that own those tables: the
suppression (`suppressions.suppress_reported`), the queued rows it settles
(`outbox.repository.settle_suppressed_addresses`) and, for a complaint, the statements a
one-click unsubscribe runs (`subscriptions.repository.unsubscribe_all`,
`outbox.repository.cancel_queued_for_all`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.bounces.events import DeliveryEvent, EventKind
from clippost.db.dialect import insert_or_ignore
from clippost.models import DeliveryEvent as DeliveryEventRow
from clippost.models import OutboxMessage
from clippost.outbox import repository as outbox
from clippost.subscriptions import repository as subscriptions

_events = cast(Table, DeliveryEventRow.__table__)
_outbox = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outbox row an event is about: enough to suppress and unsubscribe."""

    id: int
    recipient_hash: str  # "" once the reader was erased
    subscriber_id: int | None


async def find_delivery(session: AsyncSession, event: DeliveryEvent) -> Delivery | None:
    """The row by our outbox id (VERP) or Message-ID (both unique), else by the provider's
    id for the message (indexed, migration 0004; the newest row when several share it)."""
    query = select(_outbox.c.id, _outbox.c.recipient_hash, _outbox.c.subscriber_id)
    conditions = []
    if event.outbox_id is not None:
        conditions.append(_outbox.c.id == event.outbox_id)
    if event.message_id:
        conditions.append(_outbox.c.message_id == event.message_id)
    if conditions:
        found = (await session.execute(query.where(or_(*conditions)).limit(1))).first()
        if found is not None:
            return Delivery(*found)
    if not event.provider_message_id:
        return None
    by_provider = query.where(_outbox.c.provider_id == event.provider_message_id)
    found = (await session.execute(by_provider.order_by(_outbox.c.id.desc()).limit(1))).first()
    return Delivery(*found) if found is not None else None


async def record(
    session: AsyncSession,
    event: DeliveryEvent,
    *,
    outbox_id: int | None,
    recipient_hash: str,
    occurred_at: datetime,
    received_at: datetime,
) -> bool:
    """Keep the event; False when this provider's event id was already kept (a replay)."""
    statement = insert_or_ignore(session, _events, keys=["provider", "provider_event_id"]).values(
        provider=event.provider.value,
        provider_event_id=event.event_id,
        outbox_id=outbox_id,
        kind=event.kind.value,
        detail=event.detail or None,
        recipient_hash=recipient_hash,
        occurred_at=occurred_at,
        received_at=received_at,
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def soft_bounces(session: AsyncSession, recipient_hash: str, *, since: datetime) -> int:
    """Distinct messages that soft-bounced for the address since `since` (an event matched
    to no message counts alone): one message reported twice is one soft bounce."""
    unmatched = func.sum(case((_events.c.outbox_id.is_(None), 1), else_=0))
    found = await session.execute(
        select(func.count(func.distinct(_events.c.outbox_id)), unmatched).where(
            _events.c.recipient_hash == recipient_hash,
            _events.c.kind == EventKind.SOFT_BOUNCE.value,
            _events.c.occurred_at >= since,
        )
    )
    distinct, alone = found.one()
    return int(distinct or 0) + int(alone or 0)


async def subscriber_id_by_email(session: AsyncSession, email: str) -> int | None:
    subscriber = await subscriptions.by_email(session, email)
    return None if subscriber is None else subscriber.id


async def unsubscribe(session: AsyncSession, subscriber_id: int, *, now: datetime) -> None:
    """The reader leaves (status, next slot) and their queued digests are cancelled, by the
    statements a one-click unsubscribe runs."""
    connection = await session.connection()

    def leave(sync: Any) -> None:
        subscriptions.unsubscribe_all(sync, [subscriber_id], now=now)
        outbox.cancel_queued_for_all(
            sync, [subscriber_id], kinds=("digest",), reason="complained", now=now
        )

    await connection.run_sync(leave)
