"""Every difference between the two databases clippost runs on, behind a few helpers.

clippost runs on SQLite and PostgreSQL and nothing else (invariant 5): `supported_dialect`
refuses any other URL when the `Database` is made, at start-up, so no statement ever meets
a third dialect and falls back to something weaker; `normalise_database_url` maps the URLs
operators write onto the async driver of each. Code outside `db/` never asks which
database it is on; it calls these helpers, which ask one way (`dialect_of`):

- `insert_or_ignore`, `insert_or_update`: INSERT ... ON CONFLICT, which both databases
  write alike but SQLAlchemy builds per dialect; `per_dialect` builds a statement once per
  dialect at import, for hot paths that must not rebuild it per call;
- `ids_match`: "this column is one of these values": one array parameter on PostgreSQL, IN
  lists in chunks under SQLite's parameter limit;
- `skip_locked`: FOR UPDATE SKIP LOCKED on PostgreSQL; nothing on SQLite, whose
  BEGIN IMMEDIATE already serializes every writer;
- `batches_in_flight`: how many batches a claiming job keeps open at once;
- `commit_without_flush`: this transaction's commit returns before its WAL is flushed, on
  PostgreSQL (the planner's batches); nothing on SQLite;
- `first_rows_per_key`: the first rows of each of many keys in one statement (the
  planner's windows): LATERAL on PostgreSQL, its rows aggregated into arrays, a
  correlated IN on SQLite;
- `iso_date`: a timestamp column's date as `YYYY-MM-DD` text, made by the database
  (`to_char` on PostgreSQL, whatever its DateStyle; `date()` on SQLite), where the
  caller wants only that text: the driver decodes no datetime for it (SQLite's is a regex
  in Python, PostgreSQL's a timedelta sum).

The claim (`outbox/claims.py`) is the one place outside `db/` that names a dialect.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Select,
    String,
    Table,
    TextClause,
    any_,
    bindparam,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import TextualSelect

from clippost.errors import ConfigurationError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SUPPORTED = (SQLITE, POSTGRESQL)
# Values bound in one SQLite IN list: under the oldest SQLite limit of 999 host parameters,
# with room for the statement's other parameters.
SQLITE_IDS_PER_STATEMENT = 900

T = TypeVar("T")
_INSERTS: dict[str, Callable[[Any], Insert]] = {
    SQLITE: sqlite.insert,
    POSTGRESQL: postgresql.insert,
}


class _HasDialect(Protocol):
    @property
    def dialect(self) -> Dialect | str: ...


# A connection, engine, `Database` or Dialect; a session; or a dialect's name.
DialectSource = _HasDialect | Dialect | Session | AsyncSession | str


def normalise_database_url(url: str) -> str:
    """Map the plain URLs operators write onto the async drivers clippost uses."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def supported_dialect(url: str) -> str:
    """The dialect a database URL names; ConfigurationError unless clippost supports it."""
    try:
        name = make_url(url).get_backend_name()
    except ArgumentError:
        raise ConfigurationError(f"Cannot read the database URL {url!r}.") from None
    if name not in SUPPORTED:
        raise ConfigurationError(
            f"clippost runs on SQLite or PostgreSQL; the database URL names {name!r}. Use "
            "sqlite:///path or postgresql://user@host/db."
        )
    if name == SQLITE:
        _require_returning()
    return name


def _require_returning() -> None:
    if sqlite3.sqlite_version_info < (3, 35):
        raise ConfigurationError(
            f"SQLite {sqlite3.sqlite_version} is too old: clippost needs 3.35 or newer "
            "(UPDATE ... RETURNING). Use a newer Python build, or PostgreSQL."
        )


def dialect_of(source: DialectSource) -> str:
    """The name ("sqlite" or "postgresql") of the dialect `source` speaks."""
    if isinstance(source, Session | AsyncSession):
        source = source.get_bind()
    found = source if isinstance(source, str | Dialect) else source.dialect
    name = found if isinstance(found, str) else found.name
    if name not in SUPPORTED:  # pragma: no cover - Database refuses such URLs at start-up
        raise ConfigurationError(f"unsupported database dialect {name!r}")
    return name


def is_postgresql(source: DialectSource) -> bool:
    return dialect_of(source) == POSTGRESQL


def insert_or_ignore(source: DialectSource, table: Any, *, keys: Sequence[Any]) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO NOTHING into `table` (a Table or a mapped class)."""
    return _INSERTS[dialect_of(source)](table).on_conflict_do_nothing(index_elements=keys)  # type: ignore[attr-defined,no-any-return]


def insert_or_update(
    source: DialectSource,
    table: Any,
    *,
    keys: Sequence[Any],
    set_: dict[str, Any],
    where: ColumnElement[bool] | None = None,
) -> Insert:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET `set_` [WHERE `where`]. In `set_` and
    `where`, a column names the row as it was; both databases evaluate them against that
    row (and a conflicting row `where` rejects is left as it is)."""
    statement = _INSERTS[dialect_of(source)](table)
    return statement.on_conflict_do_update(index_elements=keys, set_=set_, where=where)  # type: ignore[attr-defined,no-any-return]


class per_dialect(Generic[T]):
    """`build(dialect)` for every supported dialect, built once at import: a statement on a
    hot path skips SQLAlchemy's per-call construction and cache-key work. `of(source)`
    picks the one for the dialect `source` speaks."""

    __slots__ = ("_built",)

    def __init__(self, build: Callable[[str], T]) -> None:
        self._built = {name: build(name) for name in SUPPORTED}

    def of(self, source: DialectSource) -> T:
        return self._built[dialect_of(source)]


def ids_match(
    source: DialectSource, column: Any, values: Sequence[Any], *, name: str = "ids"
) -> list[tuple[ColumnElement[bool], dict[str, Any]]]:
    """`column` is one of `values`, as WHERE clauses with their parameters, one statement
    each: on PostgreSQL one clause, `column = ANY(:name)` (one array parameter: an index
    lookup per value, and one prepared statement whatever the number of values); on SQLite
    one IN list per `SQLITE_IDS_PER_STATEMENT` values."""
    if dialect_of(source) == POSTGRESQL:
        return [(_any_of(column, name), {name: list(values)})]
    return [
        (column.in_(values[start : start + SQLITE_IDS_PER_STATEMENT]), {})
        for start in range(0, len(values), SQLITE_IDS_PER_STATEMENT)
    ]


@functools.cache
def _any_of(column: Any, name: str) -> ColumnElement[bool]:
    # Built once per column: the claim and the result writes use it for every batch.
    return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))  # type: ignore[no-any-return]


def skip_locked(query: Select[T], source: DialectSource) -> Select[T]:
    """`query` FOR UPDATE SKIP LOCKED on PostgreSQL: concurrent claimers each lock a
    disjoint set of rows without waiting on each other. SQLite has no row locks and needs
    none: BEGIN IMMEDIATE has taken the single write lock before the query runs."""
    if dialect_of(source) == POSTGRESQL:
        return query.with_for_update(skip_locked=True)
    return query


_ASYNCHRONOUS_COMMIT = text("SET LOCAL synchronous_commit = off")


async def commit_without_flush(connection: AsyncConnection) -> None:
    """PostgreSQL: this transaction's COMMIT returns without waiting for its WAL to reach
    the disk (`SET LOCAL`: the transaction only, never the pooled connection's next one).
    A crash may then lose the transaction whole, never a part of it; any later commit
    that waits for its flush (every other transaction's) flushes this one's too, which
    precedes it in the WAL. SQLite: nothing (its commits are cheap)."""
    if dialect_of(connection) == POSTGRESQL:
        await connection.execute(_ASYNCHRONOUS_COMMIT)


def claim_batch(source: DialectSource, *, row_locks: int, one_writer: int) -> int:
    """How many rows a claiming job takes in one transaction: `row_locks` on PostgreSQL,
    where N claimers lock disjoint rows side by side; `one_writer` on SQLite, where every
    other writer (a sign-up, an unsubscribe) waits for the one write lock while the batch
    runs, so a batch there stays short."""
    if dialect_of(source) == POSTGRESQL:
        return row_locks
    return one_writer


def batches_in_flight(source: DialectSource) -> int:
    """How many batches one claiming job keeps open at once: two on PostgreSQL (the next
    claimed and read, its rows locked apart, while the last one writes and commits), one
    on SQLite, whose single write lock a second open batch would only wait for."""
    return 2 if dialect_of(source) == POSTGRESQL else 1


def primary_key(table: Table) -> Column[Any]:
    """The table's one-column primary key (`id`, or `rotation.highlight_id`)."""
    (column,) = table.primary_key.columns
    return column


async def first_rows_per_key(
    connection: AsyncConnection,
    table: Table,
    keys: Sequence[int],
    *,
    key: str,
    columns: Sequence[str],
    flag: str,
    order_by: Sequence[str],
    limit: int,
    make: Callable[..., T],
) -> dict[int, list[T]]:
    """The first `limit` rows of `table` in `order_by` order whose boolean column `flag` is
    true, for each of `keys` in column `key`, in one statement: a batch of readers'
    windows, each one index range read, never whole libraries. Returns each key's rows (a
    key with none is left out) as `make(*values of columns)`, in no promised order (the
    caller orders them; the selection does).

    PostgreSQL: the keys as one array, each joined LATERAL to its ORDER BY ... LIMIT, whose
    rows come back aggregated, one array per column and one result row per key: the
    driver decodes arrays in C, where a result row per table row would cost SQLAlchemy a
    `Row` each (measured on the planner: that was a sixth of its CPU), and `make` is
    mapped over the arrays, in C too (no tuple per row in between).
    SQLite (no LATERAL): the keys as a JSON array (`json_each`), each row's ids found by a
    correlated `IN (SELECT id ... ORDER BY ... LIMIT)`; SQLite runs that subquery per key
    on the index and fetches the rows by rowid. `key`, `flag`, `columns` and `order_by`
    name columns (written in code, never taken from input); an index on
    (`key`, *`order_by`*), partial on `flag`, serves it.
    """
    if not keys:
        return {}
    dialect = dialect_of(connection)
    statement = _rows_per_key(dialect, table, key, tuple(columns), flag, tuple(order_by))
    found: dict[int, list[T]] = {}
    if dialect == POSTGRESQL:
        result = await connection.execute(statement, {"keys": list(keys), "limit": limit})
        for owner, *arrays in result:
            if arrays[0] is not None:  # an aggregate over no rows: NULL arrays
                found[owner] = list(map(make, *arrays))
        return found
    result = await connection.execute(statement, {"keys": json.dumps(list(keys)), "limit": limit})
    for owner, *values in result:
        if (rows := found.get(owner)) is None:
            found[owner] = [make(*values)]
        else:
            rows.append(make(*values))
    return found


@functools.cache
def _rows_per_key(
    dialect: str,
    table: Table,
    key: str,
    columns: tuple[str, ...],
    flag: str,
    order_by: tuple[str, ...],
) -> TextClause | TextualSelect:
    name = table.name
    if dialect == POSTGRESQL:
        inner = ", ".join(columns)
        order = ", ".join(order_by)
        arrays = ", ".join(f"array_agg(w.{column})" for column in columns)
        return text(
            f"SELECT k.key, a.* FROM unnest(CAST(:keys AS BIGINT[])) AS k(key) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT {arrays} FROM (SELECT {inner} FROM {name} "
            f"WHERE {name}.{key} = k.key AND {flag} ORDER BY {order} LIMIT :limit) AS w) AS a"
        )
    picked = ", ".join([f"{name}.{key}"] + [f"{name}.{column}" for column in columns])
    order = ", ".join(f"r.{column}" for column in order_by)
    primary = primary_key(table)
    typed = [table.c[key], *(table.c[column] for column in columns)]
    # Typed by the table's columns: SQLite gives back a datetime as text otherwise.
    return text(
        f"SELECT {picked} FROM json_each(:keys) AS k JOIN {name} "  # noqa: S608
        f"ON {name}.{primary.name} IN (SELECT r.{primary.name} FROM {name} AS r "
        f"WHERE r.{key} = k.value AND r.{flag} "
        f"ORDER BY {order} LIMIT :limit)"
    ).columns(*typed)


class iso_date(FunctionElement[str]):
    """`iso_date(column)`: the date of a timestamp column as `YYYY-MM-DD` text (NULL for
    NULL), written by the database (see the module docstring)."""

    type = String()
    name = "iso_date"
    inherit_cache = True


@compiles(iso_date, POSTGRESQL)
def _iso_date_postgresql(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"


@compiles(iso_date, SQLITE)
def _iso_date_sqlite(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"
