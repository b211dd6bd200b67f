"""Plain data the import engine produces. No I/O, no behaviour beyond small derived views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    HIGHLIGHT = "highlight"
    NOTE = "note"
    BOOKMARK = "bookmark"
    CLIP = "clip"


class SourceFormat(StrEnum):
    KINDLE_TXT = "kindle-txt"
    KINDLE_HTML = "kindle-notebook-html"
    CSV = "highlights-csv"


@dataclass(slots=True)
class RawEntry:
    """One entry as the source wrote it, in file order, before any merging.

    Treated as immutable, but not `frozen`: a frozen dataclass builds each field through
    `object.__setattr__`, which made construction 7x slower (6.8 vs 0.9 us for these 14
    fields) and was the largest single cost of parsing a large file.

    `added_at` is the naive local time the device wrote (devices record no zone).
    `title_line` is the title line as written (U+FEFF removed), kept for diagnostics and
    ground-truth comparison; `title`/`author` are what was parsed out of it.
    `clipping_limit` marks the device's "you have reached the clipping limit" placeholder:
    its `content` is the placeholder text and must never be shown as a highlight.
    """

    kind: Kind
    title: str
    author: str | None
    page: str | None
    location_start: int | None
    location_end: int | None
    added_at: datetime | None
    content: str
    position: int  # 1-based index of the entry in its file
    line: int  # 1-based line where the entry starts (row number for CSV)
    title_line: str = ""
    clipping_limit: bool = False
    color: str | None = None  # HTML / CSV exports carry one
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """An entry that could not be read: where it is and why, in words a reader understands."""

    position: int
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What `parse(bytes)` returns; `error` is set (and `entries` empty) when the input is
    not highlights at all."""

    format: SourceFormat | None
    entries: list[RawEntry]
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None
    missing_columns: tuple[str, ...] = ()  # CSV only: recognised layout, absent columns

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Note:
    text: str
    location: int | None
    page: str | None
    added_at: datetime | None


@dataclass(frozen=True, slots=True)
class Highlight:
    """A merged highlight: the newest text of every edit, notes written on it attached.

    `identity` is stable across re-imports: book identity + normalised text, hashed.
    """

    identity: str
    text: str
    page: str | None
    location_start: int | None
    location_end: int | None
    added_at: datetime | None
    notes: tuple[Note, ...] = ()
    color: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bookmark:
    page: str | None
    location: int | None
    added_at: datetime | None


@dataclass(frozen=True, slots=True)
class Book:
    identity: str  # normalised title + author, hashed
    title: str
    author: str | None
    highlights: tuple[Highlight, ...]
    bookmarks: tuple[Bookmark, ...] = ()
    loose_notes: tuple[Note, ...] = ()  # notes not written on any highlight


@dataclass(frozen=True, slots=True)
class Library:
    books: tuple[Book, ...]
    clipping_limit_entries: int = 0  # placeholders recognised and left out

    @property
    def highlight_count(self) -> int:
        return sum(len(b.highlights) for b in self.books)
