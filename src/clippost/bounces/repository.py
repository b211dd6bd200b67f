"""The SQL of bounce handling: the outbox row an event is about, the reader behind it.

Runs inside the caller's transaction (the webhook's request, one mailbox message), never
commits. The event itself and what it calls for are written by the modules that own those
tables: the event (`delivery_events.record`), the suppression
(`suppressions.suppress_all_mail`), the queued rows it settles
(`outbox.repository.settle_suppressed_addresses`) and, for a complaint, the statements a
one-click unsubscribe runs (`subscriptions.repository.unsubscribe_all`,
`outbox.repository.cancel_queued_for_all`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.bounces.events import DeliveryEvent
from clippost.models import OutboxMessage
from clippost.outbox import repository as outbox
from clippost.subscriptions import repository as subscriptions

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
