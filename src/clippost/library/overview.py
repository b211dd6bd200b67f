"""A reader's library as the manage page shows it: the totals, and one page of the books in
title order (invariant 11).

The page lists `BOOK_PAGE` books at a time, so it reads only those books' rows and builds
only their objects: the totals are counted by the database (one aggregate over the reader's
highlights, one count of their books), each listed book's highlights by one grouped range
of `ix_highlights_subscriber_id_book_id`. A library of thousands of books then costs the
event loop what one of a hundred does (a 1,000-book library read whole, an object a book,
was about half the page's own work).
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.library.views import BookView, LibraryView
from clippost.models import Book, Highlight

# Books listed at a time.
BOOK_PAGE = 100


async def library_overview(
    session: AsyncSession,
    subscriber_id: int,
    *,
    offset: int = 0,
    limit: int = BOOK_PAGE,
    chosen: int | None = None,
) -> LibraryView:
    """The reader's totals and `limit` of their books from `offset` (a page past the end:
    the last one), with book `chosen` besides when it is theirs and not on that page."""
    limit = max(limit, 1)
    totals = (
        await session.execute(
            select(
                func.count(Highlight.id),
                func.coalesce(func.sum(case((Highlight.favourite, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Highlight.discarded, 1), else_=0)), 0),
            ).where(Highlight.subscriber_id == subscriber_id)
        )
    ).one()
    book_count = int(
        await session.scalar(select(func.count(Book.id)).where(Book.subscriber_id == subscriber_id))
        or 0
    )
    offset = min(max(offset, 0), max(book_count - 1, 0) // limit * limit)
    page = (
        select(Book.id, Book.title, Book.author, Book.frequency)
        .where(Book.subscriber_id == subscriber_id)
        .order_by(func.lower(Book.title), Book.id)
        .limit(limit)
        .offset(offset)
    )
    rows = list(await session.execute(page))
    if chosen is not None and all(row.id != chosen for row in rows):
        query = select(Book.id, Book.title, Book.author, Book.frequency).where(
            Book.subscriber_id == subscriber_id, Book.id == chosen
        )
        rows += list(await session.execute(query))
    counts = await _highlight_counts(session, subscriber_id, [row.id for row in rows])
    books = [
        BookView(row.id, row.title, row.author, row.frequency, counts.get(row.id, 0))
        for row in rows
    ]
    shown = books[:limit]
    return LibraryView(
        books=shown,
        book_count=book_count,
        highlight_count=int(totals[0]),
        favourite_count=int(totals[1]),
        discarded_count=int(totals[2]),
        books_offset=offset,
        chosen=books[limit] if len(books) > limit else None,
    )


async def _highlight_counts(
    session: AsyncSession, subscriber_id: int, book_ids: list[int]
) -> dict[int, int]:
    if not book_ids:
        return {}
    query = (
        select(Highlight.book_id, func.count(Highlight.id))
        .where(Highlight.subscriber_id == subscriber_id, Highlight.book_id.in_(book_ids))
        .group_by(Highlight.book_id)
    )
    return {int(book): int(count) for book, count in await session.execute(query)}
