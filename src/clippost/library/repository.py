"""All library SQL: books and highlights of one reader.

Imports merge by content identity (book identity, highlight identity from the import
engine): an identity already in the library is updated in place (text, note, position) and
keeps its favourite, discard and delivery history; a new identity is inserted. Existing
identities are looked up in chunks and new rows inserted in multi-row statements with
ON CONFLICT DO NOTHING, so a 10,000-highlight import is a few dozen statements, and two
imports racing for the same library can neither duplicate a row nor fail on one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings import models as clip
from clippost.db.dialect import insert_or_ignore
from clippost.library.views import HighlightView
from clippost.models import Book, Highlight, RotationEntry, Subscriber

# Under both drivers' bound-parameter limits (SQLite 32,766, asyncpg 32,767) with room:
# a highlight row binds 12 values.
_LOOKUP_CHUNK = 1000
_INSERT_CHUNK = 500
# Column widths of the schema: longer values are cut rather than refused by PostgreSQL.
_TITLE_WIDTH = 1000
_PAGE_WIDTH = 32

T = TypeVar("T")
_Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class MergeResult:
    new_books: int
    new_highlights: int


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    text: str
    note: str | None
    page: str | None
    location_start: int | None
    location_end: int | None


async def merge_library(
    session: AsyncSession, subscriber_id: int, library: clip.Library, *, now: datetime
) -> MergeResult:
    """Merge `library` into the reader's: never a duplicate, never a lost verdict."""
    await mark_rotation_stale(session, subscriber_id)
    book_ids, new_books = await _merge_books(session, subscriber_id, library.books, now=now)
    incoming = _highlight_rows(subscriber_id, library.books, book_ids, now=now)
    stored = await _stored_highlights(session, subscriber_id, list(incoming))
    fresh = [row for identity, row in incoming.items() if identity not in stored]
    await _insert_ignoring_conflicts(session, Highlight, fresh, ["subscriber_id", "identity"])
    await _update_changed(session, incoming, stored)
    await _raise_flags(session, incoming, stored)
    return MergeResult(new_books=new_books, new_highlights=len(fresh))


async def known_identities(
    session: AsyncSession, subscriber_id: int, library: clip.Library
) -> set[str]:
    """Which of `library`'s highlight identities the reader's library already holds."""
    identities = [h.identity for book in library.books for h in book.highlights]
    return await _existing_identities(session, subscriber_id, identities)


async def identities_in(
    session: AsyncSession, subscriber_id: int, identities: Sequence[str]
) -> set[str]:
    """Which of `identities` the reader's library holds."""
    return await _existing_identities(session, subscriber_id, list(identities))


async def _merge_books(
    session: AsyncSession, subscriber_id: int, books: Sequence[clip.Book], *, now: datetime
) -> tuple[dict[str, int], int]:
    identities = list(dict.fromkeys(book.identity for book in books))
    known = await _existing_book_ids(session, subscriber_id, identities)
    rows = [_book_row(subscriber_id, book, now) for book in _unique_books(books, known)]
    await _insert_ignoring_conflicts(session, Book, rows, ["subscriber_id", "identity"])
    ids = await _existing_book_ids(session, subscriber_id, identities) if rows else known
    return ids, len(rows)


def _unique_books(books: Sequence[clip.Book], known: dict[str, int]) -> Iterator[clip.Book]:
    seen = set(known)
    for book in books:
        if book.identity not in seen:
            seen.add(book.identity)
            yield book


def _book_row(subscriber_id: int, book: clip.Book, now: datetime) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "identity": book.identity,
        "title": book.title[:_TITLE_WIDTH],
        "author": book.author[:_TITLE_WIDTH] if book.author else None,
        "frequency": "normal",
        "created_at": now,
    }


def _highlight_rows(
    subscriber_id: int, books: Sequence[clip.Book], book_ids: dict[str, int], *, now: datetime
) -> dict[str, dict[str, Any]]:
    # Keyed by identity: should a library name one identity twice, the later row wins.
    rows: dict[str, dict[str, Any]] = {}
    for book in books:
        for highlight in book.highlights:
            rows[highlight.identity] = {
                "subscriber_id": subscriber_id,
                "book_id": book_ids[book.identity],
                "identity": highlight.identity,
                "text": highlight.text,
                "note": note_text(highlight.notes),
                "page": highlight.page[:_PAGE_WIDTH] if highlight.page else None,
                "location_start": highlight.location_start,
                "location_end": highlight.location_end,
                "highlighted_at": highlight.added_at,
                # The source's own verdicts (a Readwise tag, a ".discard" note) come in.
                "favourite": highlight.favourite,
                "discarded": highlight.discarded,
                "created_at": now,
            }
    return rows


def note_text(notes: Sequence[clip.Note]) -> str | None:
    """Notes written on one highlight, as the one note the library keeps."""
    texts = [note.text.strip() for note in notes if note.text.strip()]
    return "\n\n".join(texts) or None


async def _existing_book_ids(
    session: AsyncSession, subscriber_id: int, identities: list[str]
) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(identities, _LOOKUP_CHUNK):
        query = select(Book.identity, Book.id).where(
            Book.subscriber_id == subscriber_id, Book.identity.in_(chunk)
        )
        found.update({row.identity: row.id for row in await session.execute(query)})
    return found


async def _existing_identities(
    session: AsyncSession, subscriber_id: int, identities: list[str]
) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(identities)), _LOOKUP_CHUNK):
        query = select(Highlight.identity).where(
            Highlight.subscriber_id == subscriber_id, Highlight.identity.in_(chunk)
        )
        found.update(await session.scalars(query))
    return found


async def _stored_highlights(
    session: AsyncSession, subscriber_id: int, identities: list[str]
) -> dict[str, _Stored]:
    found: dict[str, _Stored] = {}
    columns = (
        Highlight.identity,
        Highlight.id,
        Highlight.text,
        Highlight.note,
        Highlight.page,
        Highlight.location_start,
        Highlight.location_end,
    )
    for chunk in _chunks(identities, _LOOKUP_CHUNK):
        query = select(*columns).where(
            Highlight.subscriber_id == subscriber_id, Highlight.identity.in_(chunk)
        )
        for row in await session.execute(query):
            found[row.identity] = _Stored(*row[1:])
    return found


async def _update_changed(
    session: AsyncSession, incoming: dict[str, dict[str, Any]], stored: dict[str, _Stored]
) -> None:
    """Bring stored highlights up to date with the newer import (one executemany)."""
    changes = [
        change
        for identity, current in stored.items()
        if (change := _change(current, incoming[identity])) is not None
    ]
    if not changes:
        return
    table = cast(Table, Highlight.__table__)
    statement = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(
            text=bindparam("new_text"),
            note=bindparam("new_note"),
            page=bindparam("new_page"),
            location_start=bindparam("new_start"),
            location_end=bindparam("new_end"),
        )
    )
    await session.execute(statement, changes)


async def _raise_flags(
    session: AsyncSession, incoming: dict[str, dict[str, Any]], stored: dict[str, _Stored]
) -> None:
    """A verdict the source gives on a highlight already stored (a Readwise `favorite` or
    `discard` tag) is kept; a source without one never clears the reader's own."""
    for flag in ("favourite", "discarded"):
        ids = [current.id for key, current in stored.items() if incoming[key][flag]]
        for chunk in _chunks(ids, _LOOKUP_CHUNK):
            await session.execute(
                update(Highlight).where(Highlight.id.in_(chunk)).values({flag: True})
            )


def _change(current: _Stored, row: dict[str, Any]) -> dict[str, Any] | None:
    # A file without notes (another service's CSV, say) must not wipe a note: keep it.
    note = row["note"] if row["note"] is not None else current.note
    new = (row["text"], note, row["page"], row["location_start"], row["location_end"])
    old = (current.text, current.note, current.page, current.location_start, current.location_end)
    if new == old:
        return None
    return {
        "row_id": current.id,
        "new_text": row["text"],
        "new_note": note,
        "new_page": row["page"] if row["page"] is not None else current.page,
        "new_start": row["location_start"],
        "new_end": row["location_end"],
    }


async def _insert_ignoring_conflicts(
    session: AsyncSession, model: type[Any], rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """One statement, compiled once, run for many rows on the Core table (an executemany;
    both drivers batch it). A multi-row VALUES clause, or the ORM's bulk insert, is
    compiled anew for every batch: for 500 highlights that cost ~0.5 s of the event loop."""
    if not rows:
        return
    statement = insert_or_ignore(session, cast(Table, model.__table__), keys=keys)
    for chunk in _chunks(rows, _INSERT_CHUNK):
        await session.execute(statement, list(chunk))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Reading --------------------------------------------------------------------------------


async def book_overview(session: AsyncSession, subscriber_id: int) -> list[Row[Any]]:
    """Every book with its highlight, favourite and discard counts: one grouped query."""
    query = (
        select(
            Book.id,
            Book.title,
            Book.author,
            Book.frequency,
            func.count(Highlight.id).label("highlights"),
            func.coalesce(func.sum(case((Highlight.favourite, 1), else_=0)), 0).label("favourites"),
            func.coalesce(func.sum(case((Highlight.discarded, 1), else_=0)), 0).label("discarded"),
        )
        # The reader's id on both sides: each book's highlights are then one range of
        # ix_highlights_subscriber_id_book_id, never a search of everyone's highlights.
        .outerjoin(
            Highlight,
            and_(Highlight.subscriber_id == subscriber_id, Highlight.book_id == Book.id),
        )
        .where(Book.subscriber_id == subscriber_id)
        .group_by(Book.id, Book.title, Book.author, Book.frequency)
        .order_by(func.lower(Book.title), Book.id)
    )
    return list(await session.execute(query))


def highlight_query(subscriber_id: int) -> _Query:
    return (
        select(
            Highlight.id,
            Highlight.book_id,
            Book.title.label("book_title"),
            Book.author.label("book_author"),
            Highlight.text,
            Highlight.note,
            Highlight.page,
            Highlight.location_start,
            Highlight.location_end,
            Highlight.favourite,
            Highlight.discarded,
            func.coalesce(RotationEntry.times_sent, 0).label("times_sent"),
            Highlight.highlighted_at,
        )
        .join(Book, and_(Book.id == Highlight.book_id, Book.subscriber_id == subscriber_id))
        # The send count is the planner's (models/rotation.py): none yet for a new highlight.
        .outerjoin(RotationEntry, RotationEntry.highlight_id == Highlight.id)
        .where(Highlight.subscriber_id == subscriber_id)
    )


def in_order(query: _Query) -> _Query:
    return query.order_by(
        func.lower(Book.title), Book.id, Highlight.location_start, Highlight.page, Highlight.id
    )


async def all_highlights(session: AsyncSession, subscriber_id: int) -> list[Row[Any]]:
    """Every highlight with its book and history, in reading order (for exports)."""
    query = highlight_query(subscriber_id).add_columns(
        Book.identity.label("book_identity"),
        Book.frequency.label("book_frequency"),
        Highlight.identity.label("identity"),
        RotationEntry.last_sent_at,
    )
    return list(await session.execute(in_order(query)))


async def highlight(
    session: AsyncSession, subscriber_id: int, highlight_id: int
) -> HighlightView | None:
    query = highlight_query(subscriber_id).where(Highlight.id == highlight_id)
    row = (await session.execute(query)).one_or_none()
    return HighlightView(*row) if row is not None else None


async def highlight_owner(session: AsyncSession, highlight_id: int) -> tuple[int, int] | None:
    """The highlight's reader and their link generation (what feedback links must name)."""
    query = (
        select(Highlight.subscriber_id, Subscriber.link_generation)
        .join(Subscriber, Subscriber.id == Highlight.subscriber_id)
        .where(Highlight.id == highlight_id)
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def views_by_id(
    session: AsyncSession, subscriber_id: int, ids: Sequence[int]
) -> list[HighlightView]:
    """The highlights `ids`, in the order given."""
    found: dict[int, HighlightView] = {}
    for chunk in _chunks(list(ids), _LOOKUP_CHUNK):
        query = highlight_query(subscriber_id).where(Highlight.id.in_(chunk))
        found.update({row.id: HighlightView(*row) for row in await session.execute(query)})
    return [found[i] for i in ids if i in found]


# Writing the reader's verdicts ------------------------------------------------------------


async def set_frequency(
    session: AsyncSession, subscriber_id: int, book_id: int, frequency: str
) -> bool:
    await mark_rotation_stale(session, subscriber_id)
    statement = (
        update(Book)
        .where(Book.id == book_id, Book.subscriber_id == subscriber_id)
        .values(frequency=frequency)
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def set_flags(
    session: AsyncSession, subscriber_id: int, highlight_id: int, values: dict[str, bool]
) -> bool:
    await mark_rotation_stale(session, subscriber_id)
    statement = (
        update(Highlight)
        .where(and_(Highlight.id == highlight_id, Highlight.subscriber_id == subscriber_id))
        .values(**values)
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))


async def mark_rotation_stale(session: AsyncSession, subscriber_id: int) -> None:
    """The library is changing (an import, a verdict, a book's frequency): the planner lays
    the reader's rotation out again before their next digest (planner/rotation.py). One
    flag in the change's own transaction, so no change is ever missed. Called before the
    change's other writes: the reader's row is locked first, as the planner locks it
    first (then the highlights), so the two never wait on each other in a circle."""
    await session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(rotation_stale=True)
    )


async def highlight_count(session: AsyncSession, subscriber_id: int) -> int:
    query = (
        select(func.count()).select_from(Highlight).where(Highlight.subscriber_id == subscriber_id)
    )
    return int(await session.scalar(query) or 0)


async def remember_language(session: AsyncSession, subscriber_id: int, language: str) -> None:
    """The device language of the reader's latest import (their language unless they chose)."""
    await session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(library_locale=language[:16])
    )


async def book_count(session: AsyncSession, subscriber_id: int) -> int:
    query = select(func.count()).select_from(Book).where(Book.subscriber_id == subscriber_id)
    return int(await session.scalar(query) or 0)


async def known_books(session: AsyncSession, subscriber_id: int, library: clip.Library) -> set[str]:
    """Which of `library`'s book identities the reader's library already holds."""
    identities = list(dict.fromkeys(book.identity for book in library.books))
    return set(await _existing_book_ids(session, subscriber_id, identities))
