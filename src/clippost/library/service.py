"""A reader's library as the manage page and the emails' links use it.

Each function is one request's work inside the caller's transaction; every query is scoped
to the subscriber, so an id from one reader's page never reaches another reader's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.db.base import row_id
from clippost.errors import BadInput, InvalidLink, NotFound, PayloadTooLarge
from clippost.library import chunks, export, search
from clippost.library import repository as repo
from clippost.library.overview import library_overview
from clippost.library.search import HighlightFilter, Show
from clippost.library.views import (
    BookView,
    ExportFile,
    HighlightPage,
    HighlightView,
    ImportResult,
    LibraryView,
)
from clippost.links import Purpose
from clippost.models import BookFrequency

__all__ = [
    "BookView",
    "ExportFile",
    "Feedback",
    "HighlightFilter",
    "HighlightPage",
    "HighlightView",
    "ImportResult",
    "LibraryView",
    "Show",
    "apply_feedback",
    "check_room",
    "export_library",
    "feedback_from_link",
    "find_highlights",
    "highlight_from_link",
    "library_overview",
    "merge_chunk",
    "plan_upload",
    "set_book_frequencies",
    "set_book_frequency",
    "set_highlight_flags",
    "upload_more",
    "upload_result",
]

_MAX_PAGE = 200
_MAX_QUERY = 200
_NOT_FOUND = "That highlight is not in your library (it may have been erased)."
SIGNED_OUT = (
    "This link no longer works: every link was signed out. The links in your next email "
    "work, or ask for a manage link with your address."
)


async def find_highlights(
    session: AsyncSession,
    subscriber_id: int,
    wanted: HighlightFilter,
    *,
    offset: int = 0,
    limit: int = 50,
) -> HighlightPage:
    """One page of the highlights that match `wanted`, with how many match in all."""
    wanted = HighlightFilter(wanted.text.strip()[:_MAX_QUERY], wanted.book_id, wanted.show)
    limit = min(max(limit, 1), _MAX_PAGE)
    total = await search.count(session, subscriber_id, wanted)
    # A page past the end (an old bookmark, a filter that now matches less): the last one.
    offset = min(max(offset, 0), max(total - 1, 0) // limit * limit)
    found = await search.search(
        session,
        subscriber_id,
        wanted.text,
        book_id=wanted.book_id,
        show=wanted.show,
        limit=limit,
        offset=offset,
    )
    return HighlightPage(highlights=found, offset=offset, limit=limit, total=total)


async def set_book_frequency(
    session: AsyncSession, subscriber_id: int, book_id: int, frequency: str
) -> None:
    if frequency not in {f.value for f in BookFrequency}:
        raise BadInput("How often a book comes up must be never, less, normal or more.")
    if not await repo.set_frequency(session, subscriber_id, book_id, frequency):
        raise NotFound("That book is not in your library.")


async def set_book_frequencies(
    session: AsyncSession, subscriber_id: int, frequencies: dict[int, str]
) -> int:
    """Every book's frequency from the one form; returns how many books changed.

    Checked whole before anything is written: one bad value changes no book.
    """
    allowed = {f.value for f in BookFrequency}
    if any(value not in allowed for value in frequencies.values()):
        raise BadInput("How often a book comes up must be never, less, normal or more.")
    current = {row.id: row.frequency for row in await repo.book_overview(session, subscriber_id)}
    if set(frequencies) - set(current):
        raise NotFound("That book is not in your library.")
    changed = {book: value for book, value in frequencies.items() if current[book] != value}
    for book_id, value in changed.items():
        await repo.set_frequency(session, subscriber_id, book_id, value)
    return len(changed)


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


@dataclass(frozen=True, slots=True)
class Feedback:
    """What a favourite or never-again link did: the highlight after, and whether the
    click changed it (a second click, or a passage already marked, changes nothing)."""

    highlight: HighlightView
    changed: bool


_FLAGS = {Purpose.FAVOURITE: "favourite", Purpose.DISCARD: "discarded"}


async def highlight_from_link(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> HighlightView:
    """The one highlight a favourite, never-again or passage link names; changes nothing."""
    return (await _linked(session, ctx, purpose, token))[1]


async def _linked(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> tuple[int, HighlightView]:
    """The owner and the highlight a link names."""
    if purpose not in (*_FLAGS, Purpose.PASSAGE):
        raise InvalidLink("This link is not valid.")
    data = ctx.links.read_highlight_link(purpose, token, now=ctx.now)
    if not (data.subject.isascii() and data.subject.isdigit()):
        raise InvalidLink("This link is not valid.")
    highlight_id = row_id(data.subject)
    if highlight_id is None:  # no row has it: gone, as an erased one is
        raise NotFound(_NOT_FOUND)
    found = await repo.highlight_owner(session, highlight_id)
    if found is None:
        raise NotFound(_NOT_FOUND)
    owner, generation = found
    # A link names the generation it was made in ("" before links named one: the first);
    # signing out every link moves the generation on, and these stop with manage links.
    if (data.extra or "0") != str(generation):
        raise InvalidLink(SIGNED_OUT)
    view = await repo.highlight(session, owner, highlight_id)
    if view is None:  # pragma: no cover - the owner was just read
        raise NotFound(_NOT_FOUND)
    return owner, view


async def apply_feedback(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str, *, undo: bool
) -> Feedback:
    """A digest's favourite or never-again link: marks that one highlight (or, with
    `undo`, takes the mark back off), nothing else."""
    if purpose not in _FLAGS:
        raise InvalidLink("This link is not valid.")
    owner, before = await _linked(session, ctx, purpose, token)
    flag = _FLAGS[purpose]
    wanted = not undo
    if getattr(before, flag) == wanted:
        return Feedback(before, changed=False)
    after = await set_highlight_flags(session, owner, before.id, **{flag: wanted})
    return Feedback(after, changed=True)


async def feedback_from_link(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> HighlightView:
    """A digest's favourite or discard link: marks that one highlight, nothing else."""
    return (await apply_feedback(session, ctx, purpose, token, undo=False)).highlight


async def upload_more(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, library: Library
) -> ImportResult:
    """An upload merged in one transaction (the CLI's import; the site's uploads go in
    chunks: `plan_upload`, `merge_chunk`, `upload_result`)."""
    merged = await merge_chunk(session, ctx, subscriber_id, library)
    return await upload_result(session, subscriber_id, library, [merged])


async def check_room(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, library: Library
) -> None:
    """Refuse (413), before anything is merged, an import that would take the reader's
    library past `max_books_per_reader` or `max_highlights_per_reader`. Only what is new
    counts: uploading the same file again always fits."""
    identities = [h.identity for b in library.books for h in b.highlights]
    await check_room_for(session, ctx, subscriber_id, books=library, identities=identities)


async def check_room_for(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    *,
    books: Library,
    identities: Sequence[str],
) -> None:
    """`check_room` for an import given as its books (their highlights not needed) and its
    highlights' identities: what the worker has of an upload it merges chunk by chunk."""
    settings = ctx.settings
    book_total = await repo.book_count(session, subscriber_id)
    book_total += len(
        {b.identity for b in books.books} - await repo.known_books(session, subscriber_id, books)
    )
    known = await repo.identities_in(session, subscriber_id, identities)
    highlights = await repo.highlight_count(session, subscriber_id)
    highlights += sum(1 for identity in identities if identity not in known)
    if (
        book_total > settings.max_books_per_reader
        or highlights > settings.max_highlights_per_reader
    ):
        raise PayloadTooLarge(
            f"With this file your library would hold {highlights:,} highlights in "
            f"{book_total:,} books; a library holds up to "
            f"{settings.max_highlights_per_reader:,} highlights in "
            f"{settings.max_books_per_reader:,} books. Nothing was added: set books you "
            "no longer want to never, or upload fewer books."
        )


async def plan_upload(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, library: Library
) -> list[Library]:
    """An upload from the manage page, checked against the reader's limits and cut into
    the chunks `merge_chunk` takes one transaction each (library/chunks.py)."""
    await check_room(session, ctx, subscriber_id, library)
    return chunks.split(library)


async def merge_chunk(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, chunk: Library
) -> repo.MergeResult:
    if chunk.language:  # the device language of the reader's latest import
        await repo.remember_language(session, subscriber_id, chunk.language)
    return await repo.merge_library(session, subscriber_id, chunk, now=ctx.now)


async def upload_result(
    session: AsyncSession, subscriber_id: int, library: Library, merged: list[repo.MergeResult]
) -> ImportResult:
    """What an upload's merged chunks added, and the library's size after."""
    new_books = sum(m.new_books for m in merged)
    new_highlights = sum(m.new_highlights for m in merged)
    total = await repo.highlight_count(session, subscriber_id)
    known = library.highlight_count - new_highlights
    return ImportResult(new_books, new_highlights, total, known_highlights=known)


async def library_document(session: AsyncSession, subscriber_id: int) -> dict[str, Any]:
    """The JSON export's library part, as a document to add to."""
    rows = await repo.all_highlights(session, subscriber_id)
    books = await repo.book_overview(session, subscriber_id)
    return export.json_document(export.collect(books, rows))


async def export_library(session: AsyncSession, subscriber_id: int, fmt: str) -> ExportFile:
    """Everything in the library as Markdown, CSV (re-importable) or JSON (complete)."""
    writer = export.WRITERS.get(fmt)
    if writer is None:
        raise BadInput("Export format must be markdown, csv or json.")
    rows = await repo.all_highlights(session, subscriber_id)
    books = await repo.book_overview(session, subscriber_id)
    return writer(export.collect(books, rows))
