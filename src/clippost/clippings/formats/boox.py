"""Onyx Boox NeoReader's exported notes (`<book>-annotation-<date>.txt`), both layouts.

- older: "Reading Notes | <<Title>>", an author line, then entries of an optional chapter
  line, "Time：2022-03-07 01:11", "【Original Text】…", "【Annotations】…", "【Page Number】13";
- newer: "<label> | <<Title>>Author", then entries of an optional chapter line,
  "2023-04-03 00:41  |  Page No.: 6", the passage, and an optional "【Note】…" that may
  run over several lines.
Entries are separated by a line of hyphens; labels are translated (only the brackets and
their order are relied on), and the separators around "|" are no-break spaces.
Times are the device's local time.
"""

from __future__ import annotations

import re
from datetime import datetime

from clippost.clippings.formats.base import UNKNOWN_TITLE, book_item, clean, unread_date
from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry

_HEADER = re.compile(r"^(?P<label>[^|\n]{1,80}?)\s*\|\s*<<(?P<title>.*)>>(?P<author>.*)$")
_SEPARATOR = re.compile(r"^-{15,}\s*$")
_NEW_META = re.compile(
    r"^(?P<time>\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2})\s*\|\s*(?P<label>[^:：]*)[:：]\s*(?P<page>\S*)\s*$"
)
_OLD_TIME = re.compile(r"^[^\d\n]{0,30}[:：]\s*(?P<time>\d{4}-\d{2}-\d{2}\s+\d{1,2}:\d{2})\s*$")
_SECTION = re.compile(r"^【(?P<label>[^】]{1,40})】(?P<rest>.*)$")
_NOTE_LABELS = ("note", "annotation", "批注", "笔记", "注释", "notiz", "заметка")
_PAGE_LABELS = ("page", "页", "seite", "страница")


def looks_like_boox(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].replace("\xa0", " ")
    return _HEADER.match(first.strip()) is not None and "-------------------" in text[:65_536]


def parse_boox(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Every highlight in the export, in file order."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header = _HEADER.match(lines[0].replace("\xa0", " ").strip())
    if header is None:
        return [], [Problem(1, 1, "this Boox export has no 'Reading Notes | <<title>>' line")]
    title = clean(header.group("title")) or UNKNOWN_TITLE
    author = clean(header.group("author"))
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    blocks = _blocks(lines)
    if author is None and blocks:
        author, blocks[0] = _author_line(*blocks[0])
    for start, block in blocks:
        entry = _entry(block, title, author, len(entries) + 1, start)
        if isinstance(entry, RawEntry):
            if entry.added_at is None:  # a time line whose time is impossible
                problems.append(unread_date(lines[entry.line - 1], entry.position, entry.line))
            entries.append(entry)
        elif entry is not None:
            problems.append(entry)
    if title == UNKNOWN_TITLE:
        problems.append(Problem(1, 1, "the export names no book", ProblemKind.TITLE))
    return entries, problems


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each entry after the header line."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 2
    for number, line in enumerate(lines[1:], 2):
        if _SEPARATOR.match(line):
            blocks.append((start, current))
            current, start = [], number + 1
        else:
            current.append(line)
    if any(line.strip() for line in current):
        blocks.append((start, current))
    return blocks


def _author_line(start: int, block: list[str]) -> tuple[str | None, tuple[int, list[str]]]:
    """The older layout's author: the line right under the header, followed by a blank
    line (a chapter line is followed by the time, never by a blank)."""
    if len(block) >= 2 and block[0].strip() and not block[1].strip() and _meta(block[0]) is None:
        return clean(block[0]), (start + 2, block[2:])
    return None, (start, block)


def _meta(line: str) -> tuple[datetime | None, str | None] | None:
    flat = line.replace("\xa0", " ").strip()
    found = _NEW_META.match(flat)
    if found is not None:
        return _time(found.group("time")), clean(found.group("page"))
    found = _OLD_TIME.match(flat)
    return (_time(found.group("time")), None) if found else None


def _time(text: str) -> datetime | None:
    try:
        return datetime.strptime(" ".join(text.split()), "%Y-%m-%d %H:%M")  # noqa: DTZ007 - local
    except ValueError:
        return None


def _entry(
    block: list[str], title: str, author: str | None, position: int, start: int
) -> RawEntry | Problem | None:
    index = next((i for i, line in enumerate(block) if _meta(line) is not None), None)
    if index is None:
        if any(line.strip() for line in block):
            return Problem(position, start, "this Boox entry has no time line")
        return None
    moment, page = _meta(block[index]) or (None, None)
    text, note, section_page = _body(block[index + 1 :])
    kind = Kind.HIGHLIGHT if text else Kind.BOOKMARK
    return book_item(
        kind,
        title,
        author,
        text,
        position=position,
        page=page or section_page,
        added_at=moment,
        line=start + index,
        note=note,
    )


def _body(lines: list[str]) -> tuple[str, str | None, str | None]:
    """(passage, note, page) from the lines after the time: bracketed sections, or a
    passage followed by an optional bracketed note."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in lines:
        found = _SECTION.match(line.strip())
        if found is not None:
            sections.append((found.group("label").casefold(), [found.group("rest")]))
        else:
            sections[-1][1].append(line)
    text, note, page = "\n".join(sections[0][1]).strip(), None, None
    for order, (label, body) in enumerate(sections[1:]):
        value = "\n".join(body).strip()
        if label.startswith(_PAGE_LABELS) or (order == 2 and value.isdigit()):
            page = value or None
        elif label.startswith(_NOTE_LABELS) or text:
            note = value or None
        else:
            text = value
    return text, note, page
