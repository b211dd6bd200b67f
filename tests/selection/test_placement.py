"""Placement: newcomers spread evenly through one stride from the clock, seeded, per book."""

from __future__ import annotations

from collections import Counter
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from clippost.selection import ONE, Newcomer, Reader, place, widen_span

READER = Reader(clock=5 * ONE + ONE // 3)


def newcomers(book: str, count: int, *, weight: float = 1.0) -> list[Newcomer]:
    return [Newcomer(key=f"{book}-{i}", book_key=book, weight=weight) for i in range(count)]


class TestPlace:
    def test_within_one_stride_of_the_clock(self) -> None:
        """Every newcomer's turn lies in [clock, clock + stride)."""
        turns = place(READER, newcomers("a", 50) + newcomers("b", 20, weight=0.5), salt="s")
        normal = [t for k, t in turns.items() if k.startswith("a")]
        less = [t for k, t in turns.items() if k.startswith("b")]
        assert all(READER.clock <= t < READER.clock + ONE for t in normal)
        assert all(READER.clock <= t < READER.clock + 2 * ONE for t in less)

    def test_a_book_is_spread_evenly(self) -> None:
        """Ten newcomers of one book fall one in each tenth of the round."""
        turns = place(READER, newcomers("a", 10), salt="s")
        tenths = Counter((t - READER.clock) * 10 // ONE for t in turns.values())
        assert sorted(tenths) == list(range(10))

    def test_books_interleave_through_the_whole_round(self) -> None:
        """A big and a small book: each quarter of the round holds its share of both."""
        turns = place(READER, newcomers("big", 80) + newcomers("small", 8), salt="s")
        for quarter in range(4):
            here = [k for k, t in turns.items() if (t - READER.clock) * 4 // ONE == quarter]
            assert Counter(k.split("-")[0] for k in here) == {"big": 20, "small": 2}

    def test_deterministic_and_order_free(self) -> None:
        """The same newcomers in any order, with the same salt, get the same turns."""
        crowd = newcomers("a", 12) + newcomers("b", 5)
        assert place(READER, crowd, salt="s") == place(READER, crowd[::-1], salt="s")

    def test_salt_and_arrivals_change_the_phase(self) -> None:
        """Another reader (salt), or another set of arrivals, lands elsewhere."""
        one = place(READER, newcomers("a", 1), salt="s")
        other_salt = place(READER, newcomers("a", 1), salt="t")
        other_set = place(READER, [Newcomer(key="z", book_key="a")], salt="s")
        assert one["a-0"] != other_salt["a-0"]
        assert one["a-0"] != other_set["z"]

    @given(count=st.integers(1, 300), clock=st.integers(0, 10**6 * ONE))
    def test_always_within_the_stride(self, count: int, clock: int) -> None:
        """For any clock and any number of newcomers, turns are in [clock, clock + ONE)."""
        turns = place(Reader(clock=clock), newcomers("a", count), salt="x")
        assert len(turns) == count
        assert all(clock <= t < clock + ONE for t in turns.values())


class TestWidenSpan:
    def test_keeps_the_extremes(self) -> None:
        """The span grows to cover new dates and never shrinks."""
        reader = Reader(oldest=date(2020, 5, 1), newest=date(2021, 1, 1))
        days = [date(2019, 1, 1), date(2020, 6, 1)]
        assert widen_span(reader, days) == (date(2019, 1, 1), date(2021, 1, 1))

    def test_from_nothing(self) -> None:
        """A first import sets both ends; an import without dates leaves them unset."""
        assert widen_span(Reader(), [date(2020, 1, 2)]) == (date(2020, 1, 2), date(2020, 1, 2))
        assert widen_span(Reader(), []) == (None, None)
