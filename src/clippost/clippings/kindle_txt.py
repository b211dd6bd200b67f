"""Read a Kindle `My Clippings.txt` written in any device language.

The file is a run of blocks separated by a line of ten "=" signs. A block is a title line,
a metadata line ("- Your Highlight on page 3 | location 45-46 | Added on ..."), a blank
line and the content. Every language-specific word comes from `languages.py`; here the
words become a handful of precompiled regular expressions.

Speed matters (uploads of tens of megabytes are parsed while the reader waits): the text is
cut with `str.find` one block at a time (never copied as a whole), and what repeats from
entry to entry is memoised per call: the title/author split, the date of a day, and the
reading of a metadata head per "shape" (its text with the numbers taken out), so the
language regexes run once per shape instead of once per entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from clippost.clippings.languages import (
    LANGUAGES,
    METADATA_DASHES,
    RANGE_SEPARATORS,
    SEPARATOR,
)
from clippost.clippings.models import Kind, Problem, RawEntry
from clippost.clippings.titles import split_title_author

_BLANK_START = ("\n", " ", "\t", "\r", "\ufeff")
_BLANK = " \t\r\ufeff"
_DASHES = tuple(METADATA_DASHES)

# How far into a file detection looks, and how many blocks it tries.
_DETECT_CHARS = 16_384
_DETECT_BLOCKS = 5


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first so "loc." never wins over "location"."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _merged_kinds() -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for lang in LANGUAGES:
        for word, kind in lang.kinds.items():
            if kinds.setdefault(word, kind) is not kind:
                raise ValueError(f"kind word {word!r} means two kinds across languages")
    return kinds


def _merged_months() -> dict[str, int]:
    months: dict[str, int] = {}
    for lang in LANGUAGES:
        for word, number in lang.months.items():
            if months.setdefault(word, number) != number:
                raise ValueError(f"month name {word!r} means two months across languages")
    return months


def _words(attr: str) -> list[str]:
    return [w for lang in LANGUAGES for w in getattr(lang, attr)]


_KINDS = _merged_kinds()
_MONTHS = _merged_months()
_PM = {w.lower() for w in _words("pm_after") + _words("pm_before")}
_KIND_RE = re.compile(_alternation(_KINDS), re.IGNORECASE)
_ADDED_RE = re.compile(_alternation(_words("added")), re.IGNORECASE)

_RANGE = rf"\s*(?:{_alternation(RANGE_SEPARATORS)})\s*"
# A page is arabic or roman ("xiii"); the look-ahead stops "page l" matching "page location".
_PAGE_VALUE = r"\d+|[ivxlcdm]+"
_PAGE_RE = re.compile(
    rf"(?:{_alternation(_words('page_before'))})\s*((?:{_PAGE_VALUE})(?:{_RANGE}(?:{_PAGE_VALUE}))?)"
    rf"(?![^\W\d_])"
    rf"|(\d+(?:{_RANGE}\d+)?)\s*(?:{_alternation(_words('page_after'))})",
    re.IGNORECASE,
)
_PAGE_RANGE_RE = re.compile(_RANGE)
_LOCATION_RE = re.compile(
    rf"(?:{_alternation(_words('location'))})\s*#?\s*(\d+)(?:{_RANGE}(\d+))?",
    re.IGNORECASE,
)
_LIMIT_RE = re.compile(_alternation(_words("limit_words")), re.IGNORECASE)

_AMPM_AFTER_RE = re.compile(
    rf"\s*({_alternation(_words('am_after') + _words('pm_after'))})(?![^\W\d_])",
    re.IGNORECASE,
)
_AMPM_BEFORE_RE = re.compile(
    rf"({_alternation(_words('am_before') + _words('pm_before'))})\s*$", re.IGNORECASE
)
_DATE_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+")
_NUMBER_RE = re.compile(r"\d+")
_LEADING_BLANK_RE = re.compile(r"[ \t\r\n\ufeff]*")
_NUMBER_SPLIT_RE = re.compile(r"(\d+)")


def parse_kindle_txt(text: str) -> tuple[list[RawEntry], list[Problem]]:
    """Every entry of a `My Clippings.txt`, in file order, and the blocks it could not read.

    Never raises: a block without a readable metadata line becomes a `Problem` and the
    parse goes on with the next block.
    """
    if "\n" not in text and "\r" in text:  # old Mac line ends: CR only
        text = _normalise(text)
    parser = _Parser()
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    position = 0
    for line, raw_block in _blocks(text):
        # Normalised block by block, not as a whole: a copy of a large upload is memory.
        block = _normalise(raw_block)
        if not block or block.isspace():
            continue
        position += 1
        try:
            result = parser.block(block, position, line)
        except (ValueError, OverflowError, IndexError, KeyError) as exc:
            # Not expected on any input; if it happens, one entry is lost, not the file.
            result = Problem(position, line, f"this entry could not be read ({exc})")
        if isinstance(result, RawEntry):
            entries.append(result)
        else:
            problems.append(result)
    return entries, problems


def looks_like_kindle_txt(text: str) -> bool:
    """Whether `text` reads as a `My Clippings.txt`: a separator line and, in one of the
    first few blocks, a metadata line naming a kind of entry or the date it was added."""
    head = _normalise(text[:_DETECT_CHARS])
    if SEPARATOR not in head:
        return False
    for count, (_line, block) in enumerate(_blocks(head)):
        if count >= _DETECT_BLOCKS:
            break
        found = _find_metadata(block.strip().split("\n"))
        if found is not None:
            meta = found[1]
            if _KIND_RE.search(meta) or _ADDED_RE.search(meta):
                return True
    return False


def _normalise(text: str) -> str:
    """Drop U+FEFF (devices write one before titles) and make every line end in LF."""
    if "\ufeff" in text:
        text = text.replace("\ufeff", "")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _blocks(text: str) -> Iterator[tuple[int, str]]:
    """(line of the block's first non-blank line, block text) for each separated block.

    A separator counts only on a line of its own, so a highlight quoting "==========" in
    the middle of a line does not split an entry.
    """
    pos, line, size = 0, 1, len(text)
    search = 0
    while pos <= size:
        idx = text.find(SEPARATOR, search)
        if idx < 0:
            yield _first_line(text, pos, line), text[pos:]
            return
        eol = text.find("\n", idx)
        if eol < 0:
            eol = size
        if (idx > 0 and text[idx - 1] != "\n") or text[idx + len(SEPARATOR) : eol].strip(_BLANK):
            search = idx + 1
            continue
        first = line if text[pos : pos + 1] not in _BLANK_START else _first_line(text, pos, line)
        yield first, text[pos:idx]
        line += text.count("\n", pos, eol) + 1
        pos = search = eol + 1


def _first_line(text: str, pos: int, line: int) -> int:
    """The line number of the first non-blank line at or after `pos` (which is on `line`)."""
    blank = _LEADING_BLANK_RE.match(text, pos)
    return line + text.count("\n", pos, blank.end()) if blank else line


def _find_metadata(lines: list[str]) -> tuple[int, str] | None:
    """(index, line) of the metadata line: the first dash-led line after a non-blank one.

    Third-party tools sometimes write a marker line ("######Knotes######") before the
    title, so the title is the line right above the metadata, wherever that is.
    """
    for i in range(1, len(lines)):
        candidate = lines[i].lstrip()
        if candidate.startswith(_DASHES) and lines[i - 1].strip():
            return i, candidate
    return None


class _Parser:
    """Per-call memos of what repeats across entries: titles, head shapes, days, AM/PM."""

    def __init__(self) -> None:
        self._titles: dict[str, tuple[str, str | None]] = {}
        self._days: dict[str, tuple[int, int, int, int] | None] = {}
        self._heads: dict[str, _HeadPlan] = {}
        self._markers: dict[str, int] = {}

    def block(self, block: str, position: int, line: int) -> RawEntry | Problem:
        # The hot path of the whole import: one entry, a few C-level string operations,
        # memo lookups for everything that repeats between entries.
        if block[:1] in _BLANK_START:
            block = block.lstrip()
        title_end = block.find("\n")
        meta_end = block.find("\n", title_end + 1)
        if meta_end < 0:
            meta_end = len(block)
        meta = block[title_end + 1 : meta_end]
        if title_end > 0 and meta.startswith(_DASHES):
            title_line = block[:title_end].strip()
            content = block[meta_end + 1 :].strip()
        else:
            lines = block.split("\n")
            found = _find_metadata(lines)
            if found is None:
                return Problem(position, line, _no_metadata_reason(lines))
            index, meta = found
            title_line = lines[index - 1].strip()
            content = "\n".join(lines[index + 1 :]).strip()
        bar = meta.rfind("|")
        if bar >= 0:
            head, added_at = meta[:bar], self._date(meta[bar + 1 :])
        else:
            head, added_at = _split_without_bar(meta, self._date)
        pieces = _NUMBER_SPLIT_RE.split(head)
        numbers = pieces[1::2]
        shape = "\x00".join(pieces[0::2])
        plan = self._heads.get(shape)
        if plan is None:
            plan = self._heads[shape] = _HeadPlan.of(head)
        if plan.kind is None and added_at is None:
            return Problem(position, line, f"the line {meta.strip()!r} is not a Kindle entry line")
        names = self._titles.get(title_line)
        if names is None:
            names = self._titles[title_line] = split_title_author(title_line)
        start, end = plan.location(numbers)
        # Positional, in RawEntry's field order: keywords cost twice as much (0.6 vs 0.3 us)
        # in what runs once per entry.
        return RawEntry(
            plan.kind or (Kind.HIGHLIGHT if content else Kind.BOOKMARK),  # kind
            names[0],  # title
            names[1],  # author
            plan.page(numbers),  # page
            start,  # location_start
            end,  # location_end
            added_at,
            content,
            position,
            line,
            title_line,
            content[-1:] == ">" and _is_clipping_limit(content),  # clipping_limit
        )

    def _date(self, text: str) -> datetime | None:
        """The date of "Added on ...". The day (the words before the time) is memoised, as
        every entry of a reading session shares it, and so is what follows the time."""
        colon = text.rfind(":")
        second_text = "0"
        if colon >= 3 and text[colon - 3] == ":":  # h:mm:ss
            second_text = text[colon + 1 : colon + 3]
            end = colon + 3
            colon -= 3
        else:
            end = colon + 3
        hour_at = colon - 2 if colon >= 2 and text[colon - 2].isdecimal() else colon - 1
        hour_text, minute_text = text[hour_at:colon], text[colon + 1 : colon + 3]
        if colon < 1 or not (
            hour_text.isdecimal() and minute_text.isdecimal() and second_text.isdecimal()
        ):
            return None
        day_text = text[:hour_at]
        day = self._days.get(day_text, _UNSEEN)
        if day is _UNSEEN:
            day = self._days[day_text] = _day(day_text)
        if day is None:
            return None
        tail = text[end:]
        marker = self._markers.get(tail)
        if marker is None:
            marker = self._markers[tail] = _marker_after(tail)
        hour = int(hour_text)
        marker = marker or day[3]
        if marker:
            hour = hour % 12 + (12 if marker == _PM_MARK else 0)
        try:
            # Naive on purpose: devices write their local time and no zone.
            return datetime(day[0], day[1], day[2], hour, int(minute_text), int(second_text))  # noqa: DTZ001
        except ValueError:
            return None


_AM_MARK, _PM_MARK = 1, 2
_UNSEEN: Any = object()


class _HeadPlan:
    """How to read every metadata head of one shape (its text with the numbers taken out):
    the kind, and which numbers are the page and the location."""

    __slots__ = ("_location", "_page", "_page_text", "kind")

    def __init__(
        self,
        kind: Kind | None,
        page: tuple[int, int | None] | None,
        page_text: str | None,
        location: tuple[int, int | None] | None,
    ) -> None:
        self.kind = kind
        self._page = page
        self._page_text = page_text
        self._location = location

    @classmethod
    def of(cls, head: str) -> _HeadPlan:
        number_at = {m.start(): i for i, m in enumerate(_NUMBER_RE.finditer(head))}
        kind_match = _KIND_RE.search(head)
        # .get: a case-insensitive match may lower() to another spelling ("ſ" matches "s").
        kind = _KINDS.get(kind_match.group().lower()) if kind_match else None
        page: tuple[int, int | None] | None = None
        page_text = None
        page_match = _PAGE_RE.search(head)
        if page_match is not None:
            group = 1 if page_match.group(1) is not None else 2
            inside = [
                i
                for at, i in number_at.items()
                if page_match.start(group) <= at < page_match.end(group)
            ]
            if inside:
                page = (inside[0], inside[1] if len(inside) > 1 else None)
            else:  # roman numerals are part of the shape itself
                page_text = _collapse_range(_PAGE_RANGE_RE.split(page_match.group(group)))
        location = None
        loc_match = _LOCATION_RE.search(head)
        if loc_match is not None:
            end = number_at[loc_match.start(2)] if loc_match.group(2) is not None else None
            location = (number_at[loc_match.start(1)], end)
        return cls(kind, page, page_text, location)

    def page(self, numbers: list[str]) -> str | None:
        if self._page is None:
            return self._page_text
        first, last = self._page
        return numbers[first] if last is None else _collapse_range([numbers[first], numbers[last]])

    def location(self, numbers: list[str]) -> tuple[int | None, int | None]:
        if self._location is None:
            return None, None
        first, last = self._location
        start = int(numbers[first])
        if last is None:
            return start, start
        end_text = numbers[last]
        end = int(end_text)
        if end < start and len(end_text) < len(numbers[first]):
            # Old firmware abbreviates ranges: "5444-45" is 5444-5445.
            end = int(numbers[first][: -len(end_text)] + end_text)
        return start, end


def _collapse_range(bounds: list[str]) -> str:
    """ "22" for "22-22" (how devices write a highlight on one page), else "a-b"."""
    if len(bounds) == 2 and bounds[0] == bounds[1]:
        return bounds[0]
    return "-".join(bounds)


def _marker_after(tail: str) -> int:
    match = _AMPM_AFTER_RE.match(tail)
    if match is None:
        return 0
    return _PM_MARK if match.group(1).lower() in _PM else _AM_MARK


def _split_without_bar(
    meta: str, read_date: Callable[[str], datetime | None]
) -> tuple[str, datetime | None]:
    """(head, date) of a metadata line with no "|": the date follows the "added" words."""
    added = _ADDED_RE.search(meta)
    if added is None:
        return meta, None
    return meta[: added.start()], read_date(meta[added.end() :])


def _day(text: str) -> tuple[int, int, int, int] | None:
    """(year, month, day, AM/PM marker) from the date words before the time, in any device
    language; the marker is 0 unless an AM/PM word comes before the time (Japanese, Chinese).

    A month name fixes the month and the other two numbers are day and year (the year
    has four digits; an old two-digit year is 20xx). Without a month name the numbers
    are year, month, day (CJK "2014年6月5日").
    """
    month = 0
    numbers: list[str] = []
    for token in _DATE_TOKEN_RE.findall(text):
        if token.isdecimal():
            numbers.append(token)
        elif not month:
            month = _MONTHS.get(token.lower(), 0)
    if month:
        if len(numbers) < 2:
            return None
        first, second = numbers[-2], numbers[-1]
        day, year = (second, first) if len(first) > 2 else (first, second)
    elif len(numbers) >= 3:
        year, month_text, day = numbers[-3], numbers[-2], numbers[-1]
        month = int(month_text)
    else:
        return None
    full_year = int(year) if len(year) > 2 else 2000 + int(year)
    before = _AMPM_BEFORE_RE.search(text)
    marker = 0 if before is None else _PM_MARK if before.group(1).lower() in _PM else _AM_MARK
    return full_year, month, int(day), marker


def _is_clipping_limit(content: str) -> bool:
    """Whether `content` ends with the device's "<You have reached the clipping limit for
    this item>" (any language). Devices write it alone, or after the part of the highlight
    that still fitted."""
    start = content.rfind("<")
    placeholder = content[start:]
    return start >= 0 and "\n" not in placeholder and _LIMIT_RE.search(placeholder) is not None


def _no_metadata_reason(lines: list[str]) -> str:
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    shown = first if len(first) <= 60 else first[:57] + "..."
    if first.startswith(_DASHES):
        return f"the entry {shown!r} has no title line above its metadata line"
    return (
        f"the entry starting with {shown!r} has no Kindle metadata line"
        " (the '- Your Highlight ... | Added on ...' line under the title)"
    )
