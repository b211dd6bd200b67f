"""Set-based bulk writes: a batch of rows bound as a handful of parameters, not row by row.

The outbox records a batch's results with one UPDATE per outcome kind, not one per row, so
the database costs a few statements per batch, not per message. `update_rows` is that
statement for any table with a one-column integer primary key; every choice below was
measured on the outbox (20,000 queued rows, PostgreSQL and SQLite) and on the planner
(bench/plan.py).

`insert_rows` is the INSERT ... ON CONFLICT DO NOTHING RETURNING of a batch (the planner's
digests), or ON CONFLICT DO UPDATE of the columns named (the planner's rotation rows).
Neither builds a parameter dictionary per row for SQLAlchemy to process: the
batch goes as one array per column on PostgreSQL, and to the SQLite driver as plain tuples
(values bound through their column types here, once per value). Measured on the planner
(bench/plan.py, SQLite): SQLAlchemy's per-row parameter processing of an executemany cost
more than SQLite's own work for the same rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import (
    column as sql_column,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import Grouping

from clippost.db.dialect import (
    SQLITE_IDS_PER_STATEMENT,
    ids_match,
    insert_or_ignore,
    is_postgresql,
    primary_key,
)

# Rows one PostgreSQL statement updates when each has its own values (see `_update_per_row`).
PG_IDS_PER_STATEMENT = 500
_ID_ARRAY = bindparam("ids", type_=ARRAY(Integer))


async def update_rows(
    connection: AsyncConnection,
    table: Table,
    ids: list[int],
    *,
    where: ColumnElement[bool],
    shared: dict[str, Any],
    per_row: dict[str, list[Any]],
) -> int:
    """Set `shared` values, and `per_row` values (listed in `ids` order), on the rows `ids`
    that also match `where`; returns how many rows it updated.

    A per-row column whose values are all equal (every sent row got "250 2.0.0 Ok", a whole
    batch withheld for one reason) is moved into `shared`: then one UPDATE ... WHERE id IN
    the batch does it, with nothing joined. Otherwise one UPDATE joins the per-row values.
    """
    if not ids:
        return 0
    shared = dict(shared)
    varying: dict[str, list[Any]] = {}
    for column, values in per_row.items():
        first = values[0]
        if all(value == first for value in values):
            shared[column] = first
        else:
            varying[column] = values
    if varying:
        return await _update_per_row(connection, table, ids, where, shared, varying)
    updated = 0
    # One array parameter on PostgreSQL (`id = ANY(:ids)`, a primary-key index lookup per
    # id, one prepared statement for any batch size); on SQLite, IN lists in chunks.
    for matched, params in ids_match(connection, primary_key(table), ids):
        statement = update(table).where(where & matched).values(shared)
        result = await connection.execute(statement, params)
        updated += int(getattr(result, "rowcount", 0) or 0)
    return updated


def _array(name: str, item_type: Any) -> Any:
    """A bound PostgreSQL array, cast (asyncpg cannot infer a subscript's type) and
    parenthesized, so that it can be subscripted. Strings are cast without a length: a
    `varchar(200)[]` cast would check every element each time a row reads the array."""
    if isinstance(item_type, String):
        item_type = String()
    array_type = ARRAY(item_type)  # binds each item through its column type (UTCDateTime)
    return Grouping(sql_cast(bindparam(name, type_=array_type), array_type))


async def _update_per_row(
    connection: AsyncConnection,
    table: Table,
    ids: list[int],
    where: ColumnElement[bool],
    shared: dict[str, Any],
    varying: dict[str, list[Any]],
) -> int:
    """PostgreSQL: UPDATE ... WHERE id = ANY(:ids), each row picking its own value from
    parallel arrays by its position in `ids` (`array_position`), in chunks of
    `PG_IDS_PER_STATEMENT` so that the linear search stays short. Not a join with
    unnest(:ids, :values): without fresh statistics the planner scans every pending row to
    hash them, or rescans the unnest for each row (measured: three times the cost).
    SQLite: one executemany through the driver (`_executemany`)."""
    key = primary_key(table)
    if is_postgresql(connection):
        position = func.array_position(_array("ids", Integer), key)
        picked = {
            column: _array(f"v_{column}", table.c[column].type)[position] for column in varying
        }
        statement = update(table).where(where, key == any_(_ID_ARRAY)).values({**shared, **picked})
        updated = 0
        for start in range(0, len(ids), PG_IDS_PER_STATEMENT):
            end = start + PG_IDS_PER_STATEMENT
            params = {"ids": ids[start:end]}
            params.update({f"v_{column}": items[start:end] for column, items in varying.items()})
            result = await connection.execute(statement, params)
            updated += int(getattr(result, "rowcount", 0) or 0)
        return updated
    statement = (
        update(table)
        .where(where, key == bindparam("row_id"))
        .values(
            {
                **shared,
                **{
                    column: bindparam(f"v_{column}", type_=table.c[column].type)
                    for column in varying
                },
            }
        )
    )
    names = ("row_id", *(f"v_{column}" for column in varying))
    rows = list(zip(ids, *varying.values(), strict=True))
    return await _executemany(connection, statement, names, rows)


async def _executemany(
    connection: AsyncConnection, statement: Any, names: Sequence[str], rows: list[tuple[Any, ...]]
) -> int:
    """SQLite: `statement` compiled once and run by the driver's executemany, its per-row
    parameters `names` taken from `rows` and bound through their types here, its other
    parameters bound once. An executemany through SQLAlchemy would build and process a
    parameter dictionary per row (it cost more than SQLite's own work); an UPDATE ... FROM
    json_each costs SQLite half as much again as stepping the statement per row (it
    gathers the joined rows first). Returns the rows updated."""
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect)
    order = compiled.positiontup
    if order is None or compiled.post_compile_params:  # pragma: no cover - not our statements
        params = [dict(zip(names, row, strict=True)) for row in rows]
        return int(getattr(await connection.execute(statement, params), "rowcount", 0) or 0)
    slots: list[int | None] = []
    template: list[Any] = []
    processors: list[tuple[int, Any]] = []
    for position, name in enumerate(order):
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if name in names:
            slots.append(names.index(name))
            template.append(None)
            if process is not None:
                processors.append((position, process))
        else:
            slots.append(None)
            value = bind.effective_value
            template.append(value if process is None else process(value))
    per_row = [(position, k) for position, k in enumerate(slots) if k is not None]
    bound = []
    for row in rows:
        values = list(template)
        for position, k in per_row:
            values[position] = row[k]
        for position, process in processors:
            values[position] = process(values[position])
        bound.append(tuple(values))
    result = await connection.exec_driver_sql(compiled.string, bound)
    return int(getattr(result, "rowcount", 0) or 0)


async def insert_rows(
    connection: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    keys: Sequence[str],
    returning: str | None = None,
    encoded: Collection[str] = (),
    replace: Sequence[str] = (),
) -> list[Any]:
    """INSERT `rows` (one value per name in `columns`, as the columns take them) ON
    CONFLICT (`keys`) DO NOTHING, or, with `replace`, DO UPDATE those columns to the values
    given (an upsert); the `returning` column of each row written (none without). The JSON
    columns named in `encoded` are given as JSON text already (the caller encoded them
    faster than the column type's `json.dumps` would), stored as given.

    PostgreSQL: one INSERT ... SELECT from `unnest` of one array per column, each bound
    through its column's type (JSON as text, cast back to json in the database); a column
    with one value in every row is bound once instead. SQLite:
    multi-row VALUES run through the driver (`exec_driver_sql`), each value bound through
    its column's type here, in chunks under the oldest limit of 999 host parameters. Not
    `json_each`: SQLite parses a row's JSON again for each column it extracts (measured:
    140 us a row for an outbox row's few kilobytes of payload, against 5 for VALUES).
    """
    if not rows:
        return []
    if is_postgresql(connection):
        source, params = _unnested(connection.dialect, table, columns, rows, encoded, keys)
        statement: Insert
        if replace:
            upsert = pg_insert(table)
            statement = upsert.on_conflict_do_update(
                index_elements=list(keys), set_={name: upsert.excluded[name] for name in replace}
            )
        else:
            statement = insert_or_ignore(connection, table, keys=list(keys))
        statement = statement.from_select(list(columns), source, include_defaults=False)
        if returning is None:
            await connection.execute(statement, params)
            return []
        result = await connection.execute(statement.returning(table.c[returning]), params)
        return list(result.scalars())
    processors = [
        (k, process)
        for k, process in _processors(connection.dialect, table, columns)
        if columns[k] not in encoded
    ]
    # Names written in code (the table's own columns), quoted by the dialect; values bound.
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    head = f"INSERT INTO {quote(table.name)} ({names}) VALUES "  # noqa: S608
    action = (
        "DO UPDATE SET " + ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in replace)
        if replace
        else "DO NOTHING"
    )
    tail = f" ON CONFLICT ({', '.join(quote(key) for key in keys)}) {action}"
    if returning is not None:
        tail += f" RETURNING {quote(returning)}"

    group = "(" + ", ".join("?" * len(columns)) + ")"
    per_statement = max(1, SQLITE_IDS_PER_STATEMENT // len(columns))
    found: list[Any] = []
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = tuple(value for row in chunk for value in _bound(row, processors))
        sql = head + ", ".join([group] * len(chunk)) + tail
        result = await connection.exec_driver_sql(sql, values)
        if returning is not None:
            found += result.scalars()
    return found


def _processors(dialect: Dialect, table: Table, columns: Sequence[str]) -> list[tuple[int, Any]]:
    """(position, bind processor) of the columns whose type converts a value for `dialect`."""
    found = []
    for k, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            found.append((k, process))
    return found


def _bound(row: Sequence[Any], processors: list[tuple[int, Any]]) -> Sequence[Any]:
    if not processors:
        return row
    values = list(row)
    for k, process in processors:
        values[k] = process(values[k])
    return values


def _unnested(
    dialect: Dialect,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    encoded: Collection[str],
    keys: Collection[str],
) -> tuple[Select[Any], dict[str, Any]]:
    """The rows as a SELECT from `unnest` of one array per column; a column whose value is
    the same in every row (a batch's kind, state, attempts, creation time) bound once, as
    `update_rows` does: the driver encodes each array element apart (a timestamp's costs
    as much as a short row's text). The `keys` stay arrays, so that one always does."""
    arrays: list[Any] = []
    params: dict[str, Any] = {}
    selected: dict[str, Any] = {}
    for k, name in enumerate(columns):
        column_type = table.c[name].type
        values = [row[k] for row in rows]
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column_type, JSON) and (process is not None or name in encoded):
            params[f"c{k}"] = (
                values if process is None or name in encoded else list(map(process, values))
            )
            arrays.append(sql_cast(_array(f"c{k}", Text()), ARRAY(JSON)))
        elif name not in keys and values.count(values[0]) == len(values):
            selected[name] = sql_cast(bindparam(f"c{k}", values[0], type_=column_type), column_type)
            continue
        else:
            params[f"c{k}"] = values
            arrays.append(_array(f"c{k}", column_type))
        selected[name] = None
    varying = [name for name, value in selected.items() if value is None]
    unnested = (
        func.unnest(*arrays)
        .table_valued(*(sql_column(name, table.c[name].type) for name in varying))
        .render_derived()
        .alias("v")
    )
    query = select(
        *(
            unnested.c[name] if value is None else value.label(name)
            for name, value in selected.items()
        )
    ).where(true())
    return query, params
