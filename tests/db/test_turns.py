"""Turns at a SQLite file's write lock between processes (db/turns.py): a long job that
gives way between its transactions lets another process's queued writer go first, for a
bounded time; on PostgreSQL nothing waits."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine.url import make_url

import factories
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.turns import WriteTurns
from clippost.models import Subscriber

# Another process: one write through `Database.write` (the web's path), announced by a
# line just before; then, with "hold", a transaction kept open until the process is killed.
_WRITER = """
import asyncio, sys
import factories
from clippost.db.engine import Database

async def main(url, email, hold):
    db = Database(url)
    print("writing", flush=True)
    await db.write(lambda session: factories.add_pending_reader(session, email=email))
    print("written", flush=True)
    if hold == "hold":
        async with db.transaction() as session:
            await factories.add_pending_reader(session, email="holder@example.org")
            print("holding", flush=True)
            await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""


@contextmanager
def _writer(url: str, email: str, *, hold: bool = False) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, email, "hold" if hold else "once"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(factories.__file__).parent)},
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


async def _line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    return (await asyncio.to_thread(child.stdout.readline)).strip()


async def _readers(db: Database, email: str) -> int:
    async with db.read() as session:
        query = select(func.count()).select_from(Subscriber).where(Subscriber.email == email)
        return int(await session.scalar(query) or 0)


async def _announced(pid: int, path: Path, *, within: float = 30.0) -> None:
    """Until process `pid` holds a flock on `path` (Linux's /proc/locks names its holder)."""
    inode = f":{path.stat().st_ino} " if path.exists() else None
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if inode is None and path.exists():
            inode = f":{path.stat().st_ino} "
        locks = Path("/proc/locks").read_text()
        if inode and any(
            "FLOCK" in line and f" {pid} " in line and inode in line for line in locks.splitlines()
        ):
            await asyncio.sleep(0.05)  # and is in the busy handler by now
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} never announced its writer on {path}")


def _turns(db: Database) -> WriteTurns:
    return WriteTurns(Path(make_url(db.url).database or ""))


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(normalise_database_url(sqlite_url))
    yield db
    await db.dispose()


class TestGiveWay:
    async def test_another_processs_queued_writer_goes_first(self, sqlite_db: Database) -> None:
        """A writer of another process that queued while the job held the lock has
        committed by the time `give_way` returns, before the job's next transaction."""
        with _writer(sqlite_db.url, "bystander@example.org") as child:
            async with sqlite_db.transaction() as session:
                await factories.add_pending_reader(session, email="job@example.org")
                assert await _line(child) == "writing"
                # It waits in SQLite's busy handler, announced: its flock is held (a fixed
                # sleep raced the child's start-up on a loaded machine).
                await _announced(child.pid, _turns(sqlite_db).path)
                assert await _readers(sqlite_db, "bystander@example.org") == 0
            await sqlite_db.give_way()
            assert await _readers(sqlite_db, "bystander@example.org") == 1
            assert await _line(child) == "written"

    async def test_nobody_waiting_means_no_wait(self, sqlite_db: Database) -> None:
        """With no other writer queued the job goes on at once (it looks once)."""
        async with sqlite_db.transaction() as session:
            await factories.add_pending_reader(session, email="job@example.org")
        assert await sqlite_db.give_way() == pytest.approx(0.0, abs=0.05)

    async def test_the_wait_is_bounded(self, sqlite_db: Database) -> None:
        """A writer that never lets go (another process's transaction left open) holds a
        job up for at most one turn, not for good."""
        with _writer(sqlite_db.url, "first@example.org", hold=True) as child:
            assert [await _line(child) for _ in range(3)] == ["writing", "written", "holding"]
            turns = _turns(sqlite_db)
            began = time.perf_counter()
            waited = await turns.give_way(longest=0.3)
            assert waited >= 0.3
            assert time.perf_counter() - began < 5

    async def test_a_writer_is_seen_only_while_queued_or_running(self, sqlite_db: Database) -> None:
        """Another process is seen as a writer while its transaction is open, and not once
        it has ended (killed: the kernel drops its lock with it)."""
        turns = _turns(sqlite_db)
        assert not turns.others_waiting()
        with _writer(sqlite_db.url, "first@example.org", hold=True) as child:
            assert [await _line(child) for _ in range(3)] == ["writing", "written", "holding"]
            assert turns.others_waiting()
        assert not turns.others_waiting()


class TestWithoutALockToShare:
    async def test_postgresql_never_waits(self, postgres_database: Database) -> None:
        """Where writers lock rows (PostgreSQL), giving way returns at once."""
        async with postgres_database.transaction() as session:
            await factories.add_pending_reader(session, email="job@example.org")
        assert await postgres_database.give_way() == 0.0

    async def test_an_in_memory_database_never_waits(self) -> None:
        """A database only this process sees has no other process to give way to."""
        db = Database("sqlite+aiosqlite:///:memory:")
        try:
            assert await db.give_way() == 0.0
        finally:
            await db.dispose()
