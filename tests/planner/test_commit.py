"""The planner's transactions commit without waiting for their WAL flush, on PostgreSQL
only, and no other transaction does (docs/architecture.md, "Planning and selection")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import OutboxMessage
from clippost.outbox.repository import enqueue
from clippost.planner.service import plan_due
from factories import add_reader, service_context

SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
# Each outbox row inserted notes the synchronous_commit of the transaction inserting it.
_NOTE = (
    "CREATE FUNCTION note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.last_error := current_setting('synchronous_commit'); RETURN NEW; END $$",
    "CREATE TRIGGER note_commit_mode BEFORE INSERT ON outbox "
    "FOR EACH ROW EXECUTE FUNCTION note_commit_mode()",
)
_UNNOTE = (
    "DROP TRIGGER IF EXISTS note_commit_mode ON outbox",
    "DROP FUNCTION IF EXISTS note_commit_mode()",
)


@pytest.fixture
async def one_connection(database: Database, database_url: str) -> AsyncIterator[Database]:
    """A Database of one pooled connection (every transaction after the planner's reuses
    the connection it planned on) over a PostgreSQL database whose outbox notes each
    row's commit mode."""
    if database.dialect != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's; SQLite's commits are unchanged")
    for statement in _NOTE:
        async with database.transaction() as session:
            await session.execute(text(statement))
    db = Database(normalise_database_url(database_url), pool_size=1)
    try:
        yield db
    finally:
        await db.dispose()
        for statement in _UNNOTE:
            async with database.transaction() as session:
                await session.execute(text(statement))


async def modes(db: Database) -> dict[str, str | None]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.last_error).order_by(OutboxMessage.id)
        )
        return {row.kind: row.last_error for row in rows}


class TestAsynchronousCommit:
    async def test_only_the_planners_transaction_commits_without_flush(
        self, one_connection: Database, settings: Settings
    ) -> None:
        """The planner's digests are written with synchronous_commit off; the next
        transaction on the same connection (a message queued by a request) has it on."""
        await add_reader(one_connection, next_slot_at=SLOT)
        assert await plan_due(one_connection, service_context(settings, now=SLOT)) == 1
        async with one_connection.transaction() as session:
            await enqueue(
                session,
                kind="confirm",
                recipient="someone@example.org",
                idempotency_key="confirm:after-the-planner",
                payload={},
                due_at=SLOT,
                domain="example.org",
            )
        assert await modes(one_connection) == {"digest": "off", "confirm": "on"}
