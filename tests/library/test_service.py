"""Library services: overview, verdicts, feedback links, uploads from the manage page, export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from sqlalchemy import select

from clippost import clippings
from clippost.clippings.identity import book_identity, highlight_identity
from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.errors import BadInput, InvalidLink, NotFound
from clippost.library import service
from clippost.library.upload import parse_upload
from clippost.links import Purpose
from clippost.models import Book, Highlight
from factories import record_sends

MakeLibrary = Callable[..., Library]
DUNE = ("Dune", "Frank Herbert")
EMMA = ("Emma", "Austen, Jane")
BOOKS = {
    DUNE: [("Fear is the mind-killer.", "Litany\nagainst fear"), "The spice must flow."],
    EMMA: ['Badly done, "Emma", badly done!', "A mind lively and at ease."],
}


async def _stocked(db: Database, ctx: ServiceContext, subscriber_id: int, library: Library) -> None:
    async with db.transaction() as session:
        await service.upload_more(session, ctx, subscriber_id, library)


async def _highlight_id(db: Database, text: str) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(Highlight.id).where(Highlight.text == text))
    assert found is not None
    return found


class TestOverviewAndFlags:
    async def test_overview_totals(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """The overview lists books and totals highlights, favourites and discards."""
        await _stocked(database, ctx, subscriber_id, make_library(BOOKS))
        spice = await _highlight_id(database, "The spice must flow.")
        async with database.transaction() as session:
            await service.set_highlight_flags(session, subscriber_id, spice, favourite=True)
            view = await service.library_overview(session, subscriber_id)
        assert [(b.title, b.highlight_count, b.frequency) for b in view.books] == [
            ("Dune", 2, "normal"),
            ("Emma", 2, "normal"),
        ]
        assert (view.highlight_count, view.favourite_count, view.discarded_count) == (4, 1, 0)

    async def test_overview_reads_one_page_of_books_and_counts_them_all(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A page of the books in title order, with the library's totals; a book asked for
        apart from the page comes besides; a page past the end is the last one."""
        books = {(f"Book {n}", None): [f"Passage {n}-{i}." for i in range(n)] for n in (1, 2, 3)}
        await _stocked(database, ctx, subscriber_id, make_library({**BOOKS, **books}))
        async with database.read() as session:
            first = await service.library_overview(session, subscriber_id, limit=2)
            book_3 = await session.scalar(select(Book.id).where(Book.title == "Book 3"))
            chosen = await service.library_overview(session, subscriber_id, limit=2, chosen=book_3)
            on_page = first.books[1].id
            shown = await service.library_overview(session, subscriber_id, limit=2, chosen=on_page)
            beyond = await service.library_overview(session, subscriber_id, offset=9, limit=2)
        assert [(b.title, b.highlight_count) for b in first.books] == [("Book 1", 1), ("Book 2", 2)]
        assert (first.book_count, first.highlight_count, first.books_offset) == (5, 10, 0)
        assert first.chosen is None
        assert chosen.chosen is not None
        assert (chosen.chosen.title, chosen.chosen.highlight_count) == ("Book 3", 3)
        assert [b.title for b in chosen.books] == ["Book 1", "Book 2"]
        assert shown.chosen is None
        assert [b.title for b in beyond.books] == ["Emma"]
        assert (beyond.books_offset, beyond.book_count) == (4, 5)

    async def test_flags_of_another_readers_highlight_are_not_found(
        self,
        database: Database,
        ctx: ServiceContext,
        subscriber_id: int,
        make_library: MakeLibrary,
        new_subscriber: Callable[..., object],
    ) -> None:
        """A reader cannot mark a highlight that is not theirs."""
        await _stocked(database, ctx, subscriber_id, make_library(BOOKS))
        spice = await _highlight_id(database, "The spice must flow.")
        async with database.transaction() as session:
            other = await new_subscriber(session, "other@example.org")  # type: ignore[misc]
        with pytest.raises(NotFound):
            async with database.transaction() as session:
                await service.set_highlight_flags(session, other, spice, discarded=True)

    async def test_book_frequency_is_validated_and_scoped(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Frequency takes never/less/normal/more for the reader's own books only."""
        await _stocked(database, ctx, subscriber_id, make_library(BOOKS))
        async with database.transaction() as session:
            dune = await session.scalar(select(Book.id).where(Book.title == "Dune"))
            assert dune is not None
            await service.set_book_frequency(session, subscriber_id, dune, "more")
            with pytest.raises(BadInput):
                await service.set_book_frequency(session, subscriber_id, dune, "always")
            with pytest.raises(NotFound):
                await service.set_book_frequency(session, subscriber_id + 1, dune, "less")
            assert await session.scalar(select(Book.frequency).where(Book.id == dune)) == "more"


class TestFeedbackFromLink:
    async def test_favourite_link_marks_the_highlight(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A digest's favourite link marks exactly that highlight."""
        await _stocked(database, ctx, subscriber_id, make_library(BOOKS))
        spice = await _highlight_id(database, "The spice must flow.")
        token = ctx.links.token(Purpose.FAVOURITE, spice, now=ctx.now)
        async with database.transaction() as session:
            view = await service.feedback_from_link(session, ctx, Purpose.FAVOURITE, token)
        assert view.favourite
        assert view.text == "The spice must flow."

    async def test_a_favourite_token_cannot_discard(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A token signed for favourite is refused as a discard link; nothing changes."""
        await _stocked(database, ctx, subscriber_id, make_library(BOOKS))
        spice = await _highlight_id(database, "The spice must flow.")
        token = ctx.links.token(Purpose.FAVOURITE, spice, now=ctx.now)
        with pytest.raises(InvalidLink):
            async with database.transaction() as session:
                await service.feedback_from_link(session, ctx, Purpose.DISCARD, token)
        async with database.transaction() as session:
            assert not await session.scalar(
                select(Highlight.discarded).where(Highlight.id == spice)
            )

    async def test_a_link_to_an_erased_highlight_is_not_found(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A highlight that no longer exists gets a clear 404."""
        token = ctx.links.token(Purpose.DISCARD, 999, now=ctx.now)
        with pytest.raises(NotFound):
            async with database.transaction() as session:
                await service.feedback_from_link(session, ctx, Purpose.DISCARD, token)


class TestUploadMore:
    async def test_counts_new_books_and_highlights(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """An upload from the manage page reports what was new and the new total."""
        await _stocked(database, ctx, subscriber_id, make_library({DUNE: BOOKS[DUNE]}))
        async with database.transaction() as session:
            result = await service.upload_more(session, ctx, subscriber_id, make_library(BOOKS))
        assert (result.new_books, result.new_highlights, result.total_highlights) == (1, 2, 4)


class TestExport:
    async def _export(
        self, db: Database, ctx: ServiceContext, subscriber_id: int, library: Library, fmt: str
    ) -> bytes:
        await _stocked(db, ctx, subscriber_id, library)
        async with db.transaction() as session:
            exported = await service.export_library(session, subscriber_id, fmt)
        return exported.content

    async def test_csv_reimports_into_the_same_identities(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A CSV export parsed by the import engine gives the same highlights and notes."""
        library = make_library(BOOKS)
        content = await self._export(database, ctx, subscriber_id, library, "csv")
        again = parse_upload(content, max_bytes=1 << 20)
        assert _contents(again) == _contents(library)

    async def test_csv_has_the_import_engines_columns(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """The CSV header is exactly the layout the CSV importer reads, nothing missing."""
        content = await self._export(database, ctx, subscriber_id, make_library(BOOKS), "csv")
        result = clippings.parse(content)
        assert result.format is clippings.SourceFormat.CSV
        assert result.missing_columns == ()
        header = next(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        assert header[:3] == ["Highlight", "Book Title", "Book Author"]

    async def test_csv_neutralises_formula_cells_and_reads_them_back(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Cells starting = + - @ (titles, authors, passages, notes) are written behind an
        apostrophe; uploaded again, the library is the one exported."""
        library = make_library(
            {
                ('=HYPERLINK("http://x.example","y")', "@author"): [
                    ("=1+2 as a passage", "-a note"),
                    "+plus first",
                    "'=already an apostrophe",
                    "'just quoted",
                ],
            }
        )
        content = await self._export(database, ctx, subscriber_id, library, "csv")
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        cells = [cell for row in rows[1:] for cell in row]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
        assert "'=1+2 as a passage" in cells
        assert "''=already an apostrophe" in cells
        assert "'just quoted" in cells  # not a formula: left as it was
        again = parse_upload(content, max_bytes=1 << 20)
        assert _contents(again) == _contents(library)

    async def test_json_holds_everything_and_identities_are_recomputable(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """JSON keeps verdicts and history; its texts give back the stored identities."""
        library = make_library(BOOKS)
        await _stocked(database, ctx, subscriber_id, library)
        spice = await _highlight_id(database, "The spice must flow.")
        async with database.transaction() as session:
            await record_sends(session, list(await session.scalars(select(Highlight.id))), 3)
            await service.set_highlight_flags(session, subscriber_id, spice, favourite=True)
            exported = await service.export_library(session, subscriber_id, "json")
        document = json.loads(exported.content)
        assert document["format"] == "clippost-library"
        books = {book["title"]: book for book in document["books"]}
        spice_row = books["Dune"]["highlights"][1]
        assert (spice_row["favourite"], spice_row["discarded"], spice_row["times_sent"]) == (
            True,
            False,
            3,
        )
        for book in document["books"]:
            identity = book_identity(book["title"], book["author"])
            assert identity == book["identity"]
            for row in book["highlights"]:
                assert highlight_identity(identity, row["text"]) == row["identity"]
        assert _contents_from_json(document) == _contents(library)

    async def test_markdown_has_a_section_per_book(
        self, database: Database, ctx: ServiceContext, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Markdown: a heading per book, each highlight quoted, notes kept."""
        content = await self._export(database, ctx, subscriber_id, make_library(BOOKS), "markdown")
        text = content.decode()
        assert "## Dune — Frank Herbert" in text
        assert "## Emma — Austen, Jane" in text
        assert "> Fear is the mind-killer." in text
        assert "**Note:** Litany" in text

    async def test_unknown_format_is_bad_input(
        self, database: Database, subscriber_id: int
    ) -> None:
        """Only markdown, csv and json are offered."""
        with pytest.raises(BadInput):
            async with database.transaction() as session:
                await service.export_library(session, subscriber_id, "pdf")


def _contents(library: Library) -> set[tuple[str, str, str | None]]:
    return {
        (book.identity, highlight.identity, _note(highlight))
        for book in library.books
        for highlight in book.highlights
    }


def _note(highlight: clippings.Highlight) -> str | None:
    texts = [note.text for note in highlight.notes]
    return "\n\n".join(texts) or None


def _contents_from_json(document: dict[str, object]) -> set[tuple[str, str, str | None]]:
    books = document["books"]
    assert isinstance(books, list)
    return {
        (book["identity"], row["identity"], row["note"])
        for book in books
        for row in book["highlights"]
    }
