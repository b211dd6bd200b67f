"""Keyword-only builders for what tests make again and again: settings, service contexts,
readers in each state, libraries, pending imports, transports built by hand.

Imported as `factories` (pytest puts tests/ on the path). Each builder writes through the
real code or the real schema; nothing here is a mock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from clippost.addresses import address_hash
from clippost.config import Settings
from clippost.db.engine import Database
from clippost.models import OutboxMessage, Suppression
from clippost.outbox.repository import enqueue

# What a transport built by hand takes from Settings besides its own prefix.
_HTTP_TIMEOUT = ("ses_", "postmark_", "sendgrid_")


def transport_options(prefix: str, **overrides: Any) -> dict[str, Any]:
    """Settings' own defaults for one transport's constructor (`smtp_pool_size` becomes
    `pool_size`), with `overrides`: transports take no defaults of their own."""
    options: dict[str, Any] = {
        name.removeprefix(prefix): field.default
        for name, field in Settings.model_fields.items()
        if name.startswith(prefix)
    }
    if prefix in _HTTP_TIMEOUT:
        options["timeout"] = Settings.model_fields["http_timeout"].default
    options.update(overrides)
    return options


# Outbox rows and suppressions -------------------------------------------------------------


async def queue_messages(
    db: Database,
    *,
    count: int = 1,
    kind: str = "digest",
    recipient: str = "reader{i}@example.org",
    requested: bool = False,
    due_at: datetime,
    prefix: str = "k",
    payload: dict[str, Any] | None = None,
    domain: str = "clippost.test",
) -> None:
    """`count` outbox rows through `enqueue`, keyed `{prefix}{i}`, to `recipient` formatted
    with `i`; the payload defaults to `{"n": i}`."""
    async with db.transaction() as session:
        for i in range(count):
            await enqueue(
                session,
                kind=kind,
                recipient=recipient.format(i=i),
                idempotency_key=f"{prefix}{i}",
                payload={"n": i} if payload is None else payload,
                due_at=due_at,
                domain=domain,
                requested=requested,
            )


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    """Every outbox row, in insertion order."""
    async with db.sessions() as session:
        found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.all())


async def add_suppression(db: Database, *, email: str, reason: str) -> None:
    """A suppression row for `email`, as if the address had bounced or left."""
    async with db.transaction() as session:
        session.add(Suppression(address_hash=address_hash(email), reason=reason))
