"""The date grammar of Kindle metadata lines, in every device language.

A date is `[added words] [weekday][,] <day> [at-word] <time> [after-time words]`:
- the day is a month name with two numbers (day, then a 2- or 4-digit year) in any order
  the languages write them ("July 31, 2017", "31 July 17", "26. April 2013", "6 de
  noviembre de 2017", "3 августа 2025 г."), CJK year/month/day ("2014年6月5日星期四"), or
  numbers alone in the language's order ("15.12.2017", "12/15/2017");
- the time is h:mm[:ss[.f]] or the older "17H36'" and "9時56分19秒", with an AM/PM marker
  before it ("下午", "午後") or after it ("PM", "p. m.", "a.m.");
- after it, "Uhr" and a zone that is recognised and ignored ("GMT+01:00", "CEST",
  "Mitteleuropäische Sommerzeit"). Anything else there makes the date unreadable: a word
  we do not know after a time could be an AM/PM marker, and guessing would put every
  afternoon twelve hours early.

`DateReader.read` tries a fast path first (a last colon, memoised day and tail), which
covers what current devices write, and falls back to the general grammar, which gives the
same answer on everything the fast path accepts (a property test checks it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from clippost.clippings.languages import LANGUAGES, ZONE_PREFIXES, DeviceLanguage

AM, PM = 1, 2
_UNSEEN: Any = object()


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first so a prefix never wins."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _merged_months() -> dict[str, int]:
    months: dict[str, int] = {}
    for lang in LANGUAGES:
        for word, number in lang.months.items():
            if months.setdefault(word, number) != number:
                raise ValueError(f"month name {word!r} means two months across languages")
    return months


_BY_CODE = {lang.code: lang for lang in LANGUAGES}
_ADDED_LANGUAGE = {word: lang.code for lang in LANGUAGES for word in lang.added}
_ADDED_RE = re.compile(alternation(_ADDED_LANGUAGE), re.IGNORECASE)
_MONTHS = _merged_months()
_PM_BEFORE = {w for lang in LANGUAGES for w in lang.pm_before}
_AMPM_BEFORE_RE = re.compile(
    rf"({alternation(w for lang in LANGUAGES for w in (*lang.am_before, *lang.pm_before))})"
    r"\s*$"
)
_TIME_WORDS = {w for lang in LANGUAGES for w in lang.time_words}
_ZONE_WORDS = tuple(sorted({w for lang in LANGUAGES for w in lang.zone_words}))

_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+")
# A time not preceded by a digit, a sign or a colon: "+01:00" is a zone, not a time.
_TIME_RE = re.compile(
    r"(?<![\d+\-−:])(\d{1,2})\s*[:hH時]\s*(\d{2})(?!\d)(?:\s*[:分]\s*(\d{2})(?!\d))?"
)
_AFTER_SECONDS_RE = re.compile(r"(?:[.,]\d+)?\s*(?:['’′]|分|秒)?")
_AMPM_AFTER_RE = re.compile(r"\s*([ap])\s*\.?\s*m(?![^\W\d_])\.?", re.IGNORECASE)
_ZONE_TOKEN_RE = re.compile(
    r"(?P<offset>[+\-−]\s*\d{1,2}(?::?\d{2})?)|(?P<word>[^\W\d_]+(?:['’ʼ][^\W\d_]+)*)"
    r"|(?P<mark>[()\[\],./])|(?P<other>\S)"
)


class Day(NamedTuple):
    """The date words before the time, read: the day, a marker written before the time
    (AM/PM, or 0), and the language whose "added" words introduced it (or None)."""

    year: int
    month: int
    day: int
    marker: int
    language: str | None


class DateReader:
    """Reads the text after "Added on", memoising the parts that repeat across entries."""

    def __init__(self) -> None:
        self._days: dict[str, Day | None] = {}
        self._tails: dict[str, int | None] = {}

    def read(self, text: str) -> tuple[datetime | None, str | None]:
        """(the naive local time, the language of the added words), (None, ...) if not
        understood. `text` is the date segment of the metadata line, added words included."""
        colon = text.rfind(":")
        if colon >= 1:
            seconds, end = "0", colon + 3
            if colon >= 3 and text[colon - 3] == ":":  # h:mm:ss
                seconds = text[colon + 1 : colon + 3]
                colon -= 3
            hour_at = colon - 2 if colon >= 2 and text[colon - 2].isdecimal() else colon - 1
            hour, minute = text[hour_at:colon], text[colon + 1 : colon + 3]
            if (
                hour.isdecimal()
                and minute.isdecimal()
                and len(minute) == 2
                and seconds.isdecimal()
                and len(seconds) == (2 if end > colon + 3 else 1)
                and (hour_at == 0 or text[hour_at - 1] not in "+-−0123456789")
            ):
                # The memos inline: this runs once per entry of every Kindle file.
                tail = text[end:]
                marker = self._tails.get(tail, _UNSEEN)
                if marker is _UNSEEN:
                    marker = self._tails[tail] = read_tail(tail)
                day_text = text[:hour_at]
                day = self._days.get(day_text, _UNSEEN)
                if day is _UNSEEN:
                    day = self._days[day_text] = read_day(day_text)
                if marker is not None and day is not None:
                    return _compose(day, int(hour), int(minute), int(seconds), marker), day[4]
        return self._general(text)

    def _general(self, text: str) -> tuple[datetime | None, str | None]:
        found = None
        for found in _TIME_RE.finditer(text):  # noqa: B007 - the last one is the time
            pass
        day = self._day(text[: found.start()] if found else text)
        language = day.language if day else added_language(text)
        if found is None or day is None:
            return None, language
        marker = self._tail(text[found.end() :])
        if marker is None:
            return None, language
        hour, minute, seconds = found.group(1), found.group(2), found.group(3) or "0"
        return _compose(day, int(hour), int(minute), int(seconds), marker), language

    def _tail(self, tail: str) -> int | None:
        marker = self._tails.get(tail, _UNSEEN)
        if marker is _UNSEEN:
            marker = self._tails[tail] = read_tail(tail)
        return marker  # type: ignore[no-any-return]

    def _day(self, text: str) -> Day | None:
        day = self._days.get(text, _UNSEEN)
        if day is _UNSEEN:
            day = self._days[text] = read_day(text)
        return day  # type: ignore[no-any-return]


def _compose(day: Day, hour: int, minute: int, second: int, marker: int) -> datetime | None:
    marker = marker or day[3]
    if marker and 1 <= hour <= 12:
        # 12 AM is midnight and 12 PM noon; an hour over 12 already is a 24-hour time.
        hour = hour % 12 + (12 if marker == PM else 0)
    try:
        # Naive on purpose: devices write their local time and no zone. Indexed, not by
        # name: this runs once per entry.
        return datetime(day[0], day[1], day[2], hour, minute, second)  # noqa: DTZ001
    except ValueError:
        return None


def added_language(text: str) -> str | None:
    """The device language whose "added" words appear in `text`, if any."""
    found = _ADDED_RE.search(text)
    return _ADDED_LANGUAGE.get(found.group().lower()) if found else None


def has_added_words(text: str) -> bool:
    return _ADDED_RE.search(text) is not None


def read_tail(tail: str) -> int | None:
    """The AM/PM marker (0 for none) written after a time, or None when what follows the
    time is not a fraction of a second, a marker, a time word or a zone."""
    rest = tail[_AFTER_SECONDS_RE.match(tail).end() :]  # type: ignore[union-attr]
    marker = 0
    ampm = _AMPM_AFTER_RE.match(rest)
    if ampm is not None:
        marker = PM if ampm.group(1) in "pP" else AM
        rest = rest[ampm.end() :]
    rest = rest.strip()
    word = rest.split(maxsplit=1)[0].rstrip(".").casefold() if rest else ""
    if word in _TIME_WORDS:
        rest = rest[len(word) :].lstrip(". ")
    if rest and not is_zone(rest):
        return None
    return marker


def is_zone(text: str) -> bool:
    """Whether `text` reads as a time zone: GMT/UTC, an offset, an all-capitals
    abbreviation, or a name with a zone word of some device language ("Sommerzeit",
    "heure normale d’Europe centrale"). Other words need such a name to belong to."""
    marked = named = plain = False
    for token in _ZONE_TOKEN_RE.finditer(text):
        if token.group("other") is not None:
            return False
        word = token.group("word")
        if token.group("offset") is not None:
            marked = True
        elif word is not None:
            folded = word.casefold()
            if folded in ZONE_PREFIXES or (word.isupper() and 2 <= len(word) <= 5):
                marked = True
            elif folded.endswith(_ZONE_WORDS):
                named = True
            else:
                plain = True
    return named or (marked and not plain)


def read_day(text: str) -> Day | None:
    """The day written in `text` (the date words before the time), or None."""
    found = _ADDED_RE.search(text)
    code = _ADDED_LANGUAGE.get(found.group().lower()) if found else None
    if found is not None:
        text = text[found.end() :]
    before = _AMPM_BEFORE_RE.search(text)
    marker = 0
    if before is not None:
        marker = PM if before.group(1) in _PM_BEFORE else AM
        text = text[: before.start()]
    lang = _BY_CODE.get(code) if code else None
    numbers, month = _numbers_and_month(text, lang)
    ymd = _from_month_name(numbers, month) if month else _from_numbers(numbers, text, lang)
    if ymd is None:
        return None
    return Day(ymd[0], ymd[1], ymd[2], marker, code)


def _numbers_and_month(text: str, lang: DeviceLanguage | None) -> tuple[list[str], int]:
    month = 0
    numbers: list[str] = []
    for token in _TOKEN_RE.findall(text):
        if token.isdecimal():
            numbers.append(token)
        elif not month:
            folded = token.casefold()
            month = (lang.months.get(folded, 0) if lang else 0) or _MONTHS.get(folded, 0)
    return numbers, month


def _from_month_name(numbers: list[str], month: int) -> tuple[int, int, int] | None:
    """Day and year beside a month name: the four-digit one is the year, else the day comes
    first ("6 July 12", "July 6, 12")."""
    if len(numbers) != 2:
        return None
    first, second = numbers
    day, year = (second, first) if len(first) == 4 else (first, second)
    return _checked(year, month, day)


def _from_numbers(
    numbers: list[str], text: str, lang: DeviceLanguage | None
) -> tuple[int, int, int] | None:
    """Year, month and day written in numbers: CJK order, or the language's own order."""
    if len(numbers) != 3:
        return None
    if len(numbers[0]) == 4 or "年" in text:
        year, month, day = numbers
    elif (lang.numeric_order if lang else "dmy") == "mdy":
        month, day, year = numbers
    else:
        day, month, year = numbers
    return _checked(year, int(month), day)


def _checked(year_text: str, month: int, day_text: str) -> tuple[int, int, int] | None:
    if len(year_text) not in (2, 4) or len(day_text) > 2 or not 1 <= month <= 12:
        return None
    # A two-digit year is this century's: Kindles date from 2007.
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    day = int(day_text)
    return (year, month, day) if 1 <= day <= 31 else None
