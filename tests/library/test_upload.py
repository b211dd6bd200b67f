"""parse_upload: the file a reader uploads, to a library or to one error they understand;
and the same library encoded for a pending import (what sign-up stores)."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from clippost import clippings
from clippost.clippings.models import Library, ProblemKind, SourceFormat
from clippost.errors import BadInput, PayloadTooLarge, UnsupportedFile
from clippost.library.upload import parse_upload
from clippost.subscriptions import pending
from clippost.subscriptions.preferences import Preferences

MB = 1024 * 1024
BOOKMARK = (
    "Dune (Frank Herbert)\n- Your Bookmark on Location {loc} | "
    "Added on Monday, March 4, 2024 10:05:00 AM\n\n\n==========\n"
)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class TestBinaryUploads:
    """Zips, databases and plists get through the gate to their readers, within limits."""

    def test_zipped_clippings_become_a_library(self, kindle_bytes: Callable[..., bytes]) -> None:
        """A zip holding a My Clippings.txt is read like the file itself."""
        data = _zip({"My Clippings.txt": kindle_bytes({("Dune", None): ["Spice."]})})
        library = parse_upload(data, max_bytes=MB)
        assert (library.highlight_count, library.source_format) == (1, SourceFormat.KINDLE_TXT)

    def test_zip_bomb_is_refused_with_413(self) -> None:
        """A zip that inflates far beyond the limits is refused as too large, unread."""
        data = _zip({"My Clippings.txt": b"\x00" * (32 * MB)})
        with pytest.raises(PayloadTooLarge) as caught:
            parse_upload(data, max_bytes=MB)
        assert caught.value.status_code == 413

    def test_database_of_another_app_is_refused_with_415(self, tmp_path: Path) -> None:
        """A SQLite file that is neither Kobo's nor Apple Books' is refused clearly."""
        path = tmp_path / "other.sqlite"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE recipes (name TEXT)")
        with pytest.raises(UnsupportedFile, match=r"KoboReader\.sqlite") as caught:
            parse_upload(path.read_bytes(), max_bytes=MB)
        assert caught.value.status_code == 415

    def test_kobo_database_becomes_a_library(self, tmp_path: Path) -> None:
        """A KoboReader.sqlite is read from a private copy into a library."""
        path = tmp_path / "KoboReader.sqlite"
        with sqlite3.connect(path) as connection:
            connection.execute(
                "CREATE TABLE content (ContentID TEXT, Title TEXT, Attribution TEXT)"
            )
            connection.execute(
                "CREATE TABLE Bookmark (VolumeID TEXT, Text TEXT, Annotation TEXT,"
                " DateCreated TEXT, Type TEXT, Hidden TEXT)"
            )
            connection.execute("INSERT INTO content VALUES ('v', 'Dune', 'Frank Herbert')")
            connection.execute(
                "INSERT INTO Bookmark VALUES ('v', 'Spice.', NULL, '2024-01-01T10:00:00',"
                " 'highlight', 'false')"
            )
        library = parse_upload(path.read_bytes(), max_bytes=MB)
        assert (library.highlight_count, library.source_format) == (1, SourceFormat.KOBO)

    def test_damaged_zip_is_a_400(self) -> None:
        """An archive cut short is refused with a sentence and 400."""
        with pytest.raises(BadInput, match="damaged"):
            parse_upload(b"PK\x03\x04" + b"\x00" * 40, max_bytes=MB)

    def test_problems_travel_with_the_library(self) -> None:
        """What the parse did not understand is on the library, for the page to summarise."""
        data = b"Dune (Frank Herbert)\n- Your Highlight | Added on someday\n\nSpice.\n==========\n"
        library = parse_upload(data, max_bytes=MB)
        assert [s.sentence for s in clippings.summarise(library.problems)] == [
            "1 entry had a date we could not read; it was imported without one"
        ]

    def test_future_dates_are_measured_from_today(self) -> None:
        """A date after the given today is left out and reported."""
        data = (
            b"Dune (Frank Herbert)\n- Your Highlight | Added on Monday, 3 June 2030 21:50:05"
            b"\n\nSpice.\n==========\n"
        )
        library = parse_upload(data, max_bytes=MB, today=date(2026, 1, 1))
        assert library.books[0].highlights[0].added_at is None
        assert [p.kind for p in library.problems] == [ProblemKind.IMPLAUSIBLE_DATE]


class TestParseUpload:
    def test_a_kindle_file_becomes_a_merged_library(
        self, kindle_bytes: Callable[..., bytes]
    ) -> None:
        """Highlights of a My Clippings.txt arrive as books with their highlights and notes."""
        data = kindle_bytes(
            {("Dune", "Frank Herbert"): [("Fear is the mind-killer.", "Litany"), "Spice."]}
        )
        library = parse_upload(data, max_bytes=MB)
        assert [book.title for book in library.books] == ["Dune"]
        assert library.highlight_count == 2
        assert library.books[0].highlights[0].notes[0].text == "Litany"

    def test_too_large_names_the_limit_in_megabytes(self) -> None:
        """A file over the limit is refused with 413 and the limit in MB."""
        with pytest.raises(PayloadTooLarge, match="20 MB") as caught:
            parse_upload(b"x" * (20 * MB + 1), max_bytes=20 * MB)
        assert caught.value.status_code == 413

    def test_size_is_checked_before_anything_else(self) -> None:
        """An oversized binary file gets the size error, not the binary one (nothing parsed)."""
        with pytest.raises(PayloadTooLarge, match=r"1\.5 MB"):
            parse_upload(b"\x00\x01" * MB, max_bytes=int(1.5 * MB))

    @pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\n\t "])
    def test_empty_file(self, data: bytes) -> None:
        """An empty file (or only a BOM and blank lines) says it is empty."""
        with pytest.raises(BadInput, match="empty"):
            parse_upload(data, max_bytes=MB)

    def test_binary_file(self) -> None:
        """A picture or an archive is refused with 415 as not text."""
        png = b"\x89PNG\r\n\x1a\n" + zlib.compress(bytes(range(256)) * 64)
        with pytest.raises(UnsupportedFile, match="not a text file") as caught:
            parse_upload(png, max_bytes=MB)
        assert caught.value.status_code == 415

    def test_text_that_is_not_highlights_gets_the_parser_sentence(self) -> None:
        """Plain prose is refused with the import engine's own explanation."""
        prose = "Dear diary,\nToday I read a lot.\nTomorrow more.\n" * 20
        with pytest.raises(UnsupportedFile) as caught:
            parse_upload(prose.encode(), max_bytes=MB)
        assert caught.value.message == clippings.NOT_HIGHLIGHTS

    def test_bookmarks_only_says_how_many_were_found(self) -> None:
        """A file with bookmarks but no highlights says so, with the count."""
        data = (BOOKMARK.format(loc=10) + BOOKMARK.format(loc=20)).encode()
        with pytest.raises(BadInput, match="We found 2 bookmarks but no highlights"):
            parse_upload(data, max_bytes=MB)


class TestPreparedUpload:
    """pending.prepare_upload: what the parsing process sends back to a sign-up."""

    def _books(self) -> dict[tuple[str, str | None], list[str | tuple[str, str]]]:
        return {
            ("Dune", "Frank Herbert"): [("Fear is the mind-killer.", "Litany"), "Spice."],
            ("Walden", None): ["I went to the woods because I wished to live deliberately."],
        }

    def test_decodes_to_the_parsed_library(self, kindle_bytes: Callable[..., bytes]) -> None:
        """The encoded library decodes to what parse_upload gives, notes and times included."""
        data = kindle_bytes(self._books())
        prepared = pending.prepare_upload(data, max_bytes=MB)
        parsed = parse_upload(data, max_bytes=MB)
        assert pending.library_of(prepared) == _as_stored(parsed)

    def test_counts_are_the_librarys(self, kindle_bytes: Callable[..., bytes]) -> None:
        """Books and highlights are counted as in the library, book by book."""
        prepared = pending.prepare_upload(kindle_bytes(self._books()), max_bytes=MB)
        assert (prepared.book_count, prepared.highlight_count) == (2, 3)
        assert [(b.title, b.author, b.highlight_count) for b in prepared.books] == [
            ("Dune", "Frank Herbert", 2),
            ("Walden", None, 1),
        ]

    def test_refusals_are_parse_uploads(self) -> None:
        """A file parse_upload refuses is refused with the same error."""
        with pytest.raises(BadInput, match="empty"):
            pending.prepare_upload(b"\xef\xbb\xbf\r\n", max_bytes=MB)
        with pytest.raises(PayloadTooLarge):
            pending.prepare_upload(b"x" * (MB + 1), max_bytes=MB)


class TestPendingPayload:
    """pending.encode / decode: the payload a pending import stores until its link is used."""

    def test_round_trip_with_preferences(self, kindle_bytes: Callable[..., bytes]) -> None:
        """A payload gives back the library and the preferences it was stored with."""
        data = kindle_bytes({("Dune", "Frank Herbert"): [("Fear.", "Litany"), "Spice."]})
        preferences = Preferences.from_form({"timezone": "Europe/Paris", "per_email": "4"})
        content = pending.decode(
            pending.encode(pending.prepare_upload(data, max_bytes=MB), preferences)
        )
        assert content.library == _as_stored(parse_upload(data, max_bytes=MB))
        assert content.preferences == preferences
        assert content.applied is None

    def test_round_trip_without_preferences(self, kindle_bytes: Callable[..., bytes]) -> None:
        """A confirmed reader's upload is stored without preferences."""
        prepared = pending.prepare_upload(kindle_bytes({("Dune", None): ["Spice."]}), max_bytes=MB)
        content = pending.decode(pending.encode(prepared, None))
        assert content.preferences is None
        assert content.library is not None
        assert content.library.highlight_count == 1

    def test_applied_payload(self) -> None:
        """What applying did decodes as such, with no library left."""
        content = pending.decode(pending.encode_applied(pending.Applied(1, 2), None))
        assert (content.library, content.applied) == (None, pending.Applied(1, 2))

    def test_payload_of_the_earlier_layout_still_decodes(self) -> None:
        """A payload written before the library had a stream of its own still decodes."""
        document = {
            "library": {
                "books": [
                    {
                        "identity": "b" * 32,
                        "title": "Dune",
                        "author": "Frank Herbert",
                        "highlights": [
                            {
                                "identity": "h" * 32,
                                "text": "Fear is the mind-killer.",
                                "page": "3",
                                "location_start": 100,
                                "location_end": 103,
                                "added_at": "2024-03-04T10:00:00",
                                "notes": [
                                    {
                                        "text": "Litany",
                                        "location": 103,
                                        "page": None,
                                        "added_at": None,
                                    }
                                ],
                                "color": None,
                                "tags": [],
                            }
                        ],
                    }
                ],
                "clipping_limit_entries": 1,
            },
            "preferences": None,
        }
        content = pending.decode(zlib.compress(json.dumps(document).encode(), 6))
        assert content.library is not None
        assert content.library.clipping_limit_entries == 1
        [book] = content.library.books
        [highlight] = book.highlights
        assert (book.title, highlight.text, highlight.notes[0].text) == (
            "Dune",
            "Fear is the mind-killer.",
            "Litany",
        )
        assert highlight.added_at == datetime(2024, 3, 4, 10, 0)  # a device's naive local time

    def test_truncated_payload_is_refused(self) -> None:
        """A payload cut short raises rather than decoding to less than was stored."""
        payload = pending.encode_applied(pending.Applied(0, 0), None)
        with pytest.raises((ValueError, zlib.error)):
            pending.decode(payload[:-3])


def _as_stored(library: Library) -> Library:
    """What a pending import keeps of a library: books and highlights with their notes
    (bookmarks and notes on no highlight are not imported; the source format, language and
    problems of the parse are not stored yet)."""
    books = tuple(replace(book, bookmarks=(), loose_notes=()) for book in library.books)
    return replace(library, books=books, source_format=None, language=None, problems=())
