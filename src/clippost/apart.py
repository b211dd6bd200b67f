"""Work too big for the event loop's process: a call run in a process of its own.

A thread is not enough for it. Decoding a 100,000-highlight upload is one `json.loads`
that holds the GIL for most of a second, and building a big library's objects sets off
full garbage collections that hold it as long; either way the event loop of the process
waits. In a process of its own the work has its own GIL and its own heap, and the event
loop only waits (in a thread) for a small result to come back.

forkserver where the platform has it (a fork of this process would copy the locks its
other threads hold, the database's among them), else spawn.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext
from typing import TypeVar

import anyio.to_thread

log = logging.getLogger(__name__)

T = TypeVar("T")


async def in_a_process(call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in a new process, waited for on a thread; `call` and its arguments
    must pickle. Where no process can be started (a sandbox), in the thread, logged."""
    return await anyio.to_thread.run_sync(_run_apart, call, *args)


def _run_apart(call: Callable[..., T], *args: object) -> T:
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=_context())
        future = pool.submit(call, *args)
    except OSError:
        log.warning("no process could be started for %s; running it in a thread", call)
        return call(*args)
    try:
        return future.result()
    finally:
        pool.shutdown(wait=True)


def _context() -> BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")
