"""First turns for highlights joining the rotation: a first import, a re-import, a return.

Each book's newcomers are spread evenly over one stride from the reader's clock (one round
for a normal highlight), in a seeded order, from a seeded phase: the k-th of a book's m
newcomers is placed at `clock + (k + phase) / m * stride`. Two things follow:

- a first import interleaves every book proportionally through the whole first round, so its
  end is as mixed as its beginning (no book is left over for the end);
- newcomers join where the rotation is: the part of them that falls before the end of the
  current round comes in this round, the rest early in the next. Never all in the next
  digest, never all after everything else.

Highlights that are not in rotation (a fragment, a "never" book) are placed too, so that
their turn is ready should they enter it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from clippost.selection.model import Reader
from clippost.selection.rates import stride
from clippost.selection.seeds import unit


@dataclass(frozen=True, slots=True)
class Newcomer:
    """A highlight to place: `key` names it (its identity), `book_key` its book."""

    key: str
    book_key: str
    weight: float = 1.0
    favourite: bool = False
    highlighted_at: datetime | None = None


def place(reader: Reader, newcomers: Iterable[Newcomer], *, salt: str) -> dict[str, int]:
    """The first turn of each newcomer, by key."""
    books: defaultdict[str, list[Newcomer]] = defaultdict(list)
    for newcomer in newcomers:
        books[newcomer.book_key].append(newcomer)
    turns: dict[str, int] = {}
    for book_key in sorted(books):
        turns.update(_place_book(reader, book_key, books[book_key], salt))
    return turns


def _place_book(
    reader: Reader, book_key: str, newcomers: Sequence[Newcomer], salt: str
) -> dict[str, int]:
    keys = sorted(newcomer.key for newcomer in newcomers)
    # The phase depends on which highlights arrive, so two imports into one book at one
    # clock do not stack their newcomers on the same turns.
    phase = unit(salt, "phase", book_key, *keys)
    ordered = sorted(
        newcomers, key=lambda newcomer: (unit(salt, "order", newcomer.key), newcomer.key)
    )
    count = len(ordered)
    return {
        newcomer.key: reader.clock + int((rank + phase) * newcomer_stride(reader, newcomer) / count)
        for rank, newcomer in enumerate(ordered)
    }


def newcomer_stride(reader: Reader, newcomer: Newcomer) -> int:
    return stride(
        reader,
        weight=newcomer.weight,
        favourite=newcomer.favourite,
        highlighted_at=newcomer.highlighted_at,
    )


def widen_span(reader: Reader, days: Iterable[date]) -> tuple[date | None, date | None]:
    """The library's date span (`oldest`, `newest`) once highlights of `days` have arrived."""
    oldest, newest = reader.oldest, reader.newest
    for day in days:
        oldest = day if oldest is None or day < oldest else oldest
        newest = day if newest is None or day > newest else newest
    return oldest, newest
