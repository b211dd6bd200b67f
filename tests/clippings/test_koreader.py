"""KOReader: sidecars in both schemas, its JSON and "My Clippings" exports, a zipped library."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from clippost.clippings import Kind, ProblemKind, SourceFormat, merge, parse

FIXTURES = Path(__file__).parent / "fixtures" / "koreader"


def _parse(name: str):  # type: ignore[no-untyped-def]
    return parse((FIXTURES / name).read_bytes())


class TestAnnotationsSchema:
    def test_highlights_notes_and_bookmarks(self) -> None:
        """Items with a drawer are highlights (note attached); one without is a bookmark."""
        result = _parse("annotations.lua")
        assert result.format is SourceFormat.KOREADER_LUA
        assert [(e.kind, e.page, e.note) for e in result.entries] == [
            (Kind.HIGHLIGHT, "12", None),
            (Kind.HIGHLIGHT, "40", '.favorite .stoicism the "inner citadel"'),
            (Kind.BOOKMARK, "41", None),
        ]

    def test_legacy_tables_beside_annotations_are_ignored(self) -> None:
        """A migrated file keeps its old `highlight` table: it is not read twice."""
        contents = [e.content for e in _parse("annotations.lua").entries]
        assert "left over from before the migration" not in contents

    def test_book_fields(self) -> None:
        """Title from doc_props; authors one per line become "A; B"; times as written."""
        first = _parse("annotations.lua").entries[0]
        assert (first.title, first.author) == ("Meditations", "Marcus Aurelius; George Long")
        assert first.added_at == datetime(2024, 5, 1, 21, 15, 3)
        assert (
            first.content
            == "Begin the morning by saying to thyself,\nI shall meet with the busy-body."
        )
        assert first.color == "yellow"

    def test_book_review_is_not_an_annotation(self) -> None:
        """summary.note is the reader's review of the book: never imported."""
        texts = [e.content for e in _parse("annotations.lua").entries]
        assert not any("by the bed" in text for text in texts)

    def test_dot_tags_in_the_note_act_on_the_highlight(self) -> None:
        """ ".favorite .stoicism" favourites and tags; the rest of the note stays."""
        (book,) = merge(_parse("annotations.lua").entries).books
        second = book.highlights[1]
        assert (second.favourite, second.tags) == (True, ("stoicism",))
        assert [n.text for n in second.notes] == ['the "inner citadel"']


class TestLegacySchema:
    def test_swapped_fields_and_automatic_labels(self) -> None:
        """`notes` is the passage and `text` the note, unless `text` is KOReader's own label
        or repeats the passage; bookmarks are walked last first, as KOReader lists them."""
        result = _parse("legacy.lua")
        assert [(e.kind, e.content, e.note) for e in result.entries] == [
            (Kind.HIGHLIGHT, "Who controls the past controls the future.", None),
            (Kind.BOOKMARK, "", None),
            (Kind.HIGHLIGHT, "War is peace.", "the party's slogan"),
            (
                Kind.HIGHLIGHT,
                "It was a bright cold day in April, and the clocks were striking thirteen.",
                None,
            ),
            (Kind.HIGHLIGHT, "Freedom is slavery.", None),
        ]

    def test_pages_come_from_the_highlight_table(self) -> None:
        """An EPUB bookmark's page is an xPointer: the page is the highlight table's key."""
        assert [e.page for e in _parse("legacy.lua").entries] == ["11", None, "8", "5", "8"]

    def test_pdf_pages_and_title_from_the_path(self) -> None:
        """A PDF's page is a number; with no title anywhere, the file name is the title."""
        (entry,) = _parse("pdf_untitled.lua").entries
        assert (entry.page, entry.title, entry.author) == ("7", "Attention Is All You Need", None)

    def test_statistics_never_give_n_a(self) -> None:
        """The statistics plugin's "N/A" is no author."""
        first = _parse("legacy.lua").entries[0]
        assert (first.title, first.author) == ("Nineteen Eighty-Four", "George Orwell")


class TestSafeReading:
    def test_code_is_not_run(self) -> None:
        """A sidecar that is code, not a table, is reported and nothing is evaluated."""
        result = parse(b'-- x\nreturn { ["annotations"] = os.execute("rm -rf /") }')
        assert result.entries == []
        assert "cannot be read" in result.problems[0].reason

    def test_unreadable_datetime_is_reported(self) -> None:
        """A datetime that is not one is a DATE problem; the highlight is kept."""
        data = (
            b'return { ["doc_props"] = { ["title"] = "T" }, ["annotations"] = { [1] = {'
            b' ["drawer"] = "lighten", ["text"] = "x", ["datetime"] = "yesterday" } } }'
        )
        result = parse(data)
        assert [e.added_at for e in result.entries] == [None]
        assert [(p.kind, p.text) for p in result.problems] == [(ProblemKind.DATE, "yesterday")]

    def test_untitled_sidecar_is_reported(self) -> None:
        """A sidecar naming no book at all imports under a placeholder, with a problem."""
        data = b'return { ["annotations"] = { [1] = { ["drawer"] = "lighten", ["text"] = "x" } } }'
        result = parse(data)
        assert result.entries[0].title == "Unknown book"
        assert [p.kind for p in result.problems] == [ProblemKind.TITLE]


class TestJsonExport:
    def test_several_books(self) -> None:
        """The "documents" form holds several books; notes are attached; time is UTC."""
        result = _parse("export.json")
        assert result.format is SourceFormat.KOREADER_JSON
        assert [(e.title, e.page, e.note) for e in result.entries] == [
            ("Meditations", "120", "Be one."),
            ("Walden", "88", None),
            ("Walden", "300", None),
        ]
        assert result.entries[0].added_at == datetime(2024, 5, 1, 19, 0)

    def test_single_book(self) -> None:
        """The one-book form has its entries at the top level."""
        data = (
            b'{"version": "json/1.0.0", "title": "T", "author": "A", "entries":'
            b' [{"sort": "highlight", "text": "x", "page": 3, "time": 1700000000}]}'
        )
        (entry,) = parse(data).entries
        assert (entry.title, entry.author, entry.page, entry.content) == ("T", "A", "3", "x")


class TestClippingsExport:
    def test_kindle_like_file_from_koreader(self) -> None:
        """KOReader's imitation of My Clippings: pages only, notes as their own entries."""
        result = _parse("clippings.txt")
        assert result.format is SourceFormat.KOREADER_CLIPPINGS
        assert [(e.kind, e.page) for e in result.entries] == [
            (Kind.HIGHLIGHT, "40"),
            (Kind.NOTE, "40"),
            (Kind.HIGHLIGHT, "12"),
        ]

    def test_unknown_author_is_no_author(self) -> None:
        """ "(Unknown)" is how KOReader writes a book without an author."""
        assert _parse("clippings.txt").entries[2].author is None

    def test_note_attaches_by_page_and_time(self) -> None:
        """Merging attaches the note to the highlight of the same page and time."""
        books = merge(_parse("clippings.txt").entries).books
        meditations = next(b for b in books if b.title == "Meditations")
        assert [n.text for n in meditations.highlights[0].notes] == ["the inner citadel"]


class TestZippedLibrary:
    def test_sdr_folders_in_a_zip(self, zipped: Callable[..., bytes]) -> None:
        """A zip of .sdr folders (books beside them) gives every book's annotations."""
        data = zipped(
            {
                "koreader/Meditations.sdr/metadata.epub.lua": (
                    FIXTURES / "annotations.lua"
                ).read_bytes(),
                "koreader/1984.sdr/metadata.epub.lua": (FIXTURES / "legacy.lua").read_bytes(),
                "koreader/1984.sdr/metadata.epub.lua.old": (FIXTURES / "legacy.lua").read_bytes(),
                "koreader/1984.epub": b"PK\x03\x04" + b"\x00" * 100,
                "koreader/cover.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 100,
            }
        )
        result = parse(data)
        assert result.format is SourceFormat.KOREADER_LUA
        titles = [e.title for e in result.entries]
        assert titles.count("Meditations") == 3
        assert titles.count("Nineteen Eighty-Four") == 5
        assert [e.position for e in result.entries] == list(range(1, 9))
