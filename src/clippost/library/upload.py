"""An uploaded file to a merged library, or the one error a reader understands.

Synchronous and pure: the web layer runs it in one of its parse processes
(`web/upload_parsers.py`; a thread of the web process when `CLIPPOST_PARSE_PROCESSES` is 0),
since parsing 20 MB takes a moment, and nothing is stored until it returns a library.
Checks run cheapest first, so an oversized upload is refused before a byte of it is parsed.
Binary uploads get through to their reader when they are a format one reads (a zip, a
SQLite database, a property list: recognised by their first bytes), with limits on what
they may unpack; any other binary file (a picture, an e-book) is refused at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from clippost import clippings
from clippost.clippings.decoding import decode
from clippost.clippings.detect import is_container
from clippost.clippings.models import ErrorKind, Kind, Library, ParseResult, RawEntry
from clippost.errors import BadInput, ClippostError, PayloadTooLarge, UnsupportedFile

_SNIFF_BYTES = 64 * 1024  # enough to tell text from a picture, an e-book or an archive
_BYTES_PER_MB = 1024 * 1024
# What an archive may unpack to, as a multiple of the upload limit (within the engine's
# own ceiling): a zipped database compresses about 5 to 10 times.
_UNPACKED_PER_UPLOADED = 10
_MIN_UNPACKED = 64 * _BYTES_PER_MB
_WHAT_WE_READ = (
    "Please upload My Clippings.txt from your Kindle, the Kindle app's notebook export "
    "(HTML), a highlights CSV (Readwise), KoboReader.sqlite from a Kobo, a KOReader "
    "metadata.lua or export, Apple Books' annotations (zipped), a Play Books notes "
    "document (.docx), a Moon+ Reader .mrexpt or a Boox notes export."
)


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """How much one upload may hold (`Settings.max_*_per_import`)."""

    books: int = 3000
    highlights: int = 150_000


def parse_upload(
    data: bytes,
    *,
    max_bytes: int,
    today: date | None = None,
    limits: ImportLimits | None = None,
) -> Library:
    """The merged library in `data`; raises a ClippostError saying what is wrong otherwise.

    The library carries its source format and the problems the parse met (see
    `clippings.problems.summarise`). `today` (default: today in UTC) is what a date "after
    tomorrow" is measured from.
    """
    _check_size(data, max_bytes)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        raise BadInput(
            "The file is empty. On a Kindle, My Clippings.txt is in the documents folder; "
            "please choose that file and try again."
        )
    if not is_container(data) and decode(data[:_SNIFF_BYTES]) is None:
        raise UnsupportedFile(
            "This is not a text file, nor an archive or database we read highlights from "
            f"(it may be a picture or an e-book). {_WHAT_WE_READ}"
        )
    today = today or datetime.now(UTC).date()
    result = clippings.parse(data, today=today, limits=_limits(max_bytes))
    if result.error is not None:
        raise _refusal(result)
    library = clippings.merge(result.entries)
    if library.highlight_count == 0:
        raise BadInput(_no_highlights(result.entries))
    _check_counts(library, limits or ImportLimits())
    return replace(library, source_format=result.format, problems=tuple(result.problems))


def _limits(max_bytes: int) -> clippings.Limits:
    ceiling = clippings.Limits().max_total_bytes
    unpacked = min(ceiling, max(_UNPACKED_PER_UPLOADED * max_bytes, _MIN_UNPACKED))
    return clippings.Limits(max_total_bytes=unpacked, max_database_bytes=unpacked)


def _refusal(result: ParseResult) -> ClippostError:
    message = result.error or ""
    if result.error_kind is ErrorKind.TOO_LARGE:
        return PayloadTooLarge(message)
    if result.error_kind in (ErrorKind.EMPTY, ErrorKind.DAMAGED):
        return BadInput(message)
    return UnsupportedFile(message)


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        limit = f"{max_bytes / _BYTES_PER_MB:.1f}".removesuffix(".0")
        raise PayloadTooLarge(
            f"The file is larger than the {limit} MB limit. If it is your My Clippings.txt, "
            "upload it in parts: highlights already in your library are never added twice."
        )


def _check_counts(library: Library, limits: ImportLimits) -> None:
    books, highlights = len(library.books), library.highlight_count
    if books > limits.books or highlights > limits.highlights:
        raise PayloadTooLarge(
            f"This file holds {highlights:,} highlights in {books:,} books; one upload may "
            f"hold up to {limits.highlights:,} highlights in {limits.books:,} books. Please "
            "upload it in parts: highlights already in your library are never added twice."
        )


def _no_highlights(entries: list[RawEntry]) -> str:
    bookmarks = sum(1 for entry in entries if entry.kind is Kind.BOOKMARK)
    limited = sum(1 for entry in entries if entry.clipping_limit)
    if limited:
        return (
            f"We found {limited} entries cut off by the publisher's clipping limit but no "
            "highlight text to send you. Highlights from other books will work."
        )
    if bookmarks:
        noun = "bookmark" if bookmarks == 1 else "bookmarks"
        return (
            f"We found {bookmarks} {noun} but no highlights in this file. Highlight a passage "
            "on your Kindle (press and drag over the text), then upload the file again."
        )
    return (
        "We found no highlights in this file. Highlight a passage on your Kindle, then "
        "upload My Clippings.txt again."
    )
