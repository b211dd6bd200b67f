"""Where a whole digest's time goes inside one worker: `bench/send.py --only-digests --profile`.

Seeds R readers x H highlights on SQLite as bench/send.py's whole digests do (bench/plan.py's
seed, all due), then runs the worker itself (`worker.run_worker`: the planner, the send
loop's lanes, the sweeper and the merger on one event loop, as `clippost worker` runs them)
in this process under cProfile, into `smtp-sink`, until every digest is recorded. Whether
it is done is asked from a thread with the stdlib's sqlite3, so the poll costs the loop
nothing. Printed: the CPU of each thread of the process (the event loop's, and SQLite's
threads, where the statements run), the event loop's idle share, and the loop thread's own
time by package and by clippost module, which splits the planner's side from the sender's.
cProfile slows the Python it watches by about half again: read shares, not times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from clippost.config import Settings
from clippost.runtime import open_runtime
from clippost.worker import run_worker


def thread_cpu() -> dict[int, float]:
    """User + system seconds of each thread of this process, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def sent(path: Path) -> int:
    """Digests recorded as sent, read with the stdlib's sqlite3 (on a thread of its own)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT count(*) FROM outbox WHERE state = 'sent'").fetchone()
    finally:
        connection.close()
    return int(row[0])


async def profile_digests(
    port: int,
    args: argparse.Namespace,
    folder: Path,
    *,
    seed: Callable[[str], Awaitable[float]],
    settings: Callable[..., Settings],
) -> None:
    """`seed(url)` seeds the readers (bench/send.py's `seed_libraries`); `settings(data,
    url, port, pool=, batch=, **more)` makes the worker's (bench/send.py's
    `in_process_settings`, what every bench worker gets)."""
    data = folder / "digest-profile"
    data.mkdir(parents=True)
    path = data / "clippost.db"
    url = f"sqlite:///{path}"
    seconds = await seed(url)
    print(f"seeded {args.readers} readers x {args.highlights} in {seconds:.1f} s")
    configured = settings(
        data, url, port, pool=args.pool, batch=args.batch, worker_poll_interval=0.1
    )
    loop_thread = threading.get_native_id()
    async with open_runtime(configured) as runtime:
        stop = asyncio.Event()
        before = thread_cpu()
        started = time.perf_counter()
        profiler = cProfile.Profile()
        profiler.enable()
        worker = asyncio.create_task(run_worker(runtime, stop, owner="profile"))
        while await asyncio.to_thread(sent, path) < args.readers:
            await asyncio.sleep(0.2)
        profiler.disable()
        wall = time.perf_counter() - started
        after = thread_cpu()
        stop.set()
        await worker
    spent = {tid: cpu - before.get(tid, 0.0) for tid, cpu in after.items()}
    total = sum(spent.values())
    print(
        f"{args.readers} digests planned and sent in {wall:.1f} s under cProfile; the process's "
        f"CPU {total / args.readers * 1e6:,.0f} µs a digest, of which the event loop's thread "
        f"{spent.get(loop_thread, 0.0) / total * 100:.0f} %, the others (SQLite's, the "
        f"transport's) {(total - spent.get(loop_thread, 0.0)) / total * 100:.0f} %"
    )
    stats = pstats.Stats(profiler)
    own: dict[tuple[str, int, str], float] = {
        key: value[2]
        for key, value in stats.stats.items()  # type: ignore[attr-defined]
    }
    profiled = sum(own.values())
    idle = sum(t for (_, _, name), t in own.items() if "poll' of 'select" in name)
    print(f"event loop idle (waiting in epoll): {idle / profiled * 100:.0f} % of its time")
    by_package: dict[str, float] = {}
    by_module: dict[str, float] = {}
    for (file, _, name), seconds_own in own.items():
        package = package_of(file, name)
        by_package[package] = by_package.get(package, 0.0) + seconds_own
        if "src/clippost/" in file:
            module = file.split("src/clippost/", 1)[1]
            by_module[module] = by_module.get(module, 0.0) + seconds_own
    busy = profiled - idle
    print("the loop's own time (idle left out), by package:")
    by_package.pop("epoll", None)
    for name, seconds_own in sorted(by_package.items(), key=lambda item: -item[1])[:14]:
        print(f"  {name:<34}{seconds_own / busy * 100:5.1f} %")
    print("by clippost module:")
    for name, seconds_own in sorted(by_module.items(), key=lambda item: -item[1])[:22]:
        print(f"  {name:<34}{seconds_own / busy * 100:5.1f} %")


def package_of(path: str, name: str) -> str:
    """A profile entry's package: site-packages' top level, clippost's subpackage, the
    stdlib's module, or for a C function the module or type it belongs to."""
    for marker in ("site-packages/", "src/clippost/", "lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    if "poll' of 'select" in name:
        return "epoll"
    if path == "~":
        inner = name.strip("{}<>")
        if " of " in inner:  # "method 'join' of 'str' objects"
            return "C: " + inner.split(" of ", 1)[1].strip("'").removesuffix("' objects")
        return "C: " + inner.removeprefix("built-in method ").rsplit(".", 1)[0]
    return path.rsplit("/", 1)[-1]
