"""Which highlights one digest holds: lowest turns first, round by round, spread over books.

The rules, in order of precedence (an earlier rule always wins over a later one):

1. **In rotation only** (`eligibility`), and only from the window (`window`): the
   `window_size(n)` highlights next due.
2. **On this day.** When the reader asked for it, the digest opens with the lowest-turn
   highlight made on this month-day of an earlier year, if one is in the current round
   (its turn is before the end of the round of the reader's lowest turn). One that already
   came this round waits for next year rather than repeat.
3. **Rounds.** The window is taken round by round (a highlight's round is `turn // ONE`): no
   highlight of a later round is chosen while one of an earlier round is left out. Since a
   normal highlight has one turn per round, none comes twice before all have come once.
4. **Spread.** Within a round, in turn order, a book is passed over once it holds its cap
   of the digest's highlights: half the digest (at least one), or its share of the window
   (rounded down) when that is more. What was passed over is taken, in turn order, only
   when nothing else of that round is left in the window. A highlight passed over keeps
   its turn, so it leads the next digest.

   So "no book over half of a digest while 3+ books have eligible highlights" holds,
   *eligible* meaning in the window and in the round the digest is taking, with two
   exceptions by design. The window bounds how far ahead of its turn a highlight may be
   pulled for spread (about four digests); the round keeps spread from ever causing a
   repeat. The exceptions: the last digest of a round takes what the round has left, of
   whatever book; and a book holding most of the window takes its share. No order can
   keep a book that holds most of the rotation under half of every digest; holding it
   there for a while only pulls the other books ahead until they run out, and it then
   fills whole digests at the end of the round (the old selection's 76%). At its share,
   its digests stay as even as its size allows, and the share regulates itself: a book
   held back piles up in the window until its share lets it through, so no book is
   pulled far ahead.
5. Otherwise, the lowest turns; equal turns by highlight id.

No randomness: the same rows give the same digest, so a preview is the digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from itertools import groupby

from clippost.selection import window as rows
from clippost.selection.model import Entry, Pick, Reader
from clippost.selection.rates import round_end, round_of


def book_cap(n: int, held: int = 0, window: int = 0) -> int:
    """The most highlights one book may give a digest of n while others have some to give,
    the book holding `held` of the `window` highlights the digest chooses among."""
    half = max(1, n // 2)
    share = n * held // window if window else 0
    return max(half, min(n, share))


def choose(
    reader: Reader,
    entries: Iterable[Entry],
    n: int,
    *,
    today: date,
    on_this_day: Iterable[Entry] = (),
) -> list[Pick]:
    """Up to `n` picks for the reader's next digest, by the rules in the module docstring.

    `entries` may be the window or any superset of it (the whole library); `on_this_day`
    the on-this-day candidate row or, again, any superset.
    """
    return choose_in_window(
        reader, rows.window(entries, n), n, today=today, on_this_day=on_this_day
    )


def choose_in_window(
    reader: Reader,
    ordered: list[Entry],
    n: int,
    *,
    today: date,
    on_this_day: Iterable[Entry] = (),
) -> list[Pick]:
    """`choose`, given exactly the window in rotation order (as `window.window` returns it)."""
    if n <= 0 or not ordered:
        return []
    picks: list[Pick] = []
    special = _on_this_day(reader, on_this_day, today, round_end(ordered[0].turn))
    if special is not None:
        picks.append(Pick(special, on_this_day=True))
    if special is None:
        rest = ordered
    else:
        rest = [e for e in ordered if e.highlight_id != special.highlight_id]
    # Picks per book, as a plain dict: a Counter's construction cost more than the choice.
    counts: dict[int, int] = {} if special is None else {special.book_id: 1}
    caps = _Caps(n, ordered)
    for group in _rounds(rest):
        _fill(group, n, caps, picks, counts)
        if len(picks) == n:
            break
    return picks


class _Caps:
    """Each book's cap for one digest, worked out only for books that reach half."""

    __slots__ = ("_held", "_n", "_window", "half")

    def __init__(self, n: int, window: Sequence[Entry]) -> None:
        self._n, self.half, self._window = n, book_cap(n), window
        self._held: Counter[int] | None = None

    def allows(self, book: int, count: int) -> bool:
        """Whether a book holding `count` of the digest may take one more (below `half`,
        always: `_fill` checks that itself before calling)."""
        if count < self.half:
            return True
        if self._held is None:
            self._held = Counter(entry.book_id for entry in self._window)
        return count < book_cap(self._n, self._held[book], len(self._window))


def _on_this_day(
    reader: Reader, candidates: Iterable[Entry], today: date, end: int
) -> Entry | None:
    if not reader.on_this_day:
        return None
    found = rows.on_this_day(candidates, today)
    return found if found is not None and found.turn < end else None


def _rounds(ordered: list[Entry]) -> Iterator[list[Entry]]:
    if not ordered or round_of(ordered[0].turn) == round_of(ordered[-1].turn):
        yield ordered  # the common case: the whole window is in one round
        return
    for _, group in groupby(ordered, key=lambda entry: round_of(entry.turn)):
        yield list(group)


def _fill(
    group: list[Entry], n: int, caps: _Caps, picks: list[Pick], counts: dict[int, int]
) -> None:
    """Take from one round in turn order: within the book cap first, then past it."""
    passed_over: list[Entry] = []
    half = caps.half
    for entry in group:
        if len(picks) == n:
            return
        book = entry.book_id
        count = counts.get(book, 0)
        if count < half or caps.allows(book, count):
            picks.append(Pick(entry))
            counts[book] = count + 1
        else:
            passed_over.append(entry)
    # Rule 3 beats rule 4: finish this round before touching the next one.
    for entry in passed_over[: n - len(picks)]:
        picks.append(Pick(entry))
        counts[entry.book_id] = counts.get(entry.book_id, 0) + 1
