"""Where uploads are parsed: a few worker processes beside the web process, or a thread;
small uploads in a lane of their own.

Parsing is pure Python, so in a thread the GIL still serialises it with everything the
event loop does; in processes it runs on the other cores and the loop stays free. The app's
lifespan owns one `UploadParsers` (app.state.parsers) and closes it at shutdown.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import TypeVar

import anyio.to_thread

from clippost.errors import Overloaded

log = logging.getLogger(__name__)
T = TypeVar("T")
# What a shed upload is told to wait: about one upload's parse on a busy machine.
RETRY_AFTER_SECONDS = 5
# Uploads this size or under are parsed in the small lane (a thread): a Kindle file of a
# few hundred highlights, parsed and encoded in a few milliseconds.
SMALL_UPLOAD_BYTES = 64 * 1024


class UploadParsers:
    """Where uploads are parsed: a few worker processes, or a thread of this one.

    Parsing is pure Python, so in a thread the GIL still serialises it with everything the
    event loop does; in processes it runs on the other cores and the loop stays free. The
    processes start when the first upload arrives (an app that takes none starts none), from
    a fork server that has imported the import engine already. Where processes cannot be
    had (`processes=0`, a platform or sandbox without them, a pool broken by a killed
    worker), the upload is parsed in a thread instead: slower under load, never refused.
    The queue is bounded: past `queue_limit` uploads in hand, the next is refused at once
    (503 with Retry-After) rather than left to wait behind them while its client times out.

    Small uploads (`SMALL_UPLOAD_BYTES` at most, a few milliseconds of parsing) have a lane
    of their own, a thread with its own bound: they never wait behind big parses nor are
    shed because of them, and they skip the round trips through the pool's threads and
    pipes, which cost more than their parse when the machine is busy.
    """

    def __init__(self, processes: int, *, queue_limit: int = 8) -> None:
        self._processes = processes
        # Uploads parsing or waiting for a process at most; one more is shed at once (503).
        self._queue_limit = queue_limit
        self._queued = 0
        self._small_queued = 0
        self._small = ThreadPoolExecutor(1, thread_name_prefix="clippost-small-uploads")
        self._pool = self._new_pool()
        self._pool_worked = False  # a pool that breaks before any result is not replaced

    @property
    def uses_processes(self) -> bool:
        return self._pool is not None

    @property
    def process_ids(self) -> list[int]:
        """The worker processes started so far (they start with the first upload)."""
        pool = self._pool
        return [] if pool is None else sorted(pool._processes or {})

    async def run(self, call: Callable[[], T], *, size: int | None = None) -> T:
        """`call()` off the event loop: a module-level function (a process gets it by name)
        with its arguments bound; what it raises (a ClippostError for a refused upload)
        is raised here; Overloaded, before any work, when `queue_limit` calls are in hand
        in its lane. `size`: the upload's bytes; up to `SMALL_UPLOAD_BYTES`, the small lane."""
        if size is not None and size <= SMALL_UPLOAD_BYTES:
            return await self._run_small(call)
        self._check_room(self._queued)
        self._queued += 1
        try:
            return await self._run(call)
        finally:
            self._queued -= 1

    @property
    def queued(self) -> int:
        """Calls parsing or waiting for a process now (the small lane's apart)."""
        return self._queued

    @property
    def small_queued(self) -> int:
        """Calls parsing or waiting in the small lane now."""
        return self._small_queued

    def _check_room(self, in_hand: int) -> None:
        if in_hand >= self._queue_limit:
            raise Overloaded(
                "Many uploads are being read right now. Nothing was stored: please send "
                "the form again in a few seconds.",
                retry_after=RETRY_AFTER_SECONDS,
            )

    async def _run_small(self, call: Callable[[], T]) -> T:
        self._check_room(self._small_queued)
        self._small_queued += 1
        try:
            return await asyncio.wrap_future(self._small.submit(call))
        finally:
            self._small_queued -= 1

    async def _run(self, call: Callable[[], T]) -> T:
        pool = self._pool
        if pool is not None:
            try:
                result = await asyncio.wrap_future(pool.submit(call))
            except (BrokenProcessPool, OSError) as exc:
                # Raised by the pool, never by the call (pure code: it raises only
                # ClippostError): a worker was killed, or processes could not be started.
                log.warning("upload parsing process unavailable (%s); parsing in a thread", exc)
                self._replace(pool)
            else:
                self._pool_worked = True
                return result
        return await anyio.to_thread.run_sync(call)

    async def aclose(self) -> None:
        """Stop the processes and the small lane (an upload still being parsed is waited
        for)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await anyio.to_thread.run_sync(functools.partial(pool.shutdown, cancel_futures=True))
        await anyio.to_thread.run_sync(functools.partial(self._small.shutdown, cancel_futures=True))

    def _new_pool(self) -> ProcessPoolExecutor | None:
        if self._processes < 1:
            return None
        try:
            # The workers ignore Ctrl-C (sent to the whole process group): stopping them is
            # the web process's job, at shutdown, without a traceback from each.
            return ProcessPoolExecutor(
                self._processes,
                mp_context=_process_context(),
                initializer=signal.signal,
                initargs=(signal.SIGINT, signal.SIG_IGN),
            )
        except (OSError, NotImplementedError, ValueError) as exc:
            log.warning("no processes to parse uploads (%s); parsing in a thread", exc)
            return None

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A new pool for one whose worker died; none if processes never worked here."""
        if self._pool is not broken:
            return  # another request that saw it break has replaced it already
        broken.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool() if self._pool_worked else None
        self._pool_worked = False


# What the fork server imports before it forks anything: the import engine for the parse
# processes, and the preview's planner for the warm process (`clippost.apart`) forked
# from the same server, which is replaced every few dozen previews: importing the planner
# afresh in each replacement held the manage view waiting for it 4 to 7 s on a loaded
# machine (about 0.4 ms a preview otherwise).
FORKSERVER_PRELOAD = ["clippost.subscriptions.pending", "clippost.web.previews"]


def _process_context() -> BaseContext:
    """A fork server where there is one: forking this process itself would copy the locks
    its other threads (database, worker) may hold; spawning re-imports clippost each time.
    Its preload is set here, before it starts (the app makes its `UploadParsers` at start)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORKSERVER_PRELOAD)
    return context
