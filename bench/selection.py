"""What choosing one digest costs, pure code only: the rotation vs the old selection.

    .venv/bin/python bench/selection.py [--digests 3000] [--quality]

For libraries of 200 and 2,000 highlights (20 books, mixed weights, 10% favourites) it plans
digests of 5 one after another and prints the time per digest of:

- the rotation as the planner will call it: `plan_digest` over the window rows the planner's
  query returns (the query itself is not timed; reading the rows is the database's cost);
- the rotation handed the whole library (what a planner that did not use the window would pay);
- the old selection (`select_highlights` + `describe_round` over every candidate), as today's
  planner calls it.

The figure that matters is each line's ratio between 2,000 and 200 highlights: the rotation
over its window should stay flat (the issue's target is within 1.3x), the others grow with the
library. `--quality` also prints, for a simulated year, the sends per highlight of "less",
"more" and favourites against normal, and how one book's share of a round's last quarter
compares with its share of the round, for the rotation and for the old selection.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clippost.selection import (  # noqa: E402
    Candidate,
    Entry,
    Newcomer,
    Reader,
    describe_round,
    digest_seed,
    place,
    plan_digest,
    select_highlights,
    window,
)

TODAY = date(2026, 3, 3)
NOW = datetime(2026, 3, 3, 7, tzinfo=UTC)
WEIGHTS = (0.5, 1.0, 1.0, 2.0)
N = 5


def rotation_library(size: int, seed: int = 1) -> tuple[Reader, list[Entry]]:
    rng = random.Random(seed)
    books = [rng.randrange(1, 21) for _ in range(size)]
    weight = {book: rng.choice(WEIGHTS) for book in range(1, 21)}
    favourite = [rng.random() < 0.1 for _ in range(size)]
    arrivals = [
        Newcomer(
            key=str(i), book_key=str(books[i]), weight=weight[books[i]], favourite=favourite[i]
        )
        for i in range(size)
    ]
    turns = place(Reader(), arrivals, salt="bench")
    entries = [
        Entry(i, books[i], turns[str(i)], weight=weight[books[i]], favourite=favourite[i])
        for i in range(size)
    ]
    return Reader(rotation_size=size), entries


def time_rotation(size: int, digests: int, *, whole: bool) -> float:
    """Seconds per digest of plan_digest, over the window rows or over every row."""
    reader, entries = rotation_library(size)
    rows = {entry.highlight_id: entry for entry in entries}
    spent = 0.0
    for index in range(digests):
        given = list(rows.values()) if whole else window(rows.values(), N)
        seed = digest_seed(1, str(index))
        started = time.perf_counter()
        digest = plan_digest(reader, given, N, today=TODAY, seed=seed)
        spent += time.perf_counter() - started
        for highlight_id, turn in digest.turns.items():
            rows[highlight_id] = replace(rows[highlight_id], turn=turn)
        reader = replace(reader, clock=digest.clock)
    return spent / digests


def legacy_library(size: int, seed: int = 1) -> list[Candidate]:
    rng = random.Random(seed)
    weight = {book: rng.choice(WEIGHTS) for book in range(1, 21)}
    return [
        Candidate(i, book, 0, None, rng.random() < 0.1, False, weight[book])
        for i, book in enumerate(rng.randrange(1, 21) for _ in range(size))
    ]


def time_legacy(size: int, digests: int) -> float:
    """Seconds per digest of today's planner's selection over every candidate."""
    pool = legacy_library(size)
    spent = 0.0
    for index in range(digests):
        at = NOW + timedelta(days=index)
        started = time.perf_counter()
        chosen = select_highlights(pool, N, f"1:{index}", now=at)
        describe_round(pool, chosen)
        spent += time.perf_counter() - started
        picked = set(chosen)
        pool = [
            replace(c, times_sent=c.times_sent + 1, last_sent_at=at)
            if c.highlight_id in picked
            else c
            for c in pool
        ]
    return spent / digests


def cost_table(digests: int) -> None:
    lines: list[tuple[str, Callable[[int], float]]] = [
        ("rotation, window rows", lambda size: time_rotation(size, digests, whole=False)),
        ("rotation, whole library", lambda size: time_rotation(size, digests, whole=True)),
        ("old selection", lambda size: time_legacy(size, max(digests // 10, 50))),
    ]
    print(f"{'per digest of 5':<26}{'200':>12}{'2,000':>12}{'2,000 / 200':>14}")
    for label, measure in lines:
        small, large = measure(200), measure(2000)
        print(f"{label:<26}{small * 1e6:>10.1f}us{large * 1e6:>10.1f}us{large / small:>13.2f}x")


# --quality: a simulated year, rotation vs old selection ------------------------------------


def quality() -> None:
    from tests.selection.simulation import Library, New

    sizes = {1: (0.5, 60), 2: (1.0, 60), 3: (2.0, 60), 4: (1.0, 120)}
    lib = Library(check_locality=False)
    for book, (weight, _) in sizes.items():
        lib.add_book(book, weight)
    lib.import_(
        [New(book=b, favourite=i < 6) for b, (_, size) in sizes.items() for i in range(size)]
    )
    start = {e.highlight_id: e.turn for e in lib.entries()}
    rounds: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for day in range(365):
        before = {e.highlight_id: e.turn for e in lib.entries()}
        for highlight_id in lib.digest(N, TODAY + timedelta(days=day)).ids:
            rounds[before[highlight_id] >> 32].append(
                (before[highlight_id], lib.items[highlight_id].book)
            )
    del start
    sends = {i: item.sends for i, item in lib.items.items()}
    books = {i: item.book for i, item in lib.items.items()}
    favourites = {i for i, item in lib.items.items() if item.favourite}
    print("rotation:      ", _ratios(sends, books, favourites), _last_quarter(rounds))
    print("old selection: ", *_legacy_year(sizes))


def _ratios(sends: dict[int, int], books: dict[int, int], favourites: set[int]) -> str:
    def per(book: int, favourite: bool) -> float:
        mine = [sends[i] for i in sends if books[i] == book and (i in favourites) == favourite]
        return sum(mine) / len(mine)

    normal = per(2, False)
    return (
        f"less/normal {per(1, False) / normal:.2f}, more/normal {per(3, False) / normal:.2f}, "
        f"favourite/normal (less book) {per(1, True) / per(1, False):.2f};"
    )


def _last_quarter(rounds: dict[int, list[tuple[int, int]]]) -> str:
    complete = [sorted(sends) for sends in list(rounds.values())[:-1] if sends]
    worst = 0.0
    for sends in complete:
        tail = Counter(book for _, book in sends[len(sends) * 3 // 4 :])
        worst = max(worst, tail[4] / sum(tail.values()))
    return f"book 4 (120 of 300) in a round's last quarter: at most {worst:.0%}"


def _legacy_year(sizes: dict[int, tuple[float, int]]) -> tuple[str, str]:
    pool = []
    for book, (weight, size) in sizes.items():
        pool += [
            Candidate(len(pool) + 1 + i, book, 0, None, i < 6, False, weight) for i in range(size)
        ]
    rounds: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for day in range(365):
        at = NOW + timedelta(days=day)
        chosen = select_highlights(pool, N, f"1:{day}", now=at)
        level = {c.highlight_id: c.times_sent // 2 if c.favourite else c.times_sent for c in pool}
        order = {h: k for k, h in enumerate(chosen)}
        for highlight_id in chosen:
            rounds[level[highlight_id]].append(
                (day * N + order[highlight_id], books_of(pool)[highlight_id])
            )
        picked = set(chosen)
        pool = [
            replace(c, times_sent=c.times_sent + 1, last_sent_at=at)
            if c.highlight_id in picked
            else c
            for c in pool
        ]
    sends = {c.highlight_id: c.times_sent for c in pool}
    favourites = {c.highlight_id for c in pool if c.favourite}
    return _ratios(sends, books_of(pool), favourites), _last_quarter(rounds)


def books_of(pool: list[Candidate]) -> dict[int, int]:
    return {c.highlight_id: c.book_id for c in pool}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digests", type=int, default=3000)
    parser.add_argument("--quality", action="store_true")
    args = parser.parse_args()
    cost_table(args.digests)
    if args.quality:
        quality()


if __name__ == "__main__":
    main()
