"""Where the reader stands in the round ("You have now had 37 of your 412 highlights").

No counting: the position is the round's progress in virtual time (how far the clock has
come through its round) scaled to the number of highlights in rotation, a counter kept on the
reader. A library of evenly spread normal highlights reads exactly "sent so far of total";
with weights and favourites it reads the share of the round that has passed. The digest that
completes a round reads "total of total", not "0 of total"; before anything is sent, "0 of
total".
"""

from __future__ import annotations

from collections.abc import Sequence

from clippost.selection.model import Pick, RoundStatus
from clippost.selection.rates import ONE, round_of


def round_status(rotation_size: int, picks: Sequence[Pick], clock: int) -> RoundStatus:
    """The round position once `picks` are sent and the reader's clock is `clock`."""
    total = max(rotation_size, 0)
    if total == 0:
        return RoundStatus(position=0, total=0)
    if picks and round_of(clock) > round_of(max(pick.entry.turn for pick in picks)):
        return RoundStatus(position=total, total=total)
    progress = clock - round_of(clock) * ONE
    # Rounded to nearest: a clock that is the 6th of 100 evenly spaced turns reads 5, even
    # when the spacing's integer rounding left it a hair short of 5/100 of the round.
    position = (2 * progress * total + ONE) // (2 * ONE)
    return RoundStatus(position=min(total, position), total=total)
