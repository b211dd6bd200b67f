"""Every query a reader's page runs is bounded by that reader's rows and reaches them through
an index (invariant 11): each statement the pages' reads emit is EXPLAINed on SQLite (no full
SCAN of highlights or books) and on PostgreSQL (no Seq Scan on them once ANALYZE has seen a
library of many readers)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, event, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

import factories
from clippost.context import ServiceContext
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.library import repository as repo
from clippost.library import service
from clippost.library.search import HighlightFilter, Show
from clippost.links import Purpose
from clippost.models import Book, Highlight
from clippost.planner.service import preview_digest
from clippost.subscriptions.manage import subscriber_from_manage_token

READERS = 60
BOOKS_EACH = 40
HIGHLIGHTS_EACH = 500
BIG_TABLES = ("highlights", "books")
Statement = tuple[str, Any]
# The library is built once per backend: both halves in one worker build it twice, not four times.
pytestmark = pytest.mark.xdist_group("query_plans")


@pytest.fixture
def database_url(module_database_url: str) -> str:
    """Every test here reads the one library of many (EXPLAIN alone: nothing is written),
    built once a backend: the rows are the setting, not the subject."""
    return module_database_url


@pytest.fixture(scope="module")
def library_of_many(module_database_url: str) -> int:
    """`READERS` readers with libraries alike; the id of the one whose pages run."""
    return asyncio.run(_library_of_many(module_database_url))


async def _library_of_many(url: str) -> int:
    database = Database(normalise_database_url(url))
    try:
        async with database.transaction() as session:
            ids = [
                await factories.add_pending_reader(session, email=f"r{n}@example.org")
                for n in range(READERS)
            ]
        for reader in ids:
            async with database.transaction() as session:
                await _library(session, reader)
        async with database.transaction() as session:
            await session.execute(text("ANALYZE"))
    finally:
        await database.dispose()
    return ids[READERS // 2]


async def _library(session: AsyncSession, reader: int) -> None:
    books = [
        {"subscriber_id": reader, "identity": f"b{reader}-{n}", "title": f"Book {n}"}
        for n in range(BOOKS_EACH)
    ]
    book_ids = list(await session.scalars(insert(Book).returning(Book.id), books))
    rows = [
        {
            "subscriber_id": reader,
            "book_id": book_ids[n % BOOKS_EACH],
            "identity": f"h{reader}-{n}",
            "text": f"highlight {n} of reader {reader}",
            "location_start": n,
            "favourite": n % 7 == 0,
        }
        for n in range(HIGHLIGHTS_EACH)
    ]
    await session.execute(insert(Highlight), rows)


@contextmanager
def captured(db: Database) -> Iterator[list[Statement]]:
    """The statements (SQL and parameters) sent to the database while the block runs."""
    seen: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    targets = db.engines
    for target in targets:
        event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for target in targets:
            event.remove(target, "before_cursor_execute", record)


def _plan(connection: Connection, sqlite: bool, statement: str, parameters: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    rows = connection.exec_driver_sql(prefix + statement, parameters).fetchall()
    return "\n".join(str(row[-1]) for row in rows)


def _full_scans(plan: str, sqlite: bool) -> list[str]:
    tables = "|".join(BIG_TABLES)
    # SQLite: "SCAN highlights" (or "SCAN TABLE ..." on older versions) reads every row of
    # the table; a SEARCH is a range of an index.
    sqlite_scan = rf"\bSCAN (?:TABLE )?(?:{tables})\b"
    pattern = sqlite_scan if sqlite else rf"Seq Scan on (?:{tables})\b"
    return re.findall(pattern, plan)


async def _plans(db: Database, statements: list[Statement]) -> list[tuple[str, str]]:
    queries = [
        (sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")
    ]
    found = []
    async with db.transaction() as session:
        connection = await session.connection()
        for sql, params in queries:
            plan = await connection.run_sync(
                lambda conn, s=sql, p=params: _plan(conn, db.is_sqlite, s, p)
            )
            found.append((sql, plan))
    return found


async def _manage_page_reads(db: Database, ctx: ServiceContext, reader: int) -> None:
    """What GET /manage/{token} reads, for every way the list can be filtered."""
    token = ctx.links.token(Purpose.MANAGE, reader, now=ctx.now, extra="0")
    book = await _some_book(db, reader)
    filters = [
        HighlightFilter(),
        HighlightFilter(text="highlight 4"),
        HighlightFilter(book_id=book),
        HighlightFilter(show=Show.FAVOURITES),
        HighlightFilter(text="reader", book_id=book, show=Show.NEVER_SENT),
    ]
    async with db.read() as session:
        await subscriber_from_manage_token(session, ctx, token)
        await service.library_overview(session, reader)
        for wanted in filters:
            await service.find_highlights(session, reader, wanted, offset=100, limit=50)


async def _some_book(db: Database, reader: int) -> int:
    async with db.read() as session:
        return (await repo.book_overview(session, reader))[0].id


async def _passage_reads(db: Database, ctx: ServiceContext, reader: int) -> None:
    """What the passage, favourite and discard pages read for one highlight."""
    async with db.read() as session:
        some = (await repo.all_highlights(session, reader))[3].id
    for purpose in (Purpose.PASSAGE, Purpose.FAVOURITE, Purpose.DISCARD):
        token = ctx.links.token(purpose, some, now=ctx.now)
        async with db.read() as session:
            await service.highlight_from_link(session, ctx, purpose, token)


async def _export_reads(db: Database, ctx: ServiceContext, reader: int) -> None:
    async with db.read() as session:
        await service.export_library(session, reader, "csv")


async def _preview_reads(db: Database, ctx: ServiceContext, reader: int) -> None:
    await preview_digest(db, reader, ctx)


PAGES: dict[str, Callable[[Database, ServiceContext, int], Awaitable[None]]] = {
    "manage page": _manage_page_reads,
    "passage and feedback pages": _passage_reads,
    "export": _export_reads,
    "next digest preview": _preview_reads,
}


class TestPageQueries:
    @pytest.mark.parametrize("page", list(PAGES))
    async def test_every_query_reads_an_index_of_the_readers_rows(
        self, database: Database, ctx: ServiceContext, library_of_many: int, page: str
    ) -> None:
        """No statement a page runs reads every row of highlights or books."""
        with captured(database) as statements:
            await PAGES[page](database, ctx, library_of_many)
        plans = await _plans(database, statements)
        assert plans, "the page ran no query"
        scans = [(sql, plan) for sql, plan in plans if _full_scans(plan, database.is_sqlite)]
        assert not scans, "\n\n".join(f"{sql}\n{plan}" for sql, plan in scans)

    async def test_the_check_sees_a_full_scan(
        self, database: Database, library_of_many: int
    ) -> None:
        """A query that does read every highlight (no reader's id) is caught by the check."""
        with captured(database) as statements:
            async with database.read() as session:
                await session.execute(text("SELECT count(*) FROM highlights WHERE text LIKE '%x%'"))
        ((_, plan),) = await _plans(database, statements)
        assert _full_scans(plan, database.is_sqlite)
