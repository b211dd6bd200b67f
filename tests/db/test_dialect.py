"""db.dialect: the supported databases, refused URLs, and the helpers that hide the rest."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import pytest
from sqlalchemy import Table, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from clippost.db.dialect import (
    SQLITE_IDS_PER_STATEMENT,
    dialect_of,
    first_rows_per_key,
    ids_match,
    insert_or_ignore,
    iso_date,
    normalise_database_url,
    per_dialect,
    skip_locked,
    supported_dialect,
)
from clippost.db.engine import Database
from clippost.errors import ConfigurationError
from clippost.models import Book, Highlight, OutboxMessage, RotationEntry, Subscriber

outbox = cast(Table, OutboxMessage.__table__)


class TestSupportedDialects:
    @pytest.mark.parametrize(
        "url", ["mysql+aiomysql://u@h/db", "oracle://u@h/db", "mssql+pyodbc://u@h/db"]
    )
    def test_any_other_database_is_refused_at_start_up(self, url: str) -> None:
        """A Database for anything but SQLite or PostgreSQL raises ConfigurationError."""
        with pytest.raises(ConfigurationError, match="SQLite or PostgreSQL"):
            Database(url)

    def test_an_unreadable_url_is_refused(self) -> None:
        """A URL SQLAlchemy cannot read is a configuration error, not a crash."""
        with pytest.raises(ConfigurationError, match="Cannot read the database URL"):
            Database("not a url")

    @pytest.mark.parametrize(
        ("url", "name"),
        [
            ("sqlite:///x.db", "sqlite"),
            ("postgresql://u@h/db", "postgresql"),
            ("postgres://u@h/db", "postgresql"),
        ],
    )
    def test_operators_urls_name_their_dialect(self, url: str, name: str) -> None:
        """The URLs operators write map onto the two supported dialects."""
        assert supported_dialect(normalise_database_url(url)) == name

    async def test_a_database_knows_its_dialect(self, database: Database) -> None:
        """Database, its engine, a connection and a session all answer the same."""
        async with database.sessions() as session:
            connection = await session.connection()
            names = {dialect_of(x) for x in (database, database.engine, connection, session)}
        assert names == {database.dialect}


class TestHelpers:
    def test_insert_or_ignore_is_on_conflict_do_nothing_on_both(self) -> None:
        """The same INSERT ... ON CONFLICT DO NOTHING, built for each dialect."""
        for name, dialect in (("sqlite", sqlite.dialect()), ("postgresql", postgresql.dialect())):
            statement = insert_or_ignore(name, outbox, keys=["idempotency_key"])
            sql = str(statement.compile(dialect=dialect))
            assert "ON CONFLICT (idempotency_key) DO NOTHING" in sql

    def test_ids_match_is_one_array_parameter_on_postgresql(self) -> None:
        """PostgreSQL binds any number of ids as one array: one clause, one statement."""
        [(clause, params)] = ids_match("postgresql", outbox.c.id, list(range(5000)))
        assert "= ANY" in str(clause.compile(dialect=postgresql.dialect()))
        assert params == {"ids": list(range(5000))}

    def test_ids_match_chunks_in_lists_on_sqlite(self) -> None:
        """SQLite gets IN lists under its parameter limit, and no extra parameters."""
        matched = ids_match("sqlite", outbox.c.id, list(range(2000)))
        assert len(matched) == -(-2000 // SQLITE_IDS_PER_STATEMENT)
        assert all(params == {} for _, params in matched)

    def test_skip_locked_only_on_postgresql(self) -> None:
        """FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's query is left as it is."""
        query = select(outbox.c.id)
        pg = str(skip_locked(query, "postgresql").compile(dialect=postgresql.dialect()))
        assert pg.endswith("FOR UPDATE SKIP LOCKED")
        assert skip_locked(query, "sqlite") is query

    def test_per_dialect_builds_once_and_picks_by_source(self) -> None:
        """A prebuilt statement per dialect, picked by what a connection speaks."""
        built: list[str] = []

        def build(name: str) -> str:
            built.append(name)
            return name.upper()

        prebuilt = per_dialect(build)
        assert prebuilt.of("sqlite") == "SQLITE"
        assert prebuilt.of("postgresql") == "POSTGRESQL"
        assert sorted(built) == ["postgresql", "sqlite"]


async def _three_readers(database: Database) -> None:
    """Readers 1-3 with a book each; highlights in rotation as (reader, turn, flag)."""
    async with database.transaction() as session:
        session.add_all(Subscriber(id=r, email=f"r{r}@example.org") for r in (1, 2, 3))
        await session.flush()
        session.add_all(
            Book(id=r, subscriber_id=r, identity="b", title="T", frequency=frequency)
            for r, frequency in ((1, "more"), (2, "less"), (3, "normal"))
        )
        await session.flush()
        rows = [(1, 30, True), (1, 10, True), (1, 20, False), (1, 40, True), (2, 5, True)]
        for number, (reader, _, _) in enumerate(rows, 1):
            session.add(
                Highlight(
                    id=number,
                    subscriber_id=reader,
                    book_id=reader,
                    identity=f"h{number}",
                    text="x",
                    favourite=number == 2,
                )
            )
        await session.flush()
        for number, (reader, turn, flag) in enumerate(rows, 1):
            session.add(
                RotationEntry(
                    highlight_id=number,
                    subscriber_id=reader,
                    book_id=reader,
                    weight=1.0,
                    favourite=number == 2,
                    turn=turn,
                    stride=1,
                    in_rotation=flag,
                )
            )


class TestFirstRowsPerKey:
    async def test_each_keys_first_rows_from_one_statement(self, database: Database) -> None:
        """Three readers' first rotation rows by (turn, id), only flagged rows, a reader
        without any left out, from one statement on either database: the first two, then
        the first three."""
        await _three_readers(database)
        rotation = cast(Table, RotationEntry.__table__)

        async def first(limit: int, columns: tuple[str, ...]) -> dict[int, list[tuple]]:
            async with database.sessions() as session:
                found = await first_rows_per_key(
                    await session.connection(),
                    rotation,
                    [1, 2, 3],
                    key="subscriber_id",
                    columns=columns,
                    flag="in_rotation",
                    order_by=("turn", "highlight_id"),
                    limit=limit,
                    make=lambda *values: values,  # each row as the tuple of its columns
                )
            return {key: sorted(rows) for key, rows in found.items()}

        assert await first(2, ("highlight_id", "turn", "favourite")) == {
            1: [(1, 30, False), (2, 10, True)],
            2: [(5, 5, False)],
        }
        assert await first(3, ("highlight_id", "turn", "weight")) == {
            1: [(1, 30, 1.0), (2, 10, 1.0), (4, 40, 1.0)],
            2: [(5, 5, 1.0)],
        }


class TestIsoDate:
    async def test_a_timestamps_date_as_text_whatever_the_date_style(
        self, database: Database
    ) -> None:
        """`iso_date` gives the stored day as YYYY-MM-DD (the last microsecond of a day
        still that day; NULL stays NULL), on PostgreSQL under a non-ISO DateStyle too."""
        await _three_readers(database)
        async with database.transaction() as session:
            await session.execute(
                update(Highlight)
                .where(Highlight.id == 1)
                .values(highlighted_at=datetime(2021, 3, 3, 23, 59, 59, 999999))
            )
            if not database.is_sqlite:
                await session.execute(text("SET LOCAL DateStyle = 'SQL, DMY'"))
            days = dict(
                (
                    await session.execute(
                        select(Highlight.id, iso_date(Highlight.highlighted_at)).where(
                            Highlight.id.in_([1, 2])
                        )
                    )
                ).all()
            )
        assert days == {1: "2021-03-03", 2: None}
