"""`Database.write`: a write transaction run whole, on SQLite on the writer thread, so that a
busy event loop neither slows it nor keeps the write lock held."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import factories
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.errors import RateLimited
from clippost.models import Subscriber


async def _count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Subscriber)) or 0)


class TestWrite:
    async def test_what_the_work_writes_is_committed(self, database: Database) -> None:
        """The work's changes are committed when `write` returns, and its value returned."""

        async def work(session: AsyncSession) -> int:
            return await factories.add_pending_reader(session, email="a@example.org")

        reader_id = await database.write(work)
        assert reader_id > 0
        assert await _count(database) == 1

    async def test_a_refusal_rolls_back_and_is_raised(self, database: Database) -> None:
        """An exception from the work rolls its changes back and reaches the caller as is."""

        async def work(session: AsyncSession) -> None:
            await factories.add_pending_reader(session, email="a@example.org")
            raise RateLimited("too many")

        with pytest.raises(RateLimited, match="too many"):
            await database.write(work)
        assert await _count(database) == 0


class TestWriteOnSqlite:
    async def test_writes_are_serialised_with_transactions(self, sqlite_url: str) -> None:
        """A write waits for an open transaction (the write lock) and then sees its rows."""
        database = Database(normalise_database_url(sqlite_url))

        async def work(session: AsyncSession) -> int:
            return int(await session.scalar(select(func.count()).select_from(Subscriber)) or 0)

        try:
            async with database.transaction() as session:
                await factories.add_pending_reader(session, email="first@example.org")
                pending = asyncio.create_task(database.write(work))
                await asyncio.sleep(0.05)
                assert not pending.done()
            assert await pending == 1
        finally:
            await database.dispose()

    async def test_the_work_runs_on_the_writer_thread(self, sqlite_url: str) -> None:
        """On a SQLite file, the whole transaction runs on the database's writer thread."""
        db = Database(normalise_database_url(sqlite_url))
        seen: list[str] = []

        async def work(session: AsyncSession) -> None:
            seen.append(threading.current_thread().name)
            await factories.add_pending_reader(session, email="a@example.org")
            seen.append(threading.current_thread().name)

        try:
            await db.write(work)
            assert await _count(db) == 1
        finally:
            await db.dispose()
        assert seen
        assert all(name.startswith("clippost-sqlite") for name in seen)

    async def test_a_busy_event_loop_does_not_hold_the_transaction(self, sqlite_url: str) -> None:
        """Once started, the transaction ends without the event loop's help: a loop blocked
        meanwhile does not keep it (and the write lock) open."""
        db = Database(normalise_database_url(sqlite_url))
        ended: list[float] = []

        async def work(session: AsyncSession) -> None:
            for number in range(20):  # twenty statements, each a round trip through aiosqlite
                await factories.add_pending_reader(session, email=f"r{number}@example.org")
            ended.append(time.perf_counter())

        try:
            await db.write(work)  # the thread and its connection are warm from here on
            await db.write(lambda session: _delete_all(session))
            task = asyncio.create_task(db.write(work))
            await asyncio.sleep(0)  # the transaction is handed to the thread
            blocked_from = time.perf_counter()
            time.sleep(1.0)  # the event loop blocked, as by a long page render
            await task
            assert ended[-1] - blocked_from < 0.9
        finally:
            await db.dispose()

    async def test_queued_writes_follow_each_other_without_the_loop(self, sqlite_url: str) -> None:
        """Writes queued together begin one after another as each commits, on the writer
        thread: a blocked event loop does not hold the next one back (the write lock is
        not given on by the loop)."""
        db = Database(normalise_database_url(sqlite_url))
        began: list[float] = []

        def work(number: int) -> Callable[[AsyncSession], Awaitable[int]]:
            async def run(session: AsyncSession) -> int:
                began.append(time.perf_counter())
                return await factories.add_pending_reader(session, email=f"r{number}@example.org")

            return run

        try:
            await db.write(work(0))  # the thread and its connection are warm from here on
            tasks = [asyncio.create_task(db.write(work(n))) for n in range(1, 4)]
            await asyncio.sleep(0)  # each is handed to the thread
            time.sleep(1.0)  # the event loop blocked, as by a long page render
            unblocked = time.perf_counter()
            await asyncio.gather(*tasks)
            assert len(began) == 4
            assert all(start < unblocked for start in began)
            assert await _count(db) == 4
        finally:
            await db.dispose()


async def _delete_all(session: AsyncSession) -> None:
    for reader in (await session.scalars(select(Subscriber))).all():
        await session.delete(reader)
