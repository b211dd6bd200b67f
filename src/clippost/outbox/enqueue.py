"""Writing an outbox row: the only way anything in clippost asks for an email to be sent.

Called inside the caller's transaction, so the state change and its message commit
together or not at all (invariant 1). The idempotency key is UNIQUE: enqueueing the same
logical message twice (a planner re-run, a double click) inserts nothing the second time.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.addresses import address_hash
from clippost.models import OutboxMessage, OutboxState


def new_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


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
    statement = _insert_ignoring_duplicates(session).values(**values)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        return pg_insert(OutboxMessage).on_conflict_do_nothing(index_elements=["idempotency_key"])
    if dialect == "sqlite":
        return sqlite_insert(OutboxMessage).on_conflict_do_nothing(
            index_elements=["idempotency_key"]
        )
    return insert(OutboxMessage)
