"""What the library shows the web layer and the emails: plain frozen data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BookView:
    id: int
    title: str
    author: str | None
    frequency: str
    highlight_count: int


@dataclass(frozen=True, slots=True)
class LibraryView:
    books: list[BookView]
    highlight_count: int
    favourite_count: int
    discarded_count: int


@dataclass(frozen=True, slots=True)
class HighlightView:
    id: int
    book_id: int
    book_title: str
    book_author: str | None
    text: str
    note: str | None
    page: str | None
    location_start: int | None
    location_end: int | None
    favourite: bool
    discarded: bool
    times_sent: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    new_books: int
    new_highlights: int
    total_highlights: int


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes
