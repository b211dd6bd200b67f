"""Kobo e-readers' `KoboReader.sqlite` (the hidden `.kobo` folder on the device).

One `Bookmark` row per annotation: `Text` is the passage, `Annotation` the reader's note,
`Type` says highlight, note (a highlight with a note) or dogear (a page bookmark; old
firmware has no `Type`, and a row without text is a bookmark there). `Hidden='true'` is a
highlight the reader removed, left behind as a tombstone: never imported. Titles and
authors are the `content` row of the book (`ContentID = VolumeID`); a book without one
falls back to its file name, or to a placeholder that is reported.

`DateCreated` has no zone but is UTC (untouched rows equal `DateModified`, which ends in
"Z"); it is kept as written, a naive UTC time.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import unquote

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    book_item,
    clean,
    naive,
    present,
    unread_date,
)
from clippost.clippings.formats.sqlite_copy import damaged, quoted
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry


def is_kobo(tables: dict[str, set[str]]) -> bool:
    bookmark = tables.get("bookmark", set())
    return {"volumeid", "text", "annotation"} <= bookmark


def read_kobo(
    connection: sqlite3.Connection, tables: dict[str, set[str]]
) -> tuple[list[RawEntry], list[Problem]]:
    """Every live annotation in rowid order (the order Kobo wrote them)."""
    try:
        books = _books(connection, tables)
        rows = connection.execute(_query(tables["bookmark"])).fetchall()
    except sqlite3.Error as exc:
        raise damaged() from exc
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    for volume, text, annotation, created, modified, kind, hidden in rows:
        if str(hidden).lower() == "true":
            continue  # a removed highlight's tombstone
        title, author = books.get(volume, (None, None))
        if title is None:
            title, author = _from_volume(volume)[0], author
        position = len(entries) + 1
        if title is None:
            title = UNKNOWN_TITLE
            problems.append(_untitled(position, volume))
        entry = _entry(title, author, clean(text), clean(annotation), str(kind or "").lower())
        entry.added_at = naive(created) or naive(modified)
        entry.position = position
        if entry.added_at is None and (present(created) or present(modified)):
            problems.append(unread_date(created if present(created) else modified, position))
        entries.append(entry)
    return entries, problems


def _query(columns: set[str]) -> str:
    # Old firmware lacks `Type` (and very old `Hidden`): read NULL in their place.
    kind = "Type" if "type" in columns else "NULL"
    hidden = "Hidden" if "hidden" in columns else "NULL"
    modified = "DateModified" if "datemodified" in columns else "NULL"
    created = "DateCreated" if "datecreated" in columns else "NULL"
    # Only fixed column names (or NULL) are put in: nothing from the file itself.
    return (
        f"SELECT VolumeID, Text, Annotation, {created}, {modified}, {kind}, {hidden}"  # noqa: S608
        f" FROM {quoted('Bookmark')} ORDER BY rowid"
    )


def _books(
    connection: sqlite3.Connection, tables: dict[str, set[str]]
) -> dict[str, tuple[str | None, str | None]]:
    """Title and author per volume; the whole book's row (ContentType 6) wins over a
    chapter's (9)."""
    content = tables.get("content", set())
    if not {"contentid", "title"} <= content:
        return {}
    author = "Attribution" if "attribution" in content else "NULL"
    kind = "ContentType" if "contenttype" in content else "NULL"
    rows = connection.execute(
        f"SELECT ContentID, Title, {author}, {kind} FROM content"  # noqa: S608 - fixed names
        " WHERE ContentID IN (SELECT VolumeID FROM Bookmark)"
    ).fetchall()
    books: dict[str, tuple[str | None, str | None]] = {}
    for content_id, title, attribution, _ in sorted(rows, key=lambda row: str(row[3]) == "6"):
        books[content_id] = (clean(title), clean(attribution))
    return books


def _from_volume(volume: object) -> tuple[str | None, str | None]:
    """A sideloaded book's file name ("file:///mnt/onboard/x/Dune.epub" is "Dune")."""
    text = clean(volume) or ""
    if not text.startswith("file://"):
        return None, None  # a store book's bare id says nothing a reader recognises
    name = unquote(text.rsplit("/", 1)[-1])
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return (stem.strip() or None), None


def _entry(
    title: str, author: str | None, text: str | None, note: str | None, kind: str
) -> RawEntry:
    if kind == "dogear" or (not kind and text is None and note is None):
        found, content, attached = Kind.BOOKMARK, "", None
    elif text is None and note is not None:
        found, content, attached = Kind.NOTE, note, None
    else:
        found, content, attached = Kind.HIGHLIGHT, text or "", note
    return book_item(found, title, author, content, position=0, note=attached)


def _untitled(position: int, volume: object) -> Problem:
    return Problem(
        position,
        0,
        "the database has no title for this book; it was imported as 'Unknown book'",
        ProblemKind.TITLE,
        clean(volume),
    )
