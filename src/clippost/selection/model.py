"""The plain data the selection rules work on: a reader's compact state and one highlight.

Nothing here knows a database. The planner builds these from rows (the stored columns are
listed in docs/architecture.md, "Selection"), calls the pure functions, and writes back what
they return.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Bias(StrEnum):
    """A reader's choice between their recent and their older highlights."""

    NONE = "none"
    RECENT = "recent"
    OLDER = "older"


@dataclass(frozen=True, slots=True)
class Reader:
    """Everything the rules need to know about a reader, kept on the reader's row.

    `clock` is the virtual time the reader's rotation has reached (the lowest turn after the
    last digest); `rotation_size` counts the highlights in rotation (a counter kept by every
    change, never a COUNT); `oldest`/`newest` are the dates of the library's oldest and newest
    highlights, the span the age bias is measured on.
    """

    clock: int = 0
    rotation_size: int = 0
    bias: Bias = Bias.NONE
    on_this_day: bool = False
    oldest: date | None = None
    newest: date | None = None


@dataclass(slots=True)
class Entry:
    """One highlight as the rules see it: its turn (virtual due time) and what sets its rate.

    `weight` is its book's (0 never, 0.5 less, 1 normal, 2 more); `highlighted_at` is the
    naive local time the device wrote; `in_rotation` is the stored flag
    (`eligibility.in_rotation`): only highlights in rotation are ever chosen.

    Not frozen, and so not hashable: the planner builds about twenty per reader, and a frozen
    dataclass's `__init__` (an `object.__setattr__` per field) cost five times a plain one.
    The rules never change an entry; they return new turns (`Digest.turns`).
    """

    highlight_id: int
    book_id: int
    turn: int
    weight: float = 1.0
    favourite: bool = False
    highlighted_at: datetime | None = None
    in_rotation: bool = True


@dataclass(slots=True)  # not frozen, as Entry: five a digest
class Pick:
    """One chosen highlight; `on_this_day` when it fills the on-this-day slot."""

    entry: Entry
    on_this_day: bool = False

    @property
    def highlight_id(self) -> int:
        return self.entry.highlight_id


@dataclass(frozen=True, slots=True)
class RoundStatus:
    """`position` of the round's `total` highlights have been sent ("37 of 412")."""

    position: int
    total: int


@dataclass(frozen=True, slots=True)
class Digest:
    """One digest: what it sends, and the state to write once it is planned.

    `turns` holds the new turn of every chosen highlight (and of nothing else); `clock` is
    the reader's clock afterwards.
    """

    picks: tuple[Pick, ...]
    turns: Mapping[int, int] = field(default_factory=dict)
    clock: int = 0
    round: RoundStatus = RoundStatus(0, 0)

    @property
    def ids(self) -> list[int]:
        return [pick.entry.highlight_id for pick in self.picks]
