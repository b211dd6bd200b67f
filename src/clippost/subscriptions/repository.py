"""All subscriber SQL: the reader's row, pending imports, suppressions and their queued mail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.models import (
    OutboxMessage,
    OutboxState,
    PendingImport,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
)
from clippost.subscriptions.preferences import Preferences

# Suppressions a reader lifts by asking for mail again (confirming, resubscribing). Bounces
# and complaints are the operator's to lift: the reader cannot prove the mailbox works now.
_LIFTED_BY_READER = (SuppressionReason.UNSUBSCRIBED, SuppressionReason.ERASED)


# Core tables for the set-based statements below: no ORM load, flush or session sync.
_subscribers = cast(Table, Subscriber.__table__)
_suppressions = cast(Table, Suppression.__table__)
_outbox = cast(Table, OutboxMessage.__table__)


def _dialect_insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    return pg_insert if dialect == "postgresql" else sqlite_insert


# Subscribers ------------------------------------------------------------------------------


async def by_email(session: AsyncSession, email: str) -> Subscriber | None:
    found: Subscriber | None = await session.scalar(
        select(Subscriber).where(Subscriber.email == email)
    )
    return found


async def by_id(session: AsyncSession, subscriber_id: int) -> Subscriber | None:
    return await session.get(Subscriber, subscriber_id, populate_existing=True)


async def create_pending(
    session: AsyncSession, email: str, preferences: Preferences, *, now: datetime
) -> Subscriber:
    """The pending row for `email`; two sign-ups racing for a new address share one row."""
    values = {"email": email, "status": SubscriberStatus.PENDING, "created_at": now}
    values.update(_preference_values(preferences))
    insert = _dialect_insert(session)
    await session.execute(
        insert(Subscriber).values(**values).on_conflict_do_nothing(index_elements=["email"])
    )
    subscriber = await by_email(session, email)
    if subscriber is None:  # pragma: no cover - the row was inserted or already there
        raise LookupError(email)
    return subscriber


async def set_preferences(
    session: AsyncSession,
    subscriber_id: int,
    preferences: Preferences,
    *,
    next_slot_at: datetime | None,
) -> None:
    values = _preference_values(preferences)
    values["next_slot_at"] = next_slot_at
    await session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(values))


def _preference_values(preferences: Preferences) -> dict[str, Any]:
    return {
        "cadence": preferences.cadence.value,
        "hour": preferences.hour,
        "weekday": preferences.weekday,
        "day_of_month": preferences.day_of_month,
        "timezone": preferences.timezone,
        "per_email": preferences.per_email,
        "paused_until": preferences.paused_until,
    }


def preferences_of(subscriber: Subscriber) -> Preferences:
    return Preferences.from_json(
        {
            "cadence": subscriber.cadence,
            "hour": subscriber.hour,
            "weekday": subscriber.weekday,
            "day_of_month": subscriber.day_of_month,
            "timezone": subscriber.timezone,
            "per_email": subscriber.per_email,
            "paused_until": subscriber.paused_until.isoformat()
            if subscriber.paused_until
            else None,
        }
    )


async def set_status(
    session: AsyncSession,
    subscriber_id: int,
    status: SubscriberStatus,
    *,
    now: datetime,
    next_slot_at: datetime | None,
) -> None:
    values: dict[str, Any] = {"status": status, "next_slot_at": next_slot_at}
    if status is SubscriberStatus.CONFIRMED:
        values["unsubscribed_at"] = None
    if status is SubscriberStatus.UNSUBSCRIBED:
        values["unsubscribed_at"] = now
    await session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(values))


# The unsubscribe batch (subscriptions.service.unsubscribe_all): Core statements on a
# synchronous Connection, as the group commit runs them (a SQLite writer thread, or run_sync
# on PostgreSQL). Built once: they run at high rates, and a prebuilt statement skips
# SQLAlchemy's per-call construction and cache-key work. Expanding IN takes any list length.
_UNSUBSCRIBE = (
    update(_subscribers)
    .where(_subscribers.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=SubscriberStatus.UNSUBSCRIBED.value,
        next_slot_at=None,
        unsubscribed_at=func.coalesce(
            _subscribers.c.unsubscribed_at,
            bindparam("now", type_=_subscribers.c.unsubscribed_at.type),
        ),
    )
    .returning(_subscribers.c.email)
)


def unsubscribe_all(
    connection: Connection, subscriber_ids: Sequence[int], *, now: datetime
) -> list[str]:
    """Mark these readers unsubscribed in one statement; the addresses of those that exist.

    One `UPDATE ... RETURNING` (SQLite 3.35+, PostgreSQL) rather than a load and a flush: the
    returned addresses are what the suppressions are keyed on. Already-unsubscribed readers
    are returned too (a repeated unsubscribe restores a suppression an operator removed) but
    keep the time they first left. Ids are sorted so that concurrent batches on PostgreSQL
    lock rows in the same order.
    """
    if not subscriber_ids:
        return []
    result = connection.execute(_UNSUBSCRIBE, {"ids": sorted(subscriber_ids), "now": now})
    return [email for (email,) in result]


async def mark_confirmed(session: AsyncSession, subscriber_id: int, *, now: datetime) -> None:
    """First confirmation time only: a resubscription keeps the original one."""
    await session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.confirmed_at.is_(None))
        .values(confirmed_at=now)
    )


async def delete_subscriber(session: AsyncSession, subscriber_id: int) -> None:
    """The row and, by the schema's ON DELETE CASCADE, books, highlights, pending imports.

    Children are deleted explicitly too, so erasing never depends on SQLite's foreign-key
    pragma being on for the connection.
    """
    from clippost.models import Book, Highlight

    for model in (Highlight, Book, PendingImport):
        await session.execute(delete(model).where(model.subscriber_id == subscriber_id))
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))


# Pending imports ---------------------------------------------------------------------------


async def replace_pending_import(
    session: AsyncSession,
    subscriber_id: int,
    *,
    payload: bytes,
    book_count: int,
    highlight_count: int,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Store a new pending import; earlier unapplied ones (and their links) stop working."""
    await session.execute(
        delete(PendingImport).where(
            PendingImport.subscriber_id == subscriber_id,
            or_(PendingImport.applied_at.is_(None), PendingImport.expires_at <= now),
        )
    )
    pending = PendingImport(
        subscriber_id=subscriber_id,
        payload=payload,
        book_count=book_count,
        highlight_count=highlight_count,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(pending)
    await session.flush()
    return pending.id


async def pending_import(
    session: AsyncSession, pending_id: int, subscriber_id: int
) -> PendingImport | None:
    found: PendingImport | None = await session.scalar(
        select(PendingImport).where(
            PendingImport.id == pending_id, PendingImport.subscriber_id == subscriber_id
        )
    )
    return found


async def mark_applied(
    session: AsyncSession, pending_id: int, *, payload: bytes, now: datetime
) -> bool:
    """Record an import as applied; False when another request applied it first."""
    result = await session.execute(
        update(PendingImport)
        .where(PendingImport.id == pending_id, PendingImport.applied_at.is_(None))
        .values(applied_at=now, payload=payload)
    )
    return bool(getattr(result, "rowcount", 0))


async def store_applied(session: AsyncSession, pending_id: int, payload: bytes) -> None:
    await session.execute(
        update(PendingImport).where(PendingImport.id == pending_id).values(payload=payload)
    )


async def reload_pending(session: AsyncSession, pending: PendingImport) -> PendingImport:
    await session.refresh(pending)
    return pending


# Suppressions ------------------------------------------------------------------------------


async def suppress(
    session: AsyncSession, address_hash: str, reason: SuppressionReason, *, now: datetime
) -> None:
    """Add a suppression; an existing one (a bounce, say) is kept as it is."""
    insert = _dialect_insert(session)
    await session.execute(
        insert(Suppression)
        .values(address_hash=address_hash, reason=reason, created_at=now)
        .on_conflict_do_nothing(index_elements=["address_hash"])
    )


_SUPPRESS_MANY = {
    dialect: insert(_suppressions).on_conflict_do_nothing(index_elements=["address_hash"])
    for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))
}


def suppress_all(
    connection: Connection,
    address_hashes: Sequence[str],
    reason: SuppressionReason,
    *,
    now: datetime,
) -> None:
    """`suppress` for many addresses in one executemany; existing suppressions are kept.

    Sorted, so that two batches inserting the same hashes on PostgreSQL wait on each other's
    unique-index entries in one order and cannot deadlock.
    """
    if not address_hashes:
        return
    rows = [
        {"address_hash": hashed, "reason": reason.value, "created_at": now}
        for hashed in sorted(set(address_hashes))
    ]
    connection.execute(_SUPPRESS_MANY[connection.dialect.name], rows)


async def mark_erased(session: AsyncSession, address_hash: str, *, now: datetime) -> None:
    """Keep only "erased" for the address, unless a bounce or complaint must stay."""
    await lift_reader_suppressions(session, address_hash)
    await suppress(session, address_hash, SuppressionReason.ERASED, now=now)


async def lift_reader_suppressions(session: AsyncSession, address_hash: str) -> None:
    await session.execute(
        delete(Suppression).where(
            Suppression.address_hash == address_hash,
            Suppression.reason.in_(_LIFTED_BY_READER),
        )
    )


async def suppression_reason(session: AsyncSession, address_hash: str) -> str | None:
    reason: str | None = await session.scalar(
        select(Suppression.reason).where(Suppression.address_hash == address_hash)
    )
    return reason


# Queued mail -------------------------------------------------------------------------------


_NOW = bindparam("now", type_=_outbox.c.finished_at.type)
# A row leased to a worker is being sent right now and cannot be called back; the worker's
# result decides it. Everything else still waiting (a lapsed lease included) is cancelled.
_CANCEL_QUEUED = (
    update(_outbox)
    .where(
        _outbox.c.subscriber_id.in_(bindparam("ids", expanding=True)),
        _outbox.c.state == OutboxState.PENDING.value,
        _outbox.c.kind.in_(bindparam("kinds", expanding=True)),
        or_(_outbox.c.lease_expires_at.is_(None), _outbox.c.lease_expires_at < _NOW),
    )
    .values(state=OutboxState.CANCELLED.value, last_error=bindparam("reason"), finished_at=_NOW)
)


def cancel_queued_for_all(
    connection: Connection,
    subscriber_ids: Sequence[int],
    *,
    kinds: Sequence[str],
    reason: str,
    now: datetime,
) -> int:
    """Cancel these readers' queued mail of `kinds`, with `reason`, in one statement
    (ix_outbox_subscriber_id finds the rows); returns how many rows it cancelled."""
    if not subscriber_ids:
        return 0
    values = {"ids": sorted(subscriber_ids), "kinds": list(kinds), "reason": reason, "now": now}
    result = connection.execute(_CANCEL_QUEUED, values)
    return int(result.rowcount)


async def scrub_mail(
    session: AsyncSession, subscriber_id: int, address_hash: str, *, now: datetime
) -> None:
    """Cancel everything still queued for the address, then strip every row of it.

    Leased rows are cancelled too: a worker's late result never overwrites a final state,
    and a transient failure must not put an erased reader's mail back in the queue. Rows
    stay (their counts are the operator's statistics) but no longer say to whom they went
    or what they contained.
    """
    mine = or_(
        OutboxMessage.subscriber_id == subscriber_id,
        OutboxMessage.recipient_hash == address_hash,
    )
    await session.execute(
        update(OutboxMessage)
        .where(mine, OutboxMessage.state == OutboxState.PENDING)
        .values(state=OutboxState.CANCELLED, last_error="erased", finished_at=now)
    )
    await session.execute(
        update(OutboxMessage)
        .where(mine)
        .values(recipient="", recipient_hash="", payload={}, subscriber_id=None)
    )
