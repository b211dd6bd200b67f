"""The planner's claim reads the readers due through their slot index on SQLite, never a
scan of every reader, even with the statistics ANALYZE takes while every reader shares
one slot (what SQLite then estimates for `next_slot_at IS NULL` is that whole slot)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, event, insert, text

from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import Subscriber
from clippost.planner import repository as repo

SLOT = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
READERS = 400


async def _readers_on_one_slot(database: Database) -> None:
    rows = [
        {
            "email": f"r{n}@example.org",
            "status": "confirmed",
            "cadence": "daily",
            "hour": 7,
            "timezone": "Europe/Paris",
            "per_email": 3,
            "next_slot_at": SLOT,
        }
        for n in range(READERS)
    ]
    async with database.transaction() as session:
        await session.execute(insert(Subscriber), rows)
        await session.execute(text("ANALYZE"))


async def _plans(database: Database, statements: list[str]) -> list[str]:
    async with database.read() as session:
        connection = await session.connection()
        return [
            " ".join(
                str(row[-1])
                for row in await connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            )
            for statement, parameters in statements
        ]


@pytest.fixture
async def database(sqlite_url: str) -> AsyncIterator[Database]:
    """SQLite only: PostgreSQL's estimate for IS NULL is the column's null fraction, and
    bench/plan.py's breakdown shows its claim at a few microseconds a reader."""
    db = Database(normalise_database_url(sqlite_url))
    yield db
    await db.dispose()


async def test_the_claim_reads_the_slot_index_after_analyze(database: Database) -> None:
    """Both claim statements search `ix_subscribers_status_next_slot_at`; the same never-
    planned query without its ORDER BY scans every reader in this setting (so the check
    sees the scan it guards against)."""
    await _readers_on_one_slot(database)
    seen: list[tuple[str, tuple[object, ...]]] = []

    def record(_c: Connection, _cur: object, statement: str, params: object, *_: object) -> None:
        seen.append((statement, tuple(params)))  # type: ignore[arg-type]

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with database.transaction() as session:
            connection = await session.connection()
            claimed = await repo.claim(connection, horizon=SLOT, limit=50)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert len(claimed) == 50
    claims = [(s, p) for s, p in seen if s.lstrip().startswith("SELECT")]
    assert len(claims) == 2  # the never-planned readers (none), then the due ones
    for plan in await _plans(database, claims):
        assert "ix_subscribers_status_next_slot_at" in plan, plan
        assert "SCAN subscribers" not in plan, plan
    unhinted = claims[0][0].replace(" ORDER BY subscribers.next_slot_at", "")
    assert unhinted != claims[0][0]
    [plan] = await _plans(database, [(unhinted, claims[0][1])])
    assert "SCAN subscribers" in plan
