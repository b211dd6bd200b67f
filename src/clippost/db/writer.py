"""The writer thread of a SQLite file: this process's write transactions, one at a time,
in the order they came (db/engine.py's `Database` uses it).

Whole transactions run on one thread with a synchronous sqlite3 connection: one round
trip to the thread per transaction, where aiosqlite makes three or four per statement
(cursor, execute, fetch, close), each paid on the event loop and often spent waiting for
the GIL.

The thread is also the process's write lock. Its queue is FIFO and it takes the next
transaction the moment one commits, without the event loop: measured under attack
(bench/web.py), an asyncio lock held around each trip to the thread was held until the
loop came round to the caller again, 14 ms a write at the median for 1 ms of SQLite's
lock, and the bystander's writes queued behind the floods' for 60 ms at the median and
over a second at worst. A transaction that runs elsewhere (through aiosqlite, on the event
loop: `Database.transaction()`) keeps its place by `reserved()`: a job that holds the
thread until the transaction ends. Other processes wait in BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

T = TypeVar("T")
# Service code for `Database.write`: given the transaction's session, never commits.
Work = Callable[[AsyncSession], Awaitable[T]]


class SqliteWriter:
    """Runs write transactions on one thread, on `engine` (synchronous, configured)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clippost-sqlite")
        # The thread's own event loop, made there by the first `run_work`: service code is
        # async, but on the synchronous connection it never waits on it.
        self._loop: asyncio.AbstractEventLoop | None = None
        # Seconds the last transaction kept the thread (a long job sizes its turns by it).
        self.last_hold = 0.0

    async def run(self, write: Callable[[Connection], None]) -> None:
        await self._on_thread(self._timed(self._commit), write)

    async def run_work(self, work: Work[T]) -> T:
        return await self._on_thread(self._timed(self._run_work), work)

    @contextlib.asynccontextmanager
    async def reserved(self) -> AsyncIterator[None]:
        """The thread kept from every other write while the block runs (in its turn)."""
        loop = asyncio.get_running_loop()
        entered: asyncio.Future[None] = loop.create_future()
        done = threading.Event()

        def hold() -> None:
            began = time.perf_counter()
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_resolve, entered)
            done.wait()
            self.last_hold = time.perf_counter() - began

        loop.run_in_executor(self._thread, hold)
        try:
            await entered
            yield
        finally:
            done.set()  # also when cancelled before its turn: the job then ends at once

    async def _on_thread(self, call: Callable[[Any], T], argument: Any) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._thread, call, argument)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # A thread cannot be interrupted: let the transaction end (commit or roll back)
            # before the caller goes.
            await asyncio.wait([future])
            raise

    def _timed(self, call: Callable[[Any], T]) -> Callable[[Any], T]:
        def timed(argument: Any) -> T:
            began = time.perf_counter()
            try:
                return call(argument)
            finally:
                self.last_hold = time.perf_counter() - began

        return timed

    def _commit(self, write: Callable[[Connection], None]) -> None:
        with self.engine.begin() as connection:
            write(connection)

    def _run_work(self, work: Work[T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._in_session(work))

    async def _in_session(self, work: Work[T]) -> T:
        # An AsyncSession over a synchronous Session: every statement runs at once on this
        # thread's connection (SQLAlchemy's greenlet bridge never has to wait for a driver).
        engine = self.engine

        def bound(**options: Any) -> Session:
            options.pop("bind", None)
            options.pop("binds", None)
            return Session(engine, **options)

        session = AsyncSession(
            sync_session_class=cast(type[Session], bound), expire_on_commit=False
        )
        async with session, session.begin():
            return await work(session)

    def dispose(self) -> None:
        if self._loop is not None:
            self._thread.submit(self._loop.close).result()
        self._thread.shutdown(wait=True)
        self.engine.dispose()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # its caller was cancelled meanwhile
        future.set_result(None)
