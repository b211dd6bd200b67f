"""All SQL of bounce handling: delivery events, the outbox row an event is about, and the
suppressions and cancellations an event calls for.

Runs inside the caller's transaction (the webhook's request, one mailbox message), never
commits. Unsubscribing a complainer reuses the subscription repository's own statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.bounces.events import DeliveryEvent, EventKind
from clippost.models import (
    DeliveryEvent as DeliveryEventRow,
)
from clippost.models import (
    OutboxMessage,
    OutboxState,
    Subscriber,
    Suppression,
    SuppressionReason,
)
from clippost.subscriptions import repository as subscriptions

_events = cast(Table, DeliveryEventRow.__table__)
_outbox = cast(Table, OutboxMessage.__table__)
_suppressions = cast(Table, Suppression.__table__)
_subscribers = cast(Table, Subscriber.__table__)

# Reasons a bounce or a complaint replaces: they stop digests only, and this address must
# now get nothing at all. A bounce never replaces a complaint, nor the other way round.
_WEAKER = (SuppressionReason.UNSUBSCRIBED.value, SuppressionReason.ERASED.value)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outbox row an event is about: enough to suppress and unsubscribe."""

    id: int
    recipient_hash: str  # "" once the reader was erased
    subscriber_id: int | None


def _insert(session: AsyncSession) -> Any:
    # The dialect's INSERT ... ON CONFLICT builder (db/dialect.py's upsert after the seams).
    dialect = session.bind.dialect.name if session.bind is not None else ""
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def find_delivery(session: AsyncSession, event: DeliveryEvent) -> Delivery | None:
    """The row by our outbox id (VERP) or Message-ID (both unique), else by the provider's
    id for the message (indexed, migration 0003; the newest row when several share it)."""
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
    statement = (
        _insert(session)(_events)
        .values(
            provider=event.provider.value,
            provider_event_id=event.event_id,
            outbox_id=outbox_id,
            kind=event.kind.value,
            detail=event.detail or None,
            recipient_hash=recipient_hash,
            occurred_at=occurred_at,
            received_at=received_at,
        )
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"])
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


async def suppress(
    session: AsyncSession,
    recipient_hash: str,
    reason: SuppressionReason,
    *,
    detail: str,
    now: datetime,
) -> None:
    """Suppress the address for `reason`, replacing a weaker reason (unsubscribed, erased)."""
    insert = _insert(session)(_suppressions).values(
        address_hash=recipient_hash, reason=reason.value, detail=detail[:500], created_at=now
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["address_hash"],
            set_={"reason": insert.excluded.reason, "detail": insert.excluded.detail},
            where=_suppressions.c.reason.in_(_WEAKER),
        )
    )


async def settle_queued(
    session: AsyncSession, recipient_hash: str, reason: SuppressionReason, *, now: datetime
) -> int:
    """Every queued, unleased row for the address becomes `suppressed` now, as a claim
    would make it; a row a worker holds is stopped by its claim-time check next time."""
    result = await session.execute(
        update(_outbox)
        .where(
            _outbox.c.recipient_hash == recipient_hash,
            _outbox.c.state == OutboxState.PENDING.value,
            _outbox.c.lease_owner.is_(None) | (_outbox.c.lease_expires_at < now),
        )
        .values(
            state=OutboxState.SUPPRESSED.value,
            last_error=f"recipient suppressed ({reason.value})",
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def subscriber_id_by_email(session: AsyncSession, email: str) -> int | None:
    found: int | None = await session.scalar(
        select(_subscribers.c.id).where(_subscribers.c.email == email)
    )
    return found


async def unsubscribe(session: AsyncSession, subscriber_id: int, *, now: datetime) -> None:
    """The reader leaves (status, next slot) and their queued digests are cancelled, by the
    statements a one-click unsubscribe runs."""
    connection = await session.connection()

    def leave(sync: Any) -> None:
        subscriptions.unsubscribe_all(sync, [subscriber_id], now=now)
        subscriptions.cancel_queued_for_all(
            sync, [subscriber_id], kinds=("digest",), reason="complained", now=now
        )

    await connection.run_sync(leave)
