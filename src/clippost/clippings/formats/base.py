"""What every format reader shares: the limits it reads under, its refusal, and small
helpers that turn a source's values into a `RawEntry`'s fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from clippost.clippings.models import ErrorKind, Kind, Problem, ProblemKind, RawEntry

_MIB = 1024 * 1024
# Core Data (Apple) counts seconds from 2001-01-01 UTC.
CORE_DATA_EPOCH = 978_307_200
UNKNOWN_TITLE = "Unknown book"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much an upload may hold once unpacked. A zip within these limits still costs at
    most `max_total_bytes` of memory; past them it is refused before it is inflated."""

    max_members: int = 5_000
    max_total_bytes: int = 256 * _MIB
    max_ratio: int = 200  # uncompressed / compressed, per member: a zip bomb is far above
    max_database_bytes: int = 256 * _MIB
    max_nested_zip_bytes: int = 32 * _MIB


@dataclass(frozen=True, slots=True)
class Context:
    """What a reader needs beyond the bytes: the limits and, for plausible dates, today."""

    today: date | None = None
    limits: Limits = Limits()


class FormatError(Exception):
    """A file that is of a known kind but cannot be read: refused with a sentence."""

    def __init__(self, message: str, kind: ErrorKind) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def book_item(
    kind: Kind,
    title: str,
    author: str | None,
    content: str,
    *,
    position: int,
    page: str | None = None,
    added_at: datetime | None = None,
    line: int = 0,
    color: str | None = None,
    note: str | None = None,
) -> RawEntry:
    """An item of an e-reader's export: Kindle locations are never part of these, and the
    title is its own title line."""
    return RawEntry(
        kind=kind,
        title=title,
        author=author,
        page=page,
        location_start=None,
        location_end=None,
        added_at=added_at,
        content=content,
        position=position,
        line=line,
        title_line=title,
        color=color,
        note=note,
    )


def classify(text: str | None, note: str | None) -> tuple[Kind, str, str | None]:
    """(kind, content, attached note): a passage is a highlight (with its note), a note
    alone a standalone note, neither a bookmark."""
    if text:
        return Kind.HIGHLIGHT, text, note
    if note:
        return Kind.NOTE, note, None
    return Kind.BOOKMARK, "", None


def unread_date(raw: object, position: int, line: int = 0) -> Problem:
    """The problem for a date the file holds but that could not be read."""
    text = str(raw).strip()
    reason = f"the date {text!r} was not understood; the entry was imported without it"
    return Problem(position, line, reason, ProblemKind.DATE, text)


def present(value: object) -> bool:
    """Whether a source field holds something (not None, not blank)."""
    return value is not None and str(value).strip() != ""


def clean(value: object) -> str | None:
    """A text field with its ends trimmed, or None when empty or not text."""
    if not isinstance(value, str):
        return None
    text = value.replace("\ufeff", "").strip()
    return text or None


def utc_from_unix(seconds: object) -> datetime | None:
    """Unix seconds (or milliseconds, when absurdly large) as a naive UTC time."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | str):
        return None
    try:
        value = float(seconds)
        if value > 1e11:  # milliseconds
            value /= 1000
        moment = datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=None, microsecond=0)


def utc_from_apple(seconds: object) -> datetime | None:
    """An Apple timestamp: Core Data seconds (since 2001), or Unix seconds.

    iOS sync plists have been seen with Unix seconds where the Mac database has Core Data
    ones. The two never overlap for real dates: below 1e9 is Core Data (until 2032), above
    it Unix (since 2001), so the value itself says which it is.
    """
    if isinstance(seconds, datetime):  # a plist <date>
        if seconds.tzinfo is not None:
            seconds = seconds.astimezone(UTC)
        return seconds.replace(tzinfo=None, microsecond=0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return utc_from_unix(seconds if seconds >= 1e9 else seconds + CORE_DATA_EPOCH)


def naive(value: str | None) -> datetime | None:
    """An ISO-like time ("2024-12-15T00:43:25.852", "2023-05-14 23:36:07", with or without a
    zone) as naive wall-clock time, seconds kept, fractions dropped."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=None, microsecond=0)


def integer(value: object) -> int | None:
    """A whole number from a database or plist value (booleans count as 0 and 1)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def authors(value: object) -> str | None:
    """Several authors written one per line (KOReader) joined as "A; B"."""
    text = clean(value)
    if text is None:
        return None
    names = [name.strip() for name in text.splitlines() if name.strip()]
    return "; ".join(names) or None


def page_text(value: object) -> str | None:
    """A page number or label as text ("12", "xiv"), None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = clean(value)
    return text if text and len(text) <= 20 and "/" not in text else None
