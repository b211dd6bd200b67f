"""A reader's library as the planner will keep it, driven through the pure selection code.

`Library` holds exactly the stored columns that docs/architecture.md ("Selection") lists
(turn, in_rotation, words, highlighted_at per highlight; weight per book; the `Reader` row)
and changes them only through the functions named there for each event, so that what the
tests observe here is what the planner's SQL will produce. Each digest is planned from the
rows the planner's two queries return, and (unless told otherwise) checked against the same
call over the whole library: the locality property.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from clippost.selection import (
    Bias,
    Digest,
    Entry,
    Newcomer,
    Reader,
    digest_seed,
    favourite_turn,
    frequency_turns,
    in_rotation,
    on_this_day,
    place,
    placement_salt,
    plan_digest,
    preference_turns,
    returning_turns,
    weight_ratio,
    widen_span,
    window,
)

SUBSCRIBER = 7


@dataclass
class Item:
    id: int
    book: int
    identity: str
    words: int
    highlighted_at: datetime | None
    turn: int = 0
    favourite: bool = False
    discarded: bool = False
    in_rotation: bool = False
    sends: int = 0


@dataclass(frozen=True)
class New:
    """A highlight arriving by import."""

    book: int
    words: int = 12
    highlighted_at: datetime | None = None
    favourite: bool = False


@dataclass
class Library:
    reader: Reader = field(default_factory=Reader)
    items: dict[int, Item] = field(default_factory=dict)
    weights: dict[int, float] = field(default_factory=dict)
    min_words: int = 4
    check_locality: bool = True
    _rows: dict[int, Entry] = field(default_factory=dict)

    # Reading ----------------------------------------------------------------------------

    def entry(self, item: Item) -> Entry:
        return Entry(
            highlight_id=item.id,
            book_id=item.book,
            turn=item.turn,
            weight=self.weights[item.book],
            favourite=item.favourite,
            highlighted_at=item.highlighted_at,
            in_rotation=item.in_rotation,
        )

    def entries(self) -> list[Entry]:
        """Every stored row (cached: rebuilding 2,000 rows per digest would slow the tests)."""
        for item in self.items.values():
            if item.id not in self._rows:
                self._rows[item.id] = self.entry(item)
        return list(self._rows.values())

    def rotating(self) -> list[Item]:
        return [item for item in self.items.values() if item.in_rotation]

    # Digests ----------------------------------------------------------------------------

    def plan(self, n: int, today: date) -> Digest:
        """The next digest as the planner's queries and the preview would see it."""
        everything = self.entries()
        rows = window(everything, n)
        special = on_this_day(everything, today) if self.reader.on_this_day else None
        seed = digest_seed(SUBSCRIBER, f"{today.isoformat()}T07:00Z")
        planned = plan_digest(
            self.reader, rows, n, today=today, seed=seed, on_this_day=[special] if special else []
        )
        if self.check_locality:
            whole = plan_digest(
                self.reader, everything, n, today=today, seed=seed, on_this_day=everything
            )
            assert whole == planned, "the window's digest differs from the whole library's"
        return planned

    def send(self, planned: Digest) -> None:
        """What the planner writes once the digest is in the outbox."""
        for highlight_id, turn in planned.turns.items():
            item = self.items[highlight_id]
            item.turn = turn
            item.sends += 1
            self._rows.pop(highlight_id, None)
        self.reader = replace(self.reader, clock=planned.clock)

    def digest(self, n: int, today: date) -> Digest:
        planned = self.plan(n, today)
        self.send(planned)
        return planned

    # Changes ----------------------------------------------------------------------------

    def add_book(self, book: int, weight: float = 1.0) -> None:
        self.weights[book] = weight

    def import_(self, arrivals: Sequence[New]) -> list[int]:
        """A first import or a re-import: new rows placed, span widened, counter bumped."""
        start = max(self.items, default=0) + 1
        created = [self._new_item(start + i, new) for i, new in enumerate(arrivals)]
        days = [item.highlighted_at.date() for item in created if item.highlighted_at]
        oldest, newest = widen_span(self.reader, days)
        self.reader = replace(self.reader, oldest=oldest, newest=newest)
        turns = place(self.reader, [self._newcomer(item) for item in created], salt=self._salt)
        for item in created:
            item.turn = turns[item.identity]
            item.in_rotation = self._in_rotation(item)
            self.items[item.id] = item
        self._count(sum(item.in_rotation for item in created))
        return [item.id for item in created]

    def discard(self, highlight_id: int) -> None:
        item = self.items[highlight_id]
        item.discarded = True
        self._settle([item])

    def restore(self, highlight_id: int) -> None:
        item = self.items[highlight_id]
        item.discarded = False
        self._settle([item])

    def favourite(self, highlight_id: int, value: bool = True) -> None:
        item = self.items[highlight_id]
        if item.in_rotation and item.favourite != value:
            item.turn = favourite_turn(self.reader, self.entry(item), value)
        item.favourite = value
        self._settle([item])

    def frequency(self, book: int, weight: float) -> None:
        """A book's frequency change: rescale, or leave / re-enter the rotation."""
        mine = [item for item in self.items.values() if item.book == book]
        if self.weights[book] > 0 and weight > 0:
            self._rescale_book(mine, weight)
        self.weights[book] = weight
        self._settle(mine)

    def prefer(self, bias: Bias) -> None:
        new = replace(self.reader, bias=bias)
        entries = [self.entry(item) for item in self.rotating()]
        for highlight_id, turn in preference_turns(self.reader, new, entries).items():
            self.items[highlight_id].turn = turn
        self.reader = new
        self._rows.clear()

    # Helpers ----------------------------------------------------------------------------

    @property
    def _salt(self) -> str:
        return placement_salt(SUBSCRIBER)

    def _new_item(self, highlight_id: int, new: New) -> Item:
        return Item(
            id=highlight_id,
            book=new.book,
            identity=f"h{highlight_id}",
            words=new.words,
            highlighted_at=new.highlighted_at,
            favourite=new.favourite,
        )

    def _newcomer(self, item: Item) -> Newcomer:
        return Newcomer(
            key=item.identity,
            book_key=f"b{item.book}",
            weight=self.weights[item.book],
            favourite=item.favourite,
            highlighted_at=item.highlighted_at,
        )

    def _in_rotation(self, item: Item) -> bool:
        return in_rotation(
            discarded=item.discarded,
            weight=self.weights[item.book],
            favourite=item.favourite,
            words=item.words,
            min_words=self.min_words,
        )

    def _settle(self, items: Iterable[Item]) -> None:
        """Highlights whose flags changed: recompute `in_rotation`; those entering get a turn."""
        items = list(items)
        entering = [item for item in items if not item.in_rotation and self._in_rotation(item)]
        leaving = [item for item in items if item.in_rotation and not self._in_rotation(item)]
        pairs = [(self.entry(item), self._newcomer(item)) for item in entering]
        turns = returning_turns(self.reader, pairs, salt=self._salt)
        for item in entering:
            item.turn = turns[item.id]
            item.in_rotation = True
        for item in leaving:
            item.in_rotation = False
        self._count(len(entering) - len(leaving))
        self._rows.clear()

    def _rescale_book(self, mine: list[Item], weight: float) -> None:
        # The planner's one UPDATE: turn = clock + (turn - clock) * num / den, rows ahead only.
        num, den = weight_ratio(self.weights[mine[0].book], weight) if mine else (1, 1)
        turns = frequency_turns(self.reader, [self.entry(item) for item in mine], weight)
        clock = self.reader.clock
        for item in mine:
            sql = item.turn if item.turn < clock else clock + (item.turn - clock) * num // den
            assert turns[item.id] == sql, "frequency_turns disagrees with the planner's UPDATE"
            item.turn = sql

    def _count(self, delta: int) -> None:
        self.reader = replace(self.reader, rotation_size=self.reader.rotation_size + delta)
