"""Laying out a reader's rotation after their library changed: pure, from the stored rows.

The rotation state (selection/, docs/architecture.md "Selection") is a turn and a stride
per highlight (its row in `rotation`, models/rotation.py), and a clock and a size per
reader. Every library change (an import, a favourite or a discard, a book's frequency)
only marks the reader stale (`subscribers.rotation_stale`), in the same statement's
transaction as the change; the planner, when it next plans a digest for a stale reader,
reads that reader's rows once and `lay_out` works out what each change means for the
rotation:

- a highlight never placed (no rotation row, or its `turn` NULL: new from an import, or
  from before migration 0009) is placed as a newcomer, each book's spread evenly over one
  stride (`selection.place`);
- one that re-enters the rotation (restored, its book back from "never") keeps its turn if
  it still lies ahead, else is placed afresh (`selection.returning_turns`);
- one whose stride changed (a favourite, a book's frequency, the reader's age bias, the
  library's date span the bias is measured on) has the time left until its
  turn rescaled by new stride / old stride (`selection.rescale`);
- `in_rotation` is worked out again (`selection.in_rotation`: not discarded, not a "never"
  book, a passage rather than a fragment unless favourited), and the reader's size counted.

Only rows whose turn, stride or flag changed, or whose copies of the highlight's book,
weight, favourite flag and date (what the window reads from `rotation`) no longer match,
are written back. The cost is O(library), once per change; every digest between changes
reads only its window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from clippost.selection import (
    Entry,
    Newcomer,
    Reader,
    in_rotation,
    passage_words,
    place,
    rescale,
    returning_turns,
    stride,
)


@dataclass(frozen=True, slots=True)
class Copied:
    """What a rotation row holds of its highlight (the window reads these, not the highlight)."""

    book_id: int
    weight: float
    favourite: bool
    highlighted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Stored:
    """One highlight as the layout reads it, with its rotation row's columns (None, None,
    False and no copy without one)."""

    highlight_id: int
    book_id: int
    text: str
    favourite: bool
    discarded: bool
    weight: float
    turn: int | None
    stride: int | None
    in_rotation: bool
    highlighted_at: datetime | None = None
    copied: Copied | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """A highlight's rotation columns as they should be stored."""

    highlight_id: int
    book_id: int
    turn: int
    stride: int
    in_rotation: bool
    favourite: bool
    weight: float
    highlighted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Layout:
    placed: tuple[Placed, ...]  # every highlight
    changed: tuple[Placed, ...]  # those whose stored columns differ
    rotation_size: int


def lay_out(reader: Reader, rows: Sequence[Stored], *, salt: str) -> Layout:
    """The rotation of a reader's library as `rows` hold it (see the module docstring)."""
    turns: dict[int, int] = {}
    strides = {row.highlight_id: _stride(reader, row) for row in rows}
    flags = {row.highlight_id: _in_rotation(row) for row in rows}
    fresh: list[Newcomer] = []
    returning: list[tuple[Entry, Newcomer]] = []
    for row in rows:
        new_stride = strides[row.highlight_id]
        if row.turn is None or row.stride is None:
            fresh.append(_newcomer(row))
        elif flags[row.highlight_id] and not row.in_rotation:
            entry = Entry(
                row.highlight_id,
                row.book_id,
                row.turn,
                row.weight,
                row.favourite,
                row.highlighted_at,
            )
            returning.append((entry, _newcomer(row)))
        elif new_stride != row.stride:
            turns[row.highlight_id] = rescale(row.turn, reader.clock, row.stride, new_stride)
        else:
            turns[row.highlight_id] = row.turn
    turns.update({int(key): turn for key, turn in place(reader, fresh, salt=salt).items()})
    turns.update(returning_turns(reader, returning, salt=salt))
    placed = tuple(
        Placed(
            row.highlight_id,
            row.book_id,
            turns[row.highlight_id],
            strides[row.highlight_id],
            flags[row.highlight_id],
            row.favourite,
            row.weight,
            row.highlighted_at,
        )
        for row in rows
    )
    changed = tuple(p for p, row in zip(placed, rows, strict=True) if _differs(p, row))
    return Layout(placed, changed, sum(1 for p in placed if p.in_rotation))


def entries(layout: Layout) -> list[Entry]:
    """The layout as the selection rules see it (the whole library: a superset of the window)."""
    return [
        Entry(
            p.highlight_id,
            p.book_id,
            p.turn,
            p.weight,
            p.favourite,
            p.highlighted_at,
            p.in_rotation,
        )
        for p in layout.placed
    ]


def span(rows: Sequence[Stored]) -> tuple[date | None, date | None]:
    """The dates of the library's oldest and newest highlights (the age bias's span)."""
    days = [row.highlighted_at.date() for row in rows if row.highlighted_at is not None]
    return (min(days), max(days)) if days else (None, None)


def _stride(reader: Reader, row: Stored) -> int:
    return stride(
        reader, weight=row.weight, favourite=row.favourite, highlighted_at=row.highlighted_at
    )


def _in_rotation(row: Stored) -> bool:
    return in_rotation(
        discarded=row.discarded,
        weight=row.weight,
        favourite=row.favourite,
        words=passage_words(row.text),
    )


def _newcomer(row: Stored) -> Newcomer:
    return Newcomer(
        key=str(row.highlight_id),
        book_key=str(row.book_id),
        weight=row.weight,
        favourite=row.favourite,
        highlighted_at=row.highlighted_at,
    )


def _differs(placed: Placed, row: Stored) -> bool:
    copied = Copied(placed.book_id, placed.weight, placed.favourite, placed.highlighted_at)
    return row.copied != copied or (placed.turn, placed.stride, placed.in_rotation) != (
        row.turn,
        row.stride,
        row.in_rotation,
    )
