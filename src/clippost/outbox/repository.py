"""The outbox table, except the worker's side (claims.py): queueing mail, calling it back,
scrubbing an erased reader's rows, counting.

`enqueue` is the only way anything in clippost asks for an email to be sent. It runs inside
the caller's transaction, so a state change and its message commit together or not at all
(invariant 1). The idempotency key is UNIQUE and the insert is ON CONFLICT DO NOTHING on
both databases (`db.dialect.insert_or_ignore`): enqueueing the same logical message twice (a
planner re-run, a double click) inserts nothing the second time (invariant 2).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as type_cast

import orjson
from sqlalchemy import (
    Connection,
    String,
    Table,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clippost.addresses import address_hash
from clippost.db.base import utcnow
from clippost.db.bulk import insert_rows
from clippost.db.dialect import insert_or_ignore
from clippost.db.engine import Database
from clippost.models import OutboxMessage, OutboxState

outbox = type_cast(Table, OutboxMessage.__table__)

# `state = 'pending'` written into the SQL, not bound: the partial index
# ix_outbox_pending_due_at is usable only where the query itself implies its predicate, and
# PostgreSQL's generic plan for a prepared statement (asyncpg prepares each one) knows
# nothing of a bound value.
IS_PENDING = outbox.c.state == literal_column(f"'{OutboxState.PENDING.value}'")


@dataclass(frozen=True, slots=True)
class OutboxStats:
    by_state: dict[str, int]
    due_now: int
    leased: int


def new_message_id(domain: str, *, at: datetime | None = None) -> str:
    """A new Message-ID: 32 hex digits, the first 12 the milliseconds since the epoch and
    the other 20 (80 bits) random, so that ids made later sort later. A batch's ids then
    go into the right-hand edge of the UNIQUE index on `message_id`, a few pages, rather
    than one random page each (the planner's INSERT of a batch, on both databases)."""
    return f"<{_time_prefix(at or utcnow())}{secrets.token_hex(10)}@{domain}>"


def _time_prefix(at: datetime) -> str:
    return f"{int(at.timestamp() * 1000) & 0xFFFFFFFFFFFF:012x}"


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    recipient: str,
    idempotency_key: str,
    payload: dict[str, Any],
    due_at: datetime,
    domain: str,
    requested: bool = False,
    subscriber_id: int | None = None,
) -> bool:
    """Queue one message; True when inserted, False when the key was already queued."""
    values = {
        "idempotency_key": idempotency_key,
        "message_id": new_message_id(domain),
        "kind": kind,
        "requested": requested,
        "recipient": recipient,
        "recipient_hash": address_hash(recipient),
        "subscriber_id": subscriber_id,
        "payload": payload,
        "state": OutboxState.PENDING,
        "due_at": due_at,
        "attempts": 0,
    }
    statement = insert_or_ignore(session, OutboxMessage, keys=["idempotency_key"])
    result = await session.execute(statement.values(**values))
    return bool(getattr(result, "rowcount", 0))


@dataclass(slots=True)  # not frozen: the planner makes one per digest, in a third the time
class Queued:
    """One message for `enqueue_many`; `recipient_hash` is `address_hash(recipient)`, given
    when the caller has it already (the planner, which checked it against suppressions)."""

    kind: str
    recipient: str
    idempotency_key: str
    payload: dict[str, Any]
    due_at: datetime
    subscriber_id: int | None = None
    recipient_hash: str | None = None


async def enqueue_many(
    connection: AsyncConnection, messages: Sequence[Queued], *, domain: str
) -> set[str]:
    """Queue many messages (the planner's digests) with INSERT ... ON CONFLICT DO NOTHING
    RETURNING (`db.bulk.insert_rows`: the batch as arrays on PostgreSQL, multi-row VALUES
    through the driver on SQLite), not an executemany whose every value SQLAlchemy
    processes in Python. Returns the idempotency keys actually inserted, so the
    caller counts as sent only what it queued. Payloads are encoded by `encode_payload`."""
    if not messages:
        return set()
    created = utcnow()
    # One read of the system's randomness for the batch, not one per message.
    randomness = secrets.token_hex(10 * len(messages))
    prefix = _time_prefix(created)
    rows = [
        (
            message.idempotency_key,
            f"<{prefix}{randomness[20 * k : 20 * k + 20]}@{domain}>",  # new_message_id's form
            message.kind,
            False,
            message.recipient,
            message.recipient_hash or address_hash(message.recipient),
            message.subscriber_id,
            encode_payload(message.payload),
            OutboxState.PENDING.value,
            message.due_at,
            0,
            created,
        )
        for k, message in enumerate(messages)
    ]
    inserted = await insert_rows(
        connection,
        outbox,
        _ENQUEUED,
        rows,
        keys=["idempotency_key"],
        returning="idempotency_key",
        encoded=("payload",),
    )
    return set(inserted)


def encode_payload(payload: dict[str, Any]) -> str:
    """A payload as the JSON text stored, by orjson: the same JSON value `json.dumps`
    writes (keys coerced to strings as it does), without its spaces and `\\u` escapes, in
    a twentieth of its time (the planner encodes a few kilobytes per digest). Keys are
    strings in every payload clippost writes: orjson's `OPT_NON_STR_KEYS`, which checks
    every key's type (a fifth of the encoding), is only taken when one is not."""
    try:
        return orjson.dumps(payload).decode()
    except orjson.JSONEncodeError:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()


_ENQUEUED = (
    "idempotency_key",
    "message_id",
    "kind",
    "requested",
    "recipient",
    "recipient_hash",
    "subscriber_id",
    "payload",
    "state",
    "due_at",
    "attempts",
    "created_at",
)


# A cancelled digest's key with `:obsolete:<id>` appended (`digest:7:2026-11-23T06:00Z:
# obsolete:4012`; ids never repeat): the slot's key is free again, so a reader who comes
# back, or whose digest is planned again under new preferences, can have that slot planned.
FREED_KEY = outbox.c.idempotency_key + literal(":obsolete:") + cast(outbox.c.id, String)

# Built once: the unsubscribe group commit runs it for every batch, and a prebuilt statement
# skips SQLAlchemy's per-call construction and cache-key work. Expanding IN takes any length.
_NOW = bindparam("now", type_=outbox.c.finished_at.type)
# A row leased to a worker is being sent right now and cannot be called back; the worker's
# result decides it. Everything else still waiting (a lapsed lease included) is cancelled.
_CANCEL_QUEUED = (
    update(outbox)
    .where(
        outbox.c.subscriber_id.in_(bindparam("ids", expanding=True)),
        outbox.c.state == OutboxState.PENDING.value,
        outbox.c.kind.in_(bindparam("kinds", expanding=True)),
        or_(outbox.c.lease_expires_at.is_(None), outbox.c.lease_expires_at < _NOW),
    )
    .values(
        state=OutboxState.CANCELLED.value,
        last_error=bindparam("reason"),
        finished_at=_NOW,
        idempotency_key=FREED_KEY,
    )
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
    (ix_outbox_subscriber_id finds the rows); returns how many rows it cancelled.
    Synchronous, for the unsubscribe group commit."""
    if not subscriber_ids:
        return 0
    values = {"ids": sorted(subscriber_ids), "kinds": list(kinds), "reason": reason, "now": now}
    result = connection.execute(_CANCEL_QUEUED, values)
    return int(result.rowcount)


async def settle_suppressed_addresses(
    executor: AsyncConnection | AsyncSession,
    address_hashes: Collection[str],
    reason: str,
    *,
    now: datetime,
) -> int:
    """Every pending, unleased row for these addresses becomes `suppressed` now, as its
    claim would make it (a bounce, a complaint: nothing more goes there). A row a worker
    holds right now is left to it: its next claim-time check stops it if it comes back.
    Returns how many rows it settled."""
    result = await executor.execute(
        update(outbox)
        .where(
            outbox.c.recipient_hash.in_(sorted(address_hashes)),
            outbox.c.state == OutboxState.PENDING.value,
            outbox.c.lease_owner.is_(None) | (outbox.c.lease_expires_at < now),
        )
        .values(
            state=OutboxState.SUPPRESSED.value,
            last_error=f"recipient suppressed ({reason})",
            lease_owner=None,
            lease_expires_at=None,
            finished_at=now,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


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


async def sent_digests(
    session: AsyncSession, subscriber_id: int
) -> list[tuple[datetime, datetime | None, dict[str, Any]]]:
    """The reader's sent digests, oldest first: when each was due and sent, and its stored
    payload (what it held). Through `ix_outbox_subscriber_id`: the reader's rows only."""
    found = await session.execute(
        select(outbox.c.due_at, outbox.c.finished_at, outbox.c.payload)
        .where(
            outbox.c.subscriber_id == subscriber_id,
            outbox.c.kind == "digest",
            outbox.c.state == OutboxState.SENT,
        )
        .order_by(outbox.c.due_at, outbox.c.id)
    )
    return [(row.due_at, row.finished_at, row.payload) for row in found]


@dataclass(frozen=True, slots=True)
class PlannedDigest:
    """A reader's digest waiting in the outbox, as the renderer reads it."""

    id: int
    message_id: str
    kind: str
    recipient: str
    subscriber_id: int | None
    payload: dict[str, Any]
    due_at: datetime
    idempotency_key: str


async def next_planned_digest(session: AsyncSession, subscriber_id: int) -> PlannedDigest | None:
    """The reader's earliest pending digest, if one is planned (`clippost preview`)."""
    found = (
        await session.execute(
            select(
                outbox.c.id,
                outbox.c.message_id,
                outbox.c.kind,
                outbox.c.recipient,
                outbox.c.subscriber_id,
                outbox.c.payload,
                outbox.c.due_at,
                outbox.c.idempotency_key,
            )
            .where(
                outbox.c.subscriber_id == subscriber_id,
                outbox.c.kind == "digest",
                outbox.c.state == OutboxState.PENDING.value,
            )
            .order_by(outbox.c.due_at)
            .limit(1)
        )
    ).first()
    return None if found is None else PlannedDigest(*tuple(found))


async def pending_due(db: Database, *, due_by: datetime) -> int:
    """How many pending rows are due by `due_by` (leased or not)."""
    async with db.sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(outbox).where(IS_PENDING, outbox.c.due_at <= due_by)
        )
    return int(found or 0)


async def stats(db: Database, *, now: datetime) -> OutboxStats:
    """Outbox rows by state, what is due and what is leased now."""
    async with db.sessions() as session:
        states = await session.execute(
            select(outbox.c.state, func.count()).group_by(outbox.c.state)
        )
        by_state: dict[str, int] = {row[0]: row[1] for row in states}
        leased = await session.scalar(
            select(func.count())
            .select_from(outbox)
            .where(IS_PENDING, outbox.c.lease_expires_at >= now)
        )
    return OutboxStats(
        by_state=by_state,
        due_now=await pending_due(db, due_by=now),
        leased=int(leased or 0),
    )
