"""What each change between digests writes to the rotation, so that it counts at the next one.

A change of rate (a favourite, a book's frequency, the age bias) rescales the time left
until a highlight's turn by new stride / old stride, from the reader's clock: a highlight
half-way to its turn stays half-way, and a new favourite comes in half the time it had left.
A highlight that re-enters the rotation (restored, its book back from "never", a fragment
favourited) keeps its turn when that turn still lies ahead, and is placed as a newcomer
when its turn has fallen behind the clock: so undoing a discard puts it back exactly where it
was, and a book back after a year joins like a fresh import instead of all at once.

Every function is pure; the planner writes what they return (docs/architecture.md,
"Selection", lists what each event writes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from clippost.selection.model import Entry, Reader
from clippost.selection.placement import Newcomer, newcomer_stride, place
from clippost.selection.rates import stride


def rescale(turn: int, clock: int, old_stride: int, new_stride: int) -> int:
    """`clock + (turn - clock) * new / old`, floored; a turn behind the clock stays put."""
    if turn < clock:
        return turn
    return clock + (turn - clock) * new_stride // old_stride


def weight_ratio(old_weight: float, new_weight: float) -> tuple[int, int]:
    """(num, den) with new stride / old stride = num / den, for a book's frequency change:
    the planner's one UPDATE sets `turn = clock + (turn - clock) * num / den`."""
    ratio = Fraction(old_weight) / Fraction(new_weight)
    return ratio.numerator, ratio.denominator


def favourite_turn(reader: Reader, entry: Entry, favourite: bool) -> int:
    """The turn of `entry` once its favourite flag is `favourite`."""
    old = _stride(reader, entry, favourite=entry.favourite)
    new = _stride(reader, entry, favourite=favourite)
    return rescale(entry.turn, reader.clock, old, new)


def frequency_turns(reader: Reader, entries: Sequence[Entry], new_weight: float) -> dict[int, int]:
    """The turns of a book's highlights once its weight is `new_weight` (both not "never")."""
    if not entries:
        return {}
    num, den = weight_ratio(_only_weight(entries), new_weight)
    return {entry.highlight_id: _scaled(entry.turn, reader.clock, num, den) for entry in entries}


def preference_turns(old: Reader, new: Reader, entries: Iterable[Entry]) -> dict[int, int]:
    """The turns of the reader's highlights once their age bias changes from old to new."""
    return {
        entry.highlight_id: rescale(entry.turn, old.clock, _stride(old, entry), _stride(new, entry))
        for entry in entries
    }


def returning_turns(
    reader: Reader, returning: Sequence[tuple[Entry, Newcomer]], *, salt: str
) -> dict[int, int]:
    """The turns of highlights re-entering the rotation (see the module docstring), each
    given with its stored row and, as a newcomer, its identity and its new weight and flags.
    Those placed afresh are placed together, so a returning book is spread evenly."""
    stale = [(entry, newcomer) for entry, newcomer in returning if entry.turn < reader.clock]
    placed = place(reader, (newcomer for _, newcomer in stale), salt=salt)
    turns = {entry.highlight_id: placed[newcomer.key] for entry, newcomer in stale}
    for entry, newcomer in returning:
        if entry.turn >= reader.clock:
            limit = reader.clock + newcomer_stride(reader, newcomer)
            turns[entry.highlight_id] = min(entry.turn, limit)
    return turns


def rotation_delta(was_in_rotation: bool, now_in_rotation: bool) -> int:
    """What a change adds to the reader's `rotation_size` counter, per highlight."""
    return int(now_in_rotation) - int(was_in_rotation)


def _stride(reader: Reader, entry: Entry, *, favourite: bool | None = None) -> int:
    return stride(
        reader,
        weight=entry.weight,
        favourite=entry.favourite if favourite is None else favourite,
        highlighted_at=entry.highlighted_at,
    )


def _scaled(turn: int, clock: int, num: int, den: int) -> int:
    return turn if turn < clock else clock + (turn - clock) * num // den


def _only_weight(entries: Iterable[Entry]) -> float:
    weights = {entry.weight for entry in entries}
    if len(weights) != 1:
        raise ValueError("frequency_turns takes the highlights of one book, at one weight")
    return weights.pop()
