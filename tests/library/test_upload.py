"""parse_upload: the file a reader uploads, to a library or to one error they understand."""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest

from clippost import clippings
from clippost.errors import BadInput, PayloadTooLarge, UnsupportedFile
from clippost.library.upload import parse_upload

MB = 1024 * 1024
BOOKMARK = (
    "Dune (Frank Herbert)\n- Your Bookmark on Location {loc} | "
    "Added on Monday, March 4, 2024 10:05:00 AM\n\n\n==========\n"
)


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
