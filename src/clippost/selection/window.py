"""The rows a digest may look at: the window of lowest turns, and the on-this-day candidate.

These functions are the specification of the planner's two queries. Over a whole library they
compute exactly what the queries return:

- the window: the reader's highlights in rotation, `ORDER BY turn, id`, `LIMIT window_size(n)`;
- on this day: the reader's highlights in rotation whose month-day is one of
  `month_days(today)` and whose date is in an earlier year, `ORDER BY turn, id LIMIT 1`.

The choice is a function of these rows alone (`choice.choose` applies both to whatever it is
given), which is what lets the planner read O(n) rows per reader, not O(library).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import date, datetime
from operator import attrgetter

from clippost.selection.model import Entry

# How many next-due highlights a digest of n may choose among: deep enough for the spread
# cap to find other books (four digests ahead), shallow enough to read in one index range.
_WINDOW_DIGESTS = 4


def window_size(n: int) -> int:
    """The planner's LIMIT per reader: always more than n, so the next clock is known."""
    return _WINDOW_DIGESTS * max(n, 1) + 1


# The same key as rotation_key, in C: the tests run it over whole libraries every digest.
_KEY = attrgetter("turn", "highlight_id")


def rotation_key(entry: Entry) -> tuple[int, int]:
    """The order of the rotation: `ORDER BY turn, id`."""
    return entry.turn, entry.highlight_id


def window(entries: Iterable[Entry], n: int) -> list[Entry]:
    """The `window_size(n)` lowest-turn highlights in rotation, in rotation order."""
    rotating = [entry for entry in entries if entry.in_rotation]
    size = window_size(n)
    if len(rotating) > size:  # a whole library: a heap of the window's size
        return heapq.nsmallest(size, rotating, key=_KEY)
    rotating.sort(key=_KEY)  # the planner's window rows: all of them, in order
    return rotating


def month_day(moment: datetime | date) -> int:
    """The stored `highlighted_md` column: month * 100 + day (3 March is 303)."""
    return moment.month * 100 + moment.day


def month_days(today: date) -> tuple[int, ...]:
    """The month-days that are "this day": on 28 February of a year without a 29th, the
    highlights of a 29 February come too (else they would never come at all)."""
    if today.month == 2 and today.day == 28 and not _leap(today.year):
        return (month_day(today), 229)
    return (month_day(today),)


def on_this_day(entries: Iterable[Entry], today: date) -> Entry | None:
    """The lowest-turn highlight in rotation made on this month-day of an earlier year."""
    days = month_days(today)
    found = [
        entry
        for entry in entries
        if entry.in_rotation
        and (made := entry.highlighted_at) is not None
        and made.year < today.year
        and made.month * 100 + made.day in days
    ]
    return min(found, key=_KEY, default=None)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
