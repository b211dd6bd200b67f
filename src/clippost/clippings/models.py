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
    CSV = "highlights-csv"  # Readwise's export and the services that copy its columns
    KOREADER_CLIPPINGS = "koreader-clippings"
    KOBO = "kobo-sqlite"
    KOREADER_LUA = "koreader-sidecar"
    KOREADER_JSON = "koreader-json"
    APPLE_BOOKS = "apple-books-sqlite"
    APPLE_BOOKS_PLIST = "apple-books-ios-plist"
    PLAY_BOOKS = "play-books-docx"
    MOON_READER = "moon-reader-mrexpt"
    BOOX = "boox-txt"


class ProblemKind(StrEnum):
    """What a problem cost: an entry left out, or one field of an imported entry."""

    UNREADABLE = "unreadable"  # the entry was left out
    DATE = "date"  # present but not understood: imported without a date
    IMPLAUSIBLE_DATE = "implausible-date"  # before 2007 or after tomorrow: imported without
    PAGE = "page"  # present but not understood: imported without a page
    LOCATION = "location"  # present but not understood: imported without a location
    TITLE = "title"  # the file does not name the book: imported under a placeholder
    COUNT = "count"  # the file declares more items than it holds


class ErrorKind(StrEnum):
    """Why a whole file was refused; the web layer maps each to a 4xx status."""

    NOT_HIGHLIGHTS = "not-highlights"
    NOT_TEXT = "not-text"
    EMPTY = "empty"
    TOO_LARGE = "too-large"  # an archive or database beyond the limits (a zip bomb)
    DAMAGED = "damaged"  # a zip or database that cannot be opened
    INTERNAL = "internal"


@dataclass(slots=True)
class RawEntry:
    """One item as the source wrote it, in file order, before any merging.

    Finished by the parser that makes it (a few fields are set after construction), then
    treated as immutable. Not `frozen`: a frozen dataclass builds each field through
    `object.__setattr__`, which made construction 7x slower (6.8 vs 0.9 us for 14 fields)
    and was the largest single cost of parsing a large file.

    `added_at` is the naive wall-clock time the source wrote: local time for Kindle, Boox
    and KOReader sidecars (devices record no zone), UTC where the source stores an instant
    (Kobo, Apple Books, Readwise, KOReader JSON, Moon+).
    `title_line` is the title line as written (U+FEFF removed), kept for diagnostics and
    ground-truth comparison; `title`/`author` are what was parsed out of it.
    `clipping_limit` marks the device's "you have reached the clipping limit" placeholder:
    its `content` is the placeholder text and must never be shown as a highlight.
    `content` is the passage, or a standalone note's text; `note` is a note the source
    attaches to this highlight itself (Kobo, KOReader, Readwise...). Kindle writes notes as
    entries of their own, which merging attaches by location.
    `language` is the Kindle device language the metadata line is written in.
    `favourite`/`discarded` are None where the source has no such notion.
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
    line: int  # 1-based line where the entry starts (row number for CSV, 0 for databases)
    title_line: str = ""
    clipping_limit: bool = False
    language: str | None = None
    color: str | None = None  # HTML / CSV exports and most e-readers carry one
    tags: tuple[str, ...] = ()
    note: str | None = None
    favourite: bool | None = None
    discarded: bool | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something present in the file that was not understood: where, what, and what it cost.

    `reason` is a sentence a reader understands; `text` is the part of the file that was
    not understood (or None when there is nothing to quote); `kind` says whether the entry
    was left out or imported without one field (see `ProblemKind`); `file` names the member
    of an archive the problem is in.
    """

    position: int
    line: int
    reason: str
    kind: ProblemKind = ProblemKind.UNREADABLE
    text: str | None = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What `parse(bytes)` returns; `error` is set (and `entries` empty) when the input is
    not highlights at all, `error_kind` says why."""

    format: SourceFormat | None
    entries: list[RawEntry]
    problems: list[Problem] = field(default_factory=list)
    error: str | None = None
    missing_columns: tuple[str, ...] = ()  # CSV only: recognised layout, absent columns
    error_kind: ErrorKind | None = None

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
    `favourite`/`discarded` come from the source (Readwise tags, KOReader...) or from a
    dot-tag note (".favorite", ".discard") written on the highlight.
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
    favourite: bool = False
    discarded: bool = False


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
    """A merged import. `language` is the device language most of its Kindle entries were
    written in (emails can default to it); `problems` are what the parse met, for the
    upload page to summarise (`clippings.problems.summarise`)."""

    books: tuple[Book, ...]
    clipping_limit_entries: int = 0  # placeholders recognised and left out
    source_format: SourceFormat | None = None
    language: str | None = None
    problems: tuple[Problem, ...] = ()

    @property
    def highlight_count(self) -> int:
        return sum(len(b.highlights) for b in self.books)
