"""Renderers for what `clippost parse` prints, and the Kindle text writer used by round trips.

Writers stream to a TextIO: a large library is printed without building one huge string.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from clippost.clippings.csv_export import COLUMNS
from clippost.clippings.models import (
    Book,
    Highlight,
    Kind,
    Library,
    Note,
    ParseResult,
    Problem,
    RawEntry,
    SourceFormat,
)
from clippost.clippings.problems import summarise

FORMAT_NAMES = {
    SourceFormat.KINDLE_TXT: "Kindle My Clippings.txt",
    SourceFormat.KINDLE_HTML: "Kindle app notebook export (HTML)",
    SourceFormat.CSV: "highlights CSV (Readwise)",
    SourceFormat.KOREADER_CLIPPINGS: "KOReader My Clippings export",
    SourceFormat.KOBO: "Kobo KoboReader.sqlite",
    SourceFormat.KOREADER_LUA: "KOReader sidecar (metadata.lua)",
    SourceFormat.KOREADER_JSON: "KOReader JSON export",
    SourceFormat.APPLE_BOOKS: "Apple Books annotations (Mac)",
    SourceFormat.APPLE_BOOKS_PLIST: "Apple Books annotations (iOS plist)",
    SourceFormat.PLAY_BOOKS: "Google Play Books notes (.docx)",
    SourceFormat.MOON_READER: "Moon+ Reader export (.mrexpt)",
    SourceFormat.BOOX: "Boox notes export",
}
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_KINDLE_KIND = {
    Kind.HIGHLIGHT: "Your Highlight",
    Kind.NOTE: "Your Note",
    Kind.BOOKMARK: "Your Bookmark",
    Kind.CLIP: "Clip This Article",
}


def _stamp(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# --- summary -------------------------------------------------------------------------------


def write_summary(result: ParseResult, library: Library, out: TextIO, *, all_entries: bool) -> None:
    """Books and counts: what a reader checks before importing."""
    name = FORMAT_NAMES.get(result.format, "unknown") if result.format else "unknown"
    out.write(f"Format: {name}\n")
    if all_entries:
        kinds = Counter(e.kind for e in result.entries)
        counts = ", ".join(_plural(kinds[k], k.value) for k in Kind)
        out.write(f"Entries: {len(result.entries)} ({counts})\n")
    notes = sum(len(h.notes) for b in library.books for h in b.highlights)
    out.write(
        f"{_plural(len(library.books), 'book')}, {_plural(library.highlight_count, 'highlight')}"
        f", {_plural(notes, 'note')} attached\n"
    )
    if library.clipping_limit_entries:
        out.write(
            f"{_plural(library.clipping_limit_entries, 'clipping-limit placeholder')} left out\n"
        )
    for summary in summarise(result.problems):
        out.write(f"{summary.sentence}\n")
    for book in library.books:
        out.write(f"\n{_book_line(book)}\n  {_book_counts(book)}\n")


def _book_line(book: Book) -> str:
    return f"{book.title} — {book.author}" if book.author else book.title


def _book_counts(book: Book) -> str:
    notes = sum(len(h.notes) for h in book.highlights) + len(book.loose_notes)
    parts = [_plural(len(book.highlights), "highlight"), _plural(notes, "note")]
    if book.bookmarks:
        parts.append(_plural(len(book.bookmarks), "bookmark"))
    return ", ".join(parts)


# --- jsonl ---------------------------------------------------------------------------------


def entry_record(entry: RawEntry) -> dict[str, object]:
    """The documented raw-entry object, the same for every format: these keys, and
    `favourite` / `discarded` only where the source says so."""
    record: dict[str, object] = {
        "kind": entry.kind.value,
        "title": entry.title,
        "author": entry.author,
        "content": entry.content,
        "note": entry.note,
        "page": entry.page,
        "location_start": entry.location_start,
        "location_end": entry.location_end,
        "added_at": _stamp(entry.added_at),
    }
    if entry.favourite is not None:
        record["favourite"] = entry.favourite
    if entry.discarded is not None:
        record["discarded"] = entry.discarded
    return record


def write_entries_jsonl(entries: Iterable[RawEntry], out: TextIO) -> None:
    for entry in entries:
        out.write(json.dumps(entry_record(entry), ensure_ascii=False))
        out.write("\n")


def problem_record(problem: Problem) -> dict[str, object]:
    """A problem as a JSON line: `{"problem": {...}}`, told apart from items by its key."""
    return {
        "problem": {
            "kind": problem.kind.value,
            "entry": problem.position,
            "line": problem.line,
            "file": problem.file,
            "text": problem.text,
            "reason": problem.reason,
        }
    }


def write_problems_jsonl(problems: Iterable[Problem], out: TextIO) -> None:
    for problem in problems:
        out.write(json.dumps(problem_record(problem), ensure_ascii=False))
        out.write("\n")


def highlight_record(book: Book, highlight: Highlight) -> dict[str, object]:
    return {
        "title": book.title,
        "author": book.author,
        "book_identity": book.identity,
        "identity": highlight.identity,
        "text": highlight.text,
        "page": highlight.page,
        "location_start": highlight.location_start,
        "location_end": highlight.location_end,
        "added_at": _stamp(highlight.added_at),
        "color": highlight.color,
        "tags": list(highlight.tags),
        "favourite": highlight.favourite,
        "discarded": highlight.discarded,
        "notes": [_note_record(n) for n in highlight.notes],
    }


def _note_record(note: Note) -> dict[str, object]:
    return {
        "text": note.text,
        "location": note.location,
        "page": note.page,
        "added_at": _stamp(note.added_at),
    }


def write_highlights_jsonl(library: Library, out: TextIO) -> None:
    for book in library.books:
        for highlight in book.highlights:
            out.write(json.dumps(highlight_record(book, highlight), ensure_ascii=False))
            out.write("\n")


# --- markdown ------------------------------------------------------------------------------


def write_markdown(library: Library, out: TextIO) -> None:
    """One section per book, highlights as blockquotes, notes under them."""
    for index, book in enumerate(library.books):
        if index:
            out.write("\n")
        out.write(f"## {_one_line(book.title)}\n\n")
        if book.author:
            out.write(f"*{_one_line(book.author)}*\n\n")
        for highlight in book.highlights:
            _write_highlight_md(highlight, out)
        if book.loose_notes:
            out.write("### Notes\n\n")
            for note in book.loose_notes:
                where = _where(note.page, note.location, note.location)
                out.write(f"- {_one_line(note.text)}" + (f" ({where})" if where else "") + "\n")
            out.write("\n")


def _write_highlight_md(highlight: Highlight, out: TextIO) -> None:
    for line in highlight.text.splitlines() or [""]:
        out.write(f"> {line}".rstrip() + "\n")
    where = _where(highlight.page, highlight.location_start, highlight.location_end)
    if where:
        out.write(f"\n— {where}\n")
    for note in highlight.notes:
        out.write(f"\n**Note:** {note.text.strip()}\n")
    out.write("\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _where(page: str | None, start: int | None, end: int | None) -> str:
    parts = []
    if page:
        parts.append(f"page {page}")
    if start is not None:
        span = str(start) if end in (None, start) else f"{start}-{end}"
        parts.append(f"location {span}")
    return ", ".join(parts)


# --- csv -----------------------------------------------------------------------------------


def _location_cells(page: str | None, start: int | None, end: int | None) -> tuple[str, str]:
    if start is not None:
        return "location", str(start) if end in (None, start) else f"{start}-{end}"
    if page is not None:
        return "page", page
    return "", ""


def _csv_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def write_entries_csv(entries: Iterable[RawEntry], out: TextIO) -> None:
    """Raw entries in the importer's layout; a note is a row with an empty Highlight.

    Bookmarks have no place in this layout and are left out; clips are written as highlights.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        if e.kind is not Kind.BOOKMARK:
            writer.writerow(_entry_row(e))


def _entry_row(e: RawEntry) -> list[str]:
    location_type, location = _location_cells(e.page, e.location_start, e.location_end)
    text, note = ("", e.content) if e.kind is Kind.NOTE else (e.content, e.note or "")
    return [
        text, e.title, e.author or "", "", note, e.color or "", ", ".join(e.tags),
        location_type, location, _csv_time(e.added_at),
    ]  # fmt: skip


def write_highlights_csv(library: Library, out: TextIO) -> None:
    """Merged highlights, one row each, their notes joined in the Note column."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for book in library.books:
        for h in book.highlights:
            writer.writerow(_highlight_row(book, h))


def _highlight_row(book: Book, h: Highlight) -> list[str]:
    location_type, location = _location_cells(h.page, h.location_start, h.location_end)
    note = "\n\n".join(n.text for n in h.notes)
    return [
        h.text, book.title, book.author or "", "", note, h.color or "", ", ".join(h.tags),
        location_type, location, _csv_time(h.added_at),
    ]  # fmt: skip


# --- Kindle text ---------------------------------------------------------------------------


def render_kindle_txt(entries: Iterable[RawEntry], *, newline: str = "\n") -> str:
    """Entries as an English (US) Kindle writes them to My Clippings.txt."""
    parts: list[str] = []
    for e in entries:
        title = f"{e.title} ({e.author})" if e.author else e.title
        lines = [title, _kindle_meta(e), "", e.content, "=========="]
        parts.append(newline.join(lines) + newline)
    return "".join(parts)


def _kindle_meta(entry: RawEntry) -> str:
    where = []
    if entry.page is not None:
        where.append(f"page {entry.page}")
    if entry.location_start is not None:
        end = entry.location_end
        span = (
            f"{entry.location_start}"
            if end in (None, entry.location_start)
            else f"{entry.location_start}-{end}"
        )
        where.append(f"Location {span}")
    meta = f"- {_KINDLE_KIND[entry.kind]} on " + " | ".join(where)
    if entry.added_at is not None:
        meta += f" | Added on {_us_date(entry.added_at)}"
    return meta


def _us_date(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return (
        f"{_WEEKDAYS[moment.weekday()]}, {_MONTHS[moment.month - 1]} {moment.day}, {moment.year}"
        f" {hour}:{moment.minute:02d}:{moment.second:02d} {half}"
    )
