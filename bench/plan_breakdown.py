"""Where a planner's wall time goes, statement by statement (`bench/plan.py --breakdown`).

Listens on the engine: each statement's time is from the driver call to its result
(the database's work and the round trip, the driver's encoding included), each commit's
from the COMMIT sent to its answer. The rest of the wall time is the planner's Python.
Statements are named by what they do (`label`), so the figures read per batch step.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
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

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine

        @event.listens_for(sync, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(sync, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            self._add(label(statement), time.perf_counter() - conn.info.pop("bench_started"))

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

    def as_dict(self) -> dict[str, list[float]]:
        return {step: [self.seconds[step], self.calls[step]] for step in self.seconds}


def show(figures: list[dict[str, list[float]]], planned: int, wall: float) -> None:
    """Microseconds per reader of each step (summed over the planners), and what is left."""
    total: dict[str, float] = defaultdict(float)
    calls: dict[str, float] = defaultdict(float)
    for one in figures:
        for step, (seconds, count) in one.items():
            total[step] += seconds
            calls[step] += count
    per = max(planned, 1)
    waited = sum(total.values())
    parts = [
        f"{step} {seconds * 1e6 / per:,.0f}"
        for step, seconds in sorted(total.items(), key=lambda item: -item[1])
    ]
    print(f"  database per reader (us, driver call to answer): {', '.join(parts)}")
    print(
        f"  waiting on the database {waited * 1e6 / per:,.0f} us of "
        f"{wall * 1e6 / per:,.0f} us wall per reader and planner"
    )
