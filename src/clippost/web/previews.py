"""The next digest as the site shows it: the planner's payload (exactly what will be sent,
`planner.service.preview_digest`) turned into passages the page templates can show.

Read with `.get`: the payload belongs to the planner and the email templates, and a field
they add or drop must not break a page.

A preview reads and lays out the reader's whole library: about 30 ms of CPU for 1,000
highlights, seconds for 100,000 (1.8 s to read the rows into Python, 5 s to lay them out,
measured). Past `ON_THE_LOOP` highlights it therefore runs in a warm process
(`clippost.apart`: a thread would still hold the loop through the GIL and the garbage
collections of its objects), so that the web's loop goes on serving every other request
meanwhile (issue 9): on the loop, the previews of a 1,000-book library reloaded twice a
second (the page-load limit) were what a bystander's requests waited behind. The warm
process keeps one event loop and one database connection for every preview it runs (a
`Database` opened and disposed per preview cost about as much as the preview). A small
library's preview stays on the loop, where it costs less than the round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.util import Finalize
from typing import Any

from clippost.apart import in_a_process
from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.planner.service import preview_digest
from clippost.runtime import Runtime


@dataclass(frozen=True, slots=True)
class PreviewPassage:
    text: str
    book_title: str
    book_author: str | None
    note: str | None
    page: str | None
    location_start: int | None
    location_end: int | None
    highlighted_at: datetime | None


@dataclass(frozen=True, slots=True)
class DigestPreview:
    highlights: list[PreviewPassage]


# Libraries of more highlights than this are previewed in a process of their own.
ON_THE_LOOP = 200


# The previews being laid out, by (database, reader): reloads of one reader's page while
# one is under way wait for that one, so that a reader reloading their page as fast as the
# limits let them makes one preview at a time, not a queue in front of other readers'.
_IN_FLIGHT: dict[tuple[str, int], asyncio.Future[dict[str, Any] | None]] = {}


async def next_digest(
    runtime: Runtime, subscriber_id: int, now: datetime, *, library_size: int
) -> DigestPreview | None:
    """The reader's next digest, chosen as the planner will choose it; None for none.
    `library_size` (the reader's highlights, as the caller's page counted them) says
    whether it is laid out on the event loop or beside it."""
    key = (runtime.db.url, subscriber_id)
    running = _IN_FLIGHT.get(key)
    if running is None:
        running = asyncio.ensure_future(_payload(runtime, subscriber_id, now, library_size))
        _IN_FLIGHT[key] = running
        running.add_done_callback(lambda _done: _IN_FLIGHT.pop(key, None))
    # Shielded: one page's client going away must not cancel the others' preview.
    payload = await asyncio.shield(running)
    if not payload:
        return None
    passages = [_passage(item) for item in payload.get("highlights", ()) if isinstance(item, dict)]
    return DigestPreview(passages) if passages else None


async def _payload(
    runtime: Runtime, subscriber_id: int, now: datetime, library_size: int
) -> dict[str, Any] | None:
    ctx = runtime.context(now)
    if library_size > ON_THE_LOOP:
        return await in_a_process(_preview_apart, runtime.db.url, subscriber_id, ctx)
    return await preview_digest(runtime.db, subscriber_id, ctx)


def _preview_apart(url: str, subscriber_id: int, ctx: ServiceContext) -> dict[str, Any] | None:
    """`preview_digest` on this (warm) process's own event loop and database connection."""
    return _Apart.here().run(url, subscriber_id, ctx)


class _Apart:
    """A warm process's event loop and databases (by URL), kept from one preview to the
    next and closed when the process ends (`Finalize`: a pool's process never runs
    `atexit`)."""

    _current: _Apart | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.databases: dict[str, Database] = {}
        Finalize(self, self.close, exitpriority=10)

    @classmethod
    def here(cls) -> _Apart:
        if cls._current is None:
            cls._current = cls()
        return cls._current

    def run(self, url: str, subscriber_id: int, ctx: ServiceContext) -> dict[str, Any] | None:
        db = self.databases.get(url)
        if db is None:
            db = self.databases[url] = Database(url, pool_size=1)
        return self.loop.run_until_complete(preview_digest(db, subscriber_id, ctx))

    def close(self) -> None:
        for db in self.databases.values():
            self.loop.run_until_complete(db.dispose())
        self.loop.close()


def _passage(item: Mapping[str, Any]) -> PreviewPassage:
    return PreviewPassage(
        text=str(item.get("text", "")),
        book_title=str(item.get("book_title", "")),
        book_author=item.get("book_author"),
        note=item.get("note"),
        page=item.get("page"),
        location_start=item.get("location_start"),
        location_end=item.get("location_end"),
        highlighted_at=_moment(item.get("highlighted_at") or item.get("highlighted_on")),
    )


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
