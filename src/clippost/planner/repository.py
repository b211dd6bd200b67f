"""Every statement the planner runs: a batch of readers at a time, never one per reader.

A batch is one transaction: claim up to `BATCH` due readers, read what their digests need,
write their digests, highlight counters and next slots, commit. Each read and write below
is one statement for the whole batch (a few, in chunks, for SQLite's parameter limit):

- `claim`: due readers, `FOR UPDATE SKIP LOCKED` on PostgreSQL (`db.dialect.skip_locked`),
  in the order of `ix_subscribers_status_next_slot_at`. Each planner locks a disjoint set
  and never waits on another's, so N planners split the work; on SQLite the transaction's
  BEGIN IMMEDIATE holds the one write lock instead. A reader planned and committed has a
  later `next_slot_at` and no longer matches, so a planner killed mid-batch leaves its
  batch exactly as it was (rolled back, locks gone) for the next claim.
- `windows`: each reader's next-due highlights, one index range of `ix_rotation_window`
  per reader (`db.dialect.first_rows_per_key`), whatever the library's size, as the
  selection's entries: the narrow `rotation` table alone (models/rotation.py), its rows
  carrying the book's weight, the favourite flag and the date (read only for readers with
  an age bias), nothing joined.
- `library`: every highlight of the stale readers only, with its rotation row if it has
  one (their rotation is laid out again, `write_layout` upserting the rows that changed).
- `contents`: the text and book of the chosen highlights only.
- the writes: `enqueue_many` (outbox/repository.py through db/bulk.py's `insert_rows`:
  INSERT ... ON CONFLICT DO NOTHING RETURNING of the whole batch), `mark_sent` (the sent
  highlights' rotation rows) and `advance` (db/bulk.py's `update_rows`), and
  `record_skipped` (one multi-row INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Table, and_, extract, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from clippost.db.bulk import insert_rows, update_rows
from clippost.db.dialect import (
    first_rows_per_key,
    ids_match,
    insert_or_ignore,
    iso_date,
    skip_locked,
)
from clippost.models import (
    BOOK_WEIGHTS,
    Book,
    Highlight,
    RotationEntry,
    SkippedDigest,
    Subscriber,
    SubscriberStatus,
)
from clippost.planner.payload import Content
from clippost.planner.rotation import Copied, Placed, Stored
from clippost.selection import Entry, month_days

subscribers = cast(Table, Subscriber.__table__)
highlights = cast(Table, Highlight.__table__)
rotation = cast(Table, RotationEntry.__table__)
books = cast(Table, Book.__table__)
skipped_digests = cast(Table, SkippedDigest.__table__)

# Readers per batch: one transaction's worth (on SQLite it holds the write lock this long,
# a few tens of milliseconds); every IN list stays under SQLite's parameter limit.
BATCH = 500
# Rotation rows one upsert writes when a batch lays out whole libraries (bench/plan.py
# --stale: 500 readers of 2,000 highlights would otherwise be one statement).
LAYOUT_ROWS = 5000
# On SQLite a batch holds the one write lock every sign-up and unsubscribe waits for: a
# fifth of a PostgreSQL batch keeps that under about 100 ms (bench/plan.py).
SQLITE_BATCH = 200
T = TypeVar("T")


class DueReader(NamedTuple):
    """A claimed reader's `subscribers` columns as a plain named tuple, its fields naming
    the columns the claim selects, in order. The planner reads about thirty of them per
    reader, and a result row's attribute costs ten times a named tuple's (466 ns against
    43: it is found only once the ordinary lookup has failed), its `_mapping` 730 ns."""

    id: int
    email: str
    cadence: str
    hour: int
    weekday: int
    day_of_month: int
    timezone: str
    per_email: int
    paused_until: date | None
    locale: str | None
    library_locale: str | None
    next_slot_at: datetime | None
    link_generation: int
    rotation_clock: int
    rotation_size: int
    rotation_stale: bool
    rotation_oldest: date | None
    rotation_newest: date | None
    age_bias: str
    on_this_day: bool


_READER_COLUMNS = tuple(subscribers.c[name] for name in DueReader._fields)


async def claim(connection: AsyncConnection, *, horizon: datetime, limit: int) -> list[DueReader]:
    """Up to `limit` confirmed readers due by `horizon` (never planned ones first), locked
    for this transaction. Two statements, each an index range: an OR of the two conditions
    would cost PostgreSQL a bitmap of every match for each batch."""
    confirmed = subscribers.c.status == SubscriberStatus.CONFIRMED.value
    # Ordered by the slot (all NULL) so that SQLite reads the index whatever ANALYZE saw:
    # with statistics taken while every reader shared one slot (the readers due at one
    # hour), it costs `IS NULL` as that whole slot and, with no order to keep, scans every
    # reader instead, 20 ms a batch at 100,000 (tests/planner/test_claim_plan.py).
    never = (
        select(*_READER_COLUMNS)
        .where(confirmed, subscribers.c.next_slot_at.is_(None))
        .order_by(subscribers.c.next_slot_at)
    )
    found = list(
        map(DueReader._make, await connection.execute(skip_locked(never.limit(limit), connection)))
    )
    if len(found) < limit:
        due = (
            select(*_READER_COLUMNS)
            .where(confirmed, subscribers.c.next_slot_at <= horizon)
            .order_by(subscribers.c.next_slot_at)
            .limit(limit - len(found))
        )
        found += map(DueReader._make, await connection.execute(skip_locked(due, connection)))
    return found


async def reader(connection: AsyncConnection, subscriber_id: int) -> DueReader | None:
    query = select(*_READER_COLUMNS).where(subscribers.c.id == subscriber_id)
    row = (await connection.execute(query)).one_or_none()
    return None if row is None else DueReader._make(row)


async def library(
    connection: AsyncConnection, subscriber_ids: Sequence[int]
) -> dict[int, list[Stored]]:
    """Every highlight of these readers, as the layout reads it, in id order: with its
    book's weight, and its rotation row's columns when it has one."""
    query = (
        select(
            highlights.c.subscriber_id,
            highlights.c.id,
            highlights.c.book_id,
            highlights.c.text,
            highlights.c.favourite,
            highlights.c.discarded,
            books.c.frequency,
            highlights.c.highlighted_at,
            rotation.c.highlight_id,
            rotation.c.turn,
            rotation.c.stride,
            rotation.c.in_rotation,
            rotation.c.book_id,
            rotation.c.weight,
            rotation.c.favourite,
            rotation.c.highlighted_at,
        )
        .join(
            books,
            and_(
                books.c.id == highlights.c.book_id,
                books.c.subscriber_id == highlights.c.subscriber_id,
            ),
        )
        .outerjoin(rotation, rotation.c.highlight_id == highlights.c.id)
    )
    found: dict[int, list[Stored]] = defaultdict(list)
    # The same readers named on both sides of the join, so that each side is an index range
    # of their own rows (never a scan of every book: invariant 11).
    for (matched, params), (books_matched, _) in zip(
        ids_match(connection, highlights.c.subscriber_id, subscriber_ids),
        ids_match(connection, books.c.subscriber_id, subscriber_ids),
        strict=True,
    ):
        rows = await connection.execute(
            query.where(matched, books_matched).order_by(highlights.c.id), params
        )
        for (
            reader_id,
            hid,
            book,
            text,
            favourite,
            discarded,
            frequency,
            made,
            placed,
            turn,
            stride,
            flag,
            *copied,
        ) in rows:
            found[reader_id].append(
                Stored(
                    hid,
                    book,
                    text,
                    bool(favourite),
                    bool(discarded),
                    BOOK_WEIGHTS.get(frequency, 1.0),
                    turn,
                    stride,
                    bool(flag),
                    made,
                    None if placed is None else _copied(*copied),
                )
            )
    return found


def _copied(book: int, weight: float, favourite: bool, made: datetime | None) -> Copied:
    return Copied(book, float(weight), bool(favourite), made)


_LAYOUT_COLUMNS = (
    "highlight_id",
    "subscriber_id",
    "book_id",
    "weight",
    "favourite",
    "highlighted_at",
    "turn",
    "stride",
    "in_rotation",
)


async def write_layout(
    connection: AsyncConnection,
    changed: dict[int, Sequence[Placed]],
    sizes: dict[int, int],
    spans: dict[int, tuple[date | None, date | None]],
) -> None:
    """Store laid-out rotations: each reader's changed rotation rows (`changed`, by reader;
    upserted, a row's send count and time kept), each reader's size and date span, and the
    reader no longer stale."""
    rows = [
        (
            p.highlight_id,
            reader_id,
            p.book_id,
            p.weight,
            p.favourite,
            p.highlighted_at,
            p.turn,
            p.stride,
            p.in_rotation,
        )
        for reader_id, placed in changed.items()
        for p in placed
    ]
    for chunk in _chunks(rows, LAYOUT_ROWS):
        await insert_rows(
            connection,
            rotation,
            _LAYOUT_COLUMNS,
            chunk,
            keys=["highlight_id"],
            replace=_LAYOUT_COLUMNS[2:],
        )
    ids = sorted(sizes)
    await update_rows(
        connection,
        subscribers,
        ids,
        where=true(),
        shared={"rotation_stale": False},
        per_row={
            "rotation_size": [sizes[i] for i in ids],
            "rotation_oldest": [spans[i][0] for i in ids],
            "rotation_newest": [spans[i][1] for i in ids],
        },
    )


_WINDOW_COLUMNS = ("highlight_id", "book_id", "turn", "weight", "favourite")


async def windows(
    connection: AsyncConnection, subscriber_ids: Sequence[int], *, limit: int, dated: bool
) -> dict[int, list[Entry]]:
    """The first `limit` highlights in rotation of each reader, as the selection's entries
    (in no particular order: `selection.window` orders them), each weighted by its book
    (the weight copied into the rotation row when it was laid out).

    With `dated`, each entry carries its highlight's date; without, none does. Only the
    age bias reads a window entry's date (`selection.rates.strides`; the on-this-day
    candidates are read apart), and a date is the window's dearest value to read: the
    driver builds a datetime from a timedelta for each (about half a window's decoding)."""
    columns = (*_WINDOW_COLUMNS, "highlighted_at") if dated else _WINDOW_COLUMNS
    found: dict[int, list[Entry]] = {}
    for chunk in _chunks(subscriber_ids, BATCH):
        found.update(
            await first_rows_per_key(
                connection,
                rotation,
                chunk,
                key="subscriber_id",
                columns=columns,
                flag="in_rotation",
                order_by=("turn", "highlight_id"),
                limit=limit,
                make=Entry,
            )
        )
    return found


def _entries(rows: Iterable[Sequence[Any]]) -> list[Entry]:
    """Rows of (id, book, turn, weight, favourite, highlighted at) as entries (the
    on-this-day candidates; the windows are made by `first_rows_per_key`), one call a row."""
    return [
        Entry(hid, book, turn, weight, favourite, made)
        for hid, book, turn, weight, favourite, made in rows
    ]


async def on_this_day(
    connection: AsyncConnection, subscriber_ids: Sequence[int], *, today: date
) -> dict[int, list[Entry]]:
    """Each reader's highlights in rotation made on this month-day (`selection.month_days`)
    of an earlier year, as entries: the candidates of the on-this-day slot, for readers who
    asked for it. Portable EXTRACT (strftime on SQLite); an index range of the reader's rows."""
    made = rotation.c.highlighted_at
    days = month_days(today)
    same_day = or_(
        *(
            and_(extract("month", made) == day // 100, extract("day", made) == day % 100)
            for day in days
        )
    )
    query = select(
        rotation.c.subscriber_id,
        rotation.c.highlight_id,
        rotation.c.book_id,
        rotation.c.turn,
        rotation.c.weight,
        rotation.c.favourite,
        made,
    ).where(
        rotation.c.in_rotation,
        made.is_not(None),
        made < datetime(today.year, 1, 1),  # noqa: DTZ001 - the device wrote naive local time
        same_day,
    )
    grouped: dict[int, list[Sequence[Any]]] = defaultdict(list)
    for matched, params in ids_match(connection, rotation.c.subscriber_id, subscriber_ids):
        for reader_id, *row in await connection.execute(query.where(matched), params):
            grouped[reader_id].append(row)
    return {reader_id: _entries(rows) for reader_id, rows in grouped.items()}


async def contents(connection: AsyncConnection, ids: Sequence[int]) -> dict[int, Content]:
    """What the payload shows of each chosen highlight, with its book, as plain tuples."""
    found: dict[int, Content] = {}
    for matched, params in ids_match(connection, highlights.c.id, list(ids)):
        for row in await connection.execute(_CONTENTS.where(matched), params):
            found[row[0]] = cast(Content, tuple(row))
    return found


_CONTENTS = select(
    highlights.c.id,
    highlights.c.text,
    highlights.c.note,
    highlights.c.page,
    highlights.c.location_start,
    highlights.c.location_end,
    # The payload shows the date alone: as the text it stores, no datetime decoded.
    iso_date(highlights.c.highlighted_at),
    highlights.c.favourite,
    books.c.title,
    books.c.author,
).join(books, books.c.id == highlights.c.book_id)


async def mark_sent(
    connection: AsyncConnection, turns: dict[int, int], sent_at: dict[int, datetime]
) -> None:
    """The chosen highlights' new turns, one more send each, and when (their rotation rows)."""
    ids = sorted(turns)
    await update_rows(
        connection,
        rotation,
        ids,
        where=true(),
        shared={"times_sent": rotation.c.times_sent + 1},
        per_row={"turn": [turns[i] for i in ids], "last_sent_at": [sent_at[i] for i in ids]},
    )


async def advance(
    connection: AsyncConnection, next_slots: dict[int, datetime], clocks: dict[int, int]
) -> None:
    """Each planned reader's next slot, and its clock (unchanged for a reader not sent to)."""
    ids = sorted(next_slots)
    await update_rows(
        connection,
        subscribers,
        ids,
        where=true(),
        shared={},
        per_row={
            "next_slot_at": [next_slots[i] for i in ids],
            "rotation_clock": [clocks[i] for i in ids],
        },
    )


async def record_skipped(connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Skipped slots, each once (UNIQUE subscriber, kind, slot: a re-run records nothing)."""
    keys = ["subscriber_id", "kind", "slot"]
    await connection.execute(insert_or_ignore(connection, SkippedDigest, keys=keys), rows)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
