"""`clippost worker`, `clippost send-due` and `clippost stats`: wiring, signals and output."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import datetime
from typing import TextIO

from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.outbox import repository
from clippost.outbox import worker as worker_module
from clippost.runtime import open_runtime
from clippost.subscriptions import repository as subscribers


async def worker(settings: Settings) -> int:
    """Run a worker until SIGTERM or SIGINT, then stop cleanly (exit status 0)."""
    _configure_logging()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_runtime(settings) as runtime:
            await worker_module.run_worker(runtime, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


async def send_due(settings: Settings, *, at: datetime | None, out: TextIO) -> int:
    """Plan and send everything due at `at` (default now); print what happened."""
    _configure_logging()
    async with open_runtime(settings) as runtime:
        report = await worker_module.send_due(runtime, at=at or utcnow())
    out.write(
        f"due at {report.at.isoformat()}: planned {report.planned} digests; "
        f"sent {report.sent}, retry later {report.retried}, failed {report.failed}, "
        f"suppressed {report.suppressed}\n"
    )
    return 0


async def stats(settings: Settings, *, out: TextIO) -> int:
    """Print subscribers by status and outbox rows by state."""
    async with open_runtime(settings, with_transport=False) as runtime:
        found = await repository.stats(runtime.db, now=utcnow())
        by_status = await subscribers.count_by_status(runtime.db)
    out.write("subscribers\n")
    for status, count in sorted(by_status.items()):
        out.write(f"  {status:<14}{count:>10}\n")
    out.write("outbox\n")
    for state, count in sorted(found.by_state.items()):
        out.write(f"  {state:<14}{count:>10}\n")
    out.write(f"  {'due now':<14}{found.due_now:>10}\n  {'leased':<14}{found.leased:>10}\n")
    return 0


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
