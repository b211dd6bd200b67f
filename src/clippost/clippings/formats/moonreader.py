"""Moon+ Reader's highlight export (`.mrexpt`: highlights list › share › Export to file).

Three header lines (a number, "indent:true", "trim:false"), then records: a line "#" and
exactly 16 lines after it: id, book title, file path, the path lower-cased, chapter index,
0, character position, length, colour (a signed ARGB integer), time in milliseconds since
1970 (UTC), bookmark text, note, highlighted text, and three flags. Empty lines are fields,
so lines are counted, never skipped; line breaks inside a text are written "<BR>".
"""

from __future__ import annotations

import re

from clippost.clippings.formats.base import (
    UNKNOWN_TITLE,
    book_item,
    classify,
    clean,
    present,
    unread_date,
    utc_from_unix,
)
from clippost.clippings.models import Problem, ProblemKind, RawEntry

_FIELDS = 16
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TITLE, _TIME, _BOOKMARK, _NOTE, _TEXT, _COLOUR = 1, 9, 10, 11, 12, 8


def looks_like_mrexpt(text: str) -> bool:
    head = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n", 4)
    return (
        len(head) >= 4
        and head[0].strip().lstrip("-").isdigit()
        and head[1].strip().startswith("indent:")
        and head[2].strip().startswith("trim:")
    )


def parse_mrexpt(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Every record of the export, in file order."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    index = 3
    while index < len(lines):
        if lines[index].strip() != "#":
            index += 1
            continue
        fields = lines[index + 1 : index + 1 + _FIELDS]
        if len(fields) < _TEXT + 1:
            problems.append(Problem(len(entries) + 1, index + 1, "this record is cut short"))
            break
        entry = _entry(fields, len(entries) + 1, index + 1)
        if entry.title == UNKNOWN_TITLE:
            problems.append(
                Problem(entry.position, entry.line, "the record names no book", ProblemKind.TITLE)
            )
        if entry.added_at is None and present(fields[_TIME]):
            problems.append(unread_date(fields[_TIME], entry.position, entry.line + _TIME + 1))
        entries.append(entry)
        index += 1 + _FIELDS
    return entries, problems


def _text(value: str) -> str | None:
    return clean(_BREAK.sub("\n", value))


def _entry(fields: list[str], position: int, line: int) -> RawEntry:
    title = clean(fields[_TITLE]) or UNKNOWN_TITLE
    kind, content, note = classify(_text(fields[_TEXT]), _text(fields[_NOTE]))
    return book_item(
        kind,
        title,
        None,
        content,
        position=position,
        added_at=utc_from_unix(_number(fields[_TIME]) or None),
        line=line,
        color=_colour(fields[_COLOUR]),
        note=note,
    )


def _number(value: str) -> int:
    text = value.strip()
    return int(text) if text.lstrip("-").isdigit() else 0


def _colour(value: str) -> str | None:
    """A signed ARGB integer as "#rrggbb"."""
    number = _number(value)
    return f"#{number & 0xFFFFFF:06x}" if number else None
