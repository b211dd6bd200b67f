"""Bulk writes (`db.bulk`): a batch bound as a few parameters stores exactly what the same
values stored row by row do, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from clippost.db.bulk import update_rows
from clippost.db.engine import Database
from clippost.outbox.repository import Queued, enqueue, enqueue_many, outbox
from factories import outbox_rows, queue_messages

NOW = datetime(2026, 11, 23, 7, 0, 0, 123456, tzinfo=UTC)
# Quotes, backslashes, non-ASCII and a character outside the BMP: what JSON escaping and
# SQL quoting could get wrong.
AWKWARD = 'It\'s "quoted", back\\slashed, café, 日本語, 😀'
PAYLOAD: dict[str, Any] = {"v": 2, "text": AWKWARD, "list": [1, None, True], "nested": {}}


def _queued(i: int, *, payload: dict[str, Any] = PAYLOAD) -> Queued:
    return Queued(
        kind="digest",
        recipient=f"reader{i}@example.org",
        idempotency_key=f"bulk{i}",
        payload=payload,
        due_at=NOW + timedelta(minutes=i),
        subscriber_id=None,
    )


async def _raw(connection: AsyncConnection, column: str) -> list[Any]:
    """The column as the database holds it, in id order (text on SQLite)."""
    rows = await connection.exec_driver_sql(f"SELECT {column} FROM outbox ORDER BY id")  # noqa: S608
    return [value for (value,) in rows]


class TestEnqueueMany:
    async def test_stores_what_enqueue_stores(self, database: Database) -> None:
        """A row queued in bulk holds, column by column and as stored, what `enqueue` writes."""
        async with database.transaction() as session:
            await enqueue(
                session,
                kind="digest",
                recipient="reader0@example.org",
                idempotency_key="one0",
                payload=PAYLOAD,
                due_at=NOW,
                domain="clippost.test",
            )
            await enqueue_many(await session.connection(), [_queued(0)], domain="clippost.test")
        single, bulk = await outbox_rows(database)
        for name in ("kind", "requested", "recipient", "recipient_hash", "payload", "state"):
            assert getattr(bulk, name) == getattr(single, name), name
        assert (bulk.due_at, bulk.attempts, bulk.lease_owner) == (NOW, 0, None)
        assert bulk.message_id.endswith("@clippost.test>")
        async with database.engine.connect() as connection:
            for column in ("due_at", "requested"):
                stored = await _raw(connection, column)
                assert stored[0] == stored[1], column
            # The bulk payload is encoded by orjson: the same JSON value as the column
            # type's json.dumps, written without its spaces and escapes.
            single_text, bulk_text = await _raw(connection, "CAST(payload AS TEXT)")
            assert json.loads(bulk_text) == json.loads(single_text) == PAYLOAD
            assert "café, 日本語, 😀" in bulk_text  # as UTF-8, not \\u escapes

    async def test_columns_equal_in_every_row_are_stored_in_each(self, database: Database) -> None:
        """Batches whose rows share a due time (bound once on PostgreSQL) and differ in
        their payloads: every row holds its batch's shared value (the second batch's own,
        not the first one's from the cached statement) and its own payload."""
        later = NOW + timedelta(hours=1)
        for due, numbers in ((NOW, range(3)), (later, range(3, 6))):
            messages = [
                replace(_queued(i, payload={**PAYLOAD, "n": i}), due_at=due) for i in numbers
            ]
            async with database.transaction() as session:
                await enqueue_many(await session.connection(), messages, domain="clippost.test")
        rows = await outbox_rows(database)
        assert [(r.due_at, r.payload["n"], r.recipient) for r in rows] == [
            (NOW if i < 3 else later, i, f"reader{i}@example.org") for i in range(6)
        ]
        assert {(r.kind, r.state, r.attempts, r.requested) for r in rows} == {
            ("digest", "pending", 0, False)
        }

    async def test_returns_only_the_keys_it_inserted(self, database: Database) -> None:
        """A key already queued is left as it was and not returned."""
        await queue_messages(database, count=1, due_at=NOW, prefix="bulk", payload={"old": 1})
        async with database.transaction() as session:
            queued = await enqueue_many(
                await session.connection(), [_queued(0), _queued(1)], domain="clippost.test"
            )
        assert queued == {"bulk1"}
        assert [row.payload for row in await outbox_rows(database)] == [{"old": 1}, PAYLOAD]

    async def test_more_rows_than_one_statement_binds(self, database: Database) -> None:
        """A batch past SQLite's parameter limit for one statement is queued whole, in order."""
        messages = [_queued(i, payload={"n": i}) for i in range(500)]
        async with database.transaction() as session:
            queued = await enqueue_many(
                await session.connection(), messages, domain="clippost.test"
            )
        assert len(queued) == 500
        rows = await outbox_rows(database)
        assert [row.payload for row in rows] == [{"n": i} for i in range(500)]
        assert [row.due_at for row in rows] == [message.due_at for message in messages]


class TestUpdateRows:
    async def test_per_row_values_as_a_plain_update_stores_them(self, database: Database) -> None:
        """Per-row strings, datetimes and NULLs are stored as an UPDATE of each row stores
        them, only on the rows that match `where`, and counted."""
        await queue_messages(database, count=4, due_at=NOW)
        table: Table = outbox
        errors = [AWKWARD, None, "plain", AWKWARD + "!"]
        moments = [NOW + timedelta(seconds=i, microseconds=i) for i in range(4)]
        async with database.transaction() as session:
            connection = await session.connection()
            ids = list((await connection.scalars(select(table.c.id).order_by(table.c.id))).all())
            updated = await update_rows(
                connection,
                table,
                ids[:3],
                where=table.c.id != ids[2],
                shared={"attempts": table.c.attempts + 1},
                per_row={"last_error": errors[:3], "finished_at": moments[:3]},
            )
            # The reference: the fourth row written by a plain UPDATE of its own.
            await connection.execute(
                update(table)
                .where(true(), table.c.id == ids[3])
                .values(last_error=errors[3], finished_at=moments[3], attempts=1)
            )
        assert updated == 2
        rows = await outbox_rows(database)
        assert [row.last_error for row in rows] == [AWKWARD, None, None, AWKWARD + "!"]
        assert [row.finished_at for row in rows] == [moments[0], moments[1], None, moments[3]]
        assert [row.attempts for row in rows] == [1, 1, 0, 1]
        async with database.engine.connect() as connection:
            stored = await _raw(connection, "finished_at")
            types = await _raw(connection, "typeof(finished_at)") if database.is_sqlite else []
        assert types in ([], ["text", "text", "null", "text"])
        assert stored[0] is not None
        assert type(stored[0]) is type(stored[3])
