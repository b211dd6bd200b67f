"""A reader's whole library as a file they keep: Markdown, CSV or JSON. Pure formatting.

- Markdown: one document, a `##` section per book, each highlight a quote with its place,
  note and tags (what people paste into their notes apps). One file rather than a zip of
  one file per book: it opens anywhere, and a notes app splits it by heading if wanted.
- CSV: exactly the columns the import engine's CSV reader takes (Highlight, Book Title,
  Book Author, ...), so an export uploaded again re-imports into the same identities; the
  reader's verdicts go in `Tags` as the common highlight-service CSV writes them
  (`favorite`, `discard`), which the importer reads back: export, erase, import gives the
  same library with the same flags. A cell a spreadsheet would run as a formula (= + - @,
  tab, CR first: a highlight can say anything) gets an apostrophe before it, and one more
  column, `Exported by clippost`, tells the importer to take exactly that apostrophe off.
- JSON: everything, including favourites, discards, how often each was sent, and book
  frequencies; `format` and `version` name the layout for whoever reads it later.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from clippost.clippings.csv_export import COLUMNS as CSV_EXPORT_COLUMNS
from clippost.clippings.csv_export import EXPORT_MARK, neutralised
from clippost.library.views import ExportFile

EXPORT_FORMAT = "clippost-library"
# The tags a highlight's verdicts are written as (and read back from) in CSV and Markdown.
FAVOURITE_TAG = "favorite"
DISCARD_TAG = "discard"
EXPORT_VERSION = 1
# The columns the import engine reads, so that an export uploads again as it is, and the
# one that says its formula-like cells were neutralised.
CSV_COLUMNS = (*CSV_EXPORT_COLUMNS, EXPORT_MARK)


@dataclass(slots=True)
class ExportBook:
    id: int
    title: str
    author: str | None
    frequency: str
    identity: str = ""
    highlights: list[Row[Any]] = field(default_factory=list)


def collect(books: Sequence[Row[Any]], highlights: Sequence[Row[Any]]) -> list[ExportBook]:
    """Books in title order, each with its highlights in reading order."""
    by_id = {row.id: ExportBook(row.id, row.title, row.author, row.frequency) for row in books}
    for row in highlights:
        book = by_id[row.book_id]
        book.identity = row.book_identity
        book.highlights.append(row)
    return list(by_id.values())


def to_markdown(books: list[ExportBook]) -> ExportFile:
    parts = ["# My Kindle highlights\n"]
    for book in books:
        if not book.highlights:
            continue
        byline = f" — {_inline(book.author)}" if book.author else ""
        parts.append(f"\n## {_inline(book.title)}{byline}\n")
        parts.extend(_markdown_highlight(row) for row in book.highlights)
    content = "".join(parts)
    return ExportFile("clippost-highlights.md", "text/markdown; charset=utf-8", content.encode())


def _markdown_highlight(row: Row[Any]) -> str:
    quote = "\n".join(f"> {line}".rstrip() for line in row.text.splitlines() or [""])
    place = _place(row)
    lines = [f"\n{quote}\n"]
    if place:
        lines.append(f"\n*{place}*\n")
    if row.note:
        lines.append("\n" + "\n".join(f"**Note:** {row.note}".splitlines()) + "\n")
    tags = verdict_tags(row)
    if tags:
        lines.append(f"\n**Tags:** {', '.join(tags)}\n")
    return "".join(lines)


def verdict_tags(row: Row[Any]) -> list[str]:
    """The reader's verdicts on a highlight as tags: favorite, discard, both or none."""
    return [
        tag for tag, flag in ((FAVOURITE_TAG, row.favourite), (DISCARD_TAG, row.discarded)) if flag
    ]


def _inline(text: str) -> str:
    # Headings are one line; a title with a line break would otherwise end the heading.
    return " ".join(text.split())


def _place(row: Row[Any]) -> str:
    parts = []
    if row.page:
        parts.append(f"page {row.page}")
    if row.location_start is not None:
        end = row.location_end
        span = f"{row.location_start}-{end}" if end not in (None, row.location_start) else ""
        parts.append(f"location {span or row.location_start}")
    return ", ".join(parts)


def to_csv(books: list[ExportBook]) -> ExportFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for book in books:
        for row in book.highlights:
            writer.writerow([neutralised(cell) for cell in _csv_row(book, row)])
    # A BOM so spreadsheet programs read the file as UTF-8; the importer skips it.
    content = "\ufeff" + buffer.getvalue()
    return ExportFile("clippost-highlights.csv", "text/csv; charset=utf-8", content.encode())


def _csv_row(book: ExportBook, row: Row[Any]) -> list[str]:
    if row.location_start is not None:
        kind = "location"
        end = row.location_end
        where = f"{row.location_start}-{end}" if end not in (None, row.location_start) else ""
        where = where or str(row.location_start)
    elif row.page:
        kind, where = "page", row.page
    else:
        kind, where = "", ""
    return [
        row.text,
        book.title,
        book.author or "",
        "",
        row.note or "",
        "",
        ", ".join(verdict_tags(row)),
        kind,
        where,
        _time(row.highlighted_at) or "",
        "",  # EXPORT_MARK's column: its header is what counts
    ]


def to_json(books: list[ExportBook]) -> ExportFile:
    return json_file(json_document(books))


def json_document(books: list[ExportBook]) -> dict[str, Any]:
    """The library part of the JSON export (`subscriptions/export.py` adds the reader's)."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "books": [_json_book(book) for book in books],
    }


def json_file(document: dict[str, Any]) -> ExportFile:
    content = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return ExportFile("clippost-library.json", "application/json", content.encode())


def _json_book(book: ExportBook) -> dict[str, Any]:
    return {
        "title": book.title,
        "author": book.author,
        "frequency": book.frequency,
        "identity": book.identity or None,
        "highlights": [_json_highlight(row) for row in book.highlights],
    }


def _json_highlight(row: Row[Any]) -> dict[str, Any]:
    return {
        "identity": row.identity,
        "text": row.text,
        "note": row.note,
        "page": row.page,
        "location_start": row.location_start,
        "location_end": row.location_end,
        "highlighted_at": _time(row.highlighted_at),
        "favourite": bool(row.favourite),
        "discarded": bool(row.discarded),
        "times_sent": row.times_sent,
        "last_sent_at": _time(row.last_sent_at),
    }


def _time(moment: datetime | None) -> str | None:
    # Device times are naive local times and stay so; sending times are aware UTC.
    return moment.isoformat(timespec="seconds") if moment is not None else None


WRITERS: dict[str, Callable[[list[ExportBook]], ExportFile]] = {
    "markdown": to_markdown,
    "csv": to_csv,
    "json": to_json,
}
