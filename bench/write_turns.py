"""Writer starvation between processes on one SQLite file, and the turns that end it
(db/turns.py), measured apart from the web.

A job process writes transaction after transaction for `--seconds`, each holding the write
lock about as long as a merge chunk does (`--rows` rows inserted), as the worker merges a
big import; a bystander process makes one small write every 50 ms, as sign-ups and
unsubscribes do, and times each. Both use `Database.write`, the path the web and the
worker's merge use. With `--no-turns` the job begins its next transaction the instant it
commits (the worker's merge before issue 9's fix); by default it calls `Database.give_way`
between them. Prints the bystander's p50/p95/max wait and the job's transactions and hold.

    .venv/bin/python bench/write_turns.py [--seconds 10] [--rows 2000] [--no-turns]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.db.engine import Database

BYSTANDER_EVERY = 0.05


def url_of(folder: str) -> str:
    return f"sqlite+aiosqlite:///{Path(folder) / 'turns.db'}"


async def create(url: str) -> None:
    db = Database(url)
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)"))
    await db.dispose()


async def job(url: str, seconds: float, rows: int, turns: bool) -> tuple[int, list[float], float]:
    db = Database(url)
    holds: list[float] = []
    gave_way = 0.0
    body = "x" * 200

    async def chunk(session: AsyncSession) -> None:
        values = [{"body": f"{body}{n}"} for n in range(rows)]
        await session.execute(text("INSERT INTO rows (body) VALUES (:body)"), values)

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        await db.write(chunk)
        holds.append(time.perf_counter() - began)
        if turns:
            gave_way += await db.give_way()
    await db.dispose()
    return len(holds), holds, gave_way


async def bystander(url: str, seconds: float) -> list[float]:
    db = Database(url)
    waits: list[float] = []

    async def small(session: AsyncSession) -> None:
        await session.execute(text("INSERT INTO rows (body) VALUES ('bystander')"))

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        began = time.perf_counter()
        await db.write(small)
        waits.append(time.perf_counter() - began)
        await asyncio.sleep(BYSTANDER_EVERY)
    await db.dispose()
    return waits


def run_job(url: str, seconds: float, rows: int, turns: bool, out: Any) -> None:
    out.put(("job", asyncio.run(job(url, seconds, rows, turns))))


def run_bystander(url: str, seconds: float, out: Any) -> None:
    out.put(("bystander", asyncio.run(bystander(url, seconds))))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f}"


def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="clippost-turns-") as folder:
        url = url_of(folder)
        asyncio.run(create(url))
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        processes = [
            context.Process(target=run_job, args=(url, args.seconds, args.rows, args.turns, out)),
            context.Process(target=run_bystander, args=(url, args.seconds, out)),
        ]
        for process in processes:
            process.start()
        results = dict(out.get(timeout=args.seconds + 120) for _ in processes)
        for process in processes:
            process.join(timeout=30)
    transactions, holds, gave_way = results["job"]
    waits = sorted(results["bystander"])
    p95 = waits[min(len(waits) - 1, int(0.95 * len(waits)))]
    print(f"write turns: {'on' if args.turns else 'off (--no-turns)'}, {args.seconds:.0f} s")
    print(
        f"  job        {transactions:>6} transactions, hold p50 {ms(statistics.median(holds))} ms"
        f"  max {ms(max(holds))} ms; gave way {gave_way:.1f} s"
    )
    print(
        f"  bystander  {len(waits):>6} writes,       p50 {ms(statistics.median(waits))} ms"
        f"  p95 {ms(p95)} ms  max {ms(waits[-1])} ms"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--turns", action=argparse.BooleanOptionalAction, default=True)
    sys.exit(main(parser.parse_args()))
