"""Turns at a SQLite file's write lock between processes (issue 9).

SQLite has one writer at a time, and a writer that finds the lock taken waits in SQLite's
busy handler, which sleeps 1, 2, 5, 10 ... 50, 100 ms between its tries. A long job that
writes transaction after transaction (the worker merging a 100,000-highlight import a chunk
per transaction, the planner a batch per transaction) takes the lock again the instant it
commits, so a writer of another process (the web's sign-up) keeps waking into a lock that
is taken again: measured, bench/web.py's bystander waited seconds behind a merge whose
transactions each held the lock for tens of milliseconds. Within one process an asyncio
lock queues writers in order (db/engine.py); between processes nothing did.

So every writer says so while it waits for the lock or holds it: each process keeps a
shared `flock` on `<database>-writers` while any of its write transactions is queued or
running. A long job calls `give_way` between its transactions: while another process holds
that lock, a writer of its own is waiting, and the job waits (in short sleeps, a bounded
time) before it begins its next transaction; the waiting writer's next try in its busy
handler finds the lock free. Its own process's writers do not need it (the asyncio lock
is FIFO) but are seen too, which is harmless: the job holds no lock while it gives way.

The flock is advisory and only among clippost processes: it never guards data (SQLite's
own lock does), so a process that does not take it (the sqlite3 shell) only goes without
its turn. On PostgreSQL writers lock rows, not the database, and nothing here is used.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from pathlib import Path

# How often a job giving way looks again, and how long it waits for others in one turn:
# twice as long as its own transaction took, so that it keeps a third of the lock's time
# however many writers queue (a flood of refused sign-ups must not stop a merge for good),
# within bounds: a waiter in SQLite's busy handler tries again every 25 ms at first (and
# every 100 ms after a third of a second), so a shorter turn would miss it.
LOOK_EVERY = 0.002
SHORTEST_TURN = 0.05
LONGEST_TURN = 0.5


def turn_for(held: float) -> float:
    """The longest a job gives way after a transaction that held the lock `held` seconds."""
    return min(LONGEST_TURN, max(SHORTEST_TURN, 2 * held))


class WriteTurns:
    """This process's side of the turns at one SQLite file's write lock."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}-writers")
        self._announce: int | None = None  # the shared lock's descriptor, while held
        self._writers = 0  # this process's write transactions queued or running

    def enter(self) -> None:
        """A write transaction of this process is queued or running."""
        self._writers += 1
        if self._announce is None:
            self._announce = _locked(self.path, fcntl.LOCK_SH)

    def leave(self) -> None:
        """A write transaction of this process has ended."""
        self._writers -= 1
        if self._writers == 0 and self._announce is not None:
            os.close(self._announce)  # closing the descriptor releases its lock
            self._announce = None

    def others_waiting(self) -> bool:
        """Whether a writer (of another process, or of this one's) is queued or running."""
        probe = _locked(self.path, fcntl.LOCK_EX)
        if probe is None:
            return True
        os.close(probe)
        return False

    async def give_way(self, *, longest: float = LONGEST_TURN) -> float:
        """Wait while other writers are queued, at most `longest` seconds; the seconds
        waited. Called between two transactions of a long job, holding no lock."""
        began = time.perf_counter()
        while self.others_waiting():
            waited = time.perf_counter() - began
            if waited >= longest:
                return waited
            await asyncio.sleep(LOOK_EVERY)
        return time.perf_counter() - began


def _locked(path: Path, kind: int) -> int | None:
    """A new descriptor of `path` holding a `kind` flock; None when another holds a lock
    that conflicts (never waits: the caller may be on an event loop)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor
