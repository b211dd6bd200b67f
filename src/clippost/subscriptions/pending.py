"""The payload of a PendingImport: an uploaded library and the preferences sent with it.

Parsing happens once, at upload; what waits for the confirmation link is the merged library
as zlib-compressed JSON (a 10,000-highlight library is a few hundred kilobytes). Once the
import is applied, the payload is replaced by the result of applying it, so confirming or
adding twice shows the same summary and the uploaded text does not linger.

A payload is one or two zlib streams, back to back. The first is a small JSON document
(the preferences, or what applying did). The library, when there is one, is the second: it
is encoded where the upload is parsed (`prepare_upload`, in a worker process), before
anyone knows which preferences go with it, and stored as it comes back, never re-encoded.
It is JSON of positional rows (`_library_rows`), not objects: a third less to encode,
compress and parse than repeating every key for every highlight.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clippost.clippings.models import Book, Highlight, Library, Note
from clippost.gc_pause import collector_paused
from clippost.library.upload import ImportLimits, parse_upload
from clippost.subscriptions.preferences import Preferences

# zlib level 1: half of level 6's time for a payload a fifth larger (a 1 MB upload's
# library: about 3 ms and 119 kB instead of 6 ms and 100 kB). It lives only until the link
# is followed, so its size matters less than the sign-up's time.
_ZLIB_LEVEL = 1


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying an import did (kept after it was applied)."""

    new_books: int
    new_highlights: int


@dataclass(frozen=True, slots=True)
class Pending:
    library: Library | None  # None once applied
    preferences: Preferences | None
    applied: Applied | None = None


@dataclass(frozen=True, slots=True)
class BookCount:
    title: str
    author: str | None
    highlight_count: int


@dataclass(frozen=True, slots=True)
class EncodedLibrary:
    """A merged library, encoded once for its pending import, and the counts its emails show.

    This is what crosses back from the process that parsed the upload: a blob and a few
    numbers, not the tens of thousands of objects of the library itself.
    """

    blob: bytes  # a zlib stream of the library's JSON
    books: tuple[BookCount, ...]
    # Each book's highlight identities, in the order of `books`: sign-up tells what is new
    # to any reader's library from these, never by decoding the blob (the same work for
    # every address: subscriptions/signup.py).
    identities: tuple[tuple[str, ...], ...] = ()

    @property
    def book_count(self) -> int:
        return len(self.books)

    @property
    def highlight_count(self) -> int:
        return sum(book.highlight_count for book in self.books)


def prepare_upload(
    data: bytes, *, max_bytes: int, limits: ImportLimits | None = None
) -> EncodedLibrary:
    """`parse_upload` and `encode_library` in one call, for a worker process to run."""
    return encode_library(parse_upload(data, max_bytes=max_bytes, limits=limits))


def encode_library(library: Library) -> EncodedLibrary:
    # Rows are tens of thousands of small lists and no cycles: see clippost/gc_pause.py.
    with collector_paused():
        rows = _library_rows(library)
    identities = tuple(tuple(h.identity for h in book.highlights) for book in library.books)
    return EncodedLibrary(blob=_pack(rows), books=book_counts(library), identities=identities)


def decode_library(library: EncodedLibrary) -> Library:
    """The library an `EncodedLibrary` holds (a small one: decoding takes a moment a
    thousand highlights)."""
    return _unpack_library(library.blob)


def book_counts(library: Library) -> tuple[BookCount, ...]:
    return tuple(BookCount(b.title, b.author, len(b.highlights)) for b in library.books)


def encode(library: EncodedLibrary, preferences: Preferences | None) -> bytes:
    document = {"preferences": preferences.to_json() if preferences else None}
    return _pack(document) + library.blob


def encode_applied(applied: Applied, preferences: Preferences | None) -> bytes:
    document = {
        "applied": {"new_books": applied.new_books, "new_highlights": applied.new_highlights},
        "preferences": preferences.to_json() if preferences else None,
    }
    return _pack(document)


def decode(payload: bytes) -> Pending:
    first = zlib.decompressobj()
    document = json.loads(first.decompress(payload))
    if not first.eof:
        raise ValueError("a pending import payload ends inside its first zlib stream")
    preferences = document.get("preferences")
    applied = document.get("applied")
    # The library, when there is one, follows in rows, in a zlib stream of its own.
    decoded = _unpack_library(first.unused_data) if first.unused_data else None
    return Pending(
        library=decoded,
        preferences=Preferences.from_json(preferences) if preferences else None,
        applied=Applied(**applied) if applied else None,
    )


def _pack(document: dict[str, Any] | list[Any]) -> bytes:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), _ZLIB_LEVEL)


def _unpack_library(blob: bytes) -> Library:
    with collector_paused():  # as in encode_library
        return _library_from_rows(json.loads(zlib.decompress(blob)))


def _library_rows(library: Library) -> list[Any]:
    """[clipping_limit_entries, books, language]: a book is [identity, title, author,
    highlights], a highlight [identity, text, page, location_start, location_end, added_at,
    notes, color, tags, favourite, discarded], a note [text, location, page, added_at]. A
    payload lives for days, across upgrades: a new field goes at the end, with a default for
    the rows written before it."""
    return [
        library.clipping_limit_entries,
        [
            [
                book.identity,
                book.title,
                book.author,
                [
                    [
                        h.identity,
                        h.text,
                        h.page,
                        h.location_start,
                        h.location_end,
                        h.added_at.isoformat() if h.added_at is not None else None,
                        [_note_row(note) for note in h.notes] if h.notes else [],
                        h.color,
                        list(h.tags),
                        h.favourite,
                        h.discarded,
                    ]
                    for h in book.highlights
                ],
            ]
            for book in library.books
        ],
        library.language,
    ]


def _note_row(note: Note) -> list[Any]:
    return [note.text, note.location, note.page, _time(note.added_at)]


def _library_from_rows(rows: list[Any]) -> Library:
    limit_entries, books = rows[0], rows[1]
    language = rows[2] if len(rows) > 2 else None  # not in payloads written before it
    return Library(
        books=tuple(
            Book(
                identity=identity,
                title=title,
                author=author,
                highlights=tuple(_highlight_from_row(*row) for row in highlights),
            )
            for identity, title, author, highlights in books
        ),
        clipping_limit_entries=int(limit_entries),
        language=language,
    )


def _highlight_from_row(
    identity: str,
    text: str,
    page: str | None,
    location_start: int | None,
    location_end: int | None,
    added_at: str | None,
    notes: list[list[Any]],
    color: str | None,
    tags: list[str],
    favourite: bool = False,
    discarded: bool = False,
) -> Highlight:
    return Highlight(
        identity,
        text,
        page,
        location_start,
        location_end,
        _parse_time(added_at),
        tuple(Note(t, location, pg, _parse_time(at)) for t, location, pg, at in notes),
        color,
        tuple(tags),
        favourite,
        discarded,
    )


def _time(moment: datetime | None) -> str | None:
    # Device times are naive local times; isoformat keeps them naive.
    return moment.isoformat() if moment is not None else None


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
