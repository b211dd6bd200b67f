"""The library's SQL: merging by content identity, search, overview, verdicts (both databases)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import func, select

from clippost.clippings.models import Library
from clippost.db.engine import Database
from clippost.library import repository as repo
from clippost.library import search
from clippost.models import Book, Highlight

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DUNE = ("Dune", "Frank Herbert")
EMMA = ("Emma", "Jane Austen")

MakeLibrary = Callable[..., Library]


async def _merge(db: Database, subscriber_id: int, library: Library) -> repo.MergeResult:
    async with db.transaction() as session:
        return await repo.merge_library(session, subscriber_id, library, now=NOW)


async def _rows(db: Database, subscriber_id: int) -> dict[str, Highlight]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(Highlight).where(Highlight.subscriber_id == subscriber_id)
        )
        return {row.text: row for row in found}


async def _flag(db: Database, subscriber_id: int, text: str, **values: bool) -> None:
    row = (await _rows(db, subscriber_id))[text]
    async with db.transaction() as session:
        assert await repo.set_flags(session, subscriber_id, row.id, values)


class TestMergeLibrary:
    async def test_first_import_stores_books_and_highlights(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Every book and highlight of a first import is stored, notes attached."""
        library = make_library({DUNE: [("Fear.", "a note"), "Spice."], EMMA: ["Badly done."]})
        result = await _merge(database, subscriber_id, library)
        assert result == repo.MergeResult(new_books=2, new_highlights=3)
        rows = await _rows(database, subscriber_id)
        assert rows["Fear."].note == "a note"
        assert set(rows) == {"Fear.", "Spice.", "Badly done."}

    async def test_reimport_adds_nothing(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Importing the same file twice never duplicates a book or a highlight."""
        library = make_library({DUNE: ["Fear.", "Spice."]})
        await _merge(database, subscriber_id, library)
        again = await _merge(database, subscriber_id, library)
        assert again == repo.MergeResult(new_books=0, new_highlights=0)
        assert len(await _rows(database, subscriber_id)) == 2

    async def test_favourites_and_discards_survive_a_reimport(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A re-import keeps the reader's favourite and discard and delivery history."""
        await _merge(database, subscriber_id, make_library({DUNE: ["Fear.", "Spice."]}))
        await _flag(database, subscriber_id, "Fear.", favourite=True)
        await _flag(database, subscriber_id, "Spice.", discarded=True)
        await _merge(database, subscriber_id, make_library({DUNE: ["Fear.", "Spice.", "New."]}))
        rows = await _rows(database, subscriber_id)
        assert rows["Fear."].favourite
        assert rows["Spice."].discarded
        assert not rows["New."].favourite

    async def test_an_edited_note_and_text_update_the_same_identity(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Same identity, newer text and note: updated in place, verdict kept."""
        await _merge(database, subscriber_id, make_library({DUNE: ["fear is the mind-killer"]}))
        await _flag(database, subscriber_id, "fear is the mind-killer", favourite=True)
        newer = make_library({DUNE: [("Fear is the mind-killer.", "Litany")]})
        result = await _merge(database, subscriber_id, newer)
        rows = await _rows(database, subscriber_id)
        assert result.new_highlights == 0
        assert list(rows) == ["Fear is the mind-killer."]
        assert rows["Fear is the mind-killer."].note == "Litany"
        assert rows["Fear is the mind-killer."].favourite

    async def test_an_import_without_notes_keeps_stored_notes(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A later file that lacks a note (another service's export) does not wipe it."""
        await _merge(database, subscriber_id, make_library({DUNE: [("Fear.", "mine")]}))
        await _merge(database, subscriber_id, make_library({DUNE: ["Fear."]}))
        assert (await _rows(database, subscriber_id))["Fear."].note == "mine"

    async def test_libraries_of_two_readers_are_apart(
        self,
        database: Database,
        subscriber_id: int,
        make_library: MakeLibrary,
        new_subscriber: Callable[..., Awaitable[int]],
    ) -> None:
        """The same highlight in two readers' libraries is two rows, one each."""
        async with database.transaction() as session:
            other = await new_subscriber(session, "other@example.org")
        library = make_library({DUNE: ["Fear."]})
        await _merge(database, subscriber_id, library)
        assert (await _merge(database, other, library)).new_highlights == 1

    async def test_ten_thousand_highlights_merge_and_remerge_with_edits(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """10,000 highlights import in one go; a re-import with new notes adds none, updates 100."""
        books = {
            (f"Book {b}", "Author"): [f"Passage {b}-{h}." for h in range(100)] for b in range(100)
        }
        library = make_library(books)
        first = await _merge(database, subscriber_id, library)
        books[("Book 0", "Author")] = [(f"Passage 0-{h}.", "noted") for h in range(100)]
        second = await _merge(database, subscriber_id, make_library(books))
        assert first == repo.MergeResult(new_books=100, new_highlights=10_000)
        assert second == repo.MergeResult(new_books=0, new_highlights=0)
        async with database.transaction() as session:
            noted = await session.scalar(
                select(func.count()).select_from(Highlight).where(Highlight.note == "noted")
            )
        assert noted == 100


class TestSearch:
    async def _library(self, db: Database, subscriber_id: int, make_library: MakeLibrary) -> None:
        books = {
            DUNE: [("Fear is the MIND-killer.", "Bene Gesserit"), "100% of the spice."],
            EMMA: ["A snake_case word.", "Badly done, Emma."],
        }
        await _merge(db, subscriber_id, make_library(books))

    async def _search(self, db: Database, subscriber_id: int, text: str) -> list[str]:
        async with db.transaction() as session:
            found = await search.search(
                session, subscriber_id, text, book_id=None, limit=50, offset=0
            )
        return [view.text for view in found]

    async def test_matches_text_in_any_case(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A lower-case query finds upper-case text."""
        await self._library(database, subscriber_id, make_library)
        assert await self._search(database, subscriber_id, "mind-KILLER") == [
            "Fear is the MIND-killer."
        ]

    async def test_matches_notes_and_titles(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """The note and the book title are searched too."""
        await self._library(database, subscriber_id, make_library)
        assert await self._search(database, subscriber_id, "gesserit") == [
            "Fear is the MIND-killer."
        ]
        assert len(await self._search(database, subscriber_id, "emma")) == 2

    async def test_percent_and_underscore_are_literal(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """% and _ in a query match themselves, not any text."""
        await self._library(database, subscriber_id, make_library)
        assert await self._search(database, subscriber_id, "%") == ["100% of the spice."]
        assert await self._search(database, subscriber_id, "_") == ["A snake_case word."]
        assert await self._search(database, subscriber_id, "e_c") == ["A snake_case word."]

    async def test_only_the_readers_own_highlights(
        self,
        database: Database,
        subscriber_id: int,
        make_library: MakeLibrary,
        new_subscriber: Callable[..., Awaitable[int]],
    ) -> None:
        """Another reader's library is never searched."""
        await self._library(database, subscriber_id, make_library)
        async with database.transaction() as session:
            other = await new_subscriber(session, "other@example.org")
        assert await self._search(database, other, "spice") == []

    async def test_book_filter_limit_and_offset(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Results can be narrowed to one book and paged."""
        await self._library(database, subscriber_id, make_library)
        async with database.transaction() as session:
            emma = await session.scalar(select(Book.id).where(Book.title == "Emma"))
            found = await search.search(session, subscriber_id, "", book_id=emma, limit=1, offset=1)
        assert [view.book_title for view in found] == ["Emma"]


class TestOverview:
    async def test_counts_per_book_in_title_order(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """Each book carries its highlight, favourite and discard counts."""
        await _merge(database, subscriber_id, make_library({EMMA: ["a", "b"], DUNE: ["c"]}))
        await _flag(database, subscriber_id, "a", favourite=True, discarded=True)
        async with database.transaction() as session:
            rows = await repo.book_overview(session, subscriber_id)
        summary = [(r.title, r.highlights, r.favourites, r.discarded) for r in rows]
        assert summary == [("Dune", 1, 0, 0), ("Emma", 2, 1, 1)]


def _with_flags(library: Library, flags: dict[str, dict[str, bool]]) -> Library:
    """`library` with the source's verdicts set on the highlights named by text."""
    books = tuple(
        replace(
            book, highlights=tuple(replace(h, **flags.get(h.text, {})) for h in book.highlights)
        )
        for book in library.books
    )
    return replace(library, books=books)


class TestSourceVerdicts:
    async def test_a_first_import_keeps_the_sources_favourites_and_discards(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A highlight the source marks favourite or discarded is stored so."""
        library = make_library({DUNE: ["Fear.", "Spice.", "Sand."]})
        flagged = _with_flags(
            library, {"Fear.": {"favourite": True}, "Spice.": {"discarded": True}}
        )
        await _merge(database, subscriber_id, flagged)
        rows = await _rows(database, subscriber_id)
        assert (rows["Fear."].favourite, rows["Fear."].discarded) == (True, False)
        assert (rows["Spice."].favourite, rows["Spice."].discarded) == (False, True)
        assert (rows["Sand."].favourite, rows["Sand."].discarded) == (False, False)

    async def test_a_reimport_raises_verdicts_and_never_clears_them(
        self, database: Database, subscriber_id: int, make_library: MakeLibrary
    ) -> None:
        """A re-import's verdict applies to a stored highlight; one without keeps the
        reader's own (a file that knows nothing of favourites clears none)."""
        library = make_library({DUNE: ["Fear.", "Spice."]})
        await _merge(database, subscriber_id, library)
        await _flag(database, subscriber_id, "Spice.", favourite=True)
        await _merge(database, subscriber_id, _with_flags(library, {"Fear.": {"discarded": True}}))
        rows = await _rows(database, subscriber_id)
        assert rows["Fear."].discarded is True
        assert rows["Spice."].favourite is True
