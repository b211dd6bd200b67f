"""What the library shows the web layer and the emails: plain frozen data, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class BookView:
    id: int
    title: str
    author: str | None
    frequency: str
    highlight_count: int


@dataclass(frozen=True, slots=True)
class LibraryView:
    """A reader's totals, and one page of their books in title order (library/overview.py)."""

    books: list[BookView]  # the page, from `books_offset`
    book_count: int
    highlight_count: int
    favourite_count: int
    discarded_count: int
    books_offset: int = 0
    chosen: BookView | None = None  # a book asked for that is not on the page


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
    highlighted_at: datetime | None = None  # the device's naive local time


@dataclass(frozen=True, slots=True)
class HighlightPage:
    """One page of a filtered list: its highlights, where it starts, and how many match."""

    highlights: list[HighlightView]
    offset: int
    limit: int
    total: int

    @property
    def first(self) -> int:
        """1-based position of the page's first highlight (0 when nothing matches)."""
        return self.offset + 1 if self.highlights else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.highlights)

    @property
    def previous_offset(self) -> int | None:
        return max(self.offset - self.limit, 0) if self.offset > 0 else None

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.last < self.total else None


@dataclass(frozen=True, slots=True)
class ImportResult:
    new_books: int
    new_highlights: int
    total_highlights: int
    # Highlights in the upload that the library already held (shown as "already there").
    known_highlights: int = 0


@dataclass(frozen=True, slots=True)
class ExportFile:
    filename: str
    media_type: str
    content: bytes
