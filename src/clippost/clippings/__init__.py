"""The import engine: bytes a reader uploads in, clean highlights out. Pure code, no I/O.

`parse(data)` reads any of the formats clippost knows (detected from the content, never the
file name) and never raises; `merge(entries)` turns raw entries into a library.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from itertools import chain

from clippost.clippings.csv_export import parse_highlights_csv
from clippost.clippings.decoding import decode, decode_piece, piece_ends
from clippost.clippings.detect import detect
from clippost.clippings.identity import book_identity, highlight_identity
from clippost.clippings.kindle_html import parse_kindle_html
from clippost.clippings.kindle_txt import parse_kindle_txt
from clippost.clippings.merge import gc_paused, merge
from clippost.clippings.models import (
    Book,
    Bookmark,
    Highlight,
    Kind,
    Library,
    Note,
    ParseResult,
    Problem,
    RawEntry,
    SourceFormat,
)

__all__ = [
    "EMPTY_FILE",
    "INTERNAL_ERROR",
    "NOT_HIGHLIGHTS",
    "NOT_TEXT",
    "PIECE_SIZE",
    "Book",
    "Bookmark",
    "Highlight",
    "Kind",
    "Library",
    "Note",
    "ParseResult",
    "Problem",
    "RawEntry",
    "SourceFormat",
    "book_identity",
    "highlight_identity",
    "merge",
    "parse",
]

_EXPECTED = (
    "upload the My Clippings.txt file from the documents folder of your Kindle (connect it to"
    " a computer with its USB cable), a notebook exported from the Kindle app (HTML), or a"
    " highlights CSV"
)
NOT_HIGHLIGHTS = f"This file does not contain Kindle highlights: {_EXPECTED}."
NOT_TEXT = f"This file is not a text file, so it cannot contain Kindle highlights: {_EXPECTED}."
EMPTY_FILE = f"This file is empty: {_EXPECTED}."
# Large Kindle files are read in pieces of this size (cut at separators) to bound memory.
PIECE_SIZE = 2 * 1024 * 1024
Progress = Callable[[int, int], None]
INTERNAL_ERROR = "This file could not be read because of a fault in clippost; please report it."


def parse(data: bytes, *, progress: Progress | None = None) -> ParseResult:
    """Raw entries in file order, the problems met, or one error saying what was expected.

    `progress(done, total)` is called as the bytes are read, for a progress bar.
    """
    try:
        with gc_paused():
            return _parse(data, progress=progress, piece_size=PIECE_SIZE)
    except Exception:
        # Uploads are untrusted: a reader must get a sentence, never a crash. The property
        # tests assert this message never appears, so a fault here is still caught in CI.
        return ParseResult(format=None, entries=[], error=INTERNAL_ERROR)


def _parse(data: bytes, *, progress: Progress | None, piece_size: int) -> ParseResult:
    ends = piece_ends(data, piece_size)
    if len(ends) > 1:
        marked = data.startswith(codecs.BOM_UTF8)
        first = decode_piece(data[: ends[0]], marked=marked, first=True)
        if first is not None and detect(first) is SourceFormat.KINDLE_TXT:
            return _parse_kindle_pieces(data, ends, first, marked=marked, progress=progress)
    result = _parse_whole(data)
    if progress:
        progress(len(data), len(data))
    return result


def _parse_whole(data: bytes) -> ParseResult:
    text = decode(data)
    if text is None:
        return ParseResult(format=None, entries=[], error=NOT_TEXT)
    if not text or text.isspace():
        return ParseResult(format=None, entries=[], error=EMPTY_FILE)
    fmt = detect(text)
    if fmt is SourceFormat.KINDLE_TXT:
        entries, problems = parse_kindle_txt(text)
    elif fmt is SourceFormat.KINDLE_HTML:
        entries, problems = parse_kindle_html(text)
    elif fmt is SourceFormat.CSV:
        found = parse_highlights_csv(text)
        return ParseResult(fmt, found.entries, found.problems, found.error, found.missing_columns)
    else:
        return ParseResult(format=None, entries=[], error=NOT_HIGHLIGHTS)
    return ParseResult(format=fmt, entries=entries, problems=problems)


def _parse_kindle_pieces(
    data: bytes, ends: list[int], first: str, *, marked: bool, progress: Progress | None
) -> ParseResult:
    """A large Kindle file read piece by piece, so its whole text never sits in memory."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    start, lines, text = 0, 0, first
    for index, end in enumerate(ends):
        if index:
            text = decode_piece(data[start:end], marked=marked, first=False) or ""
        found, trouble = parse_kindle_txt(text)
        if index:
            _renumber(chain(found, trouble), len(entries) + len(problems), lines)
        entries += found
        problems += trouble
        lines += text.count("\n")  # each piece ends with a line end, after a separator
        start = end
        if progress:
            progress(end, len(data))
    return ParseResult(format=SourceFormat.KINDLE_TXT, entries=entries, problems=problems)


def _renumber(items: Iterable[RawEntry | Problem], positions: int, lines: int) -> None:
    """Make a piece's positions and lines count from the start of the file.

    The objects were created by this call and nobody else holds them yet: renumbering them
    in place costs a fraction of rebuilding half a million frozen objects.
    """
    for item in items:
        object.__setattr__(item, "position", item.position + positions)
        object.__setattr__(item, "line", item.line + lines)
