"""Which format a file is in, from its content alone (uploads arrive with any file name).

One table for the text formats, tried in order (the most distinctive markup first; the
Kindle text file before CSV, as a Kindle title line such as "Highlight, a novel (Author)"
also splits on commas), and the binary containers recognised by their first bytes: a zip
(a .docx, or a bundle of files such as KOReader's .sdr folders or a database and its
-wal), a SQLite database (Kobo, Apple Books), a property list (Apple Books on iOS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from clippost.clippings.csv_export import looks_like_highlights_csv, parse_highlights_csv
from clippost.clippings.formats.applebooks_plist import looks_like_plist
from clippost.clippings.formats.archive import is_zip
from clippost.clippings.formats.boox import looks_like_boox, parse_boox
from clippost.clippings.formats.koreader_json import (
    looks_like_koreader_json,
    parse_koreader_json,
)
from clippost.clippings.formats.koreader_lua import looks_like_sidecar, parse_sidecar
from clippost.clippings.formats.moonreader import looks_like_mrexpt, parse_mrexpt
from clippost.clippings.formats.sqlite_copy import is_sqlite_file
from clippost.clippings.kindle_html import looks_like_kindle_html, parse_kindle_html
from clippost.clippings.kindle_txt import looks_like_kindle_txt, parse_kindle_txt
from clippost.clippings.models import ParseResult, RawEntry, SourceFormat

TextParser = Callable[[str, "date | None"], ParseResult]


@dataclass(frozen=True, slots=True)
class TextFormat:
    format: SourceFormat
    looks_like: Callable[[str], bool]
    parse: TextParser


def _plain(fmt: SourceFormat, reader: Callable[[str], tuple[list, list]]) -> TextParser:  # type: ignore[type-arg]
    def parse(text: str, today: date | None) -> ParseResult:
        entries, problems = reader(text)
        return ParseResult(fmt, entries, problems)

    return parse


def _kindle(text: str, today: date | None) -> ParseResult:
    entries, problems = parse_kindle_txt(text, today=today)
    return ParseResult(settle_flavour(kindle_flavour(text), entries), entries, problems)


def _csv(text: str, today: date | None) -> ParseResult:
    found = parse_highlights_csv(text)
    return ParseResult(
        SourceFormat.CSV, found.entries, found.problems, found.error, found.missing_columns
    )


TEXT_FORMATS: tuple[TextFormat, ...] = (
    TextFormat(
        SourceFormat.KINDLE_HTML,
        looks_like_kindle_html,
        _plain(SourceFormat.KINDLE_HTML, parse_kindle_html),
    ),
    TextFormat(
        SourceFormat.KOREADER_LUA,
        looks_like_sidecar,
        _plain(SourceFormat.KOREADER_LUA, parse_sidecar),
    ),
    TextFormat(
        SourceFormat.KOREADER_JSON,
        looks_like_koreader_json,
        _plain(SourceFormat.KOREADER_JSON, parse_koreader_json),
    ),
    TextFormat(
        SourceFormat.MOON_READER, looks_like_mrexpt, _plain(SourceFormat.MOON_READER, parse_mrexpt)
    ),
    TextFormat(SourceFormat.BOOX, looks_like_boox, _plain(SourceFormat.BOOX, parse_boox)),
    TextFormat(SourceFormat.KINDLE_TXT, looks_like_kindle_txt, _kindle),
    TextFormat(SourceFormat.CSV, looks_like_highlights_csv, _csv),
)


def detect_text(text: str) -> TextFormat | None:
    """The first text format that recognises `text`."""
    return next((fmt for fmt in TEXT_FORMATS if fmt.looks_like(text)), None)


def detect(text: str) -> SourceFormat | None:
    """The format of `text`, or None when it is none of the text formats clippost reads."""
    found = detect_text(text)
    if found is None:
        return None
    return kindle_flavour(text) if found.format is SourceFormat.KINDLE_TXT else found.format


def is_container(data: bytes) -> bool:
    """Whether `data` is one of the binary formats (read by `formats.containers`)."""
    return is_zip(data) or is_sqlite_file(data) or looks_like_plist(data)


def settle_flavour(fmt: SourceFormat, entries: list[RawEntry]) -> SourceFormat:
    """KOReader writes "(Unknown)" where a book has no author: that is no author."""
    if fmt is SourceFormat.KOREADER_CLIPPINGS:
        for entry in entries:
            if entry.author == "Unknown":
                entry.author = None
    return fmt


def kindle_flavour(text: str) -> SourceFormat:
    """KOReader's imitation of the Kindle file writes "Your highlight on page": a lowercase
    kind word no Kindle writes, and never a location."""
    head = text[:16_384]
    koreader = "- Your highlight on page " in head or "- Your note on page " in head
    if koreader and "Location" not in head and "location" not in head:
        return SourceFormat.KOREADER_CLIPPINGS
    return SourceFormat.KINDLE_TXT
