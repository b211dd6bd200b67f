"""The cyclic garbage collector held off while the planner works through a batch.

A batch allocates tens of thousands of small objects that live until it commits (rows,
entries, picks, payloads), and CPython's collector runs a collection every 700 net
allocations of container objects, each walking what survived the last one: measured on
bench/plan.py (PostgreSQL, 20,000 readers), a quarter of the planner's CPU. Nothing a
batch builds is cyclic garbage worth collecting before the batch ends (reference counting
frees the rest as it goes), so the collector is paused for the batch and resumed after,
when the next allocation lets it catch up in one pass. Nested and overlapping pauses (two
tasks of one process planning at once) count: the collector resumes when the last ends,
and only if it was running when the first began.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off the cyclic collector for the duration of the block."""
    global _depth, _resume  # one process-wide collector, one count of its pauses
    if _depth == 0:
        _resume = gc.isenabled()
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _resume:
            gc.enable()
