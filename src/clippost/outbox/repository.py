"""All outbox SQL: claiming due rows under a lease, recording results, releasing, counting.

Everything here is SQLAlchemy Core on the `outbox` table (no ORM identity map, no per-row
objects): a worker claims hundreds of rows at a time and records them with one executemany
per outcome kind, so the database costs a few statements per batch, not per message.

The claim query is the project's one dialect branch (invariant 5); see `_claim_statement`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from clippost.db.engine import Database
from clippost.errors import ConfigurationError
from clippost.models import (
    BLOCKS_REQUESTED_MAIL,
    OutboxMessage,
    OutboxState,
    Subscriber,
    Suppression,
    SuppressionReason,
)

outbox = cast(Table, OutboxMessage.__table__)
suppressions = cast(Table, Suppression.__table__)
subscribers = cast(Table, Subscriber.__table__)

# Error texts longer than this are cut: a provider's full response is not worth a row's bloat.
_MAX_ERROR = 2000


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """An outbox row leased to one worker: everything the renderer and the sender need."""

    id: int
    message_id: str
    kind: str
    requested: bool
    recipient: str
    recipient_hash: str
    subscriber_id: int | None
    payload: dict[str, Any]
    attempts: int  # including this one
    created_at: datetime
    due_at: datetime


# What a worker learned about one claimed row; `record_results` writes a batch of them.
@dataclass(frozen=True, slots=True)
class Delivered:
    id: int
    provider_id: str | None = None


@dataclass(frozen=True, slots=True)
class RetryLater:
    id: int
    due_at: datetime
    error: str


@dataclass(frozen=True, slots=True)
class Failed:
    id: int
    error: str
    bounce: bool = False  # the address is bad: suppress it and cancel its other mail
    recipient_hash: str = ""


@dataclass(frozen=True, slots=True)
class Withheld:
    """Not sent on purpose (staging allowlist, suppression): final state `suppressed`."""

    id: int
    reason: str


Outcome = Delivered | RetryLater | Failed | Withheld


@dataclass(frozen=True, slots=True)
class OutboxStats:
    by_state: dict[str, int]
    due_now: int
    leased: int
    subscribers_by_status: dict[str, int]


_RETURNED = (
    outbox.c.id,
    outbox.c.message_id,
    outbox.c.kind,
    outbox.c.requested,
    outbox.c.recipient,
    outbox.c.recipient_hash,
    outbox.c.subscriber_id,
    outbox.c.payload,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.due_at,
)


def _claim_statement(
    dialect: str, *, owner: str, limit: int, now: datetime, lease: timedelta, due_by: datetime
) -> Any:
    """The claim: one UPDATE ... WHERE id IN (due, unleased rows) ... RETURNING.

    PostgreSQL: the inner SELECT takes row locks with FOR UPDATE SKIP LOCKED, so concurrent
    claimers (any number of processes, on any number of machines) each lock a disjoint set
    of rows without waiting on each other; the outer UPDATE then writes the lease on exactly
    the locked rows. A row whose lease has expired is due again and is simply taken over:
    the new owner's name replaces the old one, so the old owner's late result is ignored by
    `record_results`. READ COMMITTED is enough: a row locked and leased by another claimer
    is skipped, and once that claimer commits, the lease condition excludes it.

    SQLite has no row locks; `Database.transaction()` starts with BEGIN IMMEDIATE, which
    takes the database's single write lock before the SELECT runs, so claimers in every
    process are serialized and the subquery always sees the previous claimer's committed
    leases. The same statement, without FOR UPDATE (SQLite >= 3.35 for RETURNING).
    """
    candidates = (
        select(outbox.c.id)
        .where(
            outbox.c.state == OutboxState.PENDING,
            outbox.c.due_at <= due_by,
            (outbox.c.lease_expires_at.is_(None)) | (outbox.c.lease_expires_at < now),
        )
        .order_by(outbox.c.due_at)
        .limit(limit)
    )
    if dialect == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    return (
        update(outbox)
        .where(outbox.c.id.in_(candidates.scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease, attempts=outbox.c.attempts + 1)
        .returning(*_RETURNED)
    )


async def claim(
    db: Database,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    due_by: datetime | None = None,
) -> list[ClaimedMessage]:
    """Lease up to `limit` due rows to `owner`; suppressed recipients are settled, not returned.

    `due_by` (default `now`) bounds which rows count as due; `send-due --at` passes its moment.
    """
    if db.is_sqlite:
        _require_returning()
    statement = _claim_statement(
        db.dialect, owner=owner, limit=limit, now=now, lease=lease, due_by=due_by or now
    )
    async with db.transaction() as session:
        connection = await session.connection()
        rows = (await connection.execute(statement)).all()
        if not rows:
            return []
        blocked = await _blocked_by_suppression(connection, rows)
        if blocked:
            await _settle_suppressed(connection, blocked, now=now)
    claimed = [_to_claimed(row) for row in rows if row.id not in blocked]
    claimed.sort(key=lambda message: message.due_at)
    return claimed


def _require_returning() -> None:
    if sqlite3.sqlite_version_info < (3, 35):
        raise ConfigurationError(
            f"SQLite {sqlite3.sqlite_version} is too old: clippost needs 3.35 or newer "
            "(UPDATE ... RETURNING). Use a newer Python build, or PostgreSQL."
        )


async def _blocked_by_suppression(
    connection: AsyncConnection, rows: Sequence[Row[Any]]
) -> dict[int, str]:
    """Rows whose recipient must not get them now (invariant 10), with the reason.

    Checked at claim time, not only at enqueue time: an address may unsubscribe or bounce
    after its digest was queued. Bulk mail stops for any suppression; mail the reader asked
    for (confirmation, magic link) stops only for bounces and complaints.
    """
    hashes = {row.recipient_hash for row in rows}
    found = await connection.execute(
        select(suppressions.c.address_hash, suppressions.c.reason).where(
            suppressions.c.address_hash.in_(hashes)
        )
    )
    reasons: dict[str, str] = {row[0]: row[1] for row in found}
    if not reasons:
        return {}
    blocked: dict[int, str] = {}
    for row in rows:
        reason = reasons.get(row.recipient_hash)
        if reason is None:
            continue
        if not row.requested or reason in BLOCKS_REQUESTED_MAIL:
            blocked[row.id] = f"recipient suppressed ({reason})"
    return blocked


async def _settle_suppressed(
    connection: AsyncConnection, blocked: dict[int, str], *, now: datetime
) -> None:
    await connection.execute(
        update(outbox)
        .where(outbox.c.id == bindparam("row_id"))
        .values(
            state=OutboxState.SUPPRESSED,
            last_error=bindparam("reason"),
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        ),
        [{"row_id": row_id, "reason": reason} for row_id, reason in blocked.items()],
    )


def _to_claimed(row: Row[Any]) -> ClaimedMessage:
    return ClaimedMessage(
        id=row.id,
        message_id=row.message_id,
        kind=row.kind,
        requested=bool(row.requested),
        recipient=row.recipient,
        recipient_hash=row.recipient_hash,
        subscriber_id=row.subscriber_id,
        payload=row.payload,
        attempts=row.attempts,
        created_at=row.created_at,
        due_at=row.due_at,
    )


async def record_results(
    db: Database, *, owner: str, outcomes: Iterable[Outcome], now: datetime
) -> int:
    """Write a batch's outcomes in one transaction; returns how many rows were updated.

    Every UPDATE is guarded by `lease_owner = owner AND state = 'pending'`: a row whose lease
    expired and was taken over by another worker now belongs to that worker, and this
    worker's late result must not overwrite what the new owner will write (invariant 3).
    """
    grouped: dict[type, list[Any]] = {}
    for outcome in outcomes:
        grouped.setdefault(type(outcome), []).append(outcome)
    updated = 0
    async with db.transaction() as session:
        connection = await session.connection()
        updated += await _write_delivered(connection, owner, grouped.get(Delivered, []), now)
        updated += await _write_retries(connection, owner, grouped.get(RetryLater, []))
        updated += await _write_failed(connection, owner, grouped.get(Failed, []), now)
        updated += await _write_withheld(connection, owner, grouped.get(Withheld, []), now)
        bounced = {f.recipient_hash for f in grouped.get(Failed, []) if f.bounce}
        if bounced:
            await _suppress_bounced(connection, bounced, now=now)
    return updated


def _owned_row() -> Any:
    return (
        (outbox.c.id == bindparam("row_id"))
        & (outbox.c.lease_owner == bindparam("owner"))
        & (outbox.c.state == OutboxState.PENDING)
    )


async def _executemany(connection: AsyncConnection, statement: Any, params: list[Any]) -> int:
    if not params:
        return 0
    result = await connection.execute(statement, params)
    return int(getattr(result, "rowcount", 0) or 0)


async def _write_delivered(
    connection: AsyncConnection, owner: str, items: list[Delivered], now: datetime
) -> int:
    statement = (
        update(outbox)
        .where(_owned_row())
        .values(
            state=OutboxState.SENT,
            provider_id=bindparam("provider_id"),
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )
    params = [{"row_id": i.id, "owner": owner, "provider_id": i.provider_id} for i in items]
    return await _executemany(connection, statement, params)


async def _write_retries(connection: AsyncConnection, owner: str, items: list[RetryLater]) -> int:
    statement = (
        update(outbox)
        .where(_owned_row())
        .values(
            due_at=bindparam("new_due_at", type_=outbox.c.due_at.type),
            last_error=bindparam("error"),
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    params = [
        {"row_id": i.id, "owner": owner, "new_due_at": i.due_at, "error": i.error[:_MAX_ERROR]}
        for i in items
    ]
    return await _executemany(connection, statement, params)


async def _write_failed(
    connection: AsyncConnection, owner: str, items: list[Failed], now: datetime
) -> int:
    return await _write_final(
        connection, owner, OutboxState.FAILED, [(i.id, i.error) for i in items], now
    )


async def _write_withheld(
    connection: AsyncConnection, owner: str, items: list[Withheld], now: datetime
) -> int:
    return await _write_final(
        connection, owner, OutboxState.SUPPRESSED, [(i.id, i.reason) for i in items], now
    )


async def _write_final(
    connection: AsyncConnection,
    owner: str,
    state: OutboxState,
    items: list[tuple[int, str]],
    now: datetime,
) -> int:
    statement = (
        update(outbox)
        .where(_owned_row())
        .values(
            state=state,
            last_error=bindparam("error"),
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )
    params = [
        {"row_id": row_id, "owner": owner, "error": error[:_MAX_ERROR]} for row_id, error in items
    ]
    return await _executemany(connection, statement, params)


async def _suppress_bounced(
    connection: AsyncConnection, hashes: set[str], *, now: datetime
) -> None:
    """A hard bounce suppresses the address (upgrading a weaker reason) and settles every
    other pending, unleased row for it: nothing more goes to an address that does not exist.
    Rows another worker holds right now are left to it; its next claim-time check stops them
    if they come back."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(suppressions).values(
        [
            {"address_hash": h, "reason": SuppressionReason.BOUNCED, "created_at": now}
            for h in sorted(hashes)
        ]
    )
    statement = statement.on_conflict_do_update(
        index_elements=["address_hash"], set_={"reason": SuppressionReason.BOUNCED}
    )
    await connection.execute(statement)
    await connection.execute(
        update(outbox)
        .where(
            outbox.c.recipient_hash.in_(hashes),
            outbox.c.state == OutboxState.PENDING,
            outbox.c.lease_owner.is_(None) | (outbox.c.lease_expires_at < now),
        )
        .values(
            state=OutboxState.SUPPRESSED,
            last_error=f"recipient suppressed ({SuppressionReason.BOUNCED})",
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )


async def release(db: Database, *, owner: str, ids: Collection[int] | None = None) -> int:
    """Give back the pending rows `owner` still holds (all, or those in `ids`): another worker
    takes them at once instead of waiting for the lease to expire (shutdown). The claim's
    attempt is undone, since nothing was tried."""
    condition = (outbox.c.lease_owner == owner) & (outbox.c.state == OutboxState.PENDING)
    if ids is not None:
        condition &= outbox.c.id.in_(list(ids))
    async with db.transaction() as session:
        connection = await session.connection()
        result = await connection.execute(
            update(outbox)
            .where(condition)
            .values(
                lease_owner=None,
                lease_expires_at=None,
                attempts=case((outbox.c.attempts > 0, outbox.c.attempts - 1), else_=0),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def extend_lease(
    db: Database, *, owner: str, ids: Collection[int], now: datetime, lease: timedelta
) -> int:
    """Push back the lease of rows `owner` still holds and is still working on."""
    async with db.transaction() as session:
        connection = await session.connection()
        result = await connection.execute(
            update(outbox)
            .where(
                outbox.c.id.in_(list(ids)),
                outbox.c.lease_owner == owner,
                outbox.c.state == OutboxState.PENDING,
            )
            .values(lease_expires_at=now + lease)
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def pending_due(db: Database, *, due_by: datetime) -> int:
    """How many pending rows are due by `due_by` (leased or not)."""
    async with db.sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.state == OutboxState.PENDING, outbox.c.due_at <= due_by)
        )
    return int(found or 0)


async def stats(db: Database, *, now: datetime) -> OutboxStats:
    """Outbox rows by state, what is due and what is leased now, subscribers by status."""
    async with db.sessions() as session:
        states = await session.execute(
            select(outbox.c.state, func.count()).group_by(outbox.c.state)
        )
        by_state: dict[str, int] = {row[0]: row[1] for row in states}
        leased = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.state == OutboxState.PENDING, outbox.c.lease_expires_at >= now)
        )
        statuses = await session.execute(
            select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
        )
        by_status: dict[str, int] = {row[0]: row[1] for row in statuses}
    return OutboxStats(
        by_state=by_state,
        due_now=await pending_due(db, due_by=now),
        leased=int(leased or 0),
        subscribers_by_status=by_status,
    )
