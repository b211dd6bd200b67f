"""The worker's side of the outbox: claim due rows under a lease, record what happened,
give rows back, keep a lease alive.

Everything here is SQLAlchemy Core on the `outbox` table (no ORM identity map, no per-row
objects): a worker claims hundreds of rows at a time and records them with one set-based
UPDATE per outcome kind (`db.bulk.update_rows`), so the database costs a few statements per
batch, not per message.

The claim is the one place outside `db/` that names a dialect (invariant 5): PostgreSQL's
claim takes its rows FOR UPDATE SKIP LOCKED (`db.dialect.skip_locked`) and turns bitmap
scans off for its transaction; see `_claim_statement`. Everything else goes through the
`db` helpers. The suppression re-check at claim time (invariant 10) is here too; the
suppressions table itself is read and written by `clippost.suppressions`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from clippost import delivery_events, suppressions
from clippost.db.bulk import update_rows
from clippost.db.dialect import is_postgresql, skip_locked
from clippost.db.engine import Database
from clippost.models import BLOCKS_REQUESTED_MAIL, OutboxState, SuppressionReason
from clippost.outbox.recheck import Planned, is_planned_digest, settle_stale_claimed
from clippost.outbox.repository import IS_PENDING, outbox, settle_suppressed_addresses

# Error texts longer than this are cut: a provider's full response is not worth a row's bloat.
_MAX_ERROR = 2000


@dataclass(slots=True)
class ClaimedMessage:
    """An outbox row leased to one worker: everything the renderer and the sender need.

    Not frozen (nothing changes one once claimed): a worker makes one per message, and a
    frozen dataclass's `__init__` (an `object.__setattr__` per field) cost eight times a
    plain one's, 2 µs for these twelve fields."""

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
    # `digest:<reader>:<slot>` for a planned digest: it names its reader even after the
    # reader's row is gone (erasing sets `subscriber_id` to NULL).
    idempotency_key: str = ""


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
    outbox.c.idempotency_key,
)


def _claim_statement(
    db: Database,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    due_by: datetime,
) -> Any:
    """The claim: one UPDATE ... WHERE id IN (due, unleased rows) ... RETURNING.

    PostgreSQL: the inner SELECT takes row locks with FOR UPDATE SKIP LOCKED, so concurrent
    claimers (any number of processes, on any number of machines) each lock a disjoint set
    of rows without waiting on each other; the outer UPDATE then writes the lease on exactly
    the locked rows. A row whose lease has expired is due again and is simply taken over:
    the new owner's name replaces the old one, so the old owner's late result is ignored by
    `record_results`. READ COMMITTED is enough: a row locked and leased by another claimer
    is skipped, and once that claimer commits, the lease condition excludes it.

    The inner SELECT walks `ix_outbox_pending_due_at` (partial: pending rows only) in due
    order and stops after `limit` rows. `claim` turns bitmap scans off for its transaction
    because a queue's statistics lag behind it: after a burst is enqueued (or on a table
    never analyzed) the planner believes few rows are pending and picks a bitmap scan that
    reads and sorts *every* pending row for each batch (measured: twice the claim's whole
    server time on 20,000 queued rows). The ordered index scan is right at any queue size.
    The lease update changes no indexed column, so on the table's half-empty pages
    (fillfactor 50, migration 0002) it is a HOT update: no index insertions.

    SQLite has no row locks; `Database.transaction()` starts with BEGIN IMMEDIATE, which
    takes the database's single write lock before the SELECT runs, so claimers in every
    process are serialized and the subquery always sees the previous claimer's committed
    leases. The same statement, without FOR UPDATE (SQLite >= 3.35 for RETURNING, checked when the
    `Database` is made).
    """
    candidates = (
        select(outbox.c.id)
        .where(
            IS_PENDING,
            outbox.c.due_at <= due_by,
            (outbox.c.lease_expires_at.is_(None)) | (outbox.c.lease_expires_at < now),
        )
        .order_by(outbox.c.due_at)
        .limit(limit)
    )
    return (
        update(outbox)
        .where(outbox.c.id.in_(skip_locked(candidates, db).scalar_subquery()))
        .values(lease_owner=owner, lease_expires_at=now + lease, attempts=outbox.c.attempts + 1)
        .returning(*_RETURNED)
    )


# PostgreSQL, for the claim's transaction only (is_local): see `_claim_statement`.
_ORDERED_SCAN = select(func.set_config("enable_bitmapscan", "off", True))


async def claim(
    db: Database,
    *,
    owner: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    due_by: datetime | None = None,
) -> list[ClaimedMessage]:
    """Lease up to `limit` due rows to `owner`; rows that must not go are settled, not
    returned: suppressed recipients (invariant 10), and digests their readers no longer want
    as they are (unsubscribed, erased, paused, a changed schedule or number per email since
    planning: `recheck.py`). Both checks read the batch's rows with one statement each.

    `due_by` (default `now`) bounds which rows count as due; `send-due --at` passes its moment.
    A batch whose every row was settled is followed by the next one, so an empty answer
    always means that nothing due is left (`send-due` stops on it).
    """
    statement = _claim_statement(
        db, owner=owner, limit=limit, now=now, lease=lease, due_by=due_by or now
    )
    while True:
        rows, settled = await _claim_batch(db, statement, now=now)
        if not rows or len(settled) < len(rows):
            break
    claimed = [message for message in rows if message.id not in settled]
    claimed.sort(key=lambda message: message.due_at)
    return claimed


async def _claim_batch(
    db: Database, statement: Any, *, now: datetime
) -> tuple[list[ClaimedMessage], set[int]]:
    """One claim transaction: the leased rows, and the ids of those settled instead."""
    async with db.transaction() as session:
        connection = await session.connection()
        if is_postgresql(db):
            await connection.execute(_ORDERED_SCAN)
        # Made messages at once: the checks below read their attributes, and a result
        # row's cost ten times a dataclass's (466 ns: found once the ordinary lookup failed).
        rows = list(map(_to_claimed, await connection.execute(statement)))
        if not rows:
            return rows, set()
        blocked = await _blocked_by_suppression(connection, rows)
        if blocked:
            await _settle_suppressed(connection, blocked, now=now)
        digests = [
            Planned.of(row.id, row.subscriber_id, row.idempotency_key, row.payload)
            for row in rows
            if row.id not in blocked and is_planned_digest(row.kind, row.idempotency_key)
        ]
        stale = await settle_stale_claimed(connection, digests, now=now)
    return rows, set(blocked) | stale


async def _blocked_by_suppression(
    connection: AsyncConnection, rows: Sequence[ClaimedMessage]
) -> dict[int, str]:
    """Rows whose recipient must not get them now (invariant 10), with the reason.

    Checked at claim time, not only at enqueue time: an address may unsubscribe or bounce
    after its digest was queued. Bulk mail stops for any suppression; mail the reader asked
    for (confirmation, magic link) stops only for bounces and complaints.
    """
    hashes = sorted({row.recipient_hash for row in rows})
    reasons = await suppressions.reasons_for(connection, hashes)
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
    """The claim just leased these rows in this transaction: the owner is this claimer."""
    ids = list(blocked)
    await _write(
        connection,
        None,
        ids,
        {
            "state": OutboxState.SUPPRESSED,
            "lease_owner": None,
            "lease_expires_at": None,
            "finished_at": now,
        },
        {"last_error": [blocked[row_id] for row_id in ids]},
    )


def _to_claimed(row: Row[Any]) -> ClaimedMessage:
    # `_RETURNED` lists the columns in the dataclass's field order; no per-row dict.
    return ClaimedMessage(*tuple(row))


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
        bounced = [f for f in grouped.get(Failed, []) if f.bounce]
        if bounced:
            await _suppress_bounced(connection, bounced, now=now)
    return updated


async def _write_delivered(
    connection: AsyncConnection, owner: str, items: list[Delivered], now: datetime
) -> int:
    return await _write(
        connection,
        owner,
        [i.id for i in items],
        {
            "state": OutboxState.SENT,
            "lease_owner": None,
            "lease_expires_at": None,
            "finished_at": now,
        },
        {"provider_id": [i.provider_id for i in items]},
    )


async def _write_retries(connection: AsyncConnection, owner: str, items: list[RetryLater]) -> int:
    return await _write(
        connection,
        owner,
        [i.id for i in items],
        {"lease_owner": None, "lease_expires_at": None},
        {"due_at": [i.due_at for i in items], "last_error": [i.error[:_MAX_ERROR] for i in items]},
    )


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
    return await _write(
        connection,
        owner,
        [row_id for row_id, _ in items],
        {"state": state, "lease_owner": None, "lease_expires_at": None, "finished_at": now},
        {"last_error": [error[:_MAX_ERROR] for _, error in items]},
    )


async def _write(
    connection: AsyncConnection,
    owner: str | None,
    ids: list[int],
    shared: dict[str, Any],
    per_row: dict[str, list[Any]],
) -> int:
    """`db.bulk.update_rows` on the rows `ids` that `owner` still holds (`owner=None` skips
    the owner check, for rows leased in the same transaction)."""
    return await update_rows(
        connection, outbox, ids, where=_guard(owner), shared=shared, per_row=per_row
    )


def _guard(owner: str | None) -> ColumnElement[bool]:
    """Only a pending row its owner still holds is written (invariant 3): a row whose lease
    expired and was taken over belongs to the new owner, whatever this worker learned."""
    condition = outbox.c.state == OutboxState.PENDING
    if owner is not None:
        condition = (outbox.c.lease_owner == bindparam("owner", owner)) & condition
    return condition


async def _suppress_bounced(
    connection: AsyncConnection, bounced: list[Failed], *, now: datetime
) -> None:
    """A hard bounce is kept as a delivery event (where every bounce is counted), suppresses
    the address (upgrading a weaker reason) and settles every other pending, unleased row
    for it: nothing more goes to an address that does not exist. Rows another worker holds
    right now are left to it; its next claim-time check stops them if they come back."""
    refusals = [delivery_events.Refusal(f.id, f.recipient_hash, f.error) for f in bounced]
    await delivery_events.record_refusals(connection, refusals, now=now)
    hashes = {f.recipient_hash for f in bounced}
    await suppressions.suppress_bounced(connection, hashes, now=now)
    await settle_suppressed_addresses(connection, hashes, SuppressionReason.BOUNCED, now=now)


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
