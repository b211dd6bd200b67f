"""How fast the outbox path sends, beside the C reference and a naive Python sender.

Everything goes into Postfix's `smtp-sink` on loopback, in the same run:
  1. `smtp-source -s 8 -m N -l 5000`: the C reference client (the ceiling);
  2. a naive sender: render, stdlib EmailMessage, one aiosmtplib connection, sequential;
  3. one `clippost worker` process on SQLite: N digest rows (5 KB, text + HTML, each with
     its own highlights and signed links) enqueued, then claimed, rendered, sent, recorded;
  4. the same with DKIM, an RSA-2048 and an Ed25519 signature on every message (the worker's
     signing processes included in its CPU time);
  5. one, then two worker processes on PostgreSQL (when reachable);
  6. whole digests: R confirmed readers with H highlights each, seeded as bench/plan.py
     seeds them (five books, realistic lengths, favourites, discards and notes; its
     set-based INSERT ... SELECT), all due at this hour's slot, and an empty outbox; one
     worker process plans (selection included), renders, sends and records every digest,
     on SQLite, then one and two workers on PostgreSQL. The rotations are laid out (the
     steady state between two changes, as bench/plan.py's default); `--stale` seeds them
     as a fresh import leaves them, so each first digest lays out the whole library.
Worker rates are measured from the rows' own `finished_at` times (first to last recorded
batch), so process start-up is not counted; the wall time including start-up is shown too.
Whole digests are measured from the first digest planned (its `created_at`) to the last
recorded, so planning counts in full; each run checks one digest per reader. The workers'
CPU is shown while they worked (from the moment each had logged its start) and with their
start-up.
`--only-digests --profile`: one worker's planner and send loop in this process under cProfile
(bench/digest_profile.py), by thread, package and module.

    python bench/send.py [--n 20000] [--quick] [--profile] [--no-postgres] [--no-dkim]
                         [--readers 5000] [--highlights 50] [--no-digests] [--only-digests]
                         [--stale] [--postgres-database NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import asyncpg
from sqlalchemy import func, insert, select, text

import digest_profile  # bench/digest_profile.py: --only-digests --profile
import plan as plan_bench  # bench/plan.py, beside this script: the readers are seeded alike
from clippost.addresses import address_hash
from clippost.config import Settings
from clippost.db.base import Base
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.migrate import upgrade
from clippost.dkim.keys import generate_key, parse_key, sign_digest, write_new_key
from clippost.links import Links, Purpose
from clippost.models import OutboxMessage, Subscriber
from clippost.outbox.claims import ClaimedMessage
from clippost.rendering.environment import render_email
from clippost.rendering.messages import MessageRenderer
from clippost.rendering.mime import build_mime

SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123"  # noqa: S105 (a bench-only key)
BASE_URL = "https://clippost.example.org"
MAIL_FROM = "digest@clippost.example.org"
POSTGRES_ADMIN_URL = os.environ.get(
    "CLIPPOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
WORDS = [
    "the",
    "of",
    "memory",
    "reading",
    "light",
    "river",
    "quiet",
    "attention",
    "habit",
    "moment",
    "patience",
    "garden",
    "letter",
    "window",
    "morning",
    "silence",
    "wonder",
    "courage",
    "library",
    "margin",
    "ink",
    "thought",
    "stone",
    "season",
    "harbour",
    "lantern",
    "distance",
    "promise",
    "ordinary",
    "return",
    "kindness",
    "question",
]
TITLES = [
    ("Pilgrim at Tinker Creek", "Annie Dillard"),
    ("The Overstory", "Richard Powers"),
    ("Middlemarch", "George Eliot"),
    ("Meditations", "Marcus Aurelius"),
    ("Gilead", "Marilynne Robinson"),
    ("A Room of One’s Own", "Virginia Woolf"),
]


@dataclass
class Figure:
    name: str
    messages: int
    seconds: float
    cpu_seconds: float | None = None  # user + system time of the worker processes
    # The same from the moment every worker logged it had started to the last recorded:
    # without their start-up (imports, the database opened and migrations checked, the
    # transport), which is seconds of CPU a process on a loaded machine, hundreds of µs a
    # digest on 5,000 of them.
    working_cpu_seconds: float | None = None

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


# --- realistic digests -------------------------------------------------------------------


def sentence(rng: random.Random, words: int) -> str:
    chosen = " ".join(rng.choice(WORDS) for _ in range(words))
    return chosen[0].upper() + chosen[1:] + "."


def digest_payload(n: int, links: Links, now: datetime, rng: random.Random) -> dict[str, Any]:
    highlights = []
    # Two highlights a message: with the digest layout that is about 5 KB of MIME.
    for k in range(2):
        title, author = TITLES[(n + k) % len(TITLES)]
        highlight_id = n * 2 + k
        highlights.append(
            {
                "text": " ".join(sentence(rng, rng.randint(8, 14)) for _ in range(2)),
                "book_title": title,
                "book_author": author,
                "note": sentence(rng, 6) if n % 3 == k else None,
                "location_start": 100 + 37 * k,
                "location_end": 104 + 37 * k,
                "page": None,
                "favourite": n % 5 == k,
                "favourite_url": links.url(Purpose.FAVOURITE, highlight_id, now=now),
                "discard_url": links.url(Purpose.DISCARD, highlight_id, now=now),
            }
        )
    return {
        "highlights": highlights,
        "round_status": {"position": 2 * (n % 200), "total": 412},
        "manage_url": links.url(Purpose.MANAGE, n, now=now, extra="0"),
        "unsubscribe_url": links.url(Purpose.UNSUBSCRIBE, n, now=now),
    }


def outbox_rows(count: int) -> list[dict[str, Any]]:
    """Planned digests of confirmed readers (`reader_rows`), due at this hour's slot: the
    claim re-checks each against its reader's row, as it does in production."""
    now = datetime.now(UTC)
    links = Links(
        base_url=BASE_URL,
        secret_key=SECRET,
        confirm_ttl=timedelta(days=3),
        manage_ttl=timedelta(days=7),
        unsubscribe_mailbox=MAIL_FROM,
    )
    rng = random.Random(7)
    due = slot_of_this_hour()
    return [
        {
            "idempotency_key": f"digest:{n + 1}:{due:%Y-%m-%dT%H:%M}Z",
            "message_id": f"<{uuid.uuid4().hex}@clippost.example.org>",
            "kind": "digest",
            "requested": False,
            "recipient": f"reader{n}@example.net",
            "recipient_hash": address_hash(f"reader{n}@example.net"),
            "subscriber_id": n + 1,
            "payload": digest_payload(n, links, now, rng),
            "state": "pending",
            "due_at": due,
            "attempts": 0,
            "created_at": due,
        }
        for n in range(count)
    ]


@functools.cache
def slot_of_this_hour() -> datetime:
    """This hour's slot, fixed for the whole run: readers and their digests must agree on it
    even when the run crosses the hour (the claim cancels a digest off its reader's slots)."""
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def reader_rows(count: int) -> list[dict[str, Any]]:
    """The readers of `outbox_rows`: confirmed, daily at this hour (UTC), next slot tomorrow."""
    due = slot_of_this_hour()
    return [
        {
            "id": n + 1,
            "email": f"reader{n}@example.net",
            "status": "confirmed",
            "cadence": "daily",
            "hour": due.hour,
            "weekday": 0,
            "day_of_month": 1,
            "timezone": "UTC",
            "per_email": 5,
            "next_slot_at": due + timedelta(days=1),
            "link_generation": 0,
            "created_at": due,
            "confirmed_at": due,
        }
        for n in range(count)
    ]


def renderer() -> MessageRenderer:
    links = Links(
        base_url=BASE_URL,
        secret_key=SECRET,
        confirm_ttl=timedelta(days=3),
        manage_ttl=timedelta(days=7),
        unsubscribe_mailbox=MAIL_FROM,
    )
    return MessageRenderer(links=links, from_address=MAIL_FROM, from_name="clippost")


def as_claimed(row: dict[str, Any], n: int) -> ClaimedMessage:
    return ClaimedMessage(
        id=n,
        message_id=row["message_id"],
        kind="digest",
        requested=False,
        recipient=row["recipient"],
        recipient_hash=row["recipient_hash"],
        subscriber_id=n + 1,
        payload=row["payload"],
        attempts=1,
        created_at=row["created_at"],
        due_at=row["due_at"],
    )


# --- the sink and the reference client ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    user = ["-u", "root"] if os.geteuid() == 0 else []
    process = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "1000"])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    raise SystemExit("smtp-sink did not start (is the postfix package installed?)")


def smtp_source(port: int, count: int) -> Figure:
    source = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    started = time.perf_counter()
    subprocess.run(
        [source, "-s", "8", "-m", str(count), "-l", "5000", f"127.0.0.1:{port}"], check=True
    )
    return Figure("smtp-source -s 8 (C reference)", count, time.perf_counter() - started)


# --- the naive baseline -------------------------------------------------------------------


async def naive(port: int, rows: list[dict[str, Any]]) -> Figure:
    """What a straightforward Python sender does: stdlib MIME, one connection, one by one."""
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        for row in rows:
            rendered = render_email("digest", row["payload"])
            message = EmailMessage()
            message["From"] = f"clippost <{MAIL_FROM}>"
            message["To"] = row["recipient"]
            message["Subject"] = rendered.subject
            message["Date"] = format_datetime(datetime.now(UTC))
            message["Message-ID"] = row["message_id"]
            message.set_content(rendered.text)
            message.add_alternative(rendered.html, subtype="html")
            await client.send_message(message)
    return Figure("naive (EmailMessage, 1 connection)", len(rows), time.perf_counter() - started)


# --- clippost workers ---------------------------------------------------------------------


async def seed(url: str, rows: list[dict[str, Any]]) -> float:
    db = Database(normalise_database_url(url))
    readers = reader_rows(len(rows))
    started = time.perf_counter()
    try:
        async with db.transaction() as session:
            for start in range(0, len(rows), 2000):
                await session.execute(insert(Subscriber.__table__), readers[start : start + 2000])
            for start in range(0, len(rows), 2000):
                await session.execute(insert(OutboxMessage.__table__), rows[start : start + 2000])
    finally:
        await db.dispose()
    return time.perf_counter() - started


async def sent_span(url: str) -> tuple[int, float]:
    """How many rows are sent, and the seconds between the first and last recorded batch."""
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            count, first, last = (
                await session.execute(
                    select(
                        func.count(),
                        func.min(OutboxMessage.finished_at),
                        func.max(OutboxMessage.finished_at),
                    ).where(OutboxMessage.state == "sent")
                )
            ).one()
    finally:
        await db.dispose()
    if not count:
        return 0, 0.0
    first_at = first if isinstance(first, datetime) else datetime.fromisoformat(first)
    last_at = last if isinstance(last, datetime) else datetime.fromisoformat(last)
    return int(count), (last_at - first_at).total_seconds()


async def any_pending(url: str) -> bool:
    """Whether any row is still pending: the cheap poll while workers run.

    It reads the claim's partial index (pending rows only) and stops at the first live row.
    `sent_span` scans the whole outbox (~14 ms of PostgreSQL time on 20,000 rows, plus the
    client's): polled 4 times a second it took 6-10 % of a core from the machine under
    test, which only costs throughput where the cores are saturated (two workers), so it
    biased the ratio. `sent_span` now runs once pending is empty, to confirm and measure.
    """
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            found = await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.state == "pending").limit(1)
            )
    finally:
        await db.dispose()
    return found is not None


def all_started(logs: list[Path]) -> bool:
    """Whether every worker has logged that it started (`worker.run_worker`: its runtime is
    open, migrations checked, transport built), so that what follows is the work."""
    return all(b" started (transport " in log.read_bytes() for log in logs)


async def first_batch_size(url: str) -> int:
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            first = await session.scalar(
                select(func.min(OutboxMessage.finished_at)).where(OutboxMessage.state == "sent")
            )
            found = await session.scalar(
                select(func.count()).where(
                    OutboxMessage.state == "sent", OutboxMessage.finished_at == first
                )
            )
    finally:
        await db.dispose()
    return int(found or 0)


def in_process_settings(
    data: Path, url: str, port: int, *, pool: int, batch: int, **more: Any
) -> Settings:
    """The settings of a worker run in this process (the profiles), into `smtp-sink` on
    `port`: what `worker_env` gives a worker process."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=data,
        database_url=url,
        secret_key=SECRET,
        base_url=BASE_URL,
        mail_from=MAIL_FROM,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_pool_size=pool,
        worker_batch_size=batch,
        **more,
    )


def worker_env(url: str, port: int, data_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPPOST_")}
    env.update(
        {
            "CLIPPOST_DATA_DIR": str(data_dir),
            "CLIPPOST_DATABASE_URL": url,
            "CLIPPOST_SECRET_KEY": SECRET,
            "CLIPPOST_BASE_URL": BASE_URL,
            "CLIPPOST_MAIL_FROM": MAIL_FROM,
            "CLIPPOST_MAIL_TRANSPORT": "smtp",
            "CLIPPOST_SMTP_HOST": "127.0.0.1",
            "CLIPPOST_SMTP_PORT": str(port),
            "CLIPPOST_SMTP_POOL_SIZE": str(args.pool),
            "CLIPPOST_WORKER_BATCH_SIZE": str(args.batch),
            "CLIPPOST_WORKER_POLL_INTERVAL": "0.1",
        }
    )
    return env


async def run_workers(
    name: str,
    url: str,
    count: int,
    processes: int,
    env: dict[str, str],
    log_dir: Path,
    *,
    queued: bool = True,
) -> tuple[Figure, float]:
    """Start `processes` workers on a seeded outbox (`queued`; else the workers plan it);
    returns (steady figure, wall seconds). A queued outbox drained with fewer than `count`
    rows sent (some cancelled or failed) stops the run rather than waiting for ever."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    running = []
    tree_cpu: float | None = None
    logs = [log_dir / f"{name.replace(' ', '_')}_{k}.log" for k in range(processes)]
    for path in logs:
        log = path.open("wb")
        running.append(
            subprocess.Popen(
                [sys.executable, "-m", "clippost", "worker"], env=env, stdout=log, stderr=log
            )
        )
    working_from: float | None = None  # the workers' CPU once they have all started
    try:
        while True:
            if working_from is None:
                await asyncio.sleep(0.02)  # close to the moment they start
                if all_started(logs):
                    working_from = process_tree_cpu([p.pid for p in running])
                if any(p.poll() is not None for p in running):
                    raise SystemExit(f"{name}: a worker exited early; see {log_dir}")
                continue
            await asyncio.sleep(0.25)
            if not await any_pending(url):
                sent = (await sent_span(url))[0]
                if sent >= count:
                    break
                if queued:
                    raise SystemExit(f"{name}: only {sent} of {count} sent; see the outbox")
            if any(p.poll() is not None for p in running):
                raise SystemExit(f"{name}: a worker exited early; see {log_dir}")
        wall = time.perf_counter() - started
        # Read while they run: a worker's signing processes are the fork server's
        # children, whose CPU never reaches this process's RUSAGE_CHILDREN.
        tree_cpu = process_tree_cpu([p.pid for p in running])
    finally:
        for process in running:
            process.terminate()
        for process in running:
            process.wait(timeout=30)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = max(usage.ru_utime + usage.ru_stime - cpu_before, tree_cpu or 0.0)
    done, span = await sent_span(url)
    # The first batch's rows all share the first finished_at: measure what came after it.
    measured = done - await first_batch_size(url)
    working = None if tree_cpu is None or working_from is None else tree_cpu - working_from
    return Figure(name, measured, span, cpu_seconds=cpu, working_cpu_seconds=working), wall


def process_tree_cpu(roots: list[int]) -> float | None:
    """User + system seconds of the processes `roots` and all their descendants, from
    /proc (None where there is no /proc)."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        stats[int(entry.parent.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if not stats:
        return None
    tree, frontier = set(roots), list(roots)
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in stats.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(stats[pid][1] for pid in tree if pid in stats)


async def sqlite_worker(
    port: int,
    rows: list[dict[str, Any]],
    args: argparse.Namespace,
    folder: Path,
    *,
    dkim: bool = False,
) -> tuple[Figure, float, float]:
    data = folder / ("sqlite-dkim" if dkim else "sqlite")
    url = f"sqlite:///{data / 'clippost.db'}"
    db = Database(normalise_database_url(url))
    await upgrade(db)
    await db.dispose()
    seeded = await seed(url, rows)
    env = worker_env(url, port, data, args)
    if dkim:
        env.update(dkim_env(data))
    name = "1 worker, SQLite, DKIM rsa+ed25519" if dkim else "1 worker, SQLite"
    figure, wall = await run_workers(name, url, len(rows), 1, env, folder)
    return figure, wall, seeded


def dkim_env(folder: Path) -> dict[str, str]:
    """Settings for dual DKIM with keys made for this run (signing processes: one per CPU)."""
    rsa_file, ed_file = folder / "dkim-rsa.pem", folder / "dkim-ed25519.pem"
    write_new_key(rsa_file, "rsa")
    write_new_key(ed_file, "ed25519")
    return {
        "CLIPPOST_DKIM_RSA_SELECTOR": "bench-rsa",
        "CLIPPOST_DKIM_RSA_KEY_FILE": str(rsa_file),
        "CLIPPOST_DKIM_ED25519_SELECTOR": "bench-ed",
        "CLIPPOST_DKIM_ED25519_KEY_FILE": str(ed_file),
    }


def rsa_signatures_per_cpu_second() -> float:
    """What one core does with RSA-2048 through `cryptography` (OpenSSL), in CPU time so
    that other load on the machine does not count."""
    key = parse_key(generate_key("rsa"), "rsa", source="bench")
    digest = bytes(32)
    started = time.process_time()
    count = 0
    while time.process_time() - started < 1.0:
        sign_digest(key, digest)
        count += 1
    return count / (time.process_time() - started)


async def postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def postgres_workers(
    port: int, rows: list[dict[str, Any]], args: argparse.Namespace, folder: Path
) -> list[tuple[Figure, float]]:
    name = f"clippost_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    results = []
    try:
        db = Database(normalise_database_url(url))
        await upgrade(db)
        await db.dispose()
        for processes in (1, 2):
            await truncate(url)
            await seed(url, rows)
            label = f"{processes} worker{'s' if processes > 1 else ''}, PostgreSQL"
            env = worker_env(url, port, folder / f"pg{processes}", args)
            results.append(await run_workers(label, url, len(rows), processes, env, folder))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return results


async def truncate(url: str) -> None:
    db = Database(normalise_database_url(url))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    try:
        async with db.transaction() as session:
            await session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()


# --- whole digests: plan + select + render + send + record -------------------------------


@dataclass
class DigestRun:
    figure: Figure
    planning: float  # seconds from the first digest planned to the last
    wall: float
    one_each: bool  # exactly one digest per reader, all sent


async def seed_libraries(url: str, args: argparse.Namespace) -> float:
    """Wipe, migrate and seed the readers as bench/plan.py does (its set-based INSERT ...
    SELECT), due at this hour's slot; the outbox stays empty. Returns seconds."""
    now = datetime.now(UTC)
    return await plan_bench.seed(
        normalise_database_url(url),
        args.readers,
        args.highlights,
        stale=args.stale,
        slot=slot_of_this_hour(),
        now=now,
    )


async def digest_span(url: str) -> tuple[int, int, float, float]:
    """Digests sent, distinct readers they went to, seconds from the first planned to the
    last recorded, and seconds from the first planned to the last planned."""
    db = Database(normalise_database_url(url))
    digest = OutboxMessage.kind == "digest"
    try:
        async with db.sessions() as session:
            sent, readers, first, planned, last = (
                await session.execute(
                    select(
                        func.count(),
                        func.count(OutboxMessage.subscriber_id.distinct()),
                        func.min(OutboxMessage.created_at),
                        func.max(OutboxMessage.created_at),
                        func.max(OutboxMessage.finished_at),
                    ).where(digest, OutboxMessage.state == "sent")
                )
            ).one()
            every = await session.scalar(select(func.count()).where(digest))
    finally:
        await db.dispose()
    if not sent:
        return 0, 0, 0.0, 0.0
    moments = [
        m if isinstance(m, datetime) else datetime.fromisoformat(m) for m in (first, planned, last)
    ]
    readers = readers if every == sent else -1
    return (
        int(sent),
        int(readers),
        (moments[2] - moments[0]).total_seconds(),
        (moments[1] - moments[0]).total_seconds(),
    )


async def whole_digests(
    name: str, url: str, processes: int, args: argparse.Namespace, port: int, folder: Path
) -> DigestRun:
    seconds = await seed_libraries(url, args)
    print(
        f"  {name}: seeded {args.readers} readers x {args.highlights} "
        f"({seeding(args)}) in {seconds:.1f} s"
    )
    env = worker_env(url, port, folder / name.replace(" ", "_").replace(",", ""), args)
    steady, wall = await run_workers(name, url, args.readers, processes, env, folder, queued=False)
    sent, readers, span, planning = await digest_span(url)
    figure = Figure(
        name,
        sent,
        span,
        cpu_seconds=steady.cpu_seconds,
        working_cpu_seconds=steady.working_cpu_seconds,
    )
    return DigestRun(figure, planning, wall, one_each=sent == readers == args.readers)


async def digest_runs(port: int, args: argparse.Namespace, folder: Path) -> list[DigestRun]:
    """One worker on SQLite; one, then two on PostgreSQL when it is reachable."""
    data = folder / "digests-sqlite"
    data.mkdir(parents=True)
    url = f"sqlite:///{data / 'clippost.db'}"
    runs = [await whole_digests("digests, 1 worker, SQLite", url, 1, args, port, folder)]
    if args.no_postgres or not await postgres_reachable():
        return runs
    own = args.postgres_database
    name = own or f"clippost_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    if not own:
        await admin.execute(f'CREATE DATABASE "{name}"')
    pg_url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        for processes in (1, 2):
            label = f"digests, {processes} worker{'s' if processes > 1 else ''}, PostgreSQL"
            runs.append(await whole_digests(label, pg_url, processes, args, port, folder))
    finally:
        if not own:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return runs


def seeding(args: argparse.Namespace) -> str:
    if args.stale:
        return "stale: a fresh import, each first digest lays out the whole library"
    return "laid out: the steady state between two changes (--stale for a fresh import)"


def print_digest_runs(runs: list[DigestRun], reference: Figure, args: argparse.Namespace) -> None:
    print()
    print(
        f"whole digests: {args.readers} readers x {args.highlights} highlights, all due, "
        f"seeded {seeding(args)}"
    )
    for run in runs:
        figure = run.figure
        print(
            f"{figure.name:<38}{figure.rate:>9,.0f} digests/s  ({figure.messages} in "
            f"{figure.seconds:.2f} s; planning {run.planning:.2f} s of it; one each: "
            f"{'yes' if run.one_each else 'NO'})  [wall incl. start-up {run.wall:.1f} s; "
            f"{cpu_text(figure, figure.messages, 'digest')}]"
        )
    one = runs[0].figure
    print(f"digests, 1 worker SQLite          : {one.rate:,.0f} digests/s (target >= 2,000)")
    print(f"digests, 1 worker / smtp-source   : {one.rate / reference.rate:.2f} (target >= 0.15)")
    if len(runs) == 3:
        ratio = runs[2].figure.rate / runs[1].figure.rate if runs[1].figure.rate else 0.0
        print(f"digests, 2 workers PG / 1 worker PG: {ratio:.2f}x (target >= 1.6)")


# --- rendering cost and profile -----------------------------------------------------------


def render_cost(rows: list[dict[str, Any]]) -> tuple[float, int]:
    """Microseconds per message for template + headers + MIME, and the message size."""
    render = renderer()
    claimed = [as_claimed(row, n) for n, row in enumerate(rows[:2000])]
    now = datetime.now(UTC)
    build_mime(render(claimed[0], now))  # templates compiled outside the timing
    started = time.perf_counter()
    size = 0
    for message in claimed:
        size = len(build_mime(render(message, now)))
    return (time.perf_counter() - started) / len(claimed) * 1e6, size


async def profile(port: int, rows: list[dict[str, Any]], folder: Path) -> None:
    """cProfile of one in-process worker draining the outbox: where the time goes."""
    from clippost.runtime import open_runtime
    from clippost.worker import build_sender

    data = folder / "profile"
    url = f"sqlite:///{data / 'clippost.db'}"
    settings = in_process_settings(data, url, port, pool=16, batch=500)
    async with open_runtime(settings) as runtime:
        await seed(url, rows)
        sender = build_sender(runtime, owner="profile")
        profiler = cProfile.Profile()
        profiler.enable()
        while (await sender.run_once()).claimed:
            pass
        profiler.disable()
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(12)
    by_package: dict[str, float] = {}
    for (path, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        package = _package(path, name)
        by_package[package] = by_package.get(package, 0.0) + own
    print("own time by package:")
    for package, spent in sorted(by_package.items(), key=lambda item: -item[1])[:10]:
        print(f"  {package:<30}{spent / stats.total_tt * 100:5.1f} %")  # type: ignore[attr-defined]
    seconds = stats.total_tt  # type: ignore[attr-defined]
    print(f"total {seconds:.2f} s profiled for {len(rows)} messages")
    for label, pattern in (
        ("render (templates + headers)", "render.py:.*__call__"),
        ("MIME assembly", "mime.py:.*build_mime"),
        ("claim", "repository.py:.*claim"),
        ("record results", "repository.py:.*record_results"),
        ("socket writes", "method 'send' of '_socket"),
    ):
        spent = sum(
            cumulative
            for (path, line, name), (_, _, _, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
            if re.search(pattern, f"{path}:{line}:{name}")
        )
        print(f"  {label:<30}{spent:7.2f} s  {spent / len(rows) * 1e6:6.0f} µs/message")


def print_dkim_budget(signed: Figure, count: int) -> None:
    """The CPU a signed message costs, against what the machine has: whether the DKIM rate
    is the sender's limit or the machine's."""
    rsa_rate = rsa_signatures_per_cpu_second()
    cores = os.cpu_count() or 1
    print(f"RSA-2048 signatures per CPU-second (cryptography/OpenSSL): {rsa_rate:,.0f}")
    if signed.cpu_seconds:
        per_message = (signed.working_cpu_seconds or signed.cpu_seconds) / count
        print(
            f"  dual-DKIM worker CPU {per_message * 1e6:.0f} µs/message (RSA alone "
            f"{1e6 / rsa_rate:.0f}): 2,000 msg/s needs {2000 * per_message:.1f} cores, "
            f"this machine has {cores}"
        )


def describe(figure: Figure, walls: dict[str, float], count: int) -> str:
    if figure.name not in walls:
        return ""
    text = f"  [wall incl. start-up {walls[figure.name]:.1f} s"
    if figure.cpu_seconds is not None:
        text += f"; {cpu_text(figure, count, 'message')}"
    return text + "]"


def cpu_text(figure: Figure, count: int, unit: str) -> str:
    """The workers' CPU a message while they worked, and with their start-up."""
    if not figure.cpu_seconds or not count:
        return "worker CPU not measured"
    whole = figure.cpu_seconds / count * 1e6
    if figure.working_cpu_seconds is None:
        return f"worker CPU {whole:.0f} µs/{unit} incl. start-up"
    working = figure.working_cpu_seconds / count * 1e6
    return f"worker CPU {working:.0f} µs/{unit} working, {whole:.0f} incl. start-up"


async def _seed_for_profile(url: str, *, args: argparse.Namespace) -> float:
    return await seed_libraries(url, args)


def _package(path: str, name: str) -> str:
    for marker in ("site-packages/", "src/clippost/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    if path == "~":
        return name.split(" of ")[0].strip("{<>") if " of " in name else "builtins"
    return path.rsplit("/", 1)[-1]


# --- the run ------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="messages per measurement")
    parser.add_argument("--quick", action="store_true", help="N=3000, for a fast look")
    parser.add_argument("--pool", type=int, default=16, help="SMTP connections per worker")
    parser.add_argument("--batch", type=int, default=500, help="rows claimed per batch")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile one in-process run (with --only-digests: a worker planning and sending "
        "whole digests, bench/digest_profile.py)",
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-dkim", action="store_true", help="skip the DKIM measurement")
    parser.add_argument("--readers", type=int, default=5000, help="readers for whole digests")
    parser.add_argument("--highlights", type=int, default=50, help="highlights per reader")
    parser.add_argument("--no-digests", action="store_true", help="skip whole digests")
    parser.add_argument(
        "--postgres-database",
        help="whole digests: an existing database of yours to wipe and use (default: a "
        "throwaway one, created and dropped)",
    )
    parser.add_argument("--only-digests", action="store_true", help="smtp-source + whole digests")
    parser.add_argument(
        "--stale",
        action="store_true",
        help="whole digests: seed libraries as a fresh import leaves them (unplaced, stale)",
    )
    args = parser.parse_args()
    count = 3000 if args.quick else args.n
    rows = outbox_rows(count)
    port = free_port()
    sink = start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="clippost-bench-"))
    try:
        if args.profile and args.only_digests:
            seed = functools.partial(_seed_for_profile, args=args)
            await digest_profile.profile_digests(
                port, args, folder, seed=seed, settings=in_process_settings
            )
            return
        if args.profile:
            await profile(port, rows, folder)
            return
        if args.only_digests:
            reference = smtp_source(port, count)
            print(f"{reference.name}: {reference.rate:,.0f} msg/s")
            print_digest_runs(await digest_runs(port, args, folder), reference, args)
            return
        micros, size = render_cost(rows)
        print(f"N = {count}; message size {size} bytes; render + MIME {micros:.0f} µs/message")
        reference = smtp_source(port, count)
        baseline = await naive(port, rows[: min(count, 2000)])
        one, wall, seeded = await sqlite_worker(port, rows, args, folder)
        print(f"seed readers + enqueue (SQLite, executemany): {count / seeded:,.0f} rows/s")
        figures = [reference, baseline, one]
        walls = {one.name: wall}
        signed: Figure | None = None
        if not args.no_dkim:
            signed, signed_wall, _ = await sqlite_worker(port, rows, args, folder, dkim=True)
            figures.append(signed)
            walls[signed.name] = signed_wall
        pg: list[tuple[Figure, float]] = []
        if not args.no_postgres and await postgres_reachable():
            pg = await postgres_workers(port, rows, args, folder)
            for figure, pg_wall in pg:
                figures.append(figure)
                walls[figure.name] = pg_wall
        else:
            print("PostgreSQL not reachable: two-worker ratio not measured")
        print()
        for figure in figures:
            print(
                f"{figure.name:<38}{figure.rate:>9,.0f} msg/s  ({figure.messages} in "
                f"{figure.seconds:.2f} s){describe(figure, walls, count)}"
            )
        print()
        print(f"1 worker SQLite / smtp-source : {one.rate / reference.rate:.2f}  (target >= 0.3)")
        print(f"1 worker SQLite / naive       : {one.rate / baseline.rate:.1f}x (target >= 5)")
        print(f"1 worker SQLite               : {one.rate:,.0f} msg/s (target >= 2,000)")
        if len(pg) == 2:
            ratio = pg[1][0].rate / pg[0][0].rate
            print(f"2 workers PG / 1 worker PG    : {ratio:.2f}x (target >= 1.6)")
        if signed is not None:
            print(f"1 worker SQLite, dual DKIM    : {signed.rate:,.0f} msg/s (target >= 2,000)")
            print_dkim_budget(signed, count)
        if not args.no_digests:
            print_digest_runs(await digest_runs(port, args, folder), reference, args)
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
