"""The choice: lowest turns, round by round, spread over books, on this day first; the window."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

import pytest

from clippost.selection import (
    ONE,
    Entry,
    Pick,
    Reader,
    book_cap,
    choose,
    month_days,
    on_this_day,
    window,
    window_size,
)

TODAY = date(2026, 3, 3)
READER = Reader()


def entry(
    highlight_id: int,
    turn: int,
    *,
    book: int = 1,
    made: datetime | None = None,
    rotating: bool = True,
) -> Entry:
    return Entry(
        highlight_id=highlight_id,
        book_id=book,
        turn=turn,
        highlighted_at=made,
        in_rotation=rotating,
    )


def spaced(count: int, *, books: int = 1, start: int = 0, step: int = ONE // 100) -> list[Entry]:
    """`count` entries round-robin over `books`, one `step` apart from `start`."""
    return [entry(i + 1, start + i * step, book=i % books + 1) for i in range(count)]


def ids(picks: Sequence[Pick]) -> list[int]:
    return [pick.highlight_id for pick in picks]


class TestWindow:
    def test_lowest_turns_in_rotation_only(self) -> None:
        """The window is the in-rotation rows ORDER BY turn, id LIMIT window_size(n)."""
        rows = [entry(i, 1000 - i, rotating=i % 3 != 0) for i in range(1, 100)]
        got = window(rows, 2)
        expected = sorted((r for r in rows if r.in_rotation), key=lambda r: r.turn)[:9]
        assert got == expected
        assert window_size(2) == 9

    def test_equal_turns_by_id(self) -> None:
        """Equal turns come in id order, as the index (subscriber, turn, id) returns them."""
        rows = [entry(5, 7), entry(2, 7), entry(9, 3)]
        assert [r.highlight_id for r in window(rows, 5)] == [9, 2, 5]

    def test_always_more_than_n(self) -> None:
        """The window is larger than the digest, so the next clock is known from it."""
        assert all(window_size(n) > n for n in range(0, 16))


class TestChoose:
    def test_lowest_turns_first(self) -> None:
        """With books enough, the digest is the n lowest turns."""
        rows = spaced(40, books=8)
        assert ids(choose(READER, rows, 5, today=TODAY)) == [1, 2, 3, 4, 5]

    def test_nothing_for_nothing(self) -> None:
        """n of 0, an empty library, or nothing in rotation: an empty digest."""
        assert choose(READER, spaced(5), 0, today=TODAY) == []
        assert choose(READER, [], 5, today=TODAY) == []
        assert choose(READER, [entry(1, 0, rotating=False)], 5, today=TODAY) == []

    def test_small_library_sent_whole_once(self) -> None:
        """A library smaller than n is sent whole, each highlight once."""
        assert sorted(ids(choose(READER, spaced(3), 5, today=TODAY))) == [1, 2, 3]

    def test_out_of_rotation_never_chosen(self) -> None:
        """Rows not in rotation are never picked, even given in the input."""
        rows = [entry(1, 0, rotating=False), *spaced(3, start=10)[1:]]
        assert 1 not in ids(choose(READER, rows, 5, today=TODAY))

    def test_input_order_does_not_matter(self) -> None:
        """The same rows shuffled give the same digest."""
        rows = spaced(30, books=4)
        assert choose(READER, rows, 6, today=TODAY) == choose(READER, rows[::-1], 6, today=TODAY)


class TestRounds:
    def test_earlier_round_first_whatever_the_spread(self) -> None:
        """A round's last highlights, all of one book, go before the next round's others."""
        tail = [entry(i, ONE - 10 + i, book=1) for i in range(1, 4)]
        nxt = [entry(10 + i, ONE + i, book=2 + i % 3) for i in range(10)]
        picked = ids(choose(READER, tail + nxt, 5, today=TODAY))
        assert picked[:3] == [1, 2, 3]
        assert len(picked) == 5

    def test_no_later_round_while_earlier_left(self) -> None:
        """Nothing of round 1 comes while round 0 still has highlights in the window."""
        rows = [entry(i, i, book=1) for i in range(1, 9)] + [entry(20, ONE, book=2)]
        picked = ids(choose(READER, rows, 5, today=TODAY))
        assert 20 not in picked


class TestSpread:
    def test_cap_is_half(self) -> None:
        """The cap is half the digest, at least one."""
        assert [book_cap(n) for n in (1, 2, 3, 4, 5, 10, 15)] == [1, 1, 1, 2, 2, 5, 7]

    def test_a_book_holding_most_of_the_window_gets_its_share(self) -> None:
        """A book with 16 of 21 window rows may fill floor(5 * 16 / 21) = 3 of 5."""
        assert book_cap(5, 16, 21) == 3
        assert book_cap(5, 7, 21) == 2

    def test_no_book_over_half_while_others_wait(self) -> None:
        """A clump of one book at the front is capped; the other books fill the rest."""
        clump = [entry(i, i, book=1) for i in range(1, 5)]
        others = [entry(10 + i, 100 + i, book=2 + i % 2) for i in range(8)]
        filler = [entry(50 + i, 200 + i, book=9) for i in range(10)]
        picked = choose(READER, clump + others + filler, 5, today=TODAY)
        assert max(Counter(p.entry.book_id for p in picked).values()) <= 2

    def test_cap_gives_way_when_the_round_has_nothing_else(self) -> None:
        """With only one book left in the round, it fills the digest rather than repeat another."""
        rows = [entry(i, i, book=1) for i in range(1, 8)] + [entry(99, ONE + 1, book=2)]
        picked = choose(READER, rows, 5, today=TODAY)
        assert ids(picked) == [1, 2, 3, 4, 5]

    def test_passed_over_highlight_leads_the_next_digest(self) -> None:
        """What the cap passed over keeps its turn, so it is the window's first next time."""
        rows = [entry(1, 0, book=1), entry(2, 1, book=1), entry(3, 2, book=1)]
        rows += [entry(10 + i, 10 + i, book=2 + i) for i in range(6)]
        picked = set(ids(choose(READER, rows, 4, today=TODAY)))
        assert 3 not in picked
        left = [r for r in rows if r.highlight_id not in picked]
        assert window(left, 4)[0].highlight_id == 3


class TestOnThisDay:
    READER = Reader(on_this_day=True)

    def test_opens_the_digest(self) -> None:
        """A passage made on 3 March of an earlier year comes first, flagged."""
        rows = spaced(30, books=5)
        special = entry(77, ONE // 2, book=3, made=datetime(2019, 3, 3, 8, 0))
        picks = choose(self.READER, [*rows, special], 5, today=TODAY, on_this_day=[special])
        assert picks[0].highlight_id == 77
        assert picks[0].on_this_day
        assert not any(p.on_this_day for p in picks[1:])

    def test_only_when_asked(self) -> None:
        """Without the reader's choice there is no on-this-day slot."""
        special = entry(77, ONE // 2, made=datetime(2019, 3, 3))
        picks = choose(READER, spaced(30, books=5), 5, today=TODAY, on_this_day=[special])
        assert 77 not in ids(picks)

    def test_not_this_year_not_another_day(self) -> None:
        """This year's 3 March, or 4 March of 2019, is not "on this day"."""
        rows = [entry(1, 0, made=datetime(2026, 3, 3)), entry(2, 1, made=datetime(2019, 3, 4))]
        assert on_this_day(rows, TODAY) is None

    def test_one_already_sent_this_round_waits(self) -> None:
        """A candidate whose turn is in the next round was sent this round: no repeat for it."""
        rows = spaced(30, books=5)
        special = entry(77, ONE + 5, made=datetime(2019, 3, 3))
        picks = choose(self.READER, [*rows, special], 5, today=TODAY, on_this_day=[special])
        assert 77 not in ids(picks)

    def test_lowest_turn_wins(self) -> None:
        """Of several passages of this day, the one next due is chosen."""
        first = entry(5, 300, made=datetime(2018, 3, 3))
        second = entry(6, 200, made=datetime(2011, 3, 3))
        assert on_this_day([first, second], TODAY) == second

    @pytest.mark.parametrize(
        ("today", "days"),
        [
            (date(2026, 2, 28), (228, 229)),
            (date(2028, 2, 28), (228,)),
            (date(2028, 2, 29), (229,)),
            (date(2026, 12, 31), (1231,)),
        ],
    )
    def test_leap_day_comes_on_the_28th(self, today: date, days: tuple[int, ...]) -> None:
        """A 29 February passage comes on 28 February of years without a 29th."""
        assert month_days(today) == days
