"""Web benchmark against a real `clippost serve` on loopback (SQLite, temporary data dir).

Measures, each beside a trivial endpoint on the same server (`/healthz`: no I/O) as the
ceiling, with httpx.AsyncClient and keep-alive:
  1. sign-up with a 1 MB My Clippings.txt at 8 concurrent clients: p50/p95 latency
     (target p95 < 300 ms on SQLite);
  2. RFC 8058 one-click unsubscribe throughput (target >= 1,000 requests/s);
  3. the bystander under attack (issue 9): while an attacker reloads the manage page of a
     1,000-book library, a 100,000-highlight import is confirmed and 4 clients over their
     sign-up limit keep sending 12 MB uploads, a bystander's sign-up and one-click
     unsubscribe p50/p95 (target p95 < 300 ms), with the attack's own figures beside them;
     then the bystander's figures by phase: alone (before any attacker starts), with the
     manage reloads and the floods, and once the big confirm runs too; beside each phase,
     a /healthz probe (the web's event-loop lag: the floor under every request), the CPU
     the server's and the worker's processes used, their children's (parse and warm
     processes) and the attackers', and the machine's load average, so
     that a slow phase shows whether the server waited on a lock or for a CPU.

The server runs without its in-process worker (`--no-worker`): the figures are the web
path's (parse, store, queue), not the sender's (bench/send.py measures that). For the
attack a `clippost worker` process is started beside it, since an import of more than
CLIPPOST_MERGE_IN_WORKER_OVER highlights is merged by the worker: the confirm's click
answers at once, and its time to the subscribed page is the worker's merge. It trusts
X-Forwarded-For for the run, so that each bench client is a client of its own: the
throughput clients never meet the per-client limit (5 an hour here), the attackers start
over it. The upload limit is raised to 40 MB for the 100,000-highlight file.

    .venv/bin/python bench/web.py [--signups 80] [--clients 8] [--unsubscribes 6000]
                                  [--big-import 100000] [--no-attack]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from clippost.config import Settings
from clippost.links import Links, Purpose

# A fixed key so this script can mint the unsubscribe links the server accepts.
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"  # noqa: S105
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
CLIENT_LIMIT = 5  # sign-ups per client per hour on the bench's server
PREFERENCES = {
    "cadence": "weekly",
    "hour": "7",
    "weekday": "0",
    "day_of_month": "1",
    "timezone": "Europe/Paris",
    "per_email": "5",
}


@dataclass
class Result:
    name: str
    latencies: list[float]  # seconds
    elapsed: float
    failures: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def clippings_file(size: int) -> bytes:
    """A Kindle-style file of about `size` bytes: 40 books, distinct highlights."""
    parts: list[str] = []
    total = index = 0
    while total < size:
        book = index % 40
        text = f"Highlight number {index} of the benchmark, with words enough to be realistic. " * 3
        entry = (
            f"Benchmark Book {book} (Author {book})\r\n- Your Highlight on page {index % 300} | "
            f"Location {index * 10}-{index * 10 + 3} | Added on Monday, 2 January 2023 10:00:00"
            f"\r\n\r\n{text}\r\n==========\r\n"
        )
        parts.append(entry)
        total += len(entry)
        index += 1
    return "".join(parts).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "clippost", "serve", "--no-worker", "--host", "127.0.0.1"]
    return start(data_dir, port, [*command, "--port", str(port)])


def start_worker(data_dir: Path, port: int) -> subprocess.Popen[str]:
    """The worker, its log kept (`worker_log`: how long its merge held the write lock)."""
    command = [sys.executable, "-m", "clippost", "worker"]
    return start(data_dir, port, command, log=data_dir / "worker.log")


def worker_log(data_dir: Path, about: str) -> list[str]:
    """The worker's log lines that say `about`."""
    path = data_dir / "worker.log"
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [line for line in lines if about in line]


def start(
    data_dir: Path, port: int, command: list[str], *, log: Path | None = None
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "CLIPPOST_DATA_DIR": str(data_dir),
        "CLIPPOST_BASE_URL": f"http://127.0.0.1:{port}",
        "CLIPPOST_SECRET_KEY": SECRET,
        "CLIPPOST_SIGNUPS_PER_CLIENT_PER_HOUR": str(CLIENT_LIMIT),
        "CLIPPOST_EMAILS_PER_ADDRESS_PER_HOUR": "1000000",
        "CLIPPOST_TRUST_FORWARDED_FOR": "true",
        "CLIPPOST_MAX_UPLOAD_MB": "40",
    }
    env.pop("CLIPPOST_DATABASE_URL", None)
    with open(log or os.devnull, "w") as output:
        return subprocess.Popen(
            command,
            cwd=data_dir,
            env=env,
            stdout=output,
            stderr=output,
            text=True,
        )


async def wait_until_up(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(200):
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                await asyncio.sleep(0.05)
    raise SystemExit("the server did not start")


async def run_clients(
    name: str,
    base_url: str,
    *,
    clients: int,
    requests: int,
    call: Callable[[httpx.AsyncClient, int], Awaitable[bool]],
    prepare: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None,
) -> Result:
    """`requests` calls spread over `clients` keep-alive clients running at once."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    sessions = [
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) for _ in range(clients)
    ]
    if prepare is not None:
        await asyncio.gather(*(prepare(session) for session in sessions))

    async def worker(session: httpx.AsyncClient, start: int) -> None:
        nonlocal failures
        for number in range(start, requests, clients):
            began = time.perf_counter()
            ok = await call(session, number)
            latencies.append(time.perf_counter() - began)
            failures += 0 if ok else 1

    began = time.perf_counter()
    await asyncio.gather(*(worker(session, i) for i, session in enumerate(sessions)))
    elapsed = time.perf_counter() - began
    await asyncio.gather(*(session.aclose() for session in sessions))
    return Result(name, latencies, elapsed, failures)


async def healthz(session: httpx.AsyncClient, _number: int) -> bool:
    return (await session.get("/healthz")).status_code == 200


async def take_csrf(session: httpx.AsyncClient) -> None:
    page = await session.get("/")
    found = CSRF.search(page.text)
    if found is None:
        raise SystemExit("no CSRF token on the landing page")
    session.headers["x-bench-csrf"] = found.group(1)


def signup_call(upload: bytes) -> Callable[[httpx.AsyncClient, int], Awaitable[bool]]:
    async def call(session: httpx.AsyncClient, number: int) -> bool:
        form = {
            "email": f"reader{number}@example.org",
            "csrf_token": session.headers["x-bench-csrf"],
            **PREFERENCES,
        }
        files = {"file": ("My Clippings.txt", upload, "text/plain")}
        headers = {"x-forwarded-for": client_address(number)}
        response = await session.post("/signup", data=form, files=files, headers=headers)
        return response.status_code == 303

    return call


def client_address(number: int) -> str:
    """A client address of its own for request `number` (10.x.y.z, never the attackers')."""
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def unsubscribe_call(paths: list[str]) -> Callable[[httpx.AsyncClient, int], Awaitable[bool]]:
    body = b"List-Unsubscribe=One-Click"
    headers = {"content-type": "application/x-www-form-urlencoded"}

    async def call(session: httpx.AsyncClient, number: int) -> bool:
        response = await session.post(paths[number % len(paths)], content=body, headers=headers)
        return response.status_code == 200

    return call


def unsubscribe_paths(base_url: str, subscribers: int) -> list[str]:
    settings = Settings(_env_file=None, base_url=base_url, secret_key=SECRET)  # type: ignore[call-arg]
    links = Links.from_settings(settings, SECRET)
    now = datetime.now(UTC)
    return [
        links.url(Purpose.UNSUBSCRIBE, number, now=now).removeprefix(base_url)
        for number in range(1, subscribers + 1)
    ]


def print_table(rows: list[tuple[Result, Result]]) -> None:
    header = f"{'measure':<34}{'requests':>9}{'fail':>6}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
    print(header)
    print("-" * len(header))
    for measured, ceiling in rows:
        for result in (measured, ceiling):
            print(
                f"{result.name:<34}{len(result.latencies):>9}{result.failures:>6}"
                f"{result.rate:>10.0f}{result.percentile(0.5):>9.1f}{result.percentile(0.95):>9.1f}"
            )
        print(
            f"{'  ratio to ceiling (req/s)':<34}{'':>15}{measured.rate / ceiling.rate:>10.2f}"
            f"{measured.percentile(0.5) / ceiling.percentile(0.5):>9.1f}x"
            f"{measured.percentile(0.95) / ceiling.percentile(0.95):>8.1f}x"
        )


async def main(args: argparse.Namespace) -> int:
    upload = clippings_file(1_000_000)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="clippost-bench-") as folder:
        server = start_server(Path(folder), port)
        try:
            await wait_until_up(base_url)
            return await measure(args, base_url, upload, Path(folder), server.pid)
        finally:
            server.terminate()
            server.wait(timeout=15)


async def measure(
    args: argparse.Namespace, base_url: str, upload: bytes, folder: Path, server: int
) -> int:
    clients = args.clients
    print(f"clippost web bench: {base_url}, SQLite, upload {len(upload) / 1e6:.2f} MB")
    # Warm-up: imports, the first parse, SQLite pages.
    await run_clients(
        "warm-up", base_url, clients=1, requests=2, call=signup_call(upload), prepare=take_csrf
    )
    signups = await run_clients(
        f"sign-up 1 MB, {clients} clients", base_url,
        clients=clients, requests=args.signups, call=signup_call(upload), prepare=take_csrf,
    )  # fmt: skip
    ceiling_signup = await run_clients(
        f"/healthz, {clients} clients",
        base_url,
        clients=clients,
        requests=args.signups * 20,
        call=healthz,
    )
    paths = unsubscribe_paths(base_url, args.signups)
    unsubscribes = await run_clients(
        f"one-click unsubscribe, {args.concurrency} clients", base_url,
        clients=args.concurrency, requests=args.unsubscribes, call=unsubscribe_call(paths),
    )  # fmt: skip
    ceiling_unsubscribe = await run_clients(
        f"/healthz, {args.concurrency} clients", base_url,
        clients=args.concurrency, requests=args.unsubscribes, call=healthz,
    )  # fmt: skip
    print_table([(signups, ceiling_signup), (unsubscribes, ceiling_unsubscribe)])
    p95 = signups.percentile(0.95)
    print(f"\nsign-up p95 {p95:.0f} ms (target < 300): {'met' if p95 < 300 else 'NOT met'}")
    rate = unsubscribes.rate
    verdict = "met" if rate >= 1000 else "NOT met"
    print(f"one-click unsubscribe {rate:.0f} req/s (target >= 1000): {verdict}")
    failed = signups.failures or unsubscribes.failures
    if args.attack:
        worker = start_worker(folder, int(base_url.rsplit(":", 1)[1]))
        try:
            attack = measure_attack(
                base_url, folder, paths, big=args.big_import, server=server, worker=worker.pid
            )
            failed = await attack or failed
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return 1 if failed else 0


# The bystander under attack -------------------------------------------------------------

ATTACKER = "203.0.113.66"
QUIET_SECONDS = 8.0  # the bystander alone, before the attack starts
FLOOD_SECONDS = 8.0  # then with the manage reloads and the floods, before the big confirm


def library_file(books: int, per_book: int, *, words: int = 12) -> bytes:
    """A My Clippings.txt of `books` books with `per_book` short, distinct highlights."""
    parts = []
    for book in range(books):
        for n in range(per_book):
            text = f"Passage {book}-{n}: " + "word " * words
            parts.append(
                f"Attack Book {book} (Author {book})\r\n- Your Highlight on Location {n * 5}-"
                f"{n * 5 + 2} | Added on Monday, 2 January 2023 10:00:00\r\n\r\n{text}\r\n"
                "==========\r\n"
            )
    return "".join(parts).encode()


def query_one(folder: Path, sql: str, *params: object) -> Any:
    with sqlite3.connect(folder / "clippost.db") as db:
        row = db.execute(sql, params).fetchone()
    if row is None:
        raise SystemExit(f"nothing found for {sql}")
    return row[0]


async def signed_up(
    session: httpx.AsyncClient, folder: Path, email: str, upload: bytes, number: int
) -> str:
    """Sign `email` up with `upload`; returns the path of its confirmation link."""
    await take_csrf(session)
    form = {"email": email, "csrf_token": session.headers["x-bench-csrf"], **PREFERENCES}
    files = {"file": ("My Clippings.txt", upload, "text/plain")}
    headers = {"x-forwarded-for": client_address(number)}
    response = await session.post("/signup", data=form, files=files, headers=headers)
    if response.status_code != 303:
        raise SystemExit(f"sign-up of {email}: {response.status_code}")
    url = query_one(
        folder,
        "SELECT json_extract(payload, '$.confirm_url') FROM outbox "
        "WHERE recipient = ? AND kind = 'confirm' ORDER BY id DESC",
        email,
    )
    return httpx.URL(url).path


async def confirm(session: httpx.AsyncClient, path: str) -> tuple[float, float]:
    """Press the confirmation's button, then follow the importing page (when the worker
    has the import) to the subscribed page; the seconds the click took, and to that page."""
    began = time.perf_counter()
    response = await session.post(path, data={"csrf_token": session.headers["x-bench-csrf"]})
    clicked = time.perf_counter() - began
    while response.status_code == 303 or 'http-equiv="refresh"' in response.text:
        if response.status_code == 200:
            await asyncio.sleep(0.5)
        response = await session.get(response.headers.get("location", str(response.url)))
    if response.status_code != 200 or "You are subscribed" not in response.text:
        raise SystemExit(f"confirming {path}: {response.status_code}")
    return clicked, time.perf_counter() - began


def manage_path(base_url: str, folder: Path, email: str) -> str:
    subscriber = query_one(folder, "SELECT id FROM subscribers WHERE email = ?", email)
    settings = Settings(_env_file=None, base_url=base_url, secret_key=SECRET)  # type: ignore[call-arg]
    links = Links.from_settings(settings, SECRET)
    return links.url(Purpose.MANAGE, subscriber, now=datetime.now(UTC), extra="0").removeprefix(
        base_url
    )


MANAGE = "manage page (1,000 books)"
FLOOD = "over-limit 12 MB upload"
SIGN_UP = "bystander sign-up"
UNSUBSCRIBE = "bystander one-click unsubscribe"
HEALTHZ = "/healthz (the event loop's lag)"


def attacker(kind: str, base_url: str, path: str, clients: int, stop: Any, results: Any) -> None:
    """One attacking process (its own event loop and CPU, not the bystander's): `clients`
    clients sending `kind` requests until `stop` is set; puts (latencies, failures,
    statuses) on `results`."""
    results.put((kind, *asyncio.run(attack_loop(kind, base_url, path, clients, stop))))


async def attack_loop(
    kind: str, base_url: str, path: str, clients: int, stop: Any
) -> tuple[list[float], int, dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures = 0
    twelve_mb = b"x" * (12 * 1024 * 1024)

    async def one(session: httpx.AsyncClient) -> int:
        headers = {"x-forwarded-for": ATTACKER}
        if kind == MANAGE:
            return (await session.get(path, headers=headers)).status_code
        form = {"email": "victim@example.org", "csrf_token": session.headers["x-bench-csrf"]}
        files = {"file": ("My Clippings.txt", twelve_mb, "text/plain")}
        return (await session.post(path, data=form, files=files, headers=headers)).status_code

    async def loop(session: httpx.AsyncClient) -> None:
        nonlocal failures
        await take_csrf(session)
        while not stop.is_set():
            began = time.perf_counter()
            try:
                status = await one(session)
            except httpx.TransportError:  # the server may close a refused upload's connection
                status = 0
            latencies.append(time.perf_counter() - began)
            statuses[status] = statuses.get(status, 0) + 1
            # A refusal is the defence working: a 429, or for an upload refused before its
            # body was read, the connection closed under it (status 0 here).
            failures += 0 if status in ((200, 429) if kind == MANAGE else (0, 429)) else 1

    sessions = [httpx.AsyncClient(base_url=base_url, timeout=600) for _ in range(clients)]
    await asyncio.gather(*(loop(session) for session in sessions))
    await asyncio.gather(*(session.aclose() for session in sessions))
    return latencies, failures, statuses


async def timed(result: Result, call: Awaitable[bool]) -> None:
    began = time.perf_counter()
    ok = await call
    result.latencies.append(time.perf_counter() - began)
    result.failures += 0 if ok else 1


@dataclass
class Phase:
    """The bystander's figures over one phase of the attack, with what each group of
    processes spent of the CPU meanwhile (the server's and the worker's own, their
    children's: parse and warm processes, and the attackers'), the machine's load, and a
    /healthz probe: an endpoint with no I/O, whose latency is the web process's event-loop
    lag, the floor under every request."""

    results: dict[str, Result]
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load: float = 0.0


# The processes whose CPU a phase reports, by group, as they are when asked.
Groups = Callable[[], dict[str, list[int]]]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process `pid` has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a fork server's children included; Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def process_groups(server: int, worker: int, attackers: list[Any]) -> Groups:
    def groups() -> dict[str, list[int]]:
        attacking = [p.pid for p in attackers if p.pid is not None]
        return {
            "server": [server],
            "server's children": descendants(server),
            "worker": [worker],
            "worker's children": descendants(worker),
            "attackers": attacking + [c for pid in attacking for c in descendants(pid)],
        }

    return groups


def cpu_by_process(groups: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}


@asynccontextmanager
async def phase(base_url: str, groups: Groups) -> AsyncIterator[Phase]:
    """Measure a phase: the bystander's results go into the phase's `results`; a process
    started during it counts whole, one ended during it not at all."""
    measured = Phase({name: Result(name, [], 0.0, 0) for name in (SIGN_UP, UNSUBSCRIBE, HEALTHZ)})
    before = cpu_by_process(groups())
    began = time.perf_counter()
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(stop, base_url, measured.results[HEALTHZ]))
    try:
        yield measured
    finally:
        stop.set()
        await prober
    measured.seconds = time.perf_counter() - began
    measured.cpu = {
        name: sum(spent - before.get(name, {}).get(pid, 0.0) for pid, spent in pids.items())
        for name, pids in cpu_by_process(groups()).items()
    }
    measured.load = os.getloadavg()[0]


async def probe(stop: asyncio.Event, base_url: str, result: Result) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as session:
        while not stop.is_set():
            await timed(result, healthz(session, 0))
            await asyncio.sleep(0.05)


async def bystand(
    stop: asyncio.Event, base_url: str, unsubscribes: list[str], results: dict[str, Result]
) -> None:
    """A reader signing up with a small file, then another unsubscribing, again and again."""
    small = library_file(2, 3)
    body = b"List-Unsubscribe=One-Click"
    form_type = {"content-type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as session:
        await take_csrf(session)
        number = 700_000
        while not stop.is_set():
            number += 1
            await timed(results[SIGN_UP], signup_call(small)(session, number))
            path = unsubscribes[number % len(unsubscribes)]
            posted = session.post(path, content=body, headers=form_type)
            await timed(results[UNSUBSCRIBE], ok_if(posted, 200))
            await asyncio.sleep(0.05)


async def ok_if(response: Awaitable[httpx.Response], status: int) -> bool:
    return (await response).status_code == status


async def measure_attack(
    base_url: str, folder: Path, unsubscribes: list[str], *, big: int, server: int, worker: int
) -> bool:
    print(f"\nbystander under attack: 1,000-book manage page, {big:,}-highlight confirm, 4 x 12 MB")
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as setup:
        shelf = library_file(1000, 1)
        await confirm(setup, await signed_up(setup, folder, "shelf@example.org", shelf, 900_001))
        manage = manage_path(base_url, folder, "shelf@example.org")
        big_file = library_file(big // 1000, 1000, words=3)
        big_confirm = await signed_up(setup, folder, "big@example.org", big_file, 900_002)
        print(f"  (the big file is {len(big_file) / 1e6:.1f} MB)")
        await take_csrf(setup)  # the attackers' client uses up its sign-ups first
        headers = {"x-forwarded-for": ATTACKER}
        form = {"email": "attacker@example.org", "csrf_token": setup.headers["x-bench-csrf"]}
        for _ in range(CLIENT_LIMIT):
            await setup.post("/signup", data=form, headers=headers)
        results = {name: Result(name, [], 0.0, 0) for name in (MANAGE, FLOOD, SIGN_UP, UNSUBSCRIBE)}
        context = multiprocessing.get_context("spawn")
        stop, queue = context.Event(), context.Queue()
        processes = [
            context.Process(target=attacker, args=(kind, base_url, path, n, stop, queue))
            for kind, path, n in ((MANAGE, manage, 2), (FLOOD, "/signup", 4))
        ]
        pids = process_groups(server, worker, processes)
        # The bystander alone first, before any attacker starts: the same figures without
        # the attack, on this machine as loaded as it is now.
        quiet = await bystand_for(QUIET_SECONDS, base_url, unsubscribes, pids)
        began = time.perf_counter()
        for process in processes:
            process.start()
        # Then with the manage reloads and the floods under way, before the big confirm.
        flooded = await bystand_for(FLOOD_SECONDS, base_url, unsubscribes, pids)
        async with phase(base_url, pids) as during:
            stop_bystander = asyncio.Event()
            bystander = asyncio.create_task(
                bystand(stop_bystander, base_url, unsubscribes, during.results)
            )
            confirm_seconds = await confirm(setup, big_confirm)
            stop.set()
            stop_bystander.set()
            await bystander
        for name in (SIGN_UP, UNSUBSCRIBE):
            results[name].latencies = (
                flooded.results[name].latencies + during.results[name].latencies
            )
            results[name].failures = flooded.results[name].failures + during.results[name].failures
        outcomes = [queue.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        elapsed = time.perf_counter() - began
    statuses = {}
    for name, latencies, failures, seen in outcomes:
        results[name] = Result(name, latencies, elapsed, failures)
        statuses[name] = seen
    phases = {"alone": quiet, "manage + floods": flooded, "and the confirm": during}
    return report_attack(
        results, statuses, phases, folder, big=big, confirm_seconds=confirm_seconds
    )


async def bystand_for(
    seconds: float, base_url: str, unsubscribes: list[str], pids: Groups
) -> Phase:
    """The bystander's figures over `seconds`."""
    async with phase(base_url, pids) as measured:
        stop = asyncio.Event()
        task = asyncio.create_task(bystand(stop, base_url, unsubscribes, measured.results))
        await asyncio.sleep(seconds)
        stop.set()
        await task
    return measured


def report_attack(
    results: dict[str, Result],
    statuses: dict[str, dict[int, int]],
    phases: dict[str, Phase],
    folder: Path,
    *,
    big: int,
    confirm_seconds: tuple[float, float],
) -> bool:
    stored = query_one(folder, "SELECT count(*) FROM highlights")
    clicked, done = confirm_seconds
    print(
        f"  the {big:,}-highlight confirm: the click answered in {clicked * 1000:.0f} ms, "
        f"the subscribed page came after {done:.1f} s ({stored:,} stored)"
    )
    for line in worker_log(folder, "merged by worker"):
        print(f"  worker: {line.split('merged by worker', 1)[1].strip()}")
    header = f"  {'measure':<34}{'requests':>9}{'fail':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
    print(header)
    for result in results.values():
        worst = max(result.latencies, default=0.0) * 1000
        print(
            f"  {result.name:<34}{len(result.latencies):>9}{result.failures:>6}"
            f"{result.percentile(0.5):>9.1f}{result.percentile(0.95):>9.1f}{worst:>9.1f}"
        )
    for name, seen in statuses.items():
        print(f"  {name} answers (0: connection closed on refusal): {dict(sorted(seen.items()))}")
    met = True
    for name in (SIGN_UP, UNSUBSCRIBE, HEALTHZ):
        p95 = results[name].percentile(0.95) if name in results else 0.0
        alone = phases["alone"].results[name].percentile(0.95)
        if name in results:
            met = met and p95 < 300 and not results[name].failures
            print(
                f"  {name} p95 {p95:.0f} ms under attack (target < 300): "
                f"{'met' if p95 < 300 else 'NOT met'}; alone {alone:.0f} ms, {p95 / alone:.1f}x"
            )
        else:
            print(f"  {name}, beside the bystander:")
        for label, measured in phases.items():
            figures = measured.results[name]
            print(
                f"    {label:<17} p50 {figures.percentile(0.5):6.0f} ms  p95 "
                f"{figures.percentile(0.95):6.0f} ms  ({len(figures.latencies)} requests)"
            )
    print(
        "  CPU by phase (share of one core: the server's process and its children, the "
        "worker's and its children, the attackers'; load average)"
    )
    for label, measured in phases.items():
        shares = "  ".join(
            f"{name} {spent / measured.seconds:4.0%}" for name, spent in measured.cpu.items()
        )
        print(f"    {label:<17} {measured.seconds:5.1f} s  {shares}  load {measured.load:.1f}")
    return not met


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signups", type=int, default=80)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--unsubscribes", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--big-import", type=int, default=100_000)
    parser.add_argument("--attack", action=argparse.BooleanOptionalAction, default=True)
    sys.exit(asyncio.run(main(parser.parse_args())))
