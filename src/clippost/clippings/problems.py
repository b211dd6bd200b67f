"""What a parse met but did not understand, summarised in sentences a reader understands.

The parsers report every problem one by one (entry, line, the text not understood); a page
shows a few sentences instead: "3 entries had a date we could not read; they were imported
without one". `summarise` makes those sentences, in a fixed order, one per kind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from clippost.clippings.models import Problem, ProblemKind

# (singular, plural) sentence per kind; {n} is the count.
_SENTENCES: dict[ProblemKind, tuple[str, str]] = {
    ProblemKind.UNREADABLE: (
        "1 entry could not be read; it was left out",
        "{n} entries could not be read; they were left out",
    ),
    ProblemKind.DATE: (
        "1 entry had a date we could not read; it was imported without one",
        "{n} entries had a date we could not read; they were imported without one",
    ),
    ProblemKind.IMPLAUSIBLE_DATE: (
        "1 entry had an impossible date (before 2007 or in the future); it was imported"
        " without one",
        "{n} entries had an impossible date (before 2007 or in the future); they were"
        " imported without one",
    ),
    ProblemKind.PAGE: (
        "1 entry had a page we could not read; it was imported without one",
        "{n} entries had a page we could not read; they were imported without one",
    ),
    ProblemKind.LOCATION: (
        "1 entry had a location we could not read; it was imported without one",
        "{n} entries had a location we could not read; they were imported without one",
    ),
    ProblemKind.TITLE: (
        "1 entry did not name its book; it was imported under a placeholder title",
        "{n} entries did not name their book; they were imported under a placeholder title",
    ),
    ProblemKind.COUNT: (
        "1 file declared more entries than it holds",
        "{n} files declared more entries than they hold",
    ),
}


# Kindles were first sold in November 2007: a date before 2007 is a clock that was reset.
EARLIEST = datetime(2007, 1, 1)  # noqa: DTZ001 - naive like the dates sources write


def latest(today: date | None) -> datetime:
    """The last plausible moment: the end of tomorrow (zones differ); without `today`, no
    date is too late."""
    tomorrow = today + timedelta(days=1) if today else date.max
    return datetime.combine(tomorrow, time.max)


@dataclass(frozen=True, slots=True)
class ProblemSummary:
    """One kind of problem, how often it happened, and the sentence that says so."""

    kind: ProblemKind
    count: int
    sentence: str


def summarise(problems: Iterable[Problem]) -> list[ProblemSummary]:
    """One summary per kind of problem met, in a fixed order (entries left out first)."""
    counts = Counter(problem.kind for problem in problems)
    return [
        ProblemSummary(kind, counts[kind], _sentence(kind, counts[kind]))
        for kind in ProblemKind
        if counts[kind]
    ]


def _sentence(kind: ProblemKind, count: int) -> str:
    one, many = _SENTENCES[kind]
    return one if count == 1 else many.format(n=count)


def left_out(problems: Iterable[Problem]) -> int:
    """How many entries the problems cost entirely (the others were imported with a gap)."""
    return sum(1 for problem in problems if problem.kind is ProblemKind.UNREADABLE)
