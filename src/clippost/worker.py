"""A worker: the planner every 30 seconds, the send loop, the sweeper, and the merge of big
imports (subscriptions/background_merge.py), until told to stop.

It wires the two halves of the data flow that meet in the outbox, the planner (which
queues digests) and the sender (which sends what is queued), so neither imports the other.

`run_worker` serves `clippost worker` and, in-process, `clippost serve`. Any number may run
at once on PostgreSQL (and several processes on one SQLite file): the planner is idempotent
(UNIQUE digest keys) and claiming hands each row to one worker at a time.
`send_due` is the cron/serverless form: plan what is due at a moment, send it, return.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from clippost.db.base import utcnow
from clippost.metrics import send_metrics
from clippost.outbox import claims
from clippost.outbox.sender import BatchReport, Sender, SenderConfig, sleep_unless_stopped
from clippost.planner.service import plan_due
from clippost.runtime import Runtime
from clippost.subscriptions.background_merge import merge_one
from clippost.subscriptions.sweep import sweep

log = logging.getLogger(__name__)

PLAN_EVERY = 30.0
# The sweeper (subscriptions/sweep.py) deletes what outlived its use; retention is in hours.
SWEEP_EVERY = 600.0
# On stop, a batch in flight gets this long to finish before it is cancelled and released.
SHUTDOWN_GRACE = 20.0


@dataclass(frozen=True, slots=True)
class SendDueReport:
    at: datetime
    planned: int
    sent: int
    retried: int
    failed: int
    suppressed: int


def new_owner() -> str:
    """A name no other worker has: host, process, and a random part (pids are reused)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def build_sender(runtime: Runtime, *, owner: str) -> Sender:
    if runtime.transport is None:
        raise RuntimeError("a worker needs a runtime opened with its transport")
    settings = runtime.settings
    config = SenderConfig(
        owner=owner,
        batch_size=settings.worker_batch_size,
        poll_interval=settings.worker_poll_interval,
        lease=timedelta(seconds=settings.lease_seconds),
        retry_deadline=timedelta(hours=settings.retry_deadline_hours),
        retry_base=settings.retry_base_seconds,
    )
    return Sender(
        db=runtime.db,
        transport=runtime.transport,
        render=runtime.renderer,
        config=config,
        observer=send_metrics(),
    )


async def run_worker(runtime: Runtime, stop: asyncio.Event, *, owner: str | None = None) -> None:
    """Plan and send until `stop` is set; then finish (or release) what is in flight."""
    owner = owner or new_owner()
    sender = build_sender(runtime, owner=owner)
    log.info("worker %s started (transport %s)", owner, sender.transport.name)
    planner = asyncio.create_task(_plan_forever(runtime, stop))
    sweeper = asyncio.create_task(_sweep_forever(runtime, stop))
    merger = asyncio.create_task(_merge_forever(runtime, stop, owner=owner))
    sending = asyncio.create_task(sender.run(stop))
    await stop.wait()
    planner.cancel()
    sweeper.cancel()
    try:
        await asyncio.wait_for(sending, timeout=SHUTDOWN_GRACE)
    except TimeoutError:
        log.warning(
            "worker %s: batch still in flight after %.0fs; releasing", owner, SHUTDOWN_GRACE
        )
    except Exception:
        log.exception("worker %s: send loop ended with an error", owner)
    # The merger stops between chunks by itself and gives its import back (no cancel: a
    # cancelled chunk would keep its lease until it expired).
    await asyncio.gather(planner, sweeper, merger, return_exceptions=True)
    released = await claims.release(runtime.db, owner=owner)
    log.info("worker %s stopped (%d rows released)", owner, released)


async def _plan_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            planned = await plan_due(runtime.db, runtime.context(utcnow()))
            if planned:
                log.info("planned %d digests", planned)
        except Exception:
            log.exception("planner error; trying again in %.0fs", PLAN_EVERY)
        await sleep_unless_stopped(stop, PLAN_EVERY)


async def _merge_forever(runtime: Runtime, stop: asyncio.Event, *, owner: str) -> None:
    """Merge big imports waiting for a worker, one after another; look again when idle."""
    while not stop.is_set():
        if not await merge_once(runtime, owner=owner, stop=stop):
            await sleep_unless_stopped(stop, runtime.settings.worker_poll_interval)


async def merge_once(runtime: Runtime, *, owner: str, stop: asyncio.Event) -> bool:
    """Merge one waiting import; False when none waits or the merge failed (logged)."""
    lease = timedelta(seconds=runtime.settings.merge_lease_seconds)
    try:
        return await merge_one(runtime.db, runtime.context, owner=owner, lease=lease, stop=stop)
    except Exception:
        log.exception("import merge error; its lease expires and it is tried again then")
        return False


async def _sweep_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await sweep_once(runtime, at=utcnow())
        await sleep_unless_stopped(stop, SWEEP_EVERY)


async def sweep_once(runtime: Runtime, *, at: datetime) -> None:
    """One sweep, logged; an error is logged and left for the next one."""
    try:
        report = await sweep(runtime.db, runtime.settings, now=at)
    except Exception:
        log.exception("sweeper error; trying again in %.0fs", SWEEP_EVERY)
        return
    if report.total:
        log.info(
            "swept %d expired uploads, %d never-confirmed readers, %d rate-limit windows",
            report.pending_imports,
            report.readers,
            report.rate_limit_windows,
        )


async def send_due(runtime: Runtime, *, at: datetime) -> SendDueReport:
    """Plan everything due at `at`, then send until nothing due by `at` is left.

    Safe to run concurrently: each run claims its own rows. A row that fails transiently is
    tried once per run (its retry time is recorded); the next run, or a worker, tries again.
    """
    planned = await plan_due(runtime.db, runtime.context(at))
    await sweep_once(runtime, at=at)  # cron set-ups have no worker to sweep for them
    owner = new_owner()
    # ... nor to merge their big imports.
    while await merge_once(runtime, owner=owner, stop=asyncio.Event()):
        pass
    sender = build_sender(runtime, owner=owner)
    total = BatchReport()
    tried: set[int] = set()
    try:
        while True:
            report = await sender.run_once(due_by=at, skip=tried)
            total.add(report)
            tried.update(report.retried_ids)
            if report.claimed == 0:
                break
    finally:
        await claims.release(runtime.db, owner=owner)
    return SendDueReport(
        at=at,
        planned=planned,
        sent=total.sent,
        retried=total.retried,
        failed=total.failed,
        suppressed=total.suppressed,
    )
