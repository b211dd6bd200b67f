"""All subscriber SQL: the reader's row and their pending imports.

Suppressions live in `clippost.suppressions`, queued mail in `outbox.repository`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.db.dialect import insert_or_ignore
from clippost.db.engine import Database
from clippost.models import (
    Book,
    Highlight,
    ImportProgress,
    PendingImport,
    Subscriber,
    SubscriberStatus,
)
from clippost.subscriptions.preferences import Preferences

# The Core table for the set-based statements below: no ORM load, flush or session sync.
_subscribers = cast(Table, Subscriber.__table__)


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
    await session.execute(insert_or_ignore(session, Subscriber, keys=["email"]).values(**values))
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
    # Another age bias changes strides: the planner lays the rotation out again (rescaling
    # the time left to each turn), as after any library change.
    values["rotation_stale"] = or_(
        Subscriber.rotation_stale, Subscriber.age_bias != preferences.age_bias.value
    )
    await session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(values))


async def set_locale(session: AsyncSession, subscriber_id: int, locale: str | None) -> None:
    await session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(locale=locale)
    )


async def bump_link_generation(session: AsyncSession, subscriber_id: int) -> None:
    """Move the reader's link generation on: every manage link naming the old one dies."""
    await session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(link_generation=Subscriber.link_generation + 1)
    )


def _preference_values(preferences: Preferences) -> dict[str, Any]:
    return {
        "cadence": preferences.cadence.value,
        "hour": preferences.hour,
        "weekday": preferences.weekday,
        "day_of_month": preferences.day_of_month,
        "timezone": preferences.timezone,
        "per_email": preferences.per_email,
        "paused_until": preferences.paused_until,
        "age_bias": preferences.age_bias.value,
        "on_this_day": preferences.on_this_day,
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
            "age_bias": subscriber.age_bias,
            "on_this_day": subscriber.on_this_day,
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


# The unsubscribe batch (subscriptions.manage.unsubscribe_all): Core statements on a
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
    for model in (Highlight, Book, PendingImport):
        await session.execute(delete(model).where(model.subscriber_id == subscriber_id))
    await session.execute(delete(Subscriber).where(Subscriber.id == subscriber_id))


async def count_by_status(db: Database) -> dict[str, int]:
    """How many subscribers are in each status (for `clippost stats`)."""
    async with db.sessions() as session:
        found = await session.execute(
            select(_subscribers.c.status, func.count()).group_by(_subscribers.c.status)
        )
        return {row[0]: row[1] for row in found}


# Pending imports ---------------------------------------------------------------------------


async def add_pending_import(
    session: AsyncSession,
    subscriber_id: int,
    *,
    payload: bytes,
    book_count: int,
    highlight_count: int,
    now: datetime,
    expires_at: datetime,
) -> int:
    """Store a new pending import beside the reader's others; returns its id.

    Earlier ones stay, each link confirming its own upload: anyone can sign an address
    up, so a stranger's upload must never replace the owner's (issue 9). Expired ones go
    (their links are dead anyway). How many may wait at once is the caller's to bound
    (`live_pending_imports`).
    """
    await session.execute(
        delete(PendingImport).where(
            PendingImport.subscriber_id == subscriber_id, PendingImport.expires_at <= now
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


async def live_pending_imports(session: AsyncSession, subscriber_id: int, *, now: datetime) -> int:
    """How many of the reader's imports wait for their link (unapplied, unexpired)."""
    found = await session.scalar(
        select(func.count())
        .select_from(PendingImport)
        .where(
            PendingImport.subscriber_id == subscriber_id,
            PendingImport.applied_at.is_(None),
            PendingImport.expires_at > now,
        )
    )
    return int(found or 0)


async def delete_pending_imports_expired_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete every pending import whose link expired before `cutoff`, applied or not (an
    applied one keeps only the summary a second click shows, until its link dies)."""
    result = await session.execute(delete(PendingImport).where(PendingImport.expires_at <= cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def never_confirmed(
    session: AsyncSession, *, created_before: datetime, now: datetime, limit: int
) -> list[int]:
    """Readers who never confirmed, signed up before `created_before`, with no upload whose
    link still works: the sweeper's to delete (`limit` at a time, oldest first)."""
    waiting = (
        select(PendingImport.id)
        .where(PendingImport.subscriber_id == Subscriber.id, PendingImport.expires_at > now)
        .exists()
    )
    found = await session.scalars(
        select(Subscriber.id)
        .where(
            Subscriber.status == SubscriberStatus.PENDING,
            Subscriber.confirmed_at.is_(None),
            Subscriber.created_at <= created_before,
            ~waiting,
        )
        .order_by(Subscriber.id)
        .limit(limit)
    )
    return list(found)


async def pending_imports_of(session: AsyncSession, subscriber_id: int) -> list[PendingImport]:
    """Every pending import the reader has, oldest first (for the export)."""
    found = await session.scalars(
        select(PendingImport)
        .where(PendingImport.subscriber_id == subscriber_id)
        .order_by(PendingImport.id)
    )
    return list(found)


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
    session: AsyncSession, pending_id: int, *, payload: bytes, now: datetime, chunks: int
) -> bool:
    """Record an import as applied once its `chunks` are merged; False when another request
    applied it first, or a chunk is still being merged."""
    merged = select(ImportProgress.pending_import_id).where(
        ImportProgress.pending_import_id == pending_id, ImportProgress.merged_chunks >= chunks
    )
    result = await session.execute(
        update(PendingImport)
        .where(
            PendingImport.id == pending_id,
            PendingImport.applied_at.is_(None),
            merged.exists(),
        )
        .values(applied_at=now, payload=payload)
    )
    return bool(getattr(result, "rowcount", 0))


async def claim_chunk(session: AsyncSession, pending_id: int, *, total: int) -> int | None:
    """The index of the next of `total` chunks of an unapplied import, now this
    transaction's to merge; None when every chunk is claimed (or it is applied).

    The counter's row is made if need be, then moved on by one UPDATE: on PostgreSQL a
    second claimant waits on that row's lock, then sees the count the first committed;
    SQLite serialises writers. Either way no chunk is merged twice.
    """
    progress = ImportProgress.__table__
    await session.execute(
        insert_or_ignore(session, progress, keys=[progress.c.pending_import_id]).values(
            pending_import_id=pending_id, merged_chunks=0, merged_books=0, merged_highlights=0
        )
    )
    applied = select(PendingImport.id).where(
        PendingImport.id == pending_id, PendingImport.applied_at.is_not(None)
    )
    claimed = await session.scalar(
        update(ImportProgress)
        .where(
            ImportProgress.pending_import_id == pending_id,
            ImportProgress.merged_chunks < total,
            ~applied.exists(),
        )
        .values(merged_chunks=ImportProgress.merged_chunks + 1)
        .returning(ImportProgress.merged_chunks)
    )
    return None if claimed is None else int(claimed) - 1


async def count_merged(
    session: AsyncSession, pending_id: int, new_books: int, new_highlights: int
) -> None:
    await session.execute(
        update(ImportProgress)
        .where(ImportProgress.pending_import_id == pending_id)
        .values(
            merged_books=ImportProgress.merged_books + new_books,
            merged_highlights=ImportProgress.merged_highlights + new_highlights,
        )
    )


async def progress(session: AsyncSession, pending_id: int) -> ImportProgress | None:
    """How far the import's merge has come; None before its first chunk."""
    found: ImportProgress | None = await session.scalar(
        select(ImportProgress)
        .where(ImportProgress.pending_import_id == pending_id)
        .execution_options(populate_existing=True)
    )
    return found


async def reload_pending(session: AsyncSession, pending: PendingImport) -> PendingImport:
    await session.refresh(pending)
    return pending
