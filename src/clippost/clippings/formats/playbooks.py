"""Google Play Books' "Notes from <title>" document, downloaded from Drive as `.docx`.

`word/document.xml` holds: a header table (cover, the title in `Heading1`, the author, the
publisher), a banner, "9 notes/highlights" (a count to check against), then per chapter a
`Heading2` and one small table per entry: a colour swatch, the passage in italics (shaded
with the highlight's colour), an optional note in plain text and the date, then the page.
An entry with a date and a page only is a bookmark. Dates are written in the reader's
language ("April 25, 2016"); they are read with the Kindle date grammar's day reader.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    book_item,
    classify,
    clean,
    page_text,
    unread_date,
)
from clippost.clippings.kindle_dates import read_day
from clippost.clippings.models import Problem, ProblemKind, RawEntry

DOCUMENT = "word/document.xml"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_COUNT = re.compile(r"^(\d+)\s+\S")
_OFF = ("0", "false", "off")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


@dataclass(slots=True)
class _Cell:
    quote: list[str] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    shade: str | None = None


def parse_playbooks(xml: bytes) -> tuple[list[RawEntry], list[Problem]]:
    """Every highlight, note and bookmark of the document, in document order."""
    try:
        root = ET.fromstring(xml)  # noqa: S314 - bounded by the archive limits; no entities
    except ET.ParseError as exc:
        return [], [Problem(1, 0, f"this Play Books document cannot be read: {exc}")]
    title, author, declared = _header(root)
    entries: list[RawEntry] = []
    unread: list[Problem] = []
    for table in _leaf_tables(root):
        entry = _entry(table, title or UNKNOWN_TITLE, author, len(entries) + 1, unread)
        if entry is not None:
            entries.append(entry)
    return entries, unread + _problems(title, declared, len(entries))


def is_playbooks(xml: bytes) -> bool:
    return b"Play Books" in xml[:200_000] or b"play.google.com/books" in xml


def _problems(title: str | None, declared: int | None, found: int) -> list[Problem]:
    problems = []
    if title is None:
        problems.append(Problem(1, 0, "the document names no book", ProblemKind.TITLE))
    if declared is not None and declared > found:
        reason = f"the document says it holds {declared} entries, but {found} were found"
        problems.append(Problem(found + 1, 0, reason, ProblemKind.COUNT))
    return problems


def _paragraph_text(paragraph: ET.Element) -> str:
    return "".join(node.text or "" for node in paragraph.iter(f"{_W}t"))


def _style(paragraph: ET.Element) -> str:
    style = paragraph.find(f"{_W}pPr/{_W}pStyle")
    return (style.get(f"{_W}val") or "") if style is not None else ""


def _header(root: ET.Element) -> tuple[str | None, str | None, int | None]:
    """The title (the first Heading1), the author under it, and the declared count."""
    title = author = None
    declared = None
    paragraphs = list(root.iter(f"{_W}p"))
    for index, paragraph in enumerate(paragraphs):
        if _style(paragraph) != "Heading1":
            continue
        text = clean(_paragraph_text(paragraph))
        if title is None:
            title = text
            author = next(
                (clean(_paragraph_text(p)) for p in paragraphs[index + 1 : index + 2]), None
            )
        elif text and (count := _COUNT.match(text)):
            declared = int(count.group(1))
            break
    return title, author, declared


def _leaf_tables(root: ET.Element) -> Iterator[ET.Element]:
    """Tables with no table inside: the header, the banner, and one per entry."""
    for table in root.iter(f"{_W}tbl"):
        if table.find(f".//{_W}tbl") is None:
            yield table


def _entry(
    table: ET.Element, title: str, author: str | None, position: int, unread: list[Problem]
) -> RawEntry | None:
    cells = table.findall(f"{_W}tr/{_W}tc")
    if len(cells) != 3:
        return None  # the header (cover and title) or the banner
    text = _cell(cells[1])
    if cells[0].find(f".//{_W}drawing") is None and not (text.plain and _date(text.plain[-1])):
        return None  # neither a colour swatch nor a date: not an entry
    page = page_text(_paragraph_text(cells[2]))
    added_at = _date(text.plain[-1]) if text.plain else None
    dated = added_at is not None or (bool(text.plain) and _looks_dated(text.plain[-1]))
    notes = text.plain[:-1] if dated else text.plain
    if dated and added_at is None:
        unread.append(unread_date(text.plain[-1], position))
    quote = "\n".join(text.quote).strip()
    kind, content, note = classify(quote, "\n".join(notes).strip() or None)
    return book_item(
        kind,
        title,
        author,
        content,
        position=position,
        page=page,
        added_at=added_at,
        color=text.shade,
        note=note,
    )


def _cell(cell: ET.Element) -> _Cell:
    found = _Cell()
    for paragraph in cell.iter(f"{_W}p"):
        runs = [run for run in paragraph.iter(f"{_W}r") if run.find(f"{_W}t") is not None]
        text = "".join(_paragraph_text(run) for run in runs).strip()
        if not text:
            continue
        if runs and all(_italic(run) for run in runs):
            found.quote.append(text)
            found.shade = found.shade or _shade(runs[0])
        else:
            found.plain.append(text)
    return found


def _italic(run: ET.Element) -> bool:
    mark = run.find(f"{_W}rPr/{_W}i")
    return mark is not None and (mark.get(f"{_W}val") or "1").lower() not in _OFF


def _shade(run: ET.Element) -> str | None:
    shade = run.find(f"{_W}rPr/{_W}shd")
    fill = shade.get(f"{_W}fill") if shade is not None else None
    return f"#{fill.lower()}" if fill and re.fullmatch(r"[0-9A-Fa-f]{6}", fill) else None


def _looks_dated(text: str) -> bool:
    """A short paragraph with a year in it: the entry's date, even if unreadable."""
    return len(text) <= 40 and _YEAR.search(text) is not None


def _date(text: str) -> datetime | None:
    day = read_day(text)
    if day is None:
        return None
    try:
        return datetime(day.year, day.month, day.day)  # noqa: DTZ001 - a day, no zone
    except ValueError:
        return None
