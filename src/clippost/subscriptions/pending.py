"""The payload of a PendingImport: an uploaded library and the preferences sent with it.

Parsing happens once, at upload; what waits for the confirmation link is the merged library
as zlib-compressed JSON (a 10,000-highlight library is a few hundred kilobytes). Once the
import is applied, the payload is replaced by the result of applying it, so confirming or
adding twice shows the same summary and the uploaded text does not linger.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clippost.clippings.models import Book, Highlight, Library, Note
from clippost.subscriptions.preferences import Preferences


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying an import did (kept after it was applied)."""

    new_books: int
    new_highlights: int


@dataclass(frozen=True, slots=True)
class Pending:
    library: Library | None  # None once applied
    preferences: Preferences | None
    applied: Applied | None = None


def encode(library: Library, preferences: Preferences | None) -> bytes:
    document = {
        "library": library_to_json(library),
        "preferences": preferences.to_json() if preferences else None,
    }
    return _pack(document)


def encode_applied(applied: Applied, preferences: Preferences | None) -> bytes:
    document = {
        "applied": {"new_books": applied.new_books, "new_highlights": applied.new_highlights},
        "preferences": preferences.to_json() if preferences else None,
    }
    return _pack(document)


def decode(payload: bytes) -> Pending:
    document = json.loads(zlib.decompress(payload))
    preferences = document.get("preferences")
    applied = document.get("applied")
    library = document.get("library")
    return Pending(
        library=library_from_json(library) if library is not None else None,
        preferences=Preferences.from_json(preferences) if preferences else None,
        applied=Applied(**applied) if applied else None,
    )


def _pack(document: dict[str, Any]) -> bytes:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode("utf-8"), 6)


def library_to_json(library: Library) -> dict[str, Any]:
    return {
        "books": [_book_to_json(book) for book in library.books],
        "clipping_limit_entries": library.clipping_limit_entries,
    }


def library_from_json(data: dict[str, Any]) -> Library:
    return Library(
        books=tuple(_book_from_json(book) for book in data["books"]),
        clipping_limit_entries=int(data.get("clipping_limit_entries", 0)),
    )


def _book_to_json(book: Book) -> dict[str, Any]:
    return {
        "identity": book.identity,
        "title": book.title,
        "author": book.author,
        "highlights": [_highlight_to_json(h) for h in book.highlights],
    }


def _book_from_json(data: dict[str, Any]) -> Book:
    return Book(
        identity=data["identity"],
        title=data["title"],
        author=data["author"],
        highlights=tuple(_highlight_from_json(h) for h in data["highlights"]),
    )


def _highlight_to_json(highlight: Highlight) -> dict[str, Any]:
    return {
        "identity": highlight.identity,
        "text": highlight.text,
        "page": highlight.page,
        "location_start": highlight.location_start,
        "location_end": highlight.location_end,
        "added_at": _time(highlight.added_at),
        "notes": [_note_to_json(note) for note in highlight.notes],
        "color": highlight.color,
        "tags": list(highlight.tags),
    }


def _highlight_from_json(data: dict[str, Any]) -> Highlight:
    return Highlight(
        identity=data["identity"],
        text=data["text"],
        page=data["page"],
        location_start=data["location_start"],
        location_end=data["location_end"],
        added_at=_parse_time(data["added_at"]),
        notes=tuple(_note_from_json(note) for note in data.get("notes", ())),
        color=data.get("color"),
        tags=tuple(data.get("tags", ())),
    )


def _note_to_json(note: Note) -> dict[str, Any]:
    return {
        "text": note.text,
        "location": note.location,
        "page": note.page,
        "added_at": _time(note.added_at),
    }


def _note_from_json(data: dict[str, Any]) -> Note:
    return Note(
        text=data["text"],
        location=data["location"],
        page=data["page"],
        added_at=_parse_time(data["added_at"]),
    )


def _time(moment: datetime | None) -> str | None:
    # Device times are naive local times; isoformat keeps them naive.
    return moment.isoformat() if moment is not None else None


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
