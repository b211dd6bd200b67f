"""The selection of today's planner, kept until the planner reads the rotation instead.

It reads every highlight of the reader (O(library) per digest) and its rules fail what the
rotation (`choice`, `sending`) now keeps: per-book weights changed only when in a round a
book came, never how often, and spread failed at the end of a round. Callers to move:
`planner.service._choose`, `library.service.preview_highlights` and
`library.repository.candidates`; then delete this module.

The rules, in order of precedence (an earlier rule always wins over a later one):

1. **Eligible only.** A discarded highlight, or one from a book whose weight is 0 ("never"),
   is never chosen.
2. **Rounds.** Each eligible highlight has a *level*: its `times_sent`, or for a favourite
   `times_sent // 2` (half, rounded down), so a favourite comes round twice per round.
   The current round is the lowest level present. A highlight above the lowest level is
   only chosen once every highlight at the lowest level is in this digest; then the next
   level fills the rest, and so on. Without favourites, every eligible highlight is
   therefore sent once before any is sent twice.
3. **Spread.** Within a level, at most `ceil(n / B)` highlights come from one book, B being
   the number of books with an eligible highlight. Only when that level has nothing else
   left does a book exceed the cap ("when possible").
4. **Rest.** Within a level, a highlight sent less than `rest` ago (default two days) comes
   after the others, so a favourite that was just sent is not sent again in the very next
   daily digest when anything else at its level is waiting.
5. **Weight.** Otherwise the order is random, weighted by `book_weight` (0.5 less, 1
   normal, 2 more) by weighted sampling without replacement (Efraimidis-Spirakis keys
   `log(u) / weight`). Weight changes *when* in a round a book's highlights come, never
   *whether*: rule 2 keeps rounds complete whatever the weights.

Determinism: candidates are ordered by `highlight_id` before any random number is drawn, so
the same candidates (in any order) and the same seed always give the same ids. The ids come
back in the order they were chosen (most deserving first).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from clippost.selection.model import RoundStatus

DEFAULT_REST = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Candidate:
    highlight_id: int
    book_id: int
    times_sent: int
    last_sent_at: datetime | None
    favourite: bool
    discarded: bool
    book_weight: float  # 0 never, 0.5 less, 1 normal, 2 more


def level(candidate: Candidate) -> int:
    """How far round this highlight is: favourites count half their sends (rule 2)."""
    return candidate.times_sent // 2 if candidate.favourite else candidate.times_sent


def is_eligible(candidate: Candidate) -> bool:
    return not candidate.discarded and candidate.book_weight > 0


def select_highlights(
    candidates: Iterable[Candidate],
    n: int,
    rng: random.Random | int | str,
    *,
    now: datetime,
    rest: timedelta = DEFAULT_REST,
) -> list[int]:
    """Up to `n` highlight ids for one digest, by the rules in the module docstring."""
    eligible = sorted(filter(is_eligible, candidates), key=lambda c: c.highlight_id)
    if n <= 0 or not eligible:
        return []
    rng = rng if isinstance(rng, random.Random) else random.Random(rng)
    # One draw per candidate, in id order, before any sorting: the seed alone decides.
    keys = [math.log(1.0 - rng.random()) / c.book_weight for c in eligible]
    cap = math.ceil(n / len({c.book_id for c in eligible}))
    rested_since = now - rest
    levels: defaultdict[int, list[tuple[bool, float, int]]] = defaultdict(list)
    for index, (c, key) in enumerate(zip(eligible, keys, strict=True)):
        recent = c.last_sent_at is not None and c.last_sent_at > rested_since
        levels[level(c)].append((recent, -key, index))
    chosen: list[Candidate] = []
    per_book: Counter[int] = Counter()
    for lvl in sorted(levels):
        # A heap, not a sort: a digest needs only the first few of a level's order.
        heap = levels[lvl]
        heapq.heapify(heap)
        ordered = (eligible[heapq.heappop(heap)[2]] for _ in range(len(heap)))
        _fill_from_level(ordered, n, cap, chosen, per_book)
        if len(chosen) == n:
            break
    return [c.highlight_id for c in chosen]


def _fill_from_level(
    ordered: Iterator[Candidate], n: int, cap: int, chosen: list[Candidate], per_book: Counter[int]
) -> None:
    """Take from one level in order: within the per-book cap first, then past it."""
    skipped: list[Candidate] = []
    for candidate in ordered:
        if len(chosen) == n:
            return
        if per_book[candidate.book_id] < cap:
            chosen.append(candidate)
            per_book[candidate.book_id] += 1
        else:
            skipped.append(candidate)
    # Rule 2 beats rule 3: finish this level before touching the next one.
    for candidate in skipped[: n - len(chosen)]:
        chosen.append(candidate)
        per_book[candidate.book_id] += 1


def describe_round(candidates: Sequence[Candidate], chosen: Collection[int] = ()) -> RoundStatus:
    """Where the library stands in its round once the `chosen` highlights have been sent.

    `position` counts eligible highlights above the lowest level, i.e. already sent in the
    round in progress. A round that has just been completed (everything on one level, above
    zero) reads as `total of total`, not `0 of total`; a library nothing was sent from yet
    reads `0 of total`.
    """
    levels = [
        level(replace(c, times_sent=c.times_sent + 1) if c.highlight_id in chosen else c)
        for c in candidates
        if is_eligible(c)
    ]
    if not levels:
        return RoundStatus(position=0, total=0)
    lowest = min(levels)
    position = sum(1 for lvl in levels if lvl > lowest)
    if position == 0 and lowest > 0:
        position = len(levels)
    return RoundStatus(position=position, total=len(levels))
