"""Work too big for the event loop's process: a call run in a warm process of its own.

A thread is not enough for it. Decoding a 100,000-highlight upload is one `json.loads`
that holds the GIL for most of a second, and building a big library's objects sets off
full garbage collections that hold it as long; either way the event loop of the process
waits. In a process of its own the work has its own GIL and its own heap, and the event
loop only waits (in a thread) for a small result to come back.

The processes are kept warm and few: a manage view of a big library used to start a
process (and import clippost in it) for its one preview, as often as anyone reloaded it.
Now `PROCESSES` processes serve every call of this process, in turn (more calls queue),
each replaced after `TASKS_PER_PROCESS` calls so that what a big library left in its heap
is given back. They live as long as a runtime holds them (`held()`: `open_runtime` does,
so `clippost serve` and `clippost worker` hold them while they run) and are killed when
the last one lets go. A server killed outright (SIGKILL) cannot kill them: each watches
the process that started it (`_watch_owner`) and exits when it is gone, since the pool's
own pipes never tell it (the process holds both ends of its call queue).

forkserver where the platform has it (a fork of this process would copy the locks its
other threads hold, the database's among them), else spawn.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.context import BaseContext
from typing import TypeVar

import anyio.to_thread

log = logging.getLogger(__name__)

T = TypeVar("T")

PROCESSES = 1
TASKS_PER_PROCESS = 50
# Where a process cannot be waited on (no pidfd), how often a warm one looks for its owner.
OWNER_POLL_SECONDS = 1.0


async def in_a_process(call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in one of the warm processes, waited for on a thread; `call` and its
    arguments must pickle. Where no process can be started (a sandbox), in the thread,
    logged."""
    return await anyio.to_thread.run_sync(_POOL.run, call, *args)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """The warm processes kept for the block; killed when the last holder's block ends."""
    _POOL.hold()
    try:
        yield
    finally:
        _POOL.let_go()


def process_ids() -> list[int]:
    """The warm processes' ids (none until the first call)."""
    return _POOL.process_ids()


class _Pool:
    """The process-wide pool: made at the first call, killed when nobody holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._holders = 0

    def run(self, call: Callable[..., T], *args: object) -> T:
        try:
            future = self._current().submit(call, *args)
        except OSError:
            log.warning("no process could be started for %s; running it in a thread", call)
            return call(*args)
        try:
            return future.result()
        except BrokenProcessPool:
            self._forget(broken=True)  # a process died (killed, out of memory): start anew
            raise

    def hold(self) -> None:
        with self._lock:
            self._holders += 1

    def let_go(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders > 0:
                return
        self._forget()

    def process_ids(self) -> list[int]:
        with self._lock:
            processes = getattr(self._executor, "_processes", None) or {}
            return [int(pid) for pid in processes]

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=PROCESSES,
                    mp_context=_context(),
                    initializer=_watch_owner,
                    initargs=(os.getpid(),),
                    max_tasks_per_child=TASKS_PER_PROCESS,
                )
            return self._executor

    def _forget(self, *, broken: bool = False) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        # No public way to stop a running call: its processes are terminated (a preview
        # or a cut nobody will wait for), then the pool is shut down without waiting.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        if broken:
            log.warning("a warm process died; the next call starts another")


_POOL = _Pool()


def _watch_owner(owner: int) -> None:
    """In a warm process: exit as soon as process `owner` (the one whose pool this is) has
    ended, however it ended."""
    threading.Thread(target=_exit_after, args=(owner,), name="clippost-owner", daemon=True).start()


def _exit_after(owner: int) -> None:
    try:
        handle = os.pidfd_open(owner)  # Linux: readable once the process has ended
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _running(owner):
            time.sleep(OWNER_POLL_SECONDS)
    os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")
