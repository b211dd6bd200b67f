"""parse_upload: the file a reader uploads, to a library or to one error they understand;
and the same library encoded for a pending import (what sign-up stores)."""

from __future__ import annotations

import io
import sqlite3
import zipfile
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from clippost import clippings
from clippost.clippings.models import ProblemKind, SourceFormat
from clippost.errors import BadInput, PayloadTooLarge, UnsupportedFile
from clippost.library.upload import parse_upload

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
