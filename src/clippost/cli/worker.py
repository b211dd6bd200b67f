"""`clippost worker` and `clippost send-due`: wiring, signals and output."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from typing import TextIO

import prometheus_client

from clippost import logs
from clippost import worker as worker_module
from clippost.cli.common import cli_runtime
from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.metrics import process_registry


async def worker_command(args: argparse.Namespace) -> int:
    return await worker(Settings())


async def send_due_command(args: argparse.Namespace) -> int:
    return await send_due(Settings(), at=args.at, out=sys.stdout)


async def worker(settings: Settings) -> int:
    """Run a worker until SIGTERM or SIGINT, then stop cleanly (exit status 0)."""
    logs.configure(settings.log_format)
    if settings.worker_metrics_port is not None:
        serve_metrics(settings.worker_metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with cli_runtime(settings) as runtime:
            await worker_module.run_worker(runtime, stop)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0


async def send_due(settings: Settings, *, at: datetime | None, out: TextIO) -> int:
    """Plan and send everything due at `at` (default now); print what happened."""
    logs.configure(settings.log_format)
    async with cli_runtime(settings) as runtime:
        report = await worker_module.send_due(runtime, at=at or utcnow())
    out.write(
        f"due at {report.at.isoformat()}: planned {report.planned} digests; "
        f"sent {report.sent}, retry later {report.retried}, failed {report.failed}, "
        f"suppressed {report.suppressed}\n"
    )
    return 0


def serve_metrics(port: int) -> None:
    """The send loop's metrics on http://0.0.0.0:port/ (a thread of this process), for
    workers on machines where no web process reports them."""
    prometheus_client.start_http_server(port, registry=process_registry())
