"""All outbox SQL: claiming due rows under a lease, recording results, releasing, counting.

Everything here is SQLAlchemy Core on the `outbox` table (no ORM identity map, no per-row
objects): a worker claims hundreds of rows at a time and records them with one set-based
UPDATE per outcome kind, so the database costs a few statements per batch, not per message.

Dialect differences live here and nowhere else (invariant 5): the claim (`_claim_statement`)
and how a set of ids is bound (`_owned_rows` and `_write_per_row`: one array parameter on
PostgreSQL, IN lists in chunks under SQLite's parameter limit).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    String,
    Table,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import Grouping

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
# Ids bound in one SQLite IN list: under the oldest SQLite limit of 999 host parameters,
# with room for the statement's other parameters.
_SQLITE_IDS_PER_STATEMENT = 900
# Rows one PostgreSQL statement records when each has its own values (see `_write_per_row`).
_PG_IDS_PER_STATEMENT = 500


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


# `state = 'pending'` written into the SQL, not bound: the partial index
# ix_outbox_pending_due_at is usable only where the query itself implies its predicate, and
# PostgreSQL's generic plan for a prepared statement (asyncpg prepares each one) knows
# nothing of a bound value.
_IS_PENDING = outbox.c.state == literal_column(f"'{OutboxState.PENDING.value}'")

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
    leases. The same statement, without FOR UPDATE (SQLite >= 3.35 for RETURNING).
    """
    candidates = (
        select(outbox.c.id)
        .where(
            _IS_PENDING,
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
        if db.dialect == "postgresql":
            await connection.execute(_ORDERED_SCAN)
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


_HASH_ARRAY = bindparam("hashes", type_=ARRAY(suppressions.c.address_hash.type))


async def _blocked_by_suppression(
    connection: AsyncConnection, rows: Sequence[Row[Any]]
) -> dict[int, str]:
    """Rows whose recipient must not get them now (invariant 10), with the reason.

    Checked at claim time, not only at enqueue time: an address may unsubscribe or bounce
    after its digest was queued. Bulk mail stops for any suppression; mail the reader asked
    for (confirmation, magic link) stops only for bounces and complaints.
    """
    hashes = sorted({row.recipient_hash for row in rows})
    query = select(suppressions.c.address_hash, suppressions.c.reason)
    reasons: dict[str, str] = {}
    if connection.dialect.name == "postgresql":
        # One array parameter: the same prepared statement whatever the batch size.
        found = await connection.execute(
            query.where(suppressions.c.address_hash == any_(_HASH_ARRAY)),
            {"hashes": hashes},
        )
        reasons.update((address, reason) for address, reason in found)
    else:
        for start in range(0, len(hashes), _SQLITE_IDS_PER_STATEMENT):
            chunk = hashes[start : start + _SQLITE_IDS_PER_STATEMENT]
            found = await connection.execute(query.where(suppressions.c.address_hash.in_(chunk)))
            reasons.update((address, reason) for address, reason in found)
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
        bounced = {f.recipient_hash for f in grouped.get(Failed, []) if f.bounce}
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
    """Set `shared` values, and `per_row` values (listed in `ids` order), on the rows `ids`
    that `owner` still holds; returns how many rows it updated.

    A per-row column whose values are all equal (every sent row got "250 2.0.0 Ok", a whole
    batch withheld for one reason) is moved into `shared`: then one UPDATE ... WHERE id IN
    the batch does it, with nothing joined. Otherwise one UPDATE joins the per-row values.
    `owner=None` skips the owner check, for rows leased in the same transaction.
    """
    if not ids:
        return 0
    shared = dict(shared)
    varying: dict[str, list[Any]] = {}
    for column, values in per_row.items():
        first = values[0]
        if all(value == first for value in values):
            shared[column] = first
        else:
            varying[column] = values
    if varying:
        return await _write_per_row(connection, owner, ids, shared, varying)
    updated = 0
    for statement, params in _owned_rows(connection.dialect.name, owner, ids):
        result = await connection.execute(update(outbox).where(statement).values(shared), params)
        updated += int(getattr(result, "rowcount", 0) or 0)
    return updated


def _guard(owner: str | None) -> ColumnElement[bool]:
    """Only a pending row its owner still holds is written (invariant 3): a row whose lease
    expired and was taken over belongs to the new owner, whatever this worker learned."""
    condition = outbox.c.state == OutboxState.PENDING
    if owner is not None:
        condition = (outbox.c.lease_owner == bindparam("owner", owner)) & condition
    return condition


_ID_ARRAY = bindparam("ids", type_=ARRAY(Integer))


def _array(name: str, item_type: Any) -> Any:
    """A bound PostgreSQL array, cast (asyncpg cannot infer a subscript's type) and
    parenthesized, so that it can be subscripted. Strings are cast without a length: a
    `varchar(200)[]` cast would check every element each time a row reads the array."""
    if isinstance(item_type, String):
        item_type = String()
    array_type = ARRAY(item_type)  # binds each item through its column type (UTCDateTime)
    return Grouping(sql_cast(bindparam(name, type_=array_type), array_type))


def _owned_rows(
    dialect: str, owner: str | None, ids: list[int]
) -> list[tuple[ColumnElement[bool], dict[str, Any]]]:
    """The WHERE clause for the rows `ids` held by `owner`, with its parameters: one array
    parameter on PostgreSQL (`id = ANY(:ids)`, a primary-key index lookup per id, one
    prepared statement for any batch size); on SQLite, IN lists of at most
    `_SQLITE_IDS_PER_STATEMENT` ids."""
    if dialect == "postgresql":
        return [(_guard(owner) & (outbox.c.id == any_(_ID_ARRAY)), {"ids": ids})]
    return [
        (_guard(owner) & outbox.c.id.in_(ids[start : start + _SQLITE_IDS_PER_STATEMENT]), {})
        for start in range(0, len(ids), _SQLITE_IDS_PER_STATEMENT)
    ]


async def _write_per_row(
    connection: AsyncConnection,
    owner: str | None,
    ids: list[int],
    shared: dict[str, Any],
    varying: dict[str, list[Any]],
) -> int:
    """PostgreSQL: UPDATE ... WHERE id = ANY(:ids), each row picking its own value from
    parallel arrays by its position in `ids` (`array_position`), in chunks of
    `_PG_IDS_PER_STATEMENT` so that the linear search stays short. Not a join with
    unnest(:ids, :values): without fresh statistics the planner scans every pending row to
    hash them, or rescans the unnest for each row (measured: three times the cost).
    SQLite: one executemany (SQLite steps the prepared statement once per row, in C)."""
    if connection.dialect.name == "postgresql":
        position = func.array_position(_array("ids", Integer), outbox.c.id)
        picked = {
            column: _array(f"v_{column}", outbox.c[column].type)[position] for column in varying
        }
        statement = (
            update(outbox)
            .where(_guard(owner), outbox.c.id == any_(_ID_ARRAY))
            .values({**shared, **picked})
        )
        updated = 0
        for start in range(0, len(ids), _PG_IDS_PER_STATEMENT):
            end = start + _PG_IDS_PER_STATEMENT
            params = {"ids": ids[start:end]}
            params.update({f"v_{column}": items[start:end] for column, items in varying.items()})
            result = await connection.execute(statement, params)
            updated += int(getattr(result, "rowcount", 0) or 0)
        return updated
    statement = (
        update(outbox)
        .where(_guard(owner), outbox.c.id == bindparam("row_id"))
        .values(
            {
                **shared,
                **{
                    column: bindparam(f"v_{column}", type_=outbox.c[column].type)
                    for column in varying
                },
            }
        )
    )
    rows = [
        {"row_id": row_id, **{f"v_{column}": varying[column][k] for column in varying}}
        for k, row_id in enumerate(ids)
    ]
    result = await connection.execute(statement, rows)
    return int(getattr(result, "rowcount", 0) or 0)


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
            select(func.count()).select_from(outbox).where(_IS_PENDING, outbox.c.due_at <= due_by)
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
            .where(_IS_PENDING, outbox.c.lease_expires_at >= now)
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
