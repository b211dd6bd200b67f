"""How fast the planner plans a whole hour's digests, with one planner and with several.

    python bench/plan.py --database URL --subscribers N --highlights H [--planners P]
                         [--stale]

Wipes the database it is given (every table dropped) and migrates it, then seeds, with
set-based INSERT ... SELECT statements generated in the database (generate_series on
PostgreSQL, a recursive CTE on SQLite; indexes and constraints built after the rows;
then VACUUM ANALYZE on PostgreSQL, ANALYZE on SQLite, as after each reset between runs):
N confirmed readers, daily, all due in the same hour (their stored slot a minute ago),
each with H highlights of realistic lengths (60 to 400 characters of prose) over five
books (one of them "more"), one in ten a favourite, one in twenty discarded, each with a
page, a location and a date.

The readers' rotations are seeded laid out (turns spread over the round, strides matching
their weights), as the planner leaves a library between two changes: the steady state,
in which a digest reads only its window. `--stale` seeds them as a fresh import leaves them
(unplaced, marked stale), so every reader's first digest lays out the whole library first.

Then it runs one planner process (`plan_due` at the seeded moment), resets what planning
wrote (the digests, skipped records, turns, counters and slots), and runs P planner
processes at once (default 2). It prints each run's rate (readers planned per second, from
the first planner's start to the last one's end, process start-up excluded), each
planner's share, the ratio of P planners to one, each planner's peak memory (ru_maxrss),
the planners' own CPU time per reader (the machine is shared: that figure moves less than
the rate), on PostgreSQL the WAL written per reader and how many of its records were
full-page images (what grows with the libraries' size: `pg_stat_wal`), and checks that
each run left exactly one digest per reader. With `--breakdown`
(and the database on this machine) it adds what the cores allow: the planners and the
server share them, so two planners on two cores cannot reach twice one planner's rate.
The last run's rows stay in place for inspection. `--reuse` skips the wipe and seed when
the database already holds N x H readers and highlights (a run's rows), resetting them
instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

ROOT = Path(__file__).resolve().parents[1]

from clippost.cli import _loop_factory  # noqa: E402
from clippost.config import Settings  # noqa: E402
from clippost.context import ServiceContext  # noqa: E402
from clippost.db.base import UTCDateTime  # noqa: E402
from clippost.db.dialect import normalise_database_url  # noqa: E402
from clippost.db.engine import Database  # noqa: E402
from clippost.db.migrate import upgrade  # noqa: E402
from clippost.links import Links  # noqa: E402
from clippost.planner.service import plan_due  # noqa: E402
from clippost.selection import ONE  # noqa: E402
from plan_breakdown import Breakdown, show  # noqa: E402

SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123"  # noqa: S105 (bench only)
NOW = datetime(2026, 11, 23, 7, 1, tzinfo=UTC)
SLOT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
BOOKS = 5
LOREM = (
    "It is a truth universally acknowledged that the mind wanders most when the hands are "
    "busy, and that what we read in the evening returns to us in the morning, changed, as "
    "if someone had been rearranging the furniture of our thoughts while we slept. The "
    "river does not remember its source, yet every drop of it was once rain on a hill "
    "nobody climbs. We keep the passages that hurt a little, the ones that name something "
    "we had felt without words, and we forget them anyway, which is why we write them "
    "down, and why we should read them again. Attention is the rarest and purest form of "
    "generosity; a library is a garden of forking paths, each sentence a door half open. "
)


# Seeding -------------------------------------------------------------------------------------


def series(dialect: str, name: str, count: str) -> str:
    """A FROM item yielding `name` = 0 .. count-1."""
    if dialect == "postgresql":
        return f"generate_series(0, {count} - 1) AS {name}({name})"
    return (
        f"(WITH RECURSIVE r(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM r WHERE x + 1 < "
        f"{count}) SELECT x AS {name} FROM r) AS {name}_t"
    )


def seed_statements(
    dialect: str, n: int, h: int, *, stale: bool, hour: int = SLOT.hour
) -> list[str]:
    """The seeding SQL: readers, books, highlights (ids chosen so that a highlight's index
    within its reader is (id - 1) % h, which `reset` uses); the readers' hour is `hour` UTC,
    the hour of the `:slot` bound (bench/send.py seeds this hour's slot)."""
    in_rotation = h - sum(1 for k in range(h) if k % 20 == 7)
    false, true = ("false", "true") if dialect == "postgresql" else ("0", "1")
    text_len = len(LOREM)
    weight = "(CASE WHEN k % 5 = 4 THEN 2 ELSE 1 END)"
    favourite = "(CASE WHEN k % 10 = 3 THEN 2 ELSE 1 END)"
    turn = "NULL" if stale else f"((k * 7919) % {h}) * ({ONE} / {h})"
    stride = "NULL" if stale else f"({ONE} / ({weight} * {favourite}))"
    slot, now = (
        ("CAST(:slot AS timestamptz)", "CAST(:now AS timestamptz)")
        if dialect == "postgresql"
        else (":slot", ":now")
    )
    made = (
        "(timestamp '2019-01-01 08:00:00' + (k * 3 || ' days')::interval)"
        if dialect == "postgresql"
        else "datetime('2019-01-01 08:00:00', '+' || (k * 3) || ' days')"
    )
    return [
        f"""INSERT INTO subscribers (id, email, status, cadence, hour, weekday, day_of_month,
            timezone, per_email, next_slot_at, link_generation, created_at, confirmed_at,
            rotation_clock, rotation_size, rotation_stale)
        SELECT s + 1, 'reader' || (s + 1) || '@example.org', 'confirmed', 'daily', {hour}, 0, 1,
            'UTC', 5, {slot}, 0, {now}, {now}, 0, {0 if stale else in_rotation},
            {true if stale else false}
        FROM {series(dialect, "s", str(n))}""",
        f"""INSERT INTO books (id, subscriber_id, identity, title, author, frequency, created_at)
        SELECT s * {BOOKS} + b + 1, s + 1, 'book-' || b,
            'The Collected Essays, Volume ' || (b + 1), 'Montaigne, Michel de',
            CASE WHEN b = 4 THEN 'more' ELSE 'normal' END, {now}
        FROM {series(dialect, "s", str(n))}, {series(dialect, "b", str(BOOKS))}""",
        f"""INSERT INTO highlights (id, subscriber_id, book_id, identity, text, note, page,
            location_start, location_end, highlighted_at, favourite, discarded, created_at)
        SELECT s * {h} + k + 1, s + 1, s * {BOOKS} + k % {BOOKS} + 1, 'h-' || k,
            substr(:lorem, 1 + (k * 37 + s) % {text_len - 400}, 60 + (k * 7919 + s * 13) % 340),
            CASE WHEN k % 7 = 0 THEN 'A note on this one.' ELSE NULL END,
            CAST(10 + k AS TEXT), 100 + k * 10, 103 + k * 10, {made},
            k % 10 = 3, k % 20 = 7, {now}
        FROM {series(dialect, "s", str(n))}, {series(dialect, "k", str(h))}""",
    ] + (
        []
        if stale
        else [
            # The rotation as the planner lays it out (models/rotation.py): book 4 is "more".
            f"""INSERT INTO rotation (highlight_id, subscriber_id, book_id, weight, favourite,
                highlighted_at, turn, stride, in_rotation, times_sent)
            SELECT s * {h} + k + 1, s + 1, s * {BOOKS} + k % {BOOKS} + 1, {weight}, k % 10 = 3,
                {made}, {turn}, {stride}, NOT (k % 20 = 7), 0
            FROM {series(dialect, "s", str(n))}, {series(dialect, "k", str(h))}"""
        ]
    )


def reset_statements(dialect: str, h: int, *, stale: bool) -> list[str]:
    """Undo a planning run: the seeded turns, counters and slots back, the digests gone."""
    turn = f"(((highlight_id - 1) % {h}) * 7919 % {h}) * ({ONE} / {h})"
    slot = "CAST(:slot AS timestamptz)" if dialect == "postgresql" else ":slot"
    return [
        "DELETE FROM outbox",
        "DELETE FROM skipped_digests",
        "DELETE FROM rotation"
        if stale
        else (
            f"UPDATE rotation SET turn = {turn}, times_sent = 0, last_sent_at = NULL "
            "WHERE times_sent > 0"
        ),
        f"UPDATE subscribers SET next_slot_at = {slot}, rotation_clock = 0"
        + (", rotation_stale = true, rotation_size = 0" if stale else ""),
    ]


def _typed(statement: str) -> TextClause:
    """The statement with its moments bound as the UTC columns bind them."""
    clause = text(statement)
    names = [name for name in ("slot", "now") if f":{name}" in statement]
    return clause.bindparams(*(bindparam(name, type_=UTCDateTime()) for name in names))


async def wipe(url: str) -> None:
    if url.startswith("sqlite"):
        # The file and its WAL removed: dropping the tables one by one makes SQLite delete
        # every row first, through each foreign key's cascade (minutes for millions).
        path = Path(url.split(":///", 1)[1])
        for suffix in ("", "-wal", "-shm", "-writers"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


# Indexes and constraints of the seeded tables that are dropped while seeding and built
# afterwards (building an index once is far cheaper than maintaining it row by row).
_SEEDED = ("subscribers", "books", "highlights", "rotation")


async def _secondary_indexes(connection: AsyncConnection, sqlite: bool) -> list[tuple[str, str]]:
    """(drop statement, create statement) of each seeded table's secondary index."""
    if sqlite:
        rows = await connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN ('subscribers', 'books', 'highlights', 'rotation')"
            )
        )
        return [(f'DROP INDEX "{name}"', sql) for name, sql in rows]
    found = []
    for table in _SEEDED:
        constraints = await connection.execute(
            text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype IN ('u', 'f')"
            ),
            {"t": table},
        )
        for name, definition in constraints:
            found.append(
                (
                    f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                    f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}',
                )
            )
        indexes = await connection.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes AS i WHERE i.tablename = :t "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conname = i.indexname)"
            ),
            {"t": table},
        )
        found += [(f'DROP INDEX "{name}"', definition) for name, definition in indexes]
    return found


async def seed(
    url: str, n: int, h: int, *, stale: bool, slot: datetime = SLOT, now: datetime = NOW
) -> float:
    """Wipe, migrate and seed `url`; returns the seconds seeding took. The readers are due at
    `slot` (on the hour), as seen at `now`."""
    await wipe(url)
    db = Database(url)
    try:
        await upgrade(db)
        started = time.perf_counter()
        async with db.engine.begin() as connection:
            rebuilt = await _secondary_indexes(connection, db.is_sqlite)
            # Foreign keys are dropped with the rest on PostgreSQL, unenforced on SQLite.
            for drop, _ in rebuilt:
                await connection.execute(text(drop))
            if db.is_sqlite:
                await connection.execute(text("PRAGMA foreign_keys=OFF"))
            for statement in seed_statements(db.dialect, n, h, stale=stale, hour=slot.hour):
                params = {"slot": slot, "now": now, "lorem": LOREM}
                await connection.execute(_typed(statement), params)
            for _, create in rebuilt:
                await connection.execute(text(create))
        await _settle(db)
        return time.perf_counter() - started
    finally:
        await db.dispose()


async def seeded(url: str) -> tuple[int, int]:
    """(readers, highlights) the database holds, or (0, 0) without a schema."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            readers = await connection.scalar(text("SELECT count(*) FROM subscribers"))
            rows = await connection.scalar(text("SELECT count(*) FROM highlights"))
        return int(readers or 0), int(rows or 0)
    except DBAPIError:
        return 0, 0
    finally:
        await db.dispose()


async def reset(url: str, h: int, *, stale: bool) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            for statement in reset_statements(db.dialect, h, stale=stale):
                await connection.execute(_typed(statement), {"slot": SLOT})
        await _settle(db)
    finally:
        await db.dispose()


async def _settle(db: Database) -> None:
    """Statistics for the planner's queries, and on PostgreSQL the seeded or reset rows
    vacuumed: their hint bits set and their pages all-visible, as in a running service,
    rather than left for the measured run (which would set each page's hint bits, writing
    it and its WAL, beside an autovacuum of the freshly loaded tables). Seeding and the
    reset between runs end the same way, so every run starts from the same state."""
    if db.is_sqlite:
        async with db.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        return
    autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as connection:
        await connection.execute(text("VACUUM ANALYZE"))


async def check(url: str, n: int) -> tuple[int, int]:
    """(digest rows, readers with exactly one digest)."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            rows = await connection.scalar(text("SELECT count(*) FROM outbox"))
            once = await connection.scalar(
                text(
                    "SELECT count(*) FROM (SELECT subscriber_id FROM outbox "
                    "GROUP BY subscriber_id HAVING count(*) = 1) AS one"
                )
            )
        return int(rows or 0), int(once or 0)
    finally:
        await db.dispose()


# Planner processes -----------------------------------------------------------------------


def settings_for(url: str, data_dir: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=url,
        base_url="https://clippost.example.org",
        secret_key=SECRET,
        mail_from="news@clippost.example.org",
    )


async def planner(url: str, *, breakdown: bool) -> dict[str, Any]:
    """One planner process's run: plan everything due at NOW, report its figures."""
    with tempfile.TemporaryDirectory() as folder:
        settings = settings_for(url, Path(folder))
        links = Links.from_settings(settings, SECRET)
        ctx = ServiceContext(settings=settings, links=links, now=NOW, mail_domain="example.org")
        db = Database(normalise_database_url(url))
        steps = Breakdown()
        if breakdown:
            steps.attach(db.engine)
        try:
            async with db.engine.connect():
                pass  # the pool's first connection, before the clock starts
            started, cpu = time.time(), time.process_time()
            planned = await plan_due(db, ctx)
            ended, cpu = time.time(), time.process_time() - cpu
            figures = steps.as_dict()  # while the connections are open (their server CPU)
        finally:
            await db.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "planned": planned,
        "started": started,
        "ended": ended,
        "cpu": cpu,
        "peak_mb": peak_mb,
        "steps": figures,
    }


def run_planners(url: str, count: int, *, breakdown: bool = False) -> list[dict[str, Any]]:
    script = str(Path(__file__).resolve())
    flags = ["--breakdown"] if breakdown else []
    processes = [
        subprocess.Popen(
            [sys.executable, script, "--planner-process", url, *flags],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a planner process failed (exit {process.returncode})")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def report(label: str, results: list[dict[str, Any]], n: int, wal: Wal | None = None) -> float:
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    planned = sum(r["planned"] for r in results)
    rate = planned / span if span else 0.0
    shares = ", ".join(f"{int(r['planned']):,}" for r in results)
    peaks = ", ".join(f"{r['peak_mb']:.0f} MB" for r in results)
    cpu = sum(r["cpu"] for r in results)
    print(f"{label}: {rate:,.0f} subscribers/s ({planned:,.0f} of {n:,} in {span:.1f} s)")
    print(f"  each planner planned: {shares}; peak memory per planner: {peaks}")
    print(
        f"  planner CPU: {cpu * 1e6 / max(planned, 1):,.0f} us per reader "
        f"({planned / cpu if cpu else 0:,.0f} readers per planner CPU second; the database's "
        "own CPU is not counted)"
    )
    if any(r["steps"] for r in results):
        server = show([r["steps"] for r in results], int(planned), span * len(results))
        if server is not None and planned:
            ceiling(rate, cpu * 1e6 / planned, server, len(results))
    if wal is not None:
        per = max(planned, 1)
        images = (
            ""
            if wal.images is None
            else f", {wal.images / per:.1f} full-page images per reader (up to 8 KB each: "
            "a page's first change after a checkpoint is logged whole)"
        )
        print(f"  WAL written: {wal.bytes / per:,.0f} bytes per reader{images}")
    return rate


def ceiling(rate: float, planner_us: float, server_us: float, planners: int) -> None:
    """What this machine's cores allow, from the run's own CPU figures: each planner
    process runs on one core at most, and every reader costs the planners' CPU and the
    database's, on the same cores when the server is on this machine (as `--breakdown`
    reads it). A ratio of two planners to one is bounded by this, not only by the code."""
    cores = os.cpu_count() or 1
    allowed = min(planners * 1e6 / planner_us, cores * 1e6 / (planner_us + server_us))
    print(
        f"  what the cores allow: at most {allowed:,.0f} readers/s ({planners} planner "
        f"process(es) at {planner_us:,.0f} us a reader; {cores} cores for "
        f"{planner_us + server_us:,.0f} us of planner and database CPU a reader); "
        f"this run reached {rate / allowed:.0%} of it"
    )


@dataclass(frozen=True)
class Wal:
    """What PostgreSQL's WAL had received, server-wide: bytes (its insert position) and
    full-page images (`pg_stat_wal`, PostgreSQL 14 and later; None before)."""

    bytes: int
    images: int | None

    def __sub__(self, other: Wal) -> Wal:
        images = None if self.images is None or other.images is None else self.images - other.images
        return Wal(self.bytes - other.bytes, images)


async def wal_position(url: str) -> Wal | None:
    """The WAL so far (None on SQLite). The image count is read until it stops moving: a
    backend flushes its statistics when its connection ends, a moment after the planner
    process that held it has exited."""
    db = Database(url)
    try:
        if db.is_sqlite:
            return None
        async with db.engine.connect() as connection:
            lsn = await connection.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
            images = await _wal_images(connection)
            for _ in range(10):
                await asyncio.sleep(0.1)
                again = await _wal_images(connection)
                if again == images:
                    break
                images = again
        return Wal(int(lsn), images)
    finally:
        await db.dispose()


async def _wal_images(connection: AsyncConnection) -> int | None:
    if connection.dialect.server_version_info < (14,):
        return None  # no pg_stat_wal
    await connection.commit()  # statistics are read once per transaction: a fresh read
    return int(await connection.scalar(text("SELECT wal_fpi FROM pg_stat_wal")) or 0)


def timed_run(url: str, count: int, breakdown: bool) -> tuple[list[dict[str, Any]], Wal | None]:
    """`count` planners' results, and the WAL they wrote (PostgreSQL)."""
    before = asyncio.run(wal_position(url))
    results = run_planners(url, count, breakdown=breakdown)
    after = asyncio.run(wal_position(url))
    return results, (after - before if after is not None and before is not None else None)


def verify(url: str, n: int) -> None:
    rows, once = asyncio.run(check(url, n))
    verdict = "ok" if rows == n and once == n else "FAILED"
    print(f"  exactly one digest per reader: {verdict} ({rows:,} digests, {once:,} readers once)")
    if verdict != "ok":
        raise SystemExit(1)


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "--planner-process":
        breakdown = sys.argv[3:] == ["--breakdown"]
        # On the event loop `clippost planner` runs on (uvloop's where installed).
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            print(json.dumps(runner.run(planner(sys.argv[2], breakdown=breakdown))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="sqlite:///path or postgresql://...")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--highlights", type=int, default=50)
    parser.add_argument("--planners", type=int, default=2)
    parser.add_argument("--stale", action="store_true", help="seed unplaced, stale libraries")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time each step of a batch (the database's statements, the commit) per reader",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="when the database already holds N x H from an earlier run, reset it instead of "
        "wiping and seeding again",
    )
    args = parser.parse_args()
    url = normalise_database_url(args.database)
    n, h = args.subscribers, args.highlights
    state = "stale (first digests lay out)" if args.stale else "laid out"
    if args.reuse and asyncio.run(seeded(url)) == (n, n * h):
        asyncio.run(reset(url, h, stale=args.stale))
        print(f"reused {n:,} readers x {h:,} highlights ({state}), reset")
    else:
        took = asyncio.run(seed(url, n, h, stale=args.stale))
        print(f"seeded {n:,} readers x {h:,} highlights ({state}) in {took:.1f} s")
    results, wal = timed_run(url, 1, args.breakdown)
    one = report("1 planner", results, n, wal)
    verify(url, n)
    asyncio.run(reset(url, h, stale=args.stale))
    results, wal = timed_run(url, args.planners, args.breakdown)
    many = report(f"{args.planners} planners", results, n, wal)
    verify(url, n)
    print(f"ratio {args.planners} planners / 1: {many / one:.2f}x" if one else "ratio: n/a")
    print("the last run's rows are left in place")


if __name__ == "__main__":
    main()
