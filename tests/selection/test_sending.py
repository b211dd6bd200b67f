"""After a send: each chosen highlight moves one stride on (jittered, held near the clock)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from clippost.selection import (
    ONE,
    Entry,
    Pick,
    Reader,
    choose,
    digest_seed,
    plan_digest,
    round_status,
    window,
)
from clippost.selection.rates import period_start, round_of
from clippost.selection.sending import next_turns

TODAY = date(2026, 3, 3)


def entry(highlight_id: int, turn: int, *, book: int = 1, favourite: bool = False) -> Entry:
    return Entry(highlight_id=highlight_id, book_id=book, turn=turn, favourite=favourite)


def spread(count: int, *, books: int = 5, start: int = 0) -> list[Entry]:
    step = ONE // count
    return [entry(i + 1, start + i * step, book=i % books + 1) for i in range(count)]


def picks_of(rows: Sequence[Entry], n: int) -> list[Pick]:
    return choose(Reader(), rows, n, today=TODAY)


class TestNextTurns:
    def test_only_chosen_rows_move(self) -> None:
        """The new turns name exactly the chosen highlights."""
        rows = window(spread(100), 5)
        picks = picks_of(rows, 5)
        turns, _ = next_turns(Reader(), rows, picks, seed="s")
        assert set(turns) == {p.highlight_id for p in picks}

    def test_one_round_on_for_a_normal_highlight(self) -> None:
        """A normal highlight's next turn is in the next round, within a sixteenth of a stride."""
        rows = window(spread(100), 5)
        picks = picks_of(rows, 5)
        turns, _ = next_turns(Reader(), rows, picks, seed="s")
        for pick in picks:
            new = turns[pick.highlight_id]
            assert round_of(new) == round_of(pick.entry.turn) + 1
            assert abs(new - (pick.entry.turn + ONE)) <= ONE // 16

    def test_favourite_moves_half_a_round(self) -> None:
        """A favourite's next turn is in the next half-round period."""
        rows = [entry(1, ONE // 10, favourite=True), *spread(50, start=ONE // 5)]
        picks = picks_of(window(rows, 3), 3)
        turns, _ = next_turns(Reader(), window(rows, 3), picks, seed="s")
        assert period_start(turns[1], ONE // 2) == ONE // 2

    def test_same_seed_same_turns(self) -> None:
        """The seed alone decides the jitter; another seed moves the turns differently."""
        rows = window(spread(100), 5)
        picks = picks_of(rows, 5)
        first = next_turns(Reader(), rows, picks, seed=digest_seed(1, "2026-03-03T07:00Z"))
        again = next_turns(Reader(), rows, picks, seed=digest_seed(1, "2026-03-03T07:00Z"))
        other = next_turns(Reader(), rows, picks, seed=digest_seed(2, "2026-03-03T07:00Z"))
        assert first == again
        assert first != other

    def test_clock_is_the_next_lowest_turn(self) -> None:
        """The clock after a send is the lowest turn left in rotation."""
        rows = window(spread(100), 5)
        picks = picks_of(rows, 5)
        turns, clock = next_turns(Reader(), rows, picks, seed="s")
        left = [r.turn for r in rows if r.highlight_id not in turns]
        assert clock == min(left + list(turns.values()))

    def test_nothing_sent_nothing_moves(self) -> None:
        """An empty digest leaves the clock where it was."""
        assert next_turns(Reader(clock=42), [], [], seed="s") == ({}, 42)

    def test_whole_library_each_day_does_not_drift(self) -> None:
        """A library smaller than the digest, sent whole daily for years, keeps its turns
        within a few rounds of each other, favourites included."""
        rows = [entry(1, 0, favourite=True), entry(2, ONE // 3), entry(3, ONE // 2, book=2)]
        reader = Reader()
        for day in range(1000):
            digest = plan_digest(reader, rows, 5, today=TODAY, seed=f"d{day}")
            rows = [
                Entry(
                    r.highlight_id, r.book_id, digest.turns[r.highlight_id], favourite=r.favourite
                )
                for r in rows
            ]
            reader = Reader(clock=digest.clock)
        turns = [r.turn for r in rows]
        assert max(turns) - min(turns) <= 3 * ONE

    @given(count=st.integers(1, 120), n=st.integers(1, 15), seed=st.text(max_size=8))
    def test_no_turn_falls_behind_the_clock(self, count: int, n: int, seed: str) -> None:
        """Every new turn is at or after the new clock, and after the old turn."""
        rows = window(spread(count, books=3), n)
        picks = picks_of(rows, n)
        turns, clock = next_turns(Reader(), rows, picks, seed=seed)
        for pick in picks:
            assert turns[pick.highlight_id] >= clock
            assert turns[pick.highlight_id] > pick.entry.turn


class TestRoundStatus:
    def test_progress_scaled_to_the_rotation(self) -> None:
        """A clock 37/412 of the way through its round reads 37 of 412."""
        clock = 3 * ONE + 37 * ONE // 412 + 1
        picks = [Pick(entry(1, 3 * ONE))]
        assert round_status(412, picks, clock).position == 37

    def test_completing_a_round_reads_full(self) -> None:
        """The digest that sends a round's last highlight reads total of total."""
        picks = [Pick(entry(1, 2 * ONE - 1))]
        status = round_status(10, picks, 3 * ONE + 5)
        assert (status.position, status.total) == (10, 10)

    def test_empty_rotation(self) -> None:
        """Nothing in rotation reads 0 of 0."""
        status = round_status(0, [], 0)
        assert (status.position, status.total) == (0, 0)

    def test_first_digest_reads_its_share(self) -> None:
        """A first digest of 5 from 100 evenly spread reads 5 of 100."""
        rows = spread(100)
        digest = plan_digest(Reader(rotation_size=100), rows, 5, today=TODAY, seed="s")
        assert digest.round.position == 5
        assert digest.round.total == 100
