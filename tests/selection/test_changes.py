"""Changes between digests: rate changes rescale the time left; returns keep or re-place."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from clippost.selection import (
    ONE,
    Bias,
    Entry,
    Newcomer,
    Reader,
    favourite_turn,
    frequency_turns,
    preference_turns,
    rescale,
    returning_turns,
    rotation_delta,
    weight_ratio,
)

CLOCK = 10 * ONE
READER = Reader(clock=CLOCK)


def entry(highlight_id: int, turn: int, *, weight: float = 1.0, favourite: bool = False) -> Entry:
    return Entry(
        highlight_id=highlight_id, book_id=1, turn=turn, weight=weight, favourite=favourite
    )


def newcomer(highlight_id: int, *, weight: float = 1.0) -> Newcomer:
    return Newcomer(key=f"h{highlight_id}", book_key="b1", weight=weight)


class TestRescale:
    def test_time_left_scales(self) -> None:
        """Half-way to its turn stays half-way: the time left is scaled by new / old stride."""
        assert rescale(CLOCK + 100, CLOCK, ONE, ONE // 2) == CLOCK + 50
        assert rescale(CLOCK + 100, CLOCK, ONE // 2, ONE) == CLOCK + 200

    def test_turn_behind_the_clock_stays(self) -> None:
        """A stale turn (out of rotation, left behind) is not moved by a rescale."""
        assert rescale(CLOCK - 5, CLOCK, ONE, 2 * ONE) == CLOCK - 5


class TestFavourite:
    def test_a_new_favourite_comes_in_half_the_time(self) -> None:
        """Favouriting a highlight just sent (a round away) brings it half a round away."""
        just_sent = entry(1, CLOCK + ONE)
        assert favourite_turn(READER, just_sent, True) == CLOCK + ONE // 2

    def test_unfavouriting_doubles_the_time_left(self) -> None:
        """Taking a favourite back pushes its turn twice as far from the clock."""
        favourite = entry(1, CLOCK + ONE // 4, favourite=True)
        assert favourite_turn(READER, favourite, False) == CLOCK + ONE // 2


class TestFrequency:
    @pytest.mark.parametrize(
        ("old", "new", "ratio"),
        [(1.0, 2.0, (1, 2)), (1.0, 0.5, (2, 1)), (0.5, 2.0, (1, 4)), (2.0, 2.0, (1, 1))],
    )
    def test_weight_ratio(self, old: float, new: float, ratio: tuple[int, int]) -> None:
        """The stride ratio new/old is old weight / new weight, as small integers for SQL."""
        assert weight_ratio(old, new) == ratio

    def test_more_halves_the_wait_of_the_whole_book(self) -> None:
        """Setting a book to "more" halves each highlight's time to its turn."""
        rows = [entry(1, CLOCK + ONE // 2), entry(2, CLOCK + ONE)]
        assert frequency_turns(READER, rows, 2.0) == {1: CLOCK + ONE // 4, 2: CLOCK + ONE // 2}

    def test_one_book_one_weight(self) -> None:
        """frequency_turns refuses rows of several weights (they are not one book)."""
        with pytest.raises(ValueError, match="one book"):
            frequency_turns(READER, [entry(1, CLOCK, weight=1.0), entry(2, CLOCK, weight=2.0)], 1)
        assert frequency_turns(READER, [], 2.0) == {}


class TestPreferences:
    def test_recent_bias_brings_new_highlights_closer(self) -> None:
        """Turning on "recent" rescales: a newest-third highlight's wait halves."""
        old = Reader(clock=CLOCK, oldest=date(2020, 1, 1), newest=date(2023, 1, 1))
        new = Reader(clock=CLOCK, bias=Bias.RECENT, oldest=old.oldest, newest=old.newest)
        recent = Entry(1, 1, CLOCK + ONE, highlighted_at=datetime(2022, 12, 1))
        ancient = Entry(2, 1, CLOCK + ONE // 2, highlighted_at=datetime(2020, 1, 2))
        assert preference_turns(old, new, [recent, ancient]) == {
            1: CLOCK + ONE // 2,
            2: CLOCK + ONE,
        }


class TestReturning:
    def test_undo_puts_it_back_where_it_was(self) -> None:
        """A highlight discarded and restored with its turn still ahead keeps that turn."""
        row = entry(1, CLOCK + ONE // 3)
        assert returning_turns(READER, [(row, newcomer(1))], salt="s") == {1: CLOCK + ONE // 3}

    def test_a_stale_turn_is_placed_anew(self) -> None:
        """A highlight back after long out of rotation joins like a newcomer, ahead of the clock."""
        row = entry(1, CLOCK - 5 * ONE)
        turn = returning_turns(READER, [(row, newcomer(1))], salt="s")[1]
        assert CLOCK <= turn < CLOCK + ONE

    def test_a_turn_too_far_ahead_is_brought_within_a_stride(self) -> None:
        """A returning highlight never lands more than its (new) stride past the clock."""
        row = entry(1, CLOCK + 3 * ONE)
        assert returning_turns(READER, [(row, newcomer(1, weight=2.0))], salt="s") == {
            1: CLOCK + ONE // 2
        }

    def test_a_returning_book_is_spread_evenly(self) -> None:
        """A book back from "never" after a year is spread through the next round, not bunched."""
        rows = [entry(i, CLOCK - 3 * ONE + i) for i in range(20)]
        turns = returning_turns(READER, [(r, newcomer(r.highlight_id)) for r in rows], salt="s")
        twentieths = sorted((t - CLOCK) * 20 // ONE for t in turns.values())
        assert twentieths == list(range(20))


class TestRotationDelta:
    def test_counter_moves_by_the_flag(self) -> None:
        """Entering adds one, leaving takes one, no change adds nothing."""
        assert rotation_delta(False, True) == 1
        assert rotation_delta(True, False) == -1
        assert rotation_delta(True, True) == 0
