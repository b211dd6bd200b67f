"""The planner: turn every due slot into one digest row in the outbox (invariant 2).

Any number of planners may run at once, on any number of machines, and a re-run is harmless:
each subscriber is planned in its own short transaction that locks the subscriber's row
(FOR UPDATE on PostgreSQL, the single write lock on SQLite) and re-checks that its slot is
still due, so a second planner finds the slot already advanced and does nothing; and the
digest's idempotency key `digest:{subscriber}:{slot}` is UNIQUE, so even a planner working
from stale data cannot insert a second digest for one slot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.errors import BadInput
from clippost.library import repository as library_repository
from clippost.links import Links, Purpose
from clippost.models import Book, Highlight, Subscriber, SubscriberStatus
from clippost.outbox.repository import enqueue
from clippost.planner.slots import Cadence, Schedule, due_slots, next_slot, slot_key
from clippost.selection import describe_round, select_highlights

log = logging.getLogger(__name__)

subscribers = cast(Table, Subscriber.__table__)
highlights = cast(Table, Highlight.__table__)
books = cast(Table, Book.__table__)

# Subscribers are read in pages of this many ids; each is then planned in its own transaction.
_PAGE = 500
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class _Plan:
    slot: datetime | None  # the slot to send now, if any
    next_slot_at: datetime


async def plan_due(db: Database, ctx: ServiceContext) -> int:
    """Enqueue a digest for every confirmed subscriber whose slot is due at `ctx.now`.

    Returns how many digests were inserted by this call.
    """
    now, links, domain = ctx.now, ctx.links, ctx.mail_domain
    planned = 0
    after_id = 0
    while ids := await _due_subscriber_ids(db, now=now, after_id=after_id):
        for subscriber_id in ids:
            try:
                if await _plan_one(db, subscriber_id, now=now, links=links, domain=domain):
                    planned += 1
            except BadInput:
                # A stored schedule that no longer validates (a timezone removed from the
                # tz database): skip this reader, keep planning the others.
                log.exception("cannot plan subscriber %s", subscriber_id)
        after_id = ids[-1]
    return planned


async def _due_subscriber_ids(db: Database, *, now: datetime, after_id: int) -> list[int]:
    async with db.sessions() as session:
        found = await session.scalars(
            select(subscribers.c.id)
            .where(
                subscribers.c.status == SubscriberStatus.CONFIRMED,
                (subscribers.c.next_slot_at <= now) | subscribers.c.next_slot_at.is_(None),
                subscribers.c.id > after_id,
            )
            .order_by(subscribers.c.id)
            .limit(_PAGE)
        )
        return list(found)


async def _plan_one(
    db: Database, subscriber_id: int, *, now: datetime, links: Links, domain: str
) -> bool:
    """Plan one subscriber in one transaction; True when a digest was inserted."""
    async with db.transaction() as session:
        connection = await session.connection()
        subscriber = (
            await connection.execute(
                select(subscribers)
                .where(
                    subscribers.c.id == subscriber_id,
                    subscribers.c.status == SubscriberStatus.CONFIRMED,
                )
                .with_for_update()
            )
        ).one_or_none()
        # Re-checked under the lock: another planner may have advanced it meanwhile.
        if subscriber is None or (
            subscriber.next_slot_at is not None and subscriber.next_slot_at > now
        ):
            return False
        plan = _plan(subscriber, now=now)
        inserted = False
        if plan.slot is not None:
            digest = await _choose(session, subscriber, slot=plan.slot, now=now, links=links)
            if digest is not None:
                payload, chosen = digest
                inserted = await enqueue(
                    session,
                    kind="digest",
                    recipient=subscriber.email,
                    idempotency_key=f"digest:{subscriber_id}:{slot_key(plan.slot)}",
                    payload=payload,
                    due_at=plan.slot,
                    domain=domain,
                    subscriber_id=subscriber_id,
                )
                if inserted:
                    await _mark_sent(connection, chosen, at=plan.slot)
        await connection.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(next_slot_at=plan.next_slot_at)
        )
        return inserted


async def preview_digest(
    db: Database, subscriber_id: int, ctx: ServiceContext
) -> dict[str, Any] | None:
    """The template context the subscriber's next digest would have, chosen exactly as the
    planner chooses it, without enqueueing anything or counting anything as sent.

    None when the reader does not exist or has nothing left to send (all discarded).
    """
    now, links = ctx.now, ctx.links
    async with db.read() as session:
        connection = await session.connection()
        subscriber = (
            await connection.execute(select(subscribers).where(subscribers.c.id == subscriber_id))
        ).one_or_none()
        if subscriber is None:
            return None
        slot = subscriber.next_slot_at or now
        digest = await _choose(session, subscriber, slot=slot, now=now, links=links)
        await session.rollback()
    return None if digest is None else digest[0]


def _plan(subscriber: Row[Any], *, now: datetime) -> _Plan:
    """Which slot to send now, and the next one to wait for.

    Catch-up is bounded on purpose: when the planner was down across several slots, only the
    latest missed slot is sent and the older ones are skipped. A reader wants today's
    highlights, not a pile of a week's digests arriving together.
    """
    schedule = Schedule(
        cadence=Cadence(subscriber.cadence),
        hour=subscriber.hour,
        timezone=subscriber.timezone,
        weekday=subscriber.weekday,
        day_of_month=subscriber.day_of_month,
        paused_until=subscriber.paused_until,
    )
    following = next_slot(schedule, now)
    if subscriber.next_slot_at is None:
        # Never planned (confirmed before the planner ran): start from the next slot.
        return _Plan(slot=None, next_slot_at=following)
    # Slots since the stored one (inclusive) up to now; the schedule also applies a pause.
    missed = due_slots(schedule, subscriber.next_slot_at - _JUST_BEFORE, now, limit=1)
    return _Plan(slot=missed[-1] if missed else None, next_slot_at=following)


async def _choose(
    session: AsyncSession,
    subscriber: Row[Any],
    *,
    slot: datetime,
    now: datetime,
    links: Links,
) -> tuple[dict[str, Any], list[int]] | None:
    """The digest's template context and the chosen highlight ids; None for nothing to send."""
    candidates = await library_repository.candidates(session, subscriber.id)
    key = slot_key(slot)
    chosen = select_highlights(candidates, subscriber.per_email, f"{subscriber.id}:{key}", now=now)
    if not chosen:
        return None
    rows = await _highlight_rows(await session.connection(), chosen)
    status = describe_round(candidates, chosen)
    payload = {
        "highlights": [_highlight_context(rows[i], links=links, now=now) for i in chosen],
        "round_status": {"position": status.position, "total": status.total},
        "manage_url": links.url(
            Purpose.MANAGE, subscriber.id, now=now, extra=str(subscriber.link_generation)
        ),
        "unsubscribe_url": links.url(Purpose.UNSUBSCRIBE, subscriber.id, now=now),
    }
    return payload, chosen


async def _highlight_rows(connection: AsyncConnection, ids: list[int]) -> dict[int, Any]:
    found = await connection.execute(
        select(
            highlights.c.id,
            highlights.c.text,
            highlights.c.note,
            highlights.c.page,
            highlights.c.location_start,
            highlights.c.location_end,
            highlights.c.favourite,
            books.c.title,
            books.c.author,
        )
        .join(books, books.c.id == highlights.c.book_id)
        .where(highlights.c.id.in_(ids))
    )
    return {row.id: row for row in found}


def _highlight_context(row: Row[Any], *, links: Links, now: datetime) -> dict[str, Any]:
    return {
        "text": row.text,
        "book_title": row.title,
        "book_author": row.author,
        "note": row.note,
        "page": row.page,
        "location_start": row.location_start,
        "location_end": row.location_end,
        "favourite": bool(row.favourite),
        "favourite_url": links.url(Purpose.FAVOURITE, row.id, now=now),
        "discard_url": links.url(Purpose.DISCARD, row.id, now=now),
    }


async def _mark_sent(connection: AsyncConnection, ids: list[int], *, at: datetime) -> None:
    """Count the chosen highlights as sent, so the next digest moves on through the round."""
    await connection.execute(
        update(highlights)
        .where(highlights.c.id.in_(ids))
        .values(times_sent=highlights.c.times_sent + 1, last_sent_at=at)
    )
