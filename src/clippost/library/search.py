"""Finding highlights in one reader's library: text search, filters, pages and counts.

The manage page lists the library fifty at a time; the same filter builds both the page's
query and its count, so "51-100 of 520" always describes the list shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.library.repository import highlight_query, in_order
from clippost.library.views import HighlightView
from clippost.models import Book, Highlight, RotationEntry


class Show(StrEnum):
    """Which highlights a list holds."""

    ALL = "all"
    FAVOURITES = "favourites"
    DISCARDED = "discarded"
    NEVER_SENT = "never_sent"


@dataclass(frozen=True, slots=True)
class HighlightFilter:
    text: str = ""  # in the text, the note or the book title, any case; % and _ literal
    book_id: int | None = None
    show: Show = Show.ALL


async def search(
    session: AsyncSession,
    subscriber_id: int,
    text: str,
    *,
    book_id: int | None,
    limit: int,
    offset: int,
    show: Show = Show.ALL,
) -> list[HighlightView]:
    """Highlights matching the filter, in reading order, `limit` from `offset`."""
    query = _filtered(highlight_query(subscriber_id), HighlightFilter(text, book_id, show))
    rows = await session.execute(in_order(query).limit(limit).offset(offset))
    return [HighlightView(*row) for row in rows]


async def count(session: AsyncSession, subscriber_id: int, wanted: HighlightFilter) -> int:
    """How many highlights match the filter (the page's "of N")."""
    base = (
        select(func.count(Highlight.id))
        .join(Book, and_(Book.id == Highlight.book_id, Book.subscriber_id == subscriber_id))
        .where(Highlight.subscriber_id == subscriber_id)
    )
    return int(await session.scalar(_filtered(base, wanted)) or 0)


def _filtered(query: Select[Any], wanted: HighlightFilter) -> Select[Any]:
    if wanted.text:
        # autoescape: the reader's % and _ are matched as themselves, not as wildcards.
        query = query.where(
            or_(
                Highlight.text.icontains(wanted.text, autoescape=True),
                Highlight.note.icontains(wanted.text, autoescape=True),
                Book.title.icontains(wanted.text, autoescape=True),
            )
        )
    if wanted.book_id is not None:
        query = query.where(Highlight.book_id == wanted.book_id)
    return query.where(*_SHOW[wanted.show])


_SHOW: dict[Show, tuple[Any, ...]] = {
    Show.ALL: (),
    Show.FAVOURITES: (Highlight.favourite.is_(True),),
    Show.DISCARDED: (Highlight.discarded.is_(True),),
    # No send recorded in the planner's rotation row (or no row yet): a correlated test, so
    # that the page's list and its count (which joins no rotation) filter alike.
    Show.NEVER_SENT: (
        ~exists()
        .where(RotationEntry.highlight_id == Highlight.id, RotationEntry.times_sent > 0)
        .correlate_except(RotationEntry),
    ),
}
