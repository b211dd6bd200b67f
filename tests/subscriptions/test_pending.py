"""The payload of a pending import: an upload encoded where it is parsed, stored until its
link is followed, decoded to the same library."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import replace

import pytest

from clippost.clippings.models import Book, Highlight, Library
from clippost.errors import BadInput, PayloadTooLarge
from clippost.library.upload import parse_upload
from clippost.subscriptions import pending
from clippost.subscriptions.preferences import Preferences

MB = 1024 * 1024


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
        assert pending.decode(pending.encode(prepared, None)).library == _as_stored(parsed)

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

    def test_truncated_payload_is_refused(self) -> None:
        """A payload cut short raises rather than decoding to less than was stored."""
        payload = pending.encode_applied(pending.Applied(0, 0), None)
        with pytest.raises((ValueError, zlib.error)):
            pending.decode(payload[:-3])


def _as_stored(library: Library) -> Library:
    """What a pending import keeps of a library: books and highlights with their notes
    (bookmarks and notes on no highlight are not imported; the source format and the
    problems of the parse are said at upload, not stored)."""
    books = tuple(replace(book, bookmarks=(), loose_notes=()) for book in library.books)
    return replace(library, books=books, source_format=None, problems=())


class TestVerdictsAndLanguage:
    def test_the_sources_verdicts_and_language_survive_the_payload(self) -> None:
        """Favourite and discard flags and the device language are kept until confirmation."""
        highlight = Highlight("h" * 32, "Spice.", None, 10, 10, None, favourite=True)
        other = Highlight("g" * 32, "Sand.", None, 11, 11, None, discarded=True)
        library = Library(books=(Book("b" * 32, "Dune", None, (highlight, other)),), language="de")
        decoded = pending.decode(pending.encode(pending.encode_library(library), None)).library
        assert decoded is not None
        assert decoded.language == "de"
        assert [(h.favourite, h.discarded) for h in decoded.books[0].highlights] == [
            (True, False),
            (False, True),
        ]
