"""The import engine: bytes a reader uploads in, clean highlights out. Pure code: no
network, no database of ours, no clock (today's date is a parameter); a SQLite upload is
read from a private temporary copy, the only file it writes.

`parse(data)` reads any of the formats clippost knows (detected from the content, never the
file name) and never raises; `merge(entries)` turns raw entries into a library.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from datetime import date
from itertools import chain

from clippost.clippings.cleaning import clean_entries
from clippost.clippings.decoding import decode, decode_piece, piece_ends
from clippost.clippings.detect import detect, detect_text, kindle_flavour, settle_flavour
from clippost.clippings.formats.applebooks_plist import looks_like_plist
from clippost.clippings.formats.archive import is_zip
from clippost.clippings.formats.base import Context, FormatError, Limits
from clippost.clippings.formats.containers import parse_database, parse_plist, parse_zip
from clippost.clippings.formats.sqlite_copy import is_sqlite_file
from clippost.clippings.identity import book_identity, highlight_identity
from clippost.clippings.kindle_txt import parse_kindle_txt
from clippost.clippings.merge import merge
from clippost.clippings.models import (
    Book,
    Bookmark,
    ErrorKind,
    Highlight,
    Kind,
    Library,
    Note,
    ParseResult,
    Problem,
    ProblemKind,
    RawEntry,
    SourceFormat,
)
from clippost.clippings.problems import EARLIEST, ProblemSummary, latest, left_out, summarise
from clippost.gc_pause import collector_paused

__all__ = [
    "EMPTY_FILE",
    "INTERNAL_ERROR",
    "NOT_HIGHLIGHTS",
    "NOT_TEXT",
    "PIECE_SIZE",
    "Book",
    "Bookmark",
    "ErrorKind",
    "Highlight",
    "Kind",
    "Library",
    "Limits",
    "Note",
    "ParseResult",
    "Problem",
    "ProblemKind",
    "ProblemSummary",
    "RawEntry",
    "SourceFormat",
    "book_identity",
    "highlight_identity",
    "merge",
    "parse",
    "summarise",
]

_EXPECTED = (
    "upload the My Clippings.txt file from the documents folder of your Kindle (connect it to"
    " a computer with its USB cable), a notebook exported from the Kindle app (HTML), a"
    " highlights CSV (Readwise), KoboReader.sqlite from a Kobo, KOReader's metadata.lua or"
    " its exports, Apple Books' annotations (zipped), a Play Books notes document (.docx),"
    " a Moon+ Reader .mrexpt or a Boox notes export"
)
NOT_HIGHLIGHTS = f"This file does not contain Kindle highlights: {_EXPECTED}."
NOT_TEXT = f"This file is not one we can read highlights from: {_EXPECTED}."
EMPTY_FILE = f"This file is empty: {_EXPECTED}."
# Large Kindle files are read in pieces of this size (cut at separators) to bound memory.
PIECE_SIZE = 2 * 1024 * 1024
Progress = Callable[[int, int], None]
INTERNAL_ERROR = "This file could not be read because of a fault in clippost; please report it."
_DEFAULT = Context()


def parse(
    data: bytes,
    *,
    progress: Progress | None = None,
    today: date | None = None,
    limits: Limits | None = None,
) -> ParseResult:
    """Raw entries in file order, the problems met, or one error saying what was expected.

    `progress(done, total)` is called as the bytes are read, for a progress bar. `today`
    (the caller's date; this code reads no clock) makes a date after tomorrow a problem;
    a date before 2007 always is. `limits` bound what an archive or database may unpack.
    """
    context = Context(today=today, limits=limits or Limits())
    try:
        with collector_paused():
            result = _parse(data, progress=progress, piece_size=PIECE_SIZE, context=context)
            clean_entries(result.entries)  # no NUL, no control reaches a database
            return result
    except FormatError as exc:
        return ParseResult(format=None, entries=[], error=exc.message, error_kind=exc.kind)
    except Exception:
        # Uploads are untrusted: a reader must get a sentence, never a crash. The property
        # tests assert this message never appears, so a fault here is still caught in CI.
        return ParseResult(
            format=None, entries=[], error=INTERNAL_ERROR, error_kind=ErrorKind.INTERNAL
        )


def _parse(
    data: bytes, *, progress: Progress | None, piece_size: int, context: Context = _DEFAULT
) -> ParseResult:
    if is_zip(data) or is_sqlite_file(data) or looks_like_plist(data):
        result = _parse_container(data, context)
    else:
        ends = piece_ends(data, piece_size)
        if len(ends) > 1:
            marked = data.startswith(codecs.BOM_UTF8)
            first = decode_piece(data[: ends[0]], marked=marked, first=True)
            if first is not None and detect(first) is SourceFormat.KINDLE_TXT:
                return _parse_kindle_pieces(
                    data, ends, first, marked=marked, progress=progress, today=context.today
                )
        result = _parse_text(data, context)
    if progress:
        progress(len(data), len(data))
    return result


def _parse_container(data: bytes, context: Context) -> ParseResult:
    if is_zip(data):
        result = parse_zip(data, context, _parse_text)
    elif is_sqlite_file(data):
        result = parse_database(data, context)
    else:
        result = parse_plist(data)
    return _checked_dates(result, context.today)


def _parse_text(data: bytes, context: Context) -> ParseResult:
    text = decode(data)
    if text is None:
        return ParseResult(format=None, entries=[], error=NOT_TEXT, error_kind=ErrorKind.NOT_TEXT)
    if not text or text.isspace():
        return ParseResult(format=None, entries=[], error=EMPTY_FILE, error_kind=ErrorKind.EMPTY)
    found = detect_text(text)
    if found is None:
        return ParseResult(
            format=None, entries=[], error=NOT_HIGHLIGHTS, error_kind=ErrorKind.NOT_HIGHLIGHTS
        )
    result = found.parse(text, context.today)
    if found.format is SourceFormat.KINDLE_TXT:
        return result  # the Kindle grammar checks its dates itself, quoting the line
    return _checked_dates(result, context.today)


def _checked_dates(result: ParseResult, today: date | None) -> ParseResult:
    """Dates before 2007 or after tomorrow are reported and removed (not for Kindle text:
    its parser does it with the line's own words)."""
    last = latest(today)
    for entry in result.entries:
        moment = entry.added_at
        if moment is not None and (moment < EARLIEST or moment > last):
            shown = moment.isoformat(sep=" ")
            reason = f"the date {shown} is impossible; the entry was imported without it"
            result.problems.append(
                Problem(entry.position, entry.line, reason, ProblemKind.IMPLAUSIBLE_DATE, shown)
            )
            entry.added_at = None
    return result


def _parse_kindle_pieces(
    data: bytes,
    ends: list[int],
    first: str,
    *,
    marked: bool,
    progress: Progress | None,
    today: date | None,
) -> ParseResult:
    """A large Kindle file read piece by piece, so its whole text never sits in memory."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    start, lines, positions, text = 0, 0, 0, first
    for index, end in enumerate(ends):
        if index:
            text = decode_piece(data[start:end], marked=marked, first=False) or ""
        found, trouble = parse_kindle_txt(text, today=today)
        if index:
            _renumber(chain(found, trouble), positions, lines)
        entries += found
        problems += trouble
        # Entries and the entries left out take a position each; gaps share their entry's.
        positions += len(found) + left_out(trouble)
        lines += text.count("\n")  # each piece ends with a line end, after a separator
        start = end
        if progress:
            progress(end, len(data))
    fmt = settle_flavour(kindle_flavour(first), entries)
    return ParseResult(format=fmt, entries=entries, problems=problems)


def _renumber(items: Iterable[RawEntry | Problem], positions: int, lines: int) -> None:
    """Make a piece's positions and lines count from the start of the file.

    The objects were created by this call and nobody else holds them yet: renumbering them
    in place costs a fraction of rebuilding half a million frozen objects. A piece's
    problems about imported entries share their entry's position.
    """
    for item in items:
        object.__setattr__(item, "position", item.position + positions)
        object.__setattr__(item, "line", item.line + lines)
