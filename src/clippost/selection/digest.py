"""One call for one digest: the choice, the state to write once it is sent, its round position.

The planner and the preview both call `plan_digest` with the same rows and
`seeds.digest_seed(subscriber, slot)`; the planner writes `Digest.turns` and `Digest.clock`,
the preview writes nothing. Either may pass the whole library instead of the window: the
result is the same (the property `test_locality` proves).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from clippost.selection import window as rows
from clippost.selection.choice import choose_in_window
from clippost.selection.model import Digest, Entry, Reader
from clippost.selection.rounds import round_status
from clippost.selection.sending import next_turns


def plan_digest(
    reader: Reader,
    entries: Iterable[Entry],
    n: int,
    *,
    today: date,
    seed: str,
    on_this_day: Iterable[Entry] = (),
) -> Digest:
    """The reader's next digest of up to `n` highlights, for the local date `today`."""
    ordered = rows.window(entries, n)
    picks = choose_in_window(reader, ordered, n, today=today, on_this_day=on_this_day)
    turns, clock = next_turns(reader, ordered, picks, seed=seed)
    return Digest(
        picks=tuple(picks),
        turns=turns,
        clock=clock,
        round=round_status(reader.rotation_size, picks, clock),
    )
