"""Which highlights a reader gets, and when: a rotation in virtual time, pure and local.

Every highlight in rotation has a *turn*, its due time in virtual time (an integer; `ONE` is a
round). A digest takes the lowest turns (`choice`); sending a highlight adds its *stride*
(`ONE / rate`, `rates`) to its turn (`sending`). A "more" highlight's stride is half a
round, so it comes twice a round; a "less" one's two rounds; a favourite's half its book's.
New highlights are spread evenly through the next stride (`placement`); changes rescale the
time left (`changes`). The reader keeps a clock (the lowest turn) and a count of highlights
in rotation (`model.Reader`), from which the round position follows (`rounds`).

Locality: a digest is a pure function of the reader's state, the `window_size(n)` lowest
turns, the lowest-turn on-this-day candidate, and the seed (`window`, `digest`). The planner
reads those rows with two indexed range scans per reader, whatever the library's size.

Modules: `model` (the data), `quality` and `eligibility` (which highlights rotate), `rates`,
`placement`, `window`, `choice`, `sending`, `rounds`, `changes`, `digest` (the one call per
digest), `seeds`. The planner (planner/service.py) calls `plan_digest` over each reader's
window.
"""

from clippost.selection.changes import (
    favourite_turn,
    frequency_turns,
    preference_turns,
    rescale,
    returning_turns,
    rotation_delta,
    weight_ratio,
)
from clippost.selection.choice import book_cap, choose
from clippost.selection.digest import plan_digest
from clippost.selection.eligibility import in_rotation
from clippost.selection.model import Bias, Digest, Entry, Pick, Reader, RoundStatus
from clippost.selection.placement import Newcomer, place, widen_span
from clippost.selection.quality import DEFAULT_MIN_WORDS, passage_words
from clippost.selection.rates import ONE, rate, stride
from clippost.selection.rounds import round_status
from clippost.selection.seeds import digest_seed, placement_salt
from clippost.selection.window import (
    month_day,
    month_days,
    on_this_day,
    rotation_key,
    window,
    window_size,
)

__all__ = [
    "DEFAULT_MIN_WORDS",
    "ONE",
    "Bias",
    "Digest",
    "Entry",
    "Newcomer",
    "Pick",
    "Reader",
    "RoundStatus",
    "book_cap",
    "choose",
    "digest_seed",
    "favourite_turn",
    "frequency_turns",
    "in_rotation",
    "month_day",
    "month_days",
    "on_this_day",
    "passage_words",
    "place",
    "placement_salt",
    "plan_digest",
    "preference_turns",
    "rate",
    "rescale",
    "returning_turns",
    "rotation_delta",
    "rotation_key",
    "round_status",
    "stride",
    "weight_ratio",
    "widen_span",
    "window",
    "window_size",
]
