"""The cyclic garbage collector held off while a piece of work builds many small objects.

Parsing a clippings file, merging a library and planning a batch of digests each allocate
tens of thousands to millions of small objects and no reference cycles worth collecting
before the work ends (reference counting frees the rest as it goes). CPython's collector
runs a collection every 700 net allocations of container objects, each walking what
survived the last one: with it running, a third of a merge's time and a quarter of the
planner's CPU (bench/plan.py, PostgreSQL, 20,000 readers). So the collector is paused for
the work and resumed after, when the next allocation lets it catch up in one pass.

Pauses overlap in one process: `clippost serve` plans, merges imports and parses uploads
(on threads) at once. They are counted, under a lock: the collector resumes when the last
one ends, and only if it was running when the first began (a process that turned it off
keeps it off).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic collector for the duration of the block."""
    global _depth, _resume  # one process-wide collector, one count of its pauses
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
