"""How often a highlight comes round: its rate, and its stride in virtual time.

Virtual time is an integer in fixed point: `ONE` is one *round*, the time in which a
highlight of a "normal" book, not a favourite, comes exactly once. A highlight's rate is the
product of three factors, each a power of two so that every stride is a whole fraction or
multiple of a round:

- its book's weight: 0.5 "less", 1 "normal", 2 "more" ("never" is out of rotation);
- 2 for a favourite;
- the reader's age bias: with "recent", the newest third of the library's date span counts
  2, the middle third 1, the oldest third 0.5 ("older" the other way round); undated
  highlights, and libraries whose highlights share one date, count 1.

A highlight's stride is `ONE / rate`: sending it adds its stride to its turn. Because
strides are powers of two times `ONE`, a highlight of stride S has exactly one turn in each
*period* of length S aligned on multiples of S: a "less" highlight one turn every two rounds,
a favourite one in each half round.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from clippost.selection.model import Bias, Entry, Reader

ONE = 1 << 32
_FAVOURITE = 2.0
# (oldest third, middle third, newest third)
_AGE_FACTORS = {Bias.RECENT: (0.5, 1.0, 2.0), Bias.OLDER: (2.0, 1.0, 0.5)}


def rate(
    reader: Reader, *, weight: float, favourite: bool, highlighted_at: datetime | None
) -> float:
    """Sends per round: weight x favourite x age factor (0 for a "never" book)."""
    factor = _FAVOURITE if favourite else 1.0
    return weight * factor * age_factor(reader, highlighted_at)


def stride(
    reader: Reader, *, weight: float, favourite: bool, highlighted_at: datetime | None
) -> int:
    """Virtual time between two sends of one highlight. A weight of 0 ("never") has no
    stride of its own; it is given a normal one, used only to place it should it return."""
    effective = weight if weight > 0 else 1.0
    value = rate(reader, weight=effective, favourite=favourite, highlighted_at=highlighted_at)
    return max(1, round(ONE / value))


def strides(reader: Reader, entries: Sequence[Entry]) -> list[int]:
    """`stride` of each entry, in one pass: the reader's age factors and date span are
    looked up once, and an entry without a bias factor costs two multiplications."""
    factors = _AGE_FACTORS.get(reader.bias)
    oldest, newest = reader.oldest or date.min, reader.newest or date.min
    if reader.oldest is None or reader.newest is None or newest <= oldest:
        factors = None  # no span to measure ages on: every factor is 1
    found = []
    for entry in entries:
        weight, made = entry.weight, entry.highlighted_at
        age = (
            1.0 if factors is None or made is None else factors[_third(made.date(), oldest, newest)]
        )
        value = (weight if weight > 0 else 1.0) * (_FAVOURITE if entry.favourite else 1.0) * age
        found.append(max(1, round(ONE / value)))
    return found


def age_factor(reader: Reader, highlighted_at: datetime | None) -> float:
    """The age bias's factor for one highlight (1 without a bias, a date or a span)."""
    factors = _AGE_FACTORS.get(reader.bias)
    if factors is None or highlighted_at is None:
        return 1.0
    if reader.oldest is None or reader.newest is None or reader.newest <= reader.oldest:
        return 1.0
    return factors[_third(highlighted_at.date(), reader.oldest, reader.newest)]


def _third(day: date, oldest: date, newest: date) -> int:
    # Integer arithmetic: the same third on every machine, however the span divides.
    span = (newest - oldest).days
    offset = min(max((day - oldest).days, 0), span)
    return min(2, 3 * offset // span)


def period_start(turn: int, stride_: int) -> int:
    """The start of the period of length `stride_` that `turn` falls in."""
    return (turn // stride_) * stride_


def round_of(turn: int) -> int:
    return turn // ONE


def round_end(turn: int) -> int:
    """The first virtual time of the round after the one `turn` falls in."""
    return (round_of(turn) + 1) * ONE
