"""One `Database` per process: the engine, sessions, and the single unit of work that commits.

SQLite (embedded default) runs in WAL mode with a busy timeout, and every transaction starts
with `BEGIN IMMEDIATE`: writers are serialized by SQLite itself, so a read-then-write (a
claim, a rate-limit check) can never interleave with another writer, in this process or
another. Within one process writers queue before they reach SQLite, so they wait in order
instead of sleeping in SQLite's busy handler: on a file, on its writer thread
(db/writer.py), which takes the next the moment one commits, without the event loop; in
memory, on an asyncio lock.
PostgreSQL runs with a connection pool; claiming uses `FOR UPDATE SKIP LOCKED`
(see outbox/claims.py). Any other database URL is refused here, at start-up (db/dialect.py).

Group commit (`Database.commit_together`): small writes of one kind that arrive at once (a
burst of one-click unsubscribes) share one write transaction instead of queueing for the
write lock one by one; each caller still returns only after its own change has committed.
On a SQLite file that transaction runs on a writer thread with a plain sqlite3 connection
(same pragmas, same BEGIN IMMEDIATE, in the same queue): through aiosqlite every
statement is several round trips between the event loop and the driver's thread.

`Database.write(work)`: a transaction run whole on that writer thread, `work` being the same
async service code a `transaction()` block runs. On the thread its session sits on the
synchronous connection, so no statement waits for the event loop: the request pays one
round trip to the thread for the whole transaction, where through aiosqlite it pays several
per statement, each queued behind whatever else the loop is doing (under load, tens of
milliseconds each), and holds the write lock all that time; and the next write begins
on the thread as this one commits, not when the loop comes round to it. The small, hot writes of
requests any stranger can send (sign-up and its rate limits) go this way, so that neither
their cost nor their time under the lock grows with the load on the loop.

Between processes SQLite's busy handler is no queue: a job that writes transaction after
transaction (a big merge, the planner) calls `Database.give_way` between them, and yields
to the writers other processes have queued (db/turns.py).

Reads (`Database.read`) never take the write lock: on a SQLite file they run on a second
engine whose transactions begin DEFERRED on `query_only` connections, so a page reads a WAL
snapshot while a writer commits beside it, and waits neither for this process's queue of
writers nor for SQLite's own lock. On PostgreSQL a read is a REPEATABLE READ, READ ONLY transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Generic

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from clippost.db.dialect import SQLITE, supported_dialect
from clippost.db.turns import WriteTurns, turn_for
from clippost.db.writer import SqliteWriter, T, Work

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Items one group-commit transaction takes at most; the rest wait for the next one. Batch
# writes may bind one parameter per item (an IN list): this stays under SQLite's oldest
# limit of 999 host parameters.
GROUP_COMMIT_LIMIT = 500

# A page's statements see one snapshot (its count and its list agree); read only, it can
# never fail for serialization.
_PG_READ = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

# Applies a batch of items inside the transaction whose connection it is given; never
# commits. Synchronous, so that one function runs on the SQLite writer thread and, through
# `AsyncConnection.run_sync`, on PostgreSQL.
BatchWrite = Callable[[Connection, Sequence[T]], None]


class Database:
    """The engine and its session factory; `transaction()` is the one place that commits."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        # Raises ConfigurationError for anything but SQLite and PostgreSQL (invariant 5).
        self.dialect = supported_dialect(url)
        self.is_sqlite = self.dialect == SQLITE
        self.engine = _create_engine(url, self.is_sqlite, echo=echo, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # A SQLite file gets engines of its own for reads; an in-memory database exists
        # only on its one connection, so its reads share the writers' path.
        self._read_engine = (
            _create_sqlite_engine(url, echo=echo, read_only=True)
            if self.is_sqlite and _is_file(url)
            else None
        )
        self._reads = async_sessionmaker(self._read_engine or self.engine, expire_on_commit=False)
        # In-memory SQLite's writers queue here; a file's on its writer thread (db/writer.py),
        # where other processes see them queued (db/turns.py).
        self._write_lock = asyncio.Lock()
        self._groups: dict[object, GroupCommit[Any]] = {}
        self._writer = _sqlite_writer(url, echo=echo) if self.is_sqlite and _is_file(url) else None
        self._turns = WriteTurns(_sqlite_path(url))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits when the block ends, or rolls back on error."""
        if self.is_sqlite:
            async with self._write_turn(), self._session() as session:
                yield session
        else:
            async with self._session() as session:
                yield session

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """This process's turn at the write lock for a transaction run on the event loop:
        on a file, the writer thread reserved for it, in order with every other write."""
        if self._writer is None:
            async with self._write_lock:
                yield
            return
        async with self._announced(), self._writer.reserved():
            yield

    @asynccontextmanager
    async def _announced(self) -> AsyncIterator[None]:
        """Seen by other processes' long jobs as a writer queued or running (db/turns.py)."""
        self._turns.enter()
        try:
            yield
        finally:
            self._turns.leave()

    async def give_way(self) -> float:
        """Between two transactions of a long job: let the writers queued meanwhile (of any
        process) go first, for a turn sized from how long this process's last write
        transaction took (db/turns.py); the seconds waited. On PostgreSQL (row locks:
        nobody waits for the database) and in-memory SQLite, at once."""
        if self._writer is None:
            return 0.0
        return await self._turns.give_way(longest=turn_for(self._writer.last_hold))

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine this database opens connections with, as the synchronous engines
        their events are listened on: the writes', the writer thread's, the reads'."""
        writer = () if self._writer is None else (self._writer.engine,)
        reads = () if self._read_engine is None else (self._read_engine.sync_engine,)
        return (self.engine.sync_engine, *writer, *reads)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only, never queued behind writers; it commits nothing."""
        if self.is_sqlite and self._read_engine is None:
            async with self.transaction() as session:
                yield session
            return
        # Closing the session ends its transaction (the pool rolls the connection back)
        # without expiring what it loaded, so rows read stay usable after the block.
        async with self._reads() as session:
            if not self.is_sqlite:
                await session.execute(text(_PG_READ))
            yield session

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def run_write(self, write: Callable[[Connection], None]) -> None:
        """Run a synchronous write in a transaction of its own, committed on return."""
        if self._writer is not None:
            async with self._announced():
                await self._writer.run(write)
            return
        async with self.transaction() as session:
            connection = await session.connection()
            await connection.run_sync(write)

    async def write(self, work: Work[T]) -> T:
        """`await work(session)` in a transaction of its own, committed on return (rolled
        back if it raises, its exception raised here). On a SQLite file it runs on the
        writer thread (the module's docstring says why), so `work` must only use its
        session and plain values: nothing bound to the caller's event loop."""
        if self._writer is not None:
            async with self._announced():
                return await self._writer.run_work(work)
        async with self.transaction() as session:
            return await work(session)

    async def commit_together(self, write: BatchWrite[T], item: T) -> None:
        """Apply `item` with `write`, in one transaction shared with the callers of the same
        `write` waiting at this moment; return once that transaction has committed."""
        group = self._groups.get(write)
        if group is None:
            group = self._groups[write] = GroupCommit(self, write)
        await group.submit(item)

    async def dispose(self) -> None:
        if self._writer is not None:
            self._writer.dispose()
            # A fresh one, should this database be used again (its thread starts on use).
            self._writer = _sqlite_writer(self.url, echo=self.engine.echo)
        if self._read_engine is not None:
            await self._read_engine.dispose()
        await self.engine.dispose()


class GroupCommit(Generic[T]):
    """Coalesces concurrent writes of one kind into one transaction (group commit).

    Callers queue their item and wait on a future. One flusher task at a time takes every
    queued item, applies them together in one `Database.run_write` transaction and resolves
    their futures only after it has committed. While it holds the write lock new items queue
    up, so the batch size follows the load: one item when idle, many under a burst, with no
    timer and no added latency. A batch that fails is retried item by item, each in its own
    transaction, so one bad item fails only its own caller. A caller that goes away before
    its batch is taken (a dropped connection) is skipped: nothing is written for an answer
    nobody receives.
    """

    def __init__(
        self, db: Database, write: BatchWrite[T], *, limit: int = GROUP_COMMIT_LIMIT
    ) -> None:
        self._db = db
        self._write = write
        self._limit = limit
        self._queued: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="clippost-group-commit")
        await future

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch = self._queued[: self._limit]
                del self._queued[: self._limit]
                await self._commit([entry for entry in batch if not entry[1].done()])
        finally:
            self._flusher = None
            # Only reached with items left when this task itself was cancelled (shutdown).
            for _, future in self._queued:
                future.cancel()
            self._queued.clear()

    async def _commit(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        try:
            await self._commit_batch(batch)
        except BaseException:
            # This task was cancelled (shutdown): no caller may wait for ever.
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise

    async def _commit_batch(self, batch: list[tuple[T, asyncio.Future[None]]]) -> None:
        if not batch:
            return
        try:
            await self._apply([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for item, future in batch:
                _settle(future, await self._alone(item))
        else:
            for _, future in batch:
                _settle(future, None)

    async def _alone(self, item: T) -> Exception | None:
        try:
            await self._apply([item])
        except Exception as exc:
            return exc
        return None

    async def _apply(self, items: Sequence[T]) -> None:
        def write(connection: Connection) -> None:
            self._write(connection, items)

        await self._db.run_write(write)


def _settle(future: asyncio.Future[None], error: Exception | None) -> None:
    if future.done():  # its caller was cancelled while the batch ran
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value: orjson, a third of the stdlib's time on an outbox payload
    (every claimed digest decodes one); what orjson refuses and the stdlib reads (NaN,
    integers past 64 bits, lone surrogates) goes to the stdlib, so nothing stored changes
    its meaning."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _create_engine(url: str, is_sqlite: bool, *, echo: bool, pool_size: int) -> AsyncEngine:
    if is_sqlite:
        return _create_sqlite_engine(url, echo=echo)
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        json_deserializer=json_loads,
    )


def _create_sqlite_engine(url: str, *, echo: bool, read_only: bool = False) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        echo=echo,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_deserializer=json_loads,
    )
    _configure_sqlite(engine.sync_engine, read_only=read_only)
    return engine


def _sqlite_writer(url: str, *, echo: bool) -> SqliteWriter:
    """The writer thread's engine: the same pragmas, one synchronous connection."""
    sync_url = make_url(url).set(drivername="sqlite")
    engine = create_engine(
        sync_url,
        echo=echo,
        pool_size=1,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_deserializer=json_loads,
    )
    _configure_sqlite(engine)
    return SqliteWriter(engine)


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _is_file(url: str) -> bool:
    database = make_url(url).database or ""
    return bool(database) and ":memory:" not in database and "mode=memory" not in url


def _configure_sqlite(sync_engine: Engine, *, read_only: bool = False) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE on every connection the engine opens; for
    reads, `query_only` connections whose transactions begin DEFERRED (a snapshot that
    takes no lock a writer waits for)."""
    begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that BEGIN IMMEDIATE below is
        # the transaction's real start (pysqlite otherwise begins lazily, as DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted rows are overwritten with zeros, not left in free pages: an erased
        # reader's highlights must not be recoverable from the file.
        cursor.execute("PRAGMA secure_delete=ON")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)
