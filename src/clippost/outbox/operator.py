"""The operator's side of the outbox: find rows, look at one, retry a failed one, cancel a
pending one. `clippost outbox` and the operator page call these.

A retry puts a failed row back in the queue as if it had just been queued: pending, due at
the time given, attempts reset and its queueing time set to now (the retry policy's
deadline counts from there: an old row would otherwise fail at its first hiccup), its
Message-ID kept (a receiver that got it before sees the same message). Its reason stays in
`last_error` until the next attempt replaces it. Whatever the row's address has become since,
the claim checks it again (a bounce or an unsubscribe since then stops it, invariant 10).

A cancel finalises a pending row that no worker holds. A row under a live lease is being
sent right now: cancelling it could record as cancelled a message that went, so it is
refused, and the operator tries again once the lease is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.addresses import address_hash, normalise_email
from clippost.models import OutboxState
from clippost.outbox.repository import outbox

# What a list shows at most, whatever is asked: a page, not a dump of the history.
MAX_LIMIT = 1000
OPERATOR_CANCEL = "cancelled by the operator"


@dataclass(frozen=True, slots=True)
class Filters:
    state: str | None = None
    kind: str | None = None
    address: str | None = None
    reason: str | None = None  # a part of the last error, in any case
    older_than: datetime | None = None  # queued before this moment
    newer_than: datetime | None = None  # queued after this moment
    retrying: bool = False  # pending rows that failed at least once (waiting to try again)
    limit: int = 50


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    kind: str
    state: str
    recipient: str
    message_id: str
    attempts: int
    due_at: datetime
    created_at: datetime
    finished_at: datetime | None
    last_error: str | None
    provider_id: str | None
    leased_until: datetime | None


# What became of one row's retry or cancel, by code (the operator page passes the code).
NOTES = {
    "retried": "queued again",
    "cancelled": "cancelled",
    "missing": "no such message",
    "in-flight": "being sent right now; try again in a few minutes",
    **{f"is-{state.value}": f"it is {state.value}" for state in OutboxState},
}


@dataclass(frozen=True, slots=True)
class Change:
    """What a retry or a cancel did to one row: `done`, or why not (`code`, in NOTES)."""

    id: int
    done: bool
    code: str

    @property
    def note(self) -> str:
        return NOTES[self.code]


_COLUMNS = (
    outbox.c.id,
    outbox.c.kind,
    outbox.c.state,
    outbox.c.recipient,
    outbox.c.message_id,
    outbox.c.attempts,
    outbox.c.due_at,
    outbox.c.created_at,
    outbox.c.finished_at,
    outbox.c.last_error,
    outbox.c.provider_id,
    outbox.c.lease_expires_at,
)


async def find(session: AsyncSession, filters: Filters) -> list[OutboxRow]:
    """Rows matching every filter given, newest first."""
    query = select(*_COLUMNS).where(*_conditions(filters)).order_by(outbox.c.id.desc())
    limit = max(1, min(filters.limit, MAX_LIMIT))
    found = await session.execute(query.limit(limit))
    return [_row(row) for row in found]


def _conditions(filters: Filters) -> list[Any]:
    conditions: list[Any] = []
    if filters.state:
        conditions.append(outbox.c.state == filters.state)
    if filters.kind:
        conditions.append(outbox.c.kind == filters.kind)
    if filters.address:
        # By hash: ix_outbox_recipient_hash, and a scrubbed row has no address left to match.
        hashed = address_hash(normalise_email(filters.address))
        conditions.append(outbox.c.recipient_hash == hashed)
    if filters.reason:
        conditions.append(func.lower(outbox.c.last_error).contains(filters.reason.lower()))
    if filters.retrying:
        conditions.append(outbox.c.state == OutboxState.PENDING.value)
        conditions.append(outbox.c.last_error.is_not(None))
    if filters.older_than is not None:
        conditions.append(outbox.c.created_at < filters.older_than)
    if filters.newer_than is not None:
        conditions.append(outbox.c.created_at > filters.newer_than)
    return conditions


async def get(session: AsyncSession, row_id: int) -> OutboxRow | None:
    found = (await session.execute(select(*_COLUMNS).where(outbox.c.id == row_id))).first()
    return _row(found) if found is not None else None


async def retry(
    session: AsyncSession, ids: Sequence[int], *, due_at: datetime, now: datetime
) -> list[Change]:
    """Put each failed row back in the queue, due at `due_at`."""
    changes = []
    for row_id in ids:
        result = await session.execute(
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.state == OutboxState.FAILED.value)
            .values(
                state=OutboxState.PENDING.value,
                due_at=due_at,
                attempts=0,
                created_at=now,
                finished_at=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )
        changes.append(await _change(session, row_id, _count(result), "retried"))
    return changes


async def cancel(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> list[Change]:
    """Cancel each pending row no worker holds now."""
    changes = []
    for row_id in ids:
        result = await session.execute(
            update(outbox)
            .where(
                outbox.c.id == row_id,
                outbox.c.state == OutboxState.PENDING.value,
                outbox.c.lease_owner.is_(None) | (outbox.c.lease_expires_at < now),
            )
            .values(
                state=OutboxState.CANCELLED.value,
                last_error=OPERATOR_CANCEL,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
            )
        )
        changes.append(await _change(session, row_id, _count(result), "cancelled"))
    return changes


async def _change(session: AsyncSession, row_id: int, rowcount: int, did: str) -> Change:
    if rowcount:
        return Change(row_id, True, did)
    row = await get(session, row_id)
    if row is None:
        return Change(row_id, False, "missing")
    if row.state == OutboxState.PENDING.value and did == "cancelled":
        return Change(row_id, False, "in-flight")
    return Change(row_id, False, f"is-{row.state}")


def _row(row: Any) -> OutboxRow:
    return OutboxRow(*tuple(row))


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
