"""Changes win until the email leaves: the planned digests a reader's change makes stale,
found and settled with set-based statements (the rule itself is `still_wanted`).

Two callers. The claim (`claims.claim`) re-checks every digest it has just leased against
its reader's row as it is now, in the claim's own transaction: one SELECT of the batch's
readers by primary key, the rule in Python (its slot arithmetic cached), and, only when
something is stale, one UPDATE for the stale rows and one for the readers to re-plan. The
manage side (`subscriptions.manage`) settles a reader's planned digests in the transaction
that saves their change, so the claim is the last line of defence.

A stale row is cancelled with the verdict's reason, and its idempotency key gets a suffix
(`:obsolete:<id>`): the slot's key is free again, so that when the reader still wants a
digest at that slot (`Verdict.replan`: fewer highlights, a different schedule that keeps
the slot) the planner can plan it once more. Re-planning is asked for by moving the reader's
`next_slot_at` back to the slot, never later than it already is: the planner's own rules
(lateness included) then decide. The UNIQUE key still allows one live digest per slot.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clippost.db.bulk import update_rows
from clippost.db.dialect import ids_match
from clippost.models import OutboxState, Subscriber, SubscriberStatus
from clippost.outbox.repository import FREED_KEY, outbox
from clippost.still_wanted import ReaderNow, Verdict, slot_of, verdict

_subscribers = cast(Table, Subscriber.__table__)

_READER_COLUMNS = (
    _subscribers.c.id,
    _subscribers.c.status,
    _subscribers.c.cadence,
    _subscribers.c.hour,
    _subscribers.c.weekday,
    _subscribers.c.day_of_month,
    _subscribers.c.timezone,
    _subscribers.c.per_email,
    _subscribers.c.paused_until,
)


@dataclass(slots=True)  # not frozen, as ClaimedMessage: a claim makes one per digest
class Planned:
    """A pending digest as the check reads it; `subscriber_id` None: its reader's row was
    deleted (erased), which sets the column to NULL. `slot`: `still_wanted.slot_of`."""

    id: int
    subscriber_id: int | None
    slot: datetime | None
    payload: Mapping[str, Any]

    @classmethod
    def of(
        cls, row_id: int, subscriber_id: int | None, key: str, payload: Mapping[str, Any]
    ) -> Planned:
        return cls(row_id, subscriber_id, slot_of(key, payload), payload)


def is_planned_digest(kind: str, idempotency_key: str) -> bool:
    """Whether a row is a digest the planner made for a reader (its key is
    `digest:<reader>:<slot>`), rather than one queued by hand with no reader to check."""
    return kind == "digest" and idempotency_key.startswith(_PLANNED)


_PLANNED = "digest:"


async def readers_now(
    connection: AsyncConnection, subscriber_ids: Collection[int]
) -> dict[int, ReaderNow]:
    """The rows of these readers that still exist, as the check reads them."""
    found: dict[int, ReaderNow] = {}
    query = select(*_READER_COLUMNS)
    for matched, params in ids_match(connection, _subscribers.c.id, sorted(subscriber_ids)):
        for row in await connection.execute(query.where(matched), params):
            found[row.id] = ReaderNow(*tuple(row)[1:])
    return found


async def settle_stale_claimed(
    connection: AsyncConnection, planned: Sequence[Planned], *, now: datetime
) -> set[int]:
    """Cancel the digests among `planned` (just leased by this transaction's claim) that
    their readers no longer want; returns their ids."""
    if not planned:
        return set()
    ids = {row.subscriber_id for row in planned if row.subscriber_id is not None}
    readers = await readers_now(connection, ids)
    stale = {row.id: found for row in planned if (found := _verdict(readers, row))}
    await settle(connection, [row for row in planned if row.id in stale], stale, now=now)
    return set(stale)


def _verdict(readers: Mapping[int, ReaderNow], row: Planned) -> Verdict | None:
    reader = None if row.subscriber_id is None else readers.get(row.subscriber_id)
    return verdict(reader, slot=row.slot, payload=row.payload)


async def planned_digests(
    session: AsyncSession, subscriber_id: int, *, now: datetime
) -> list[Planned]:
    """The reader's digests still waiting, not in a worker's hands right now (a row under a
    live lease is being sent: its email is leaving, and the worker's result decides it)."""
    found = await session.execute(
        select(
            outbox.c.id, outbox.c.subscriber_id, outbox.c.idempotency_key, outbox.c.payload
        ).where(
            outbox.c.subscriber_id == subscriber_id,
            outbox.c.kind == "digest",
            outbox.c.state == OutboxState.PENDING.value,
            or_(outbox.c.lease_expires_at.is_(None), outbox.c.lease_expires_at < now),
        )
    )
    return [Planned.of(*tuple(row)) for row in found]


_REPLAN = (
    update(_subscribers)
    .where(
        _subscribers.c.id == bindparam("reader", type_=Integer),
        _subscribers.c.status == SubscriberStatus.CONFIRMED.value,
        or_(
            _subscribers.c.next_slot_at.is_(None),
            _subscribers.c.next_slot_at > bindparam("slot", type_=_subscribers.c.next_slot_at.type),
        ),
    )
    .values(next_slot_at=bindparam("slot", type_=_subscribers.c.next_slot_at.type))
)


async def settle(
    connection: AsyncConnection,
    rows: Sequence[Planned],
    verdicts: Mapping[int, Verdict],
    *,
    now: datetime,
) -> int:
    """Cancel `rows` (still pending) with their verdicts' reasons, free their slots' keys
    and ask the planner to plan again the slots their readers still want; returns how many
    rows it cancelled."""
    if not rows:
        return 0
    ids = [row.id for row in rows]
    cancelled = await update_rows(
        connection,
        outbox,
        ids,
        where=outbox.c.state == OutboxState.PENDING.value,
        shared={
            "state": OutboxState.CANCELLED.value,
            "idempotency_key": FREED_KEY,
            "lease_owner": None,
            "lease_expires_at": None,
            "finished_at": now,
        },
        per_row={"last_error": [verdicts[row_id].reason for row_id in ids]},
    )
    earliest: dict[int, datetime] = {}
    for row in rows:
        if verdicts[row.id].replan and row.subscriber_id is not None and row.slot is not None:
            known = earliest.get(row.subscriber_id)
            earliest[row.subscriber_id] = row.slot if known is None else min(known, row.slot)
    if earliest:
        await connection.execute(
            _REPLAN, [{"reader": reader, "slot": slot} for reader, slot in earliest.items()]
        )
    return cancelled
