"""Selection: rounds without repeats, favourites sooner, discarded never, spread, seeded."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clippost.selection import (
    Candidate,
    RoundStatus,
    describe_round,
    level,
    select_highlights,
)

NOW = datetime(2026, 11, 22, 7, tzinfo=UTC)


def candidate(
    highlight_id: int,
    *,
    book_id: int = 1,
    times_sent: int = 0,
    last_sent_at: datetime | None = None,
    favourite: bool = False,
    discarded: bool = False,
    book_weight: float = 1.0,
) -> Candidate:
    return Candidate(
        highlight_id=highlight_id,
        book_id=book_id,
        times_sent=times_sent,
        last_sent_at=last_sent_at,
        favourite=favourite,
        discarded=discarded,
        book_weight=book_weight,
    )


def library(books: int, per_book: int, *, start: int = 1) -> list[Candidate]:
    return [
        candidate(start + b * per_book + i, book_id=b + 1)
        for b in range(books)
        for i in range(per_book)
    ]


def send(candidates: Sequence[Candidate], chosen: Sequence[int], at: datetime) -> list[Candidate]:
    """What the database would hold after the digest was sent."""
    picked = set(chosen)
    return [
        replace(c, times_sent=c.times_sent + 1, last_sent_at=at) if c.highlight_id in picked else c
        for c in candidates
    ]


def simulate(
    candidates: list[Candidate], *, n: int, digests: int, seed: int
) -> tuple[list[list[int]], list[Candidate]]:
    rng = random.Random(seed)
    history = []
    at = NOW
    for _ in range(digests):
        chosen = select_highlights(candidates, n, rng, now=at)
        history.append(chosen)
        candidates = send(candidates, chosen, at)
        at += timedelta(days=1)
    return history, candidates


class TestEligibility:
    def test_never_discarded(self) -> None:
        """A discarded highlight is never chosen, even when nothing else is left."""
        pool = [candidate(1, discarded=True), candidate(2, times_sent=5)]
        assert select_highlights(pool, 5, 1, now=NOW) == [2]

    def test_never_books_weighted_zero(self) -> None:
        """A highlight of a book set to "never" is never chosen."""
        pool = [candidate(1, book_weight=0.0), candidate(2, book_id=2, times_sent=9)]
        assert select_highlights(pool, 5, 1, now=NOW) == [2]

    def test_empty_library_gives_nothing(self) -> None:
        """No eligible highlights, or n of 0, means an empty choice."""
        assert select_highlights([candidate(1, discarded=True)], 5, 1, now=NOW) == []
        assert select_highlights(library(2, 3), 0, 1, now=NOW) == []

    def test_fewer_than_n_returns_all(self) -> None:
        """A library smaller than n is sent whole, each highlight once."""
        chosen = select_highlights(library(1, 3), 5, 1, now=NOW)
        assert sorted(chosen) == [1, 2, 3]


class TestRounds:
    def test_least_sent_first(self) -> None:
        """Highlights above the round's minimum wait while some at the minimum remain."""
        pool = [candidate(i, book_id=i, times_sent=1) for i in range(1, 20)]
        pool += [candidate(100, book_id=100), candidate(101, book_id=101)]
        assert sorted(select_highlights(pool, 2, 7, now=NOW)) == [100, 101]

    def test_favourite_counts_half(self) -> None:
        """A favourite sent twice is at level 1, sent three times still level 1."""
        assert level(candidate(1, favourite=True, times_sent=2)) == 1
        assert level(candidate(1, favourite=True, times_sent=3)) == 1
        assert level(candidate(1, times_sent=3)) == 3

    def test_favourite_comes_back_within_the_round(self) -> None:
        """A favourite sent once is still in the current round; a plain highlight is not."""
        pool = [
            candidate(1, times_sent=1, favourite=True, book_id=1),
            candidate(2, times_sent=1, book_id=2),
            candidate(3, times_sent=2, book_id=3),
        ]
        assert select_highlights(pool, 1, 3, now=NOW) == [1]

    def test_no_repeat_until_library_comes_round(self) -> None:
        """Over many digests, every highlight is sent once before any is sent twice."""
        pool = [*library(7, 13), candidate(500, book_id=9, book_weight=2.0)]
        pool += [candidate(600 + i, book_id=10, book_weight=0.5) for i in range(9)]
        history, _ = simulate(pool, n=5, digests=80, seed=11)
        sent: Counter[int] = Counter()
        total = len(pool)
        for chosen in history:
            assert len(chosen) == len(set(chosen)) == 5
            for highlight_id in chosen:
                sent[highlight_id] += 1
            # After k highlights, counts differ by at most one: a round completes first.
            assert max(sent.values()) - min(sent[c.highlight_id] for c in pool) <= 1
        assert sum(sent.values()) == 80 * 5
        assert min(sent[c.highlight_id] for c in pool) == (80 * 5) // total

    def test_favourites_are_seen_more_often(self) -> None:
        """Over many digests a favourite is sent about twice as often as the others."""
        pool = library(5, 10)
        favourites = {3, 17, 42}
        pool = [replace(c, favourite=c.highlight_id in favourites) for c in pool]
        history, final = simulate(pool, n=4, digests=100, seed=5)
        counts = {c.highlight_id: c.times_sent for c in final}
        plain = [v for k, v in counts.items() if k not in favourites]
        assert min(counts[f] for f in favourites) >= 2 * max(plain) - 1
        assert sum(len(chosen) for chosen in history) == 400


class TestSpread:
    def test_at_most_a_fair_share_per_book(self) -> None:
        """With enough books, no book gives more than ceil(n / books) highlights."""
        pool = library(4, 30)
        for seed in range(30):
            chosen = select_highlights(pool, 6, seed, now=NOW)
            books = Counter((h - 1) // 30 for h in chosen)
            assert max(books.values()) <= 2, (seed, chosen)

    def test_one_big_book_does_not_crowd_out_small_ones(self) -> None:
        """A 200-highlight book and two 2-highlight books: the small ones get their share."""
        pool = library(1, 200) + [candidate(1000 + i, book_id=50 + i // 2) for i in range(4)]
        chosen = select_highlights(pool, 3, 9, now=NOW)
        assert len({h for h in chosen if h >= 1000}) == 2

    def test_cap_relaxed_when_only_one_book_left_in_round(self) -> None:
        """The per-book cap gives way rather than repeat a highlight from another book."""
        pool = [*library(1, 10), candidate(99, book_id=2, times_sent=1)]
        chosen = select_highlights(pool, 5, 2, now=NOW)
        assert 99 not in chosen
        assert len(chosen) == 5


class TestWeightAndRest:
    def test_more_books_come_earlier_in_the_round(self) -> None:
        """A "more" book's highlights are chosen first far more often than a "less" book's."""
        more = [candidate(i, book_id=1, book_weight=2.0) for i in range(1, 51)]
        less = [candidate(100 + i, book_id=2, book_weight=0.5) for i in range(1, 51)]
        first = Counter(
            select_highlights(more + less, 1, seed, now=NOW)[0] < 100 for seed in range(400)
        )
        # Weights 2 : 0.5 give the "more" book 80% of first picks.
        assert 280 <= first[True] <= 360

    def test_recently_sent_goes_last_in_its_level(self) -> None:
        """A favourite sent yesterday waits behind unsent highlights of its level."""
        pool = [candidate(1, times_sent=1, favourite=True, last_sent_at=NOW - timedelta(days=1))]
        pool += [candidate(i, book_id=i) for i in range(2, 6)]
        for seed in range(20):
            assert 1 not in select_highlights(pool, 4, seed, now=NOW)
        assert 1 in select_highlights(pool, 5, 0, now=NOW)

    def test_rested_favourite_competes_normally(self) -> None:
        """A favourite sent long ago is as likely as any other highlight of its level."""
        pool = [candidate(1, times_sent=1, favourite=True, last_sent_at=NOW - timedelta(days=30))]
        pool += [candidate(i, book_id=i) for i in range(2, 6)]
        hits = sum(1 in select_highlights(pool, 1, seed, now=NOW) for seed in range(500))
        assert 60 <= hits <= 140  # 1 in 5


class TestDeterminism:
    def test_same_seed_same_choice(self) -> None:
        """The same seed and candidates give the same ids, whatever the input order."""
        pool = library(6, 20)
        shuffled = pool[:]
        random.Random(3).shuffle(shuffled)
        assert select_highlights(pool, 5, "digest-42", now=NOW) == select_highlights(
            shuffled, 5, "digest-42", now=NOW
        )

    def test_different_seeds_differ(self) -> None:
        """Different seeds give different digests (the choice is not fixed)."""
        pool = library(6, 20)
        choices = {tuple(select_highlights(pool, 5, seed, now=NOW)) for seed in range(20)}
        assert len(choices) > 15

    def test_accepts_a_random_instance(self) -> None:
        """A random.Random seeded alike gives the same choice as the seed itself."""
        pool = library(3, 10)
        assert select_highlights(pool, 4, random.Random(8), now=NOW) == select_highlights(
            pool, 4, 8, now=NOW
        )


class TestDescribeRound:
    def test_fresh_library(self) -> None:
        """Nothing sent yet: 0 of the eligible total."""
        pool = [*library(2, 5), candidate(99, discarded=True)]
        assert describe_round(pool) == RoundStatus(position=0, total=10)

    def test_counts_what_this_digest_sends(self) -> None:
        """The chosen highlights count as sent: "3 of 10" after the first digest of three."""
        pool = library(2, 5)
        assert describe_round(pool, chosen={1, 2, 3}) == RoundStatus(position=3, total=10)

    def test_mid_round(self) -> None:
        """Highlights above the lowest level are the ones already sent this round."""
        pool = [candidate(i, times_sent=2 if i <= 37 else 1) for i in range(1, 413)]
        assert describe_round(pool) == RoundStatus(position=37, total=412)

    def test_completed_round_reads_full(self) -> None:
        """A digest that completes the round reads "10 of 10", not "0 of 10"."""
        pool = [candidate(i, times_sent=1 if i > 2 else 0) for i in range(1, 11)]
        assert describe_round(pool, chosen={1, 2}) == RoundStatus(position=10, total=10)


class TestSelectionProperties:
    @given(
        flags=st.lists(
            st.tuples(
                st.integers(0, 4),  # book
                st.integers(0, 3),  # times sent
                st.booleans(),  # favourite
                st.booleans(),  # discarded
                st.sampled_from([0.0, 0.5, 1.0, 2.0]),
            ),
            max_size=40,
        ),
        n=st.integers(0, 15),
        seed=st.integers(0, 2**32),
    )
    def test_respects_every_rule(
        self, flags: list[tuple[int, int, bool, bool, float]], n: int, seed: int
    ) -> None:
        """Chosen ids are distinct, eligible, at most n, and never skip a lower level."""
        pool = [
            candidate(i, book_id=b, times_sent=t, favourite=f, discarded=d, book_weight=w)
            for i, (b, t, f, d, w) in enumerate(flags)
        ]
        chosen = select_highlights(pool, n, seed, now=NOW)
        eligible = {c.highlight_id: c for c in pool if not c.discarded and c.book_weight > 0}
        assert len(chosen) == len(set(chosen)) == min(n, len(eligible))
        assert set(chosen) <= set(eligible)
        if chosen:
            highest = max(level(eligible[h]) for h in chosen)
            left_out = set(eligible) - set(chosen)
            assert all(level(eligible[h]) >= highest for h in left_out)
        assert chosen == select_highlights(list(reversed(pool)), n, seed, now=NOW)
