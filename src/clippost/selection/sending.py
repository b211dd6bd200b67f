"""What a send writes: each chosen highlight's next turn, and the reader's next clock.

A chosen highlight's next turn is its turn plus its stride, with two corrections:

1. **Jitter.** A seeded shift of up to a sixteenth of the stride either way, folded back
   into the period the turn lands in (so a normal highlight still has exactly one turn per
   round). Without it every round would replay the previous one, the same passages arriving
   together in the same order. It is small because it also wears down the even spacing of
   each book that placement gave (a sixteenth: about one pair in six of a 150-highlight
   library's digests meets again the next round; an eighth halves that, and doubles the
   digests where one book takes more than half).
2. **Nothing left more than a round behind.** A digest that reached round R leaves no turn
   before round R-1: one that would fall further behind is lifted to the start of round
   R-1. This only happens when a library is sent faster than its rates allow (one smaller
   than, or barely larger than, the digest: each digest then runs through several rounds),
   and it is what keeps such a library's turns together: without it, a favourite sent
   every day would fall half a round further behind the others every day, a "less"
   highlight run a round further ahead, and a later import would starve the ones ahead for
   as long. A highlight left one round behind is simply the first of the next digest.

Every new turn therefore lies within about two rounds and a stride of the next clock: rounds
come one after the other (`choice`), so nothing the digest left out is in an earlier round
than the latest one it took.

The next clock is the lowest turn in rotation after the send: the lowest of the window's
unchosen turns and the chosen ones' new turns (everything beyond the window is later still).
"""

from __future__ import annotations

from collections.abc import Sequence

from clippost.selection.model import Entry, Pick, Reader
from clippost.selection.rates import ONE, period_start, round_of, strides
from clippost.selection.seeds import keyed_unit, seed_base

# The jitter's reach either way, as a fraction of the stride (see the module docstring).
_JITTER = 1 / 16


def next_turns(
    reader: Reader, window: Sequence[Entry], picks: Sequence[Pick], *, seed: str
) -> tuple[dict[int, int], int]:
    """The new turn of every picked highlight, and the reader's clock after the send.

    `window` is the window in rotation order (`window.window`), as `plan_digest` passes it.
    """
    if not picks:
        return {}, reader.clock
    floor = (round_of(max(pick.entry.turn for pick in picks)) - 1) * ONE
    base = seed_base(seed)
    entries = [pick.entry for pick in picks]
    turns: dict[int, int] = {}
    for entry, step in zip(entries, strides(reader, entries), strict=True):
        hid = entry.highlight_id
        shift = int((2 * keyed_unit(base, hid) - 1) * step * _JITTER)
        target = entry.turn + step
        start = period_start(target, step)
        # The shifted turn reflected back into [start, last]: it never crosses a period.
        value, last = target + shift, start + step - 1
        if value < start:
            value = min(last, 2 * start - value)
        elif value > last:
            value = max(start, 2 * last - value)
        turns[hid] = value if value > floor else floor
    return turns, _clock(window, turns)


def _clock(window: Sequence[Entry], turns: dict[int, int]) -> int:
    """The lowest of the new turns and of the window's unchosen turns (the first unchosen,
    the window being in rotation order)."""
    lowest = min(turns.values())
    for entry in window:
        if entry.turn >= lowest:
            break
        if entry.highlight_id not in turns:
            return entry.turn
    return lowest
