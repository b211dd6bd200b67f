"""Play Books .docx notes, Moon+ Reader .mrexpt and Boox exports, from fixtures of our own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from clippost.clippings import ErrorKind, Kind, ProblemKind, SourceFormat, parse

FIXTURES = Path(__file__).parent / "fixtures"
CHAPTERS = [
    (
        "1. The Four Villains",
        [
            ("We ask, “Should I break up or not?”", None, "April 25, 2016", "15"),
            ("Widen your options.", "Try the vanishing options test.", "April 26, 2016", "52"),
        ],
    ),
    ("2. Reality-Test", [("", None, "October 6, 2016", "262")]),
]


class TestPlayBooks:
    def test_entries_notes_and_bookmarks(self, docx: Callable[..., bytes]) -> None:
        """Each entry table gives the italic quote, a plain note, the day and the page."""
        result = parse(docx("Decisive", "Chip Heath", CHAPTERS))
        assert result.format is SourceFormat.PLAY_BOOKS
        assert [(e.kind, e.content, e.note, e.page) for e in result.entries] == [
            (Kind.HIGHLIGHT, "We ask, “Should I break up or not?”", None, "15"),
            (Kind.HIGHLIGHT, "Widen your options.", "Try the vanishing options test.", "52"),
            (Kind.BOOKMARK, "", None, "262"),
        ]
        assert result.problems == []

    def test_title_author_day_and_colour(self, docx: Callable[..., bytes]) -> None:
        """Title and author come from the header; the day is read; the shade is the colour."""
        first = parse(docx("Decisive", "Chip Heath", CHAPTERS)).entries[0]
        assert (first.title, first.author, first.added_at) == (
            "Decisive",
            "Chip Heath",
            datetime(2016, 4, 25),
        )
        assert first.color == "#fde096"

    def test_fewer_entries_than_declared_is_reported(self, docx: Callable[..., bytes]) -> None:
        """The document's own count is checked: an entry missing is a COUNT problem."""
        data = docx("Decisive", "Chip Heath", CHAPTERS, declared=4)
        assert [p.kind for p in parse(data).problems] == [ProblemKind.COUNT]

    def test_unreadable_day_is_reported_not_taken_for_a_note(
        self, docx: Callable[..., bytes]
    ) -> None:
        """A day the grammar cannot read is a DATE problem, never the entry's note."""
        chapters = [("C", [("A quote.", None, "Smarch 13, 2016", "3")])]
        result = parse(docx("T", "A", chapters))
        assert [(e.note, e.added_at) for e in result.entries] == [(None, None)]
        assert [p.kind for p in result.problems] == [ProblemKind.DATE]

    def test_other_word_document_is_refused(self, zipped: Callable[..., bytes]) -> None:
        """A .docx that is not a Play Books document is not highlights."""
        data = zipped({"word/document.xml": b"<w:document><w:body>Minutes</w:body></w:document>"})
        assert parse(data).error_kind is ErrorKind.NOT_HIGHLIGHTS


class TestMoonReader:
    def test_records_by_counted_lines(self) -> None:
        """Records are 16 counted lines: empty fields stay fields, <BR> is a line break."""
        result = parse((FIXTURES / "moonreader" / "walden.mrexpt").read_bytes())
        assert result.format is SourceFormat.MOON_READER
        assert [(e.kind, e.content, e.note) for e in result.entries] == [
            (Kind.HIGHLIGHT, "Simplify, simplify.", None),
            (
                Kind.HIGHLIGHT,
                "I went to the woods because\nI wished to live deliberately.",
                "read in summer\nagain",
            ),
            (Kind.BOOKMARK, "", None),
        ]

    def test_time_title_and_colour(self) -> None:
        """Milliseconds since 1970 (UTC), the book title, the ARGB colour as #rrggbb."""
        first = parse((FIXTURES / "moonreader" / "walden.mrexpt").read_bytes()).entries[0]
        assert (first.title, first.added_at, first.color) == (
            "Walden",
            datetime(2024, 5, 1, 19, 0),
            "#ffff00",
        )


class TestBoox:
    def test_older_layout(self) -> None:
        """Older layout: "Time：", 【Original Text】, 【Annotations】, 【Page Number】, and
        the author on a line of its own."""
        result = parse((FIXTURES / "boox" / "older.txt").read_bytes())
        assert result.format is SourceFormat.BOOX
        assert [(e.title, e.author, e.page, e.note) for e in result.entries] == [
            ("Walden", "Henry David Thoreau", "12", None),
            ("Walden", "Henry David Thoreau", "90", "the famous one"),
        ]
        assert result.entries[1].added_at == datetime(2023, 4, 3, 1, 20)

    def test_older_layout_without_author(self) -> None:
        """Without an author line, a chapter line is not taken for the author."""
        text = (FIXTURES / "boox" / "older.txt").read_text(encoding="utf-8")
        lines = text.split("\n")
        data = "\n".join([lines[0], "Where I Lived", *lines[3:]]).encode()
        entries = parse(data).entries
        assert [e.author for e in entries] == [None, None]

    def test_newer_layout_in_german(self) -> None:
        """ "<label> | <<Title>>Author", a translated page label, a note over two lines."""
        result = parse((FIXTURES / "boox" / "newer.txt").read_bytes())
        assert [(e.author, e.page, e.content, e.note) for e in result.entries] == [
            ("Henry David Thoreau", "12", "Simplify, simplify.", None),
            (
                "Henry David Thoreau",
                "90",
                "I went to the woods because\nI wished to live deliberately.",
                "the famous one,\nover two lines",
            ),
        ]
