"""A highlights CSV of the kind highlight services export: Readwise's, and its imitators.

Columns (any order, any case, with or without a BOM): Highlight, Book Title, Book Author,
Amazon Book ID, Note, Color, Tags, Location Type, Location, Highlighted at (later Readwise
exports add Document tags, which describe the book and are not read). Highlight and Book
Title are required; the others are optional and reported when absent. A row is one item:
its Note is attached to its highlight (a row with a note and no highlight is a standalone
note). Readwise keeps its own state in Tags: `favorite` and `discard` become the item's
favourite and discarded flags; every tag is kept as written.

clippost's own CSV export (`library/export.py`) is read here too. It names itself with one
more column, `EXPORT_MARK`, and writes a cell a spreadsheet would run as a formula (one
starting with = + - @, a tab or a carriage return) with an apostrophe before it, which
spreadsheets show as text. In a file with that column, and only there, one leading
apostrophe before such a start is taken off again (`unneutralised`): an export uploaded
again is the library it was, and a Readwise file's own apostrophes are never touched.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from clippost.clippings.models import Kind, Problem, ProblemKind, RawEntry

COLUMNS = (
    "Highlight",
    "Book Title",
    "Book Author",
    "Amazon Book ID",
    "Note",
    "Color",
    "Tags",
    "Location Type",
    "Location",
    "Highlighted at",
)
REQUIRED = ("Highlight", "Book Title")
# The column clippost's export adds (empty in every row): its cells are neutralised.
EXPORT_MARK = "Exported by clippost"
# A cell a spreadsheet would evaluate, behind any apostrophes an earlier export added.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
_BY_KEY = {" ".join(c.casefold().split()): c for c in COLUMNS}
_RANGE = re.compile(r"\s*(\d{1,9})\s*(?:[-–]\s*(\d{1,9}))?\s*$")
_DELIMITERS = (",", ";", "\t")
# The tags Readwise writes for a starred highlight and for one thrown out of review.
_FAVOURITE = ("favorite", "favourite")
_DISCARD = ("discard", "discarded")

if TYPE_CHECKING:
    from _csv import Reader as _Reader


@dataclass(frozen=True, slots=True)
class CsvResult:
    entries: list[RawEntry]
    problems: list[Problem]
    missing_columns: tuple[str, ...]
    error: str | None


def looks_like_highlights_csv(text: str) -> bool:
    """True when the first line names at least two of the known columns (or Highlight)."""
    delimiter, found = _best_header(_first_line(text))
    return len(found) >= 2 or ("Highlight" in found and delimiter in _first_line(text))


def parse_highlights_csv(text: str) -> CsvResult:
    """Entries in row order; an error naming the required columns that are absent."""
    delimiter, _ = _best_header(_first_line(text))
    rows = csv.reader(_lines(text), delimiter=delimiter)
    try:
        cells = next(rows, [])
    except csv.Error:
        cells = []
    header = [_column(cell) for cell in cells]
    ours = EXPORT_MARK in (cell.strip() for cell in cells)
    present = {name for name in header if name}
    missing_required = [c for c in REQUIRED if c not in present]
    if missing_required:
        names = " and ".join(f'"{c}"' for c in missing_required)
        found = ", ".join(f'"{c}"' for c in COLUMNS if c in present) or "none"
        return CsvResult([], [], (), f"This CSV has no {names} column (columns found: {found}).")
    missing = tuple(c for c in COLUMNS if c not in present)
    entries, problems = _read_rows(rows, header, ours=ours)
    return CsvResult(entries, problems, missing, None)


def neutralised(cell: str) -> str:
    """`cell` as the export writes it: an apostrophe first if a spreadsheet would take it
    for a formula (or if it already starts with apostrophes before one, so that reading
    it back takes off exactly the one added here)."""
    return "'" + cell if _FORMULA.match(cell) else cell


def unneutralised(cell: str) -> str:
    """The cell `neutralised` was given (for a file with the EXPORT_MARK column only)."""
    return cell[1:] if _NEUTRALISED.match(cell) else cell


def _first_line(text: str) -> str:
    lines = text[:65_536].lstrip("\ufeff").splitlines()
    return lines[0] if lines else ""


def _best_header(line: str) -> tuple[str, set[str]]:
    best: tuple[str, set[str]] = (",", set())
    for delimiter in _DELIMITERS:
        try:
            cells = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            continue
        names = {_column(cell) for cell in cells}
        names.discard(None)
        if len(names) > len(best[1]):
            best = (delimiter, {n for n in names if n})
    return best


def _column(cell: str | None) -> str | None:
    key = " ".join((cell or "").lstrip("\ufeff").replace("_", " ").casefold().split())
    return _BY_KEY.get(key)


def _lines(text: str) -> Iterator[str]:
    # The csv module wants lines; splitlines keeps ends so quoted line breaks survive.
    yield from text.lstrip("\ufeff").splitlines(keepends=True)


def _read_rows(
    rows: _Reader, header: list[str | None], *, ours: bool
) -> tuple[list[RawEntry], list[Problem]]:
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    while True:
        line = rows.line_num + 1  # where the next record starts, for problem reports
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(len(entries) + 1, line, f"the CSV cannot be read here: {exc}"))
            break
        if any(cell.strip() for cell in row):
            record = {name: cell for name, cell in zip(header, row, strict=False) if name}
            if ours:
                record = {name: unneutralised(cell) for name, cell in record.items()}
            _add_row(record, line, entries, problems)
    return entries, problems


def _add_row(
    record: dict[str, str], line: int, entries: list[RawEntry], problems: list[Problem]
) -> None:
    position = len(entries) + 1
    title = record.get("Book Title", "").strip()
    text = record.get("Highlight", "").strip()
    note = record.get("Note", "").strip()
    if not title:
        problems.append(Problem(position, line, "the row has no book title"))
        return
    if not text and not note:
        problems.append(Problem(position, line, "the row has neither highlight text nor a note"))
        return
    entry = _base_entry(record, title, line)
    entry.position = position
    problems += _gaps(record, entry)
    if text:
        entry.content, entry.note = text, note or None
    else:
        # A note on nothing: written where Kindle would put it, at the passage's end.
        entry.kind, entry.content, entry.color, entry.tags = Kind.NOTE, note, None, ()
        entry.location_start = entry.location_end
    entries.append(entry)


def _base_entry(record: dict[str, str], title: str, line: int) -> RawEntry:
    where = record.get("Location", "").strip()
    is_page = record.get("Location Type", "").strip().casefold() == "page"
    start, end = (None, None) if is_page else _range(where, record.get("Location Type"))
    author = record.get("Book Author", "").strip() or None
    tags = tuple(t.strip() for t in record.get("Tags", "").split(",") if t.strip())
    return RawEntry(
        kind=Kind.HIGHLIGHT,
        title=title,
        author=author,
        page=(where or None) if is_page else None,
        location_start=start,
        location_end=end,
        added_at=_timestamp(record.get("Highlighted at", "")),
        content="",
        position=0,
        line=line,
        title_line=f"{title} ({author})" if author else title,
        color=record.get("Color", "").strip() or None,
        tags=tags,
        favourite=_flag(tags, _FAVOURITE, "Tags" in record),
        discarded=_flag(tags, _DISCARD, "Tags" in record),
    )


def _flag(tags: tuple[str, ...], names: tuple[str, ...], has_tags: bool) -> bool | None:
    """Readwise's own state: True when tagged, False when the file could have said so."""
    if not has_tags:
        return None
    return any(tag.casefold() in names for tag in tags)


def _gaps(record: dict[str, str], entry: RawEntry) -> list[Problem]:
    """A time or a location that is there but was not understood."""
    found = []
    stamp = record.get("Highlighted at", "").strip()
    if stamp and entry.added_at is None:
        reason = f"the time {stamp!r} was not understood; the row was imported without it"
        found.append(Problem(entry.position, entry.line, reason, ProblemKind.DATE, stamp))
    where = record.get("Location", "").strip()
    kind = record.get("Location Type")
    located = kind is None or kind.strip().casefold() == "location"
    if where and located and entry.location_start is None:
        reason = f"the location {where!r} was not understood; the row was imported without it"
        found.append(Problem(entry.position, entry.line, reason, ProblemKind.LOCATION, where))
    return found


def _range(value: str, location_type: str | None) -> tuple[int | None, int | None]:
    # Other location types ("order", "offset", "time") are not Kindle locations, and nor is
    # a value whose type was left empty (Readwise writes "0" there); without the column
    # at all, a number is a location.
    if location_type is not None and location_type.strip().casefold() != "location":
        return None, None
    match = _RANGE.match(value)
    if match is None:
        return None, None
    start = int(match.group(1))
    return start, max(start, int(match.group(2) or start))


def _timestamp(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Devices record local wall-clock time; a zone the service added is dropped, not applied.
    return parsed.replace(tzinfo=None, microsecond=0)
