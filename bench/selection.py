"""What choosing one digest costs, pure code only: the rotation over its window vs over all.

    .venv/bin/python bench/selection.py [--digests 3000] [--quality]

For libraries of 200 and 2,000 highlights (20 books, mixed weights, 10% favourites) it plans
digests of 5 one after another and prints the time per digest of:

- the rotation as the planner calls it: `plan_digest` over the window rows the planner's
  query returns (the query itself is not timed; `bench/plan.py` measures the planner whole);
- the rotation handed the whole library (what a planner that did not use the window would
  pay; the old selection, removed with issue 8's planner, paid more than that).

Each figure is the best of 20 chunks (the machine is shared; see `per_digest`). The figure
that matters is each line's ratio between 2,000 and 200 highlights: the rotation
over its window should stay flat (the issue's target is within 1.3x), the other grows with
the library. `--quality` also prints, for a simulated daily year, the sends per highlight of
"less", "more" and favourites against normal, and the biggest book's share of each round's
last quarter (the simulator of the tests drives the rotation, so the figures are those the
tests assert).
"""

from __future__ import annotations

import argparse
import gc
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
    Entry,
    Newcomer,
    Reader,
    digest_seed,
    place,
    plan_digest,
    window,
)
from clippost.selection.rates import round_of  # noqa: E402

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


Step = Callable[[], float]


def rotation_steps(size: int, *, whole: bool) -> Step:
    """One digest per call: plan_digest over the window rows (or every row), timed alone;
    then the picks' turns and the clock are written back, as the planner does."""
    reader, entries = rotation_library(size)
    rows = {entry.highlight_id: entry for entry in entries}
    count = 0

    def step() -> float:
        nonlocal reader, count
        given = list(rows.values()) if whole else window(rows.values(), N)
        seed = digest_seed(1, str(count))
        started = time.perf_counter()
        digest = plan_digest(reader, given, N, today=TODAY, seed=seed)
        spent = time.perf_counter() - started
        for highlight_id, turn in digest.turns.items():
            rows[highlight_id] = replace(rows[highlight_id], turn=turn)
        reader = replace(reader, clock=digest.clock)
        count += 1
        return spent

    return step


def per_digest(small: Step, large: Step, digests: int) -> tuple[float, float]:
    """Seconds per digest of each: the best of 20 chunks' means, the chunks of the two run
    alternately (a busy machine slows both alike; the best chunk is the one it slowed
    least), with the garbage collector held off the timed calls."""
    best = [float("inf"), float("inf")]
    chunk = max(digests // 20, 1)
    gc.disable()
    try:
        for _ in range(0, digests, chunk):
            for side, step in enumerate((small, large)):
                best[side] = min(best[side], sum(step() for _ in range(chunk)) / chunk)
            gc.collect()
    finally:
        gc.enable()
    return best[0], best[1]


def cost_table(digests: int) -> None:
    lines: list[tuple[str, Step, Step, int]] = [
        ("rotation, window rows", *_pair(lambda s: rotation_steps(s, whole=False)), digests),
        ("rotation, whole library", *_pair(lambda s: rotation_steps(s, whole=True)), digests),
    ]
    print(f"{'per digest of 5':<26}{'200':>12}{'2,000':>12}{'2,000 / 200':>14}")
    for label, small, large, count in lines:
        a, b = per_digest(small, large, count)
        print(f"{label:<26}{a * 1e6:>10.1f}us{b * 1e6:>10.1f}us{b / a:>13.2f}x")


def _pair(make: Callable[[int], Step]) -> tuple[Step, Step]:
    return make(200), make(2000)


# --quality: a simulated year of the rotation ------------------------------------

# (weight, highlights, favourites) per book: "less", "normal", "more", and a big normal book.
BOOKS = {1: (0.5, 60, 6), 2: (1.0, 60, 0), 3: (2.0, 60, 0), 4: (1.0, 120, 0)}
Year = tuple[dict[int, int], dict[int, int], set[int], dict[int, list[tuple[int, int]]]]


def rotation_year() -> Year:
    """(sends, book, favourites, sends per round as (turn, book)) after a daily year."""
    from tests.selection.simulation import Library, New

    lib = Library(check_locality=False)
    arrivals = []
    for book, (weight, size, favourites) in BOOKS.items():
        lib.add_book(book, weight)
        arrivals += [New(book=book, favourite=i < favourites) for i in range(size)]
    lib.import_(arrivals)
    rounds: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
    for day in range(365):
        before = {e.highlight_id: e.turn for e in lib.entries()}
        for highlight_id in lib.digest(N, TODAY + timedelta(days=day)).ids:
            turn = before[highlight_id]
            rounds[round_of(turn)].append((turn, lib.items[highlight_id].book))
    items = lib.items.values()
    return (
        {item.id: item.sends for item in items},
        {item.id: item.book for item in items},
        {item.id for item in items if item.favourite},
        rounds,
    )


def describe(year: Year) -> str:
    sends, books, favourites, rounds = year

    def per(book: int, favourite: bool) -> float:
        mine = [n for i, n in sends.items() if books[i] == book and (i in favourites) == favourite]
        return sum(mine) / len(mine)

    normal = per(2, False)
    worst = 0.0
    for complete in list(rounds.values())[:-1]:
        tail = Counter(book for _, book in sorted(complete)[len(complete) * 3 // 4 :])
        worst = max(worst, tail[4] / sum(tail.values()))
    return (
        f"less/normal {per(1, False) / normal:.2f}, more/normal {per(3, False) / normal:.2f}, "
        f"favourite/normal {per(1, True) / per(1, False):.2f}; the big book (40% of the "
        f"library) in a round's last quarter: at most {worst:.0%}"
    )


SPREAD_BOOKS = (40, 30, 20, 15, 10, 5)  # all normal; no book over a third


def rotation_breaches() -> int:
    """Digests of a daily year over half one book while 3+ books had highlights left in the
    round (the rule read literally, over the whole library)."""
    from tests.selection.simulation import Library, New

    lib = Library(check_locality=False)
    for book in range(1, len(SPREAD_BOOKS) + 1):
        lib.add_book(book)
    lib.import_([New(book=b) for b, size in enumerate(SPREAD_BOOKS, 1) for _ in range(size)])
    breaches = 0
    for day in range(365):
        end = (min(item.turn for item in lib.items.values()) // (1 << 32) + 1) << 32
        waiting = {item.book for item in lib.items.values() if item.turn < end}
        ids = lib.digest(N, TODAY + timedelta(days=day)).ids
        breaches += _over_half(Counter(lib.items[i].book for i in ids), len(waiting))
    return breaches


def _over_half(books: Counter[int], waiting: int) -> bool:
    return waiting >= 3 and 2 * max(books.values()) > sum(books.values())


def quality() -> None:
    print("a daily year of 5, books less 60 (6 favourites), normal 60, more 60, normal 120:")
    print(f"  rotation: {describe(rotation_year())}")
    print(f"a daily year of 5, normal books of {', '.join(map(str, SPREAD_BOOKS))} highlights,")
    print("digests over half one book while 3+ books had highlights left in the round:")
    print(f"  rotation: {rotation_breaches()} of 365")


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
