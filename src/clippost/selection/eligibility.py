"""Which highlights are in rotation at all: the stored `in_rotation` flag, and what sets it.

A highlight is in rotation when it is not discarded, its book is not set to "never", and it
is a passage rather than a fragment (`quality`), unless the reader favourited it: a
favourite is a passage by the reader's own say-so, however short. Only highlights in
rotation are ever chosen, and only they are in the planner's index, so a discarded
highlight costs the planner nothing.
"""

from __future__ import annotations

from clippost.selection.quality import DEFAULT_MIN_WORDS, is_fragment


def in_rotation(
    *,
    discarded: bool,
    weight: float,
    favourite: bool,
    words: int,
    min_words: int = DEFAULT_MIN_WORDS,
) -> bool:
    """The value of a highlight's `in_rotation` column."""
    if discarded or weight <= 0:
        return False
    return favourite or not is_fragment(words, min_words=min_words)
