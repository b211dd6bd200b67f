"""Where a whole digest's sending time goes, in one process: claim, render, MIME, SMTP,
record, and the garbage collector, per digest.

Seeds R readers x H highlights as bench/send.py's whole digests do (bench/plan.py's seed),
plans them all (not measured: planning is the planner's), then sends them into `smtp-sink`
with the worker's own Sender on the worker's event loop: one batch to warm up, then its
send loop with one lane (so that the stages do not overlap) until nothing is left. Each
stage is timed with perf_counter and with the process's CPU time (process_time, every
thread: SQLite's work runs on threads of its own). Beside it, the CPU the same digests cost
outside the worker: `smtp-sink`'s, and on PostgreSQL the server's (the backends of the
bench's database, from /proc), and what that allows two workers on this machine's cores:
each digest costs the worker's CPU plus theirs, so N workers on C cores can reach at most
C / (worker + server + sink) digests a second against one worker's 1 / worker. `--profile`
adds a cProfile of the send (which slows it: read its shares, not its times).

    python bench/send_split.py [--readers 5000] [--highlights 50] [--database URL]
                               [--batch 500] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import os
import pstats
import resource
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

import plan as plan_bench
import send as send_bench
from clippost.cli import _loop_factory
from clippost.config import Settings
from clippost.db.dialect import is_postgresql, normalise_database_url
from clippost.db.engine import Database
from clippost.outbox import claims
from clippost.planner.service import plan_due
from clippost.runtime import open_runtime
from clippost.transports import smtp_work
from clippost.worker import build_sender

spent: dict[str, float] = defaultdict(float)  # wall seconds by stage
cpu_spent: dict[str, float] = defaultdict(float)  # the process's CPU seconds by stage


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
            cpu_spent[name] += time.process_time() - cpu

    return wrapper


def timed_async(name: str, function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return await function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
            cpu_spent[name] += time.process_time() - cpu

    return wrapper


wire_bytes = [0, 0]  # bytes, messages


def counted(build: Callable[..., bytes]) -> Callable[..., bytes]:
    def wrapper(message: Any) -> bytes:
        wire = build(message)
        wire_bytes[0] += len(wire)
        wire_bytes[1] += 1
        return wire

    return wrapper


def gc_timer(phase: str, _info: dict[str, Any], started: list[float] = [0.0, 0.0]) -> None:  # noqa: B006
    if phase == "start":
        started[:] = time.perf_counter(), time.process_time()
    else:
        spent["gc"] += time.perf_counter() - started[0]
        cpu_spent["gc"] += time.process_time() - started[1]


def cpu_of(pids: list[int]) -> float:
    """User + system seconds of the processes `pids` (those still alive), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def server_pids(db: Database) -> list[int]:
    """The PostgreSQL backends serving the bench's database (none on SQLite)."""
    if not is_postgresql(db):
        return []
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    async with db.transaction() as session:
        return [int(pid) for (pid,) in (await session.execute(text(query))).all()]


async def run(args: argparse.Namespace, port: int, sink_pid: int, folder: Path) -> None:
    url = args.database or f"sqlite:///{folder / 'clippost.db'}"
    slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    now = datetime.now(UTC)
    seconds = await plan_bench.seed(
        normalise_database_url(url), args.readers, args.highlights, stale=False, slot=slot, now=now
    )
    print(f"seeded {args.readers} readers x {args.highlights} in {seconds:.1f} s ({url})")
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=folder,
        database_url=url,
        secret_key=send_bench.SECRET,
        base_url=send_bench.BASE_URL,
        mail_from=send_bench.MAIL_FROM,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_pool_size=16,
        worker_batch_size=args.batch,
    )
    async with open_runtime(settings) as runtime:
        started = time.perf_counter()
        planned = await plan_due(runtime.db, runtime.context(datetime.now(UTC)))
        print(f"planned {planned} digests in {time.perf_counter() - started:.1f} s (not counted)")
        gc.collect()  # planning's garbage is the planner's cost, not the sender's
        sender = build_sender(runtime, owner="split")
        assert runtime.transport is not None
        sender.render = timed("render", sender.render)
        runtime.transport.send_many = timed_async("smtp (incl. MIME)", runtime.transport.send_many)  # type: ignore[method-assign]
        smtp_work.build_mime = timed("mime", counted(smtp_work.build_mime))  # type: ignore[attr-defined]
        claims_claim, claims_record = claims.claim, claims.record_results
        claims.claim = timed_async("claim", claims_claim)  # type: ignore[assignment]
        claims.record_results = timed_async("record", claims_record)  # type: ignore[assignment]
        await sender.run_once()  # warm: templates, stencils, connections
        # Then the worker's own loop, one lane (so that the stages do not overlap), until a
        # claim finds nothing left: what the loop does after its first batch is measured.
        sender.config = dataclasses.replace(sender.config, lanes=1, poll_interval=0.01)
        stop = asyncio.Event()

        async def claim_until_empty(*args: Any, **kwargs: Any) -> Any:
            claimed = await claims_claim(*args, **kwargs)
            if not claimed:
                stop.set()
            return claimed

        claims.claim = timed_async("claim", claim_until_empty)  # type: ignore[assignment]
        spent.clear()
        cpu_spent.clear()
        wire_bytes[:] = [0, 0]
        profiler = cProfile.Profile() if args.profile else None
        gc.callbacks.append(gc_timer)
        servers = await server_pids(runtime.db)  # the pool's connections, open since warming
        sink_before, server_before = cpu_of([sink_pid]), cpu_of(servers)
        usage_before = resource.getrusage(resource.RUSAGE_SELF)
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await sender.run(stop)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sink_cpu, server_cpu = cpu_of([sink_pid]) - sink_before, cpu_of(servers) - server_before
        sent = wire_bytes[1]
        gc.callbacks.remove(gc_timer)
        claims.claim, claims.record_results = claims_claim, claims_record
    print(
        f"sent {sent} in {wall:.2f} s: {sent / wall:,.0f} digests/s, "
        f"CPU {cpu / sent * 1e6:.0f} µs/digest (one lane, in process; user "
        f"{(usage.ru_utime - usage_before.ru_utime) / sent * 1e6:.0f}, system "
        f"{(usage.ru_stime - usage_before.ru_stime) / sent * 1e6:.0f})"
    )
    print(f"  {wire_bytes[0] / sent:,.0f} bytes a message on the wire")
    cores = os.cpu_count() or 1
    per = {"worker": cpu / sent, "smtp-sink": sink_cpu / sent, "server": server_cpu / sent}
    server = (
        f"PostgreSQL server {per['server'] * 1e6:.0f} µs/digest ({len(servers)} backends)"
        if servers
        else "no server (SQLite works in the worker)"
    )
    print(
        f"  beside the worker: smtp-sink {per['smtp-sink'] * 1e6:.0f} µs/digest, {server}; "
        f"on {cores} cores, {cores} workers can reach at most "
        f"{cores * per['worker'] / sum(per.values()):.2f}x one"
    )
    for table in (spent, cpu_spent):
        table["smtp (excl. MIME)"] = table.pop("smtp (incl. MIME)") - table["mime"]
    print(f"  {'stage':<20}{'wall':>7}{'CPU':>7} µs/digest")
    for name in ("claim", "render", "mime", "smtp (excl. MIME)", "record", "gc"):
        print(f"  {name:<20}{spent[name] / sent * 1e6:7.0f}{cpu_spent[name] / sent * 1e6:7.0f}")
    wall_left = wall - sum(value for key, value in spent.items() if key != "gc")
    cpu_left = cpu - sum(value for key, value in cpu_spent.items() if key != "gc")
    print(f"  {'other':<20}{wall_left / sent * 1e6:7.0f}{cpu_left / sent * 1e6:7.0f}")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--highlights", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--database", help="a database to wipe (default: a new SQLite file)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    port = send_bench.free_port()
    sink = send_bench.start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="clippost-split-"))
    try:
        # The worker's own event loop (uvloop where installed), as `clippost worker` runs.
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(run(args, port, sink.pid, folder))
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
