"""Apple Books annotations: the Mac's AEAnnotation database and the iOS sync plist.

Both hold the same fields (the database prefixes them with Z): the selected text, the
reader's note, a style (0 underline, 1-5 colours), a type (2 highlight, 3 bookmark), a
deleted flag and a creation date in Core Data seconds (the iOS plists seen so far hold
Unix seconds: `utc_from_apple` tells them apart). Titles and authors live elsewhere: the
BKLibrary database on a Mac, `Books.plist` on iOS, joined on the asset id. Without them
a book is a placeholder title, reported as such.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    book_item,
    classify,
    clean,
    integer,
    present,
    unread_date,
    utc_from_apple,
)
from clippost.clippings.formats.sqlite_copy import damaged
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry

_HIGHLIGHT, _BOOKMARK = 2, 3
_COLOURS = {0: "underline", 1: "green", 2: "blue", 3: "yellow", 4: "pink", 5: "purple"}
_NO_LIBRARY = (
    "the titles of Apple Books are kept apart from the highlights; it was imported as"
    " 'Unknown book' (zip the annotation file together with the library file: BKLibrary"
    " on a Mac, Books.plist on iOS)"
)

Books = Mapping[str, tuple[str | None, str | None]]


@dataclass(frozen=True, slots=True)
class Annotation:
    asset: str | None
    text: str | None
    note: str | None
    created: datetime | None
    kind: int | None
    style: int | None
    created_raw: object = None  # as stored, to report a date that could not be read


def is_annotation_db(tables: dict[str, set[str]]) -> bool:
    return "zannotationselectedtext" in tables.get("zaeannotation", set())


def is_library_db(tables: dict[str, set[str]]) -> bool:
    return {"zassetid", "ztitle"} <= tables.get("zbklibraryasset", set())


def annotations_from_db(connection: sqlite3.Connection) -> list[Annotation]:
    """The live annotations of an AEAnnotation database, in primary-key order."""
    try:
        rows = connection.execute(
            "SELECT ZANNOTATIONASSETID, ZANNOTATIONSELECTEDTEXT, ZANNOTATIONNOTE,"
            " ZANNOTATIONCREATIONDATE, ZANNOTATIONTYPE, ZANNOTATIONSTYLE FROM ZAEANNOTATION"
            " WHERE COALESCE(ZANNOTATIONDELETED, 0) = 0 ORDER BY Z_PK"
        ).fetchall()
    except sqlite3.Error as exc:
        raise damaged() from exc
    return [
        Annotation(clean(a), clean(t), clean(n), utc_from_apple(d), integer(k), integer(s), d)
        for a, t, n, d, k, s in rows
    ]


def books_from_db(connection: sqlite3.Connection) -> dict[str, tuple[str | None, str | None]]:
    """Title and author by asset id, from a BKLibrary database."""
    try:
        rows = connection.execute(
            "SELECT ZASSETID, ZTITLE, ZAUTHOR FROM ZBKLIBRARYASSET"
        ).fetchall()
    except sqlite3.Error as exc:
        raise damaged() from exc
    return {str(asset): (clean(title), clean(author)) for asset, title, author in rows if asset}


def entries_from(
    annotations: Iterable[Annotation], books: Books
) -> tuple[list[RawEntry], list[Problem]]:
    """Raw entries for the annotations, titled from `books`; bookmarks kept, others with
    neither text nor note (Apple's internal markers) left out."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    for item in annotations:
        kind, content, note = _kind(item)
        if kind is None:
            continue
        if item.created is None and present(item.created_raw):
            problems.append(unread_date(item.created_raw, len(entries) + 1))
        title, author = books.get(item.asset or "", (None, None))
        if title is None:
            title = UNKNOWN_TITLE
            problems.append(
                Problem(len(entries) + 1, 0, _NO_LIBRARY, ProblemKind.TITLE, item.asset)
            )
        colour = _COLOURS.get(item.style) if item.style is not None else None
        entries.append(
            book_item(
                kind,
                title,
                author,
                content,
                position=len(entries) + 1,
                added_at=item.created,
                color=colour,
                note=note,
            )
        )
    return entries, problems


def _kind(item: Annotation) -> tuple[Kind | None, str, str | None]:
    if item.kind == _BOOKMARK:
        return Kind.BOOKMARK, "", None
    if item.text is None and item.note is None:
        return None, "", None  # Apple's own markers (the last reading position)
    return classify(item.text, item.note)
