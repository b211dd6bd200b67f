"""`Database.read`: the sessions pages read with never wait for a writer (both databases)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

import factories
from clippost.db.engine import Database
from clippost.models import Subscriber


async def _count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Subscriber)) or 0)


class TestRead:
    async def test_a_read_does_not_wait_for_an_open_write(self, database: Database) -> None:
        """While a write transaction is open (the write lock held), a read answers at once,
        from the last committed state."""
        async with database.transaction() as session:
            await factories.add_pending_reader(session, email="before@example.org")
        async with database.transaction() as session:
            await factories.add_pending_reader(session, email="during@example.org")
            seen = await asyncio.wait_for(_count(database), timeout=5)
        assert seen == 1
        assert await _count(database) == 2

    async def test_a_read_cannot_write(self, database: Database) -> None:
        """A read session refuses to change anything."""
        with pytest.raises(DBAPIError):
            async with database.read() as session:
                await session.execute(text("DELETE FROM subscribers"))

    async def test_a_read_sees_one_snapshot(self, database: Database) -> None:
        """Two statements of one read see the same state, whatever commits between them."""
        async with database.read() as session:
            first = await session.scalar(select(func.count()).select_from(Subscriber))
            async with database.transaction() as writer:
                await factories.add_pending_reader(writer, email="later@example.org")
            second = await session.scalar(select(func.count()).select_from(Subscriber))
        assert first == second == 0
