"""A reader's library as the manage page and the emails' links use it.

Each function is one request's work inside the caller's transaction; every query is scoped
to the subscriber, so an id from one reader's page never reaches another reader's rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import BadInput, InvalidLink, NotFound
from clippost.library import export
from clippost.library import repository as repo
from clippost.library.views import (
    BookView,
    ExportFile,
    HighlightView,
    ImportResult,
    LibraryView,
)
from clippost.links import Purpose
from clippost.models import BookFrequency
from clippost.selection import select_highlights

__all__ = [
    "BookView",
    "ExportFile",
    "HighlightView",
    "ImportResult",
    "LibraryView",
    "export_library",
    "feedback_from_link",
    "library_overview",
    "preview_highlights",
    "search_highlights",
    "set_book_frequency",
    "set_highlight_flags",
    "upload_more",
]

_MAX_PAGE = 200
_MAX_QUERY = 200
_NOT_FOUND = "That highlight is not in your library (it may have been erased)."


async def library_overview(session: AsyncSession, subscriber_id: int) -> LibraryView:
    rows = await repo.book_overview(session, subscriber_id)
    return LibraryView(
        books=[repo.book_view(row) for row in rows],
        highlight_count=sum(row.highlights for row in rows),
        favourite_count=sum(int(row.favourites) for row in rows),
        discarded_count=sum(int(row.discarded) for row in rows),
    )


async def search_highlights(
    session: AsyncSession,
    subscriber_id: int,
    query: str = "",
    *,
    book_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[HighlightView]:
    """Highlights whose text, note or book title contains `query`, in any case."""
    return await repo.search(
        session,
        subscriber_id,
        query.strip()[:_MAX_QUERY],
        book_id=book_id,
        limit=min(max(limit, 1), _MAX_PAGE),
        offset=max(offset, 0),
    )


async def set_book_frequency(
    session: AsyncSession, subscriber_id: int, book_id: int, frequency: str
) -> None:
    if frequency not in {f.value for f in BookFrequency}:
        raise BadInput("How often a book comes up must be never, less, normal or more.")
    if not await repo.set_frequency(session, subscriber_id, book_id, frequency):
        raise NotFound("That book is not in your library.")


async def set_highlight_flags(
    session: AsyncSession,
    subscriber_id: int,
    highlight_id: int,
    *,
    favourite: bool | None = None,
    discarded: bool | None = None,
) -> HighlightView:
    values = {
        name: value
        for name, value in (("favourite", favourite), ("discarded", discarded))
        if value is not None
    }
    if values and not await repo.set_flags(session, subscriber_id, highlight_id, values):
        raise NotFound(_NOT_FOUND)
    view = await repo.highlight(session, subscriber_id, highlight_id)
    if view is None:
        raise NotFound(_NOT_FOUND)
    return view


async def feedback_from_link(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> HighlightView:
    """A digest's favourite or discard link: marks that one highlight, nothing else."""
    if purpose not in (Purpose.FAVOURITE, Purpose.DISCARD):
        raise InvalidLink("This link is not valid.")
    data = ctx.links.read(purpose, token, now=ctx.now)
    if not data.subject.isdigit():
        raise InvalidLink("This link is not valid.")
    highlight_id = int(data.subject)
    owner = await repo.highlight_owner(session, highlight_id)
    if owner is None:
        raise NotFound(_NOT_FOUND)
    flag = "favourite" if purpose is Purpose.FAVOURITE else "discarded"
    return await set_highlight_flags(session, owner, highlight_id, **{flag: True})


async def upload_more(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, library: Library
) -> ImportResult:
    """An upload from the manage page (the owner is signed in there): merged at once."""
    merged = await repo.merge_library(session, subscriber_id, library, now=ctx.now)
    total = await repo.highlight_count(session, subscriber_id)
    return ImportResult(merged.new_books, merged.new_highlights, total)


async def export_library(session: AsyncSession, subscriber_id: int, fmt: str) -> ExportFile:
    """Everything in the library as Markdown, CSV (re-importable) or JSON (complete)."""
    writer = export.WRITERS.get(fmt)
    if writer is None:
        raise BadInput("Export format must be markdown, csv or json.")
    rows = await repo.all_highlights(session, subscriber_id)
    books = await repo.book_overview(session, subscriber_id)
    return writer(export.collect(books, rows))


async def preview_highlights(
    session: AsyncSession, subscriber_id: int, count: int, *, now: datetime
) -> list[HighlightView]:
    """What a digest of `count` would hold now, by the selection rules, with a fixed seed
    so that the same library always previews the same highlights."""
    candidates = await repo.candidates(session, subscriber_id)
    chosen = select_highlights(candidates, count, f"preview:{subscriber_id}", now=now)
    return await repo.views_by_id(session, subscriber_id, chosen)
