"""Locality: a digest chosen from the planner's rows is the digest chosen from the whole library.

The planner reads, per reader, the in-rotation rows `ORDER BY turn, id LIMIT window_size(n)`
and the one lowest-turn on-this-day row. These properties say that nothing else matters:
the same reader state, the same seed and those rows give exactly the digest (picks, new
turns, next clock, round position) that the pure code gives when handed everything.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clippost.selection import (
    ONE,
    Bias,
    Entry,
    Reader,
    choose,
    digest_seed,
    on_this_day,
    plan_digest,
    window,
)

TODAY = date(2026, 3, 3)


def library(seed: int, size: int, books: int, rounds: int) -> list[Entry]:
    """`size` rows over `books`, turns within `rounds` rounds, a mix of every flag.

    Each book's turns bunch in a stretch of its own, so that the window's books are not the
    library's: anything the choice read beyond the window would show.
    """
    rng = random.Random(seed)
    stretch = {book: rng.randrange(rounds * 64) for book in range(books)}
    rows = []
    for i in range(1, size + 1):
        made = datetime(2015, 1, 1) + timedelta(days=rng.randrange(4000))
        if rng.random() < 0.1:
            made = made.replace(month=3, day=3)
        book = rng.randrange(books)
        rows.append(
            Entry(
                highlight_id=i,
                book_id=book,
                # Coarse turns on purpose: ties must be broken the same way by both paths.
                turn=(stretch[book] + rng.randrange(16)) * (ONE // 64),
                weight=rng.choice([0.5, 1.0, 1.0, 2.0]),
                favourite=rng.random() < 0.15,
                highlighted_at=made if rng.random() < 0.9 else None,
                in_rotation=rng.random() < 0.85,
            )
        )
    return rows


readers = st.builds(
    Reader,
    rotation_size=st.integers(0, 3000),
    bias=st.sampled_from(list(Bias)),
    on_this_day=st.booleans(),
    oldest=st.just(date(2015, 1, 1)),
    newest=st.sampled_from([date(2015, 1, 1), date(2026, 1, 1)]),
)


class TestLocality:
    @settings(max_examples=60)
    @given(
        seed=st.integers(0, 2**32),
        size=st.integers(0, 600),
        books=st.integers(1, 30),
        rounds=st.integers(1, 4),
        n=st.integers(0, 15),
        reader=readers,
    )
    def test_window_gives_the_whole_librarys_digest(
        self, seed: int, size: int, books: int, rounds: int, n: int, reader: Reader
    ) -> None:
        """plan_digest over the planner's rows equals plan_digest over every row."""
        rows = library(seed, size, books, rounds)
        special = on_this_day(rows, TODAY)
        slot_seed = digest_seed(7, "2026-03-03T07:00Z")
        whole = plan_digest(reader, rows, n, today=TODAY, seed=slot_seed, on_this_day=rows)
        local = plan_digest(
            reader,
            window(rows, n),
            n,
            today=TODAY,
            seed=slot_seed,
            on_this_day=[special] if special else [],
        )
        assert local == whole

    @settings(max_examples=60)
    @given(
        seed=st.integers(0, 2**32),
        size=st.integers(0, 600),
        books=st.integers(1, 30),
        n=st.integers(0, 15),
        reader=readers,
    )
    def test_choose_reads_only_the_window(
        self, seed: int, size: int, books: int, n: int, reader: Reader
    ) -> None:
        """choose over every row equals choose over the window and the on-this-day row."""
        rows = library(seed, size, books, 3)
        special = on_this_day(rows, TODAY)
        whole = choose(reader, rows, n, today=TODAY, on_this_day=rows)
        local = choose(
            reader, window(rows, n), n, today=TODAY, on_this_day=[special] if special else []
        )
        assert local == whole

    @given(seed=st.integers(0, 2**32), size=st.integers(1, 300), n=st.integers(1, 15))
    def test_only_the_chosen_rows_are_written(self, seed: int, size: int, n: int) -> None:
        """A digest writes new turns for its picks and for no other row."""
        rows = library(seed, size, 5, 2)
        digest = plan_digest(Reader(), rows, n, today=TODAY, seed="s")
        assert set(digest.turns) == set(digest.ids)
        assert len(digest.ids) == len(set(digest.ids)) == min(n, sum(r.in_rotation for r in rows))

    @given(seed=st.integers(0, 2**32), size=st.integers(1, 300), n=st.integers(1, 15))
    def test_rows_in_any_order(self, seed: int, size: int, n: int) -> None:
        """The database may return rows in any order: the digest does not change."""
        rows = library(seed, size, 5, 2)
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        first = plan_digest(Reader(), rows, n, today=TODAY, seed="s")
        assert plan_digest(Reader(), shuffled, n, today=TODAY, seed="s") == first
