"""Where a planner's wall time goes, statement by statement (`bench/plan.py --breakdown`).

Listens on the engine: each statement's time is from the driver call to its result
(the database's work and the round trip, the driver's encoding included), each commit's
from the COMMIT sent to its answer. The rest of the wall time is the planner's Python.
Statements are named by what they do (`label`), so the figures read per batch step.
With the two batches a planner keeps in flight, a statement's time includes any wait for
the event loop (the other batch's Python): the steps then add up to more than the wall.

The database's own CPU for the planner's connections is read from /proc for each server
process the planner connected to (a server on this machine only): the figure that moves
least when the machine is shared.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_TABLE = re.compile(r"^\s*(INSERT INTO|UPDATE)\s+(\w+)", re.IGNORECASE)


def label(statement: str) -> str:
    """The batch step a statement belongs to."""
    if found := _TABLE.match(statement):
        verb = "insert" if found.group(1).upper().startswith("INSERT") else "update"
        return f"{verb} {found.group(2)}"
    if "FOR UPDATE" in statement:
        return "claim"
    if "LATERAL" in statement or "json_each" in statement:
        return "windows"
    if "EXTRACT" in statement.upper() or "strftime" in statement:
        return "on this day"
    if "suppressions" in statement:
        return "suppressions"
    if "highlights.text" in statement:
        return "contents"
    return "other"


class Breakdown:
    """Seconds and calls per step, gathered while attached to an engine."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.backends: list[int] = []

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(sync, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            self._add(label(statement), time.perf_counter() - conn.info.pop("bench_started"))

        # The server's own CPU is read for PostgreSQL's backends; SQLite's work is the
        # planner's own (its process CPU counts it already).
        @event.listens_for(sync, "connect")
        def _connected(dbapi_connection: Any, _record: Any) -> None:
            if sync.dialect.name != "postgresql":
                return
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            self.backends.append(int(cursor.fetchone()[0]))
            cursor.close()

        dialect = sync.dialect
        commit = dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.perf_counter()
            commit(dbapi_connection)
            self._add("commit", time.perf_counter() - started)

        dialect.do_commit = timed_commit  # type: ignore[method-assign]

    def _add(self, step: str, seconds: float) -> None:
        self.seconds[step] += seconds
        self.calls[step] += 1

    def server_cpu(self) -> float:
        """CPU seconds the server processes of this planner's connections have used (read
        before they are closed); 0 when the server is not on this machine."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.backends:
            stat = Path(f"/proc/{pid}/stat")
            if stat.exists():
                fields = stat.read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def as_dict(self) -> dict[str, list[float]]:
        figures = {step: [self.seconds[step], self.calls[step]] for step in self.seconds}
        if self.backends:
            figures["server CPU"] = [self.server_cpu(), len(self.backends)]
        return figures


def show(figures: list[dict[str, list[float]]], planned: int, wall: float) -> float | None:
    """Microseconds per reader of each step (summed over the planners), and what is left;
    returns the database's own CPU per reader (us), None when it was not read."""
    total: dict[str, float] = defaultdict(float)
    calls: dict[str, float] = defaultdict(float)
    for one in figures:
        for step, (seconds, count) in one.items():
            total[step] += seconds
            calls[step] += count
    per = max(planned, 1)
    server = total.pop("server CPU", None)
    waited = sum(total.values())
    parts = [
        f"{step} {seconds * 1e6 / per:,.0f}"
        for step, seconds in sorted(total.items(), key=lambda item: -item[1])
    ]
    print(f"  database per reader (us, driver call to answer): {', '.join(parts)}")
    own = (
        "SQLite's work is the planner's own CPU"
        if server is None
        else f"the database's own CPU for the planners' connections: {server * 1e6 / per:,.0f} "
        "us per reader"
    )
    print(
        f"  waiting on the database {waited * 1e6 / per:,.0f} us of "
        f"{wall * 1e6 / per:,.0f} us wall per reader and planner; {own}"
    )
    return None if server is None else server * 1e6 / per
