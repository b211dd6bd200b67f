"""KOReader's per-book sidecar, `<book>.sdr/metadata.<ext>.lua`, read as data.

Two schemas, and KOReader reads one or the other, never both:
- since 2024, `annotations`: one item per highlight (`text`, `note`, `drawer`, `pageno`,
  `datetime`); an item without `drawer` is a page bookmark;
- before, `bookmarks` with `highlight` beside it. A bookmark is a highlight when it says
  `highlighted` or a highlight has its `datetime`; its fields are swapped (`notes` is the
  passage, `text` the reader's note) and `text` is no note when it is empty, repeats the
  passage, or is KOReader's own label "Page 12 <passage> @ <datetime>" (translated in
  other interfaces). Pages come from the `highlight` table's keys. Highlights with no
  bookmark are kept too.
A migrated file keeps the legacy tables beside `annotations`: `annotations` alone is read.
`summary.note` is the reader's review of the book, not an annotation: left out.
"""

from __future__ import annotations

import re
from typing import Any

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    authors,
    book_item,
    clean,
    naive,
    page_text,
    unread_date,
)
from clippost.clippings.formats.lua_table import LuaError, loads
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry

_SIDECAR_KEYS = ('["annotations"]', '["bookmarks"]', '["highlight"]', '["doc_props"]')
_AUTO_LABEL = re.compile(r"(?s)^(.*?)\s*@\s*\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?\s*$")
_SPACES = re.compile(r"\s+")
_LABEL_QUOTE = 40


def looks_like_sidecar(text: str) -> bool:
    """A Lua table literal that names what a KOReader sidecar holds."""
    head = text[:4096].lstrip("\ufeff \t\r\n")
    while head.startswith("--"):
        head = head.partition("\n")[2].lstrip()
    return head.startswith("return") and any(key in text[: 1 << 20] for key in _SIDECAR_KEYS)


def parse_sidecar(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Every highlight, note and bookmark of one sidecar."""
    try:
        document = loads(text)
    except (LuaError, RecursionError) as exc:
        reason = f"this KOReader file cannot be read: {exc}"
        return [], [Problem(1, 1, reason)]
    if not isinstance(document, dict):
        return [], [Problem(1, 1, "this KOReader file holds no table of annotations")]
    return read_document(document)


def read_document(document: dict[Any, Any]) -> tuple[list[RawEntry], list[Problem]]:
    title, author = _book(document)
    problems: list[Problem] = []
    if title is None:
        title = UNKNOWN_TITLE
        reason = "this KOReader file does not name its book; it was imported as 'Unknown book'"
        problems.append(Problem(1, 1, reason, ProblemKind.TITLE))
    annotations = document.get("annotations")
    if isinstance(annotations, dict):
        items = [_annotation(item) for item in _listed(annotations)]
    else:
        items = _legacy(document)
    entries = []
    for index, (kind, content, note, page, stamp, colour) in enumerate(items, 1):
        moment = naive(stamp)
        if moment is None and stamp:
            problems.append(unread_date(stamp, index))
        entries.append(
            book_item(
                kind,
                title,
                author,
                content,
                position=index,
                page=page,
                added_at=moment,
                color=colour,
                note=note,
            )
        )
    return entries, problems


# (kind, content, note, page, the datetime as written, colour)
_Item = tuple[Kind, str, str | None, str | None, str | None, str | None]


def _book(document: dict[Any, Any]) -> tuple[str | None, str | None]:
    props = document.get("doc_props")
    props = props if isinstance(props, dict) else {}
    stats = document.get("stats")
    stats = stats if isinstance(stats, dict) else {}
    title = clean(props.get("title")) or _known(stats.get("title")) or _from_path(document)
    author = authors(props.get("authors")) or authors(props.get("author"))
    return title, author or authors(_known(stats.get("authors")))


def _known(value: object) -> str | None:
    text = clean(value)
    return None if text in (None, "N/A") else text


def _from_path(document: dict[Any, Any]) -> str | None:
    path = clean(document.get("doc_path"))
    if not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return (name.rsplit(".", 1)[0] if "." in name else name).strip() or None


def _listed(table: dict[Any, Any]) -> list[dict[Any, Any]]:
    """The positional entries of a Lua table, in order."""
    keys = sorted(k for k in table if isinstance(k, int))
    return [table[k] for k in keys if isinstance(table[k], dict)]


def _annotation(item: dict[Any, Any]) -> _Item:
    page = page_text(item.get("pageno")) or page_text(item.get("pageref"))
    page = page or page_text(item.get("page"))
    stamp = clean(item.get("datetime"))
    if not clean(item.get("drawer")):
        return Kind.BOOKMARK, "", None, page, stamp, None
    text = clean(item.get("text")) or ""
    return Kind.HIGHLIGHT, text, clean(item.get("note")), page, stamp, clean(item.get("color"))


def _legacy(document: dict[Any, Any]) -> list[_Item]:
    highlights = _highlights_by_time(document.get("highlight"))
    bookmarks = document.get("bookmarks")
    listed = _listed(bookmarks) if isinstance(bookmarks, dict) else []
    items: list[_Item] = []
    used: set[str] = set()
    for bookmark in reversed(listed):  # KOReader shows them last first
        stamp = clean(bookmark.get("datetime")) or ""
        matched = highlights.get(stamp)
        if bookmark.get("highlighted") is True or matched is not None:
            used.add(stamp)
            items.append(_legacy_highlight(bookmark, matched))
        else:
            page = page_text(bookmark.get("page"))
            items.append((Kind.BOOKMARK, "", None, page, stamp or None, None))
    for stamp, (page, item) in highlights.items():
        if stamp not in used:  # a highlight without its bookmark is a highlight still
            text = clean(item.get("text")) or ""
            items.append((Kind.HIGHLIGHT, text, None, page, stamp, clean(item.get("color"))))
    return items


def _highlights_by_time(table: object) -> dict[str, tuple[str | None, dict[Any, Any]]]:
    """Legacy `highlight[page][i]` by datetime, with the page (the table's key)."""
    found: dict[str, tuple[str | None, dict[Any, Any]]] = {}
    if not isinstance(table, dict):
        return found
    for key in sorted(table, key=lambda k: (not isinstance(k, int), str(k))):
        page = page_text(key)
        on_page = table[key]
        for item in _listed(on_page) if isinstance(on_page, dict) else []:
            stamp = clean(item.get("datetime"))
            if stamp:
                found.setdefault(stamp, (page, item))
    return found


def _legacy_highlight(
    bookmark: dict[Any, Any], matched: tuple[str | None, dict[Any, Any]] | None
) -> _Item:
    page, highlight = matched if matched is not None else (None, {})
    passage = clean(bookmark.get("notes")) or clean(highlight.get("text")) or ""
    note = _legacy_note(clean(bookmark.get("text")), passage)
    page = page_text(bookmark.get("page")) or page
    stamp = clean(bookmark.get("datetime"))
    return Kind.HIGHLIGHT, passage, note, page, stamp, clean(highlight.get("color"))


def _legacy_note(text: str | None, passage: str) -> str | None:
    """The reader's note in a legacy bookmark's `text`, or None for KOReader's own label."""
    if text is None or _squeezed(text) == _squeezed(passage):
        return None
    label = _AUTO_LABEL.match(text)
    # The label quotes the passage (sometimes cut short): its start is enough to know it.
    if label is not None and _squeezed(passage)[:_LABEL_QUOTE] in _squeezed(label.group(1)):
        return None
    return text


def _squeezed(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
