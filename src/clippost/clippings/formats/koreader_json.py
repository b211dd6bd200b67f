"""KOReader's "Export highlights" JSON: one book, or several under `documents`.

A book is `{title, author, entries: [...]}`; an entry has `text`, `note`, `page`,
`chapter`, `drawer`, `color` and `time` (Unix seconds, kept as naive UTC: the device's
own zone is not in the file). `sort` is "highlight" for highlights.
"""

from __future__ import annotations

import json
from typing import Any

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    book_item,
    clean,
    page_text,
    present,
    unread_date,
    utc_from_unix,
)
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry


def looks_like_koreader_json(text: str) -> bool:
    head = text[:4096].lstrip("\ufeff \t\r\n")
    if not head.startswith("{"):
        return False
    probe = text[: 1 << 20]
    return '"entries"' in probe and ('"version"' in probe or '"documents"' in probe)


def parse_koreader_json(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Every entry of every book in the export, in file order."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return [], [Problem(1, 1, f"this KOReader export is not valid JSON: {exc}")]
    books = document.get("documents") if isinstance(document, dict) else None
    if not isinstance(books, list):
        books = [document]
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    for book in books:
        if isinstance(book, dict):
            _read_book(book, entries, problems)
    return entries, problems


def _read_book(book: dict[str, Any], entries: list[RawEntry], problems: list[Problem]) -> None:
    title, author = clean(book.get("title")), clean(book.get("author"))
    items = book.get("entries")
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict):
            continue
        position = len(entries) + 1
        if title is None:
            problems.append(
                Problem(position, 0, "the export does not name this book", ProblemKind.TITLE)
            )
        entry = _entry(item, title or UNKNOWN_TITLE, author, position)
        if entry.added_at is None and present(item.get("time")):
            problems.append(unread_date(item.get("time"), position))
        entries.append(entry)


def _entry(item: dict[str, Any], title: str, author: str | None, position: int) -> RawEntry:
    text = clean(item.get("text")) or ""
    sort = clean(item.get("sort")) or "highlight"
    kind = Kind.BOOKMARK if sort == "bookmark" or not (text or item.get("note")) else Kind.HIGHLIGHT
    return book_item(
        kind,
        title,
        author,
        text,
        position=position,
        page=page_text(item.get("page")),
        added_at=utc_from_unix(item.get("time")),
        color=clean(item.get("color")),
        note=clean(item.get("note")),
    )
