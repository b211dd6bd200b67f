"""Work a hostile reader sets off stays bounded (issue 9, cost and limits), on SQLite and
PostgreSQL: a full parse queue sheds load with 503 and Retry-After while small uploads keep
a lane of their own; big imports merge a chunk per transaction and survive an interruption
(or a kill -9 inside a chunk) with nothing lost or doubled. The limits checked before work
are in tests/web/test_hostile_limits.py.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

import factories
from clippost.errors import Overloaded
from clippost.library import chunks
from clippost.links import Purpose
from clippost.models import (
    Highlight,
    RateLimitWindow,
    SubscriberStatus,
)
from clippost.subscriptions.merging import merge_next, plan_merge
from clippost.web.upload_parsers import SMALL_UPLOAD_BYTES, UploadParsers


def _limited(web_settings: Any, **changes: Any) -> Any:
    return web_settings.model_copy(update={"parse_processes": 0, **changes})


async def _rate_counts(web: Any) -> dict[str, int]:
    async with web.db.read() as session:
        rows = await session.execute(select(RateLimitWindow.key, RateLimitWindow.count))
        return {key: int(count) for key, count in rows}


class TestParseQueue:
    async def test_a_full_queue_sheds_the_next_upload(self, web_app, web_settings):
        """With every parse slot taken, a sign-up gets 503 with Retry-After, nothing is
        stored, and the address's allowance is given back."""
        settings = _limited(web_settings, parse_queue=1, emails_per_address_per_hour=1)
        async with web_app(settings) as web, _holding_the_parser(web.app.state.parsers):
            before = await web.counts()
            response = await web.sign_up("ann@example.org")
            assert response.status_code == 503
            assert int(response.headers["retry-after"]) > 0
            assert "Nothing was stored" in response.text
            assert await web.counts() == before
            counts = await _rate_counts(web)
            assert [n for key, n in counts.items() if key.startswith("mail:")] == [0]
        async with web_app(settings) as web:
            assert (await web.sign_up("ann@example.org")).status_code == 303

    async def test_the_queue_admits_again_once_a_parse_ends(self) -> None:
        """The bound counts uploads in hand, not uploads ever made."""
        parsers = UploadParsers(0, queue_limit=1)
        try:
            async with _holding_the_parser(parsers):
                with pytest.raises(Overloaded):
                    await parsers.run(lambda: 1)
            assert await parsers.run(lambda: 2) == 2
            assert parsers.queued == 0
        finally:
            await parsers.aclose()

    async def test_a_small_upload_never_waits_behind_big_ones(self) -> None:
        """With the big uploads' lane full, a small upload is still parsed, at once."""
        parsers = UploadParsers(0, queue_limit=1)
        release = threading.Event()
        try:
            held = asyncio.ensure_future(parsers.run(lambda: release.wait(10)))
            while parsers.queued == 0:
                await asyncio.sleep(0.01)
            with pytest.raises(Overloaded):
                await parsers.run(lambda: 1, size=SMALL_UPLOAD_BYTES + 1)
            small = parsers.run(lambda: 2, size=SMALL_UPLOAD_BYTES)
            assert await asyncio.wait_for(small, timeout=5) == 2
            release.set()
            await held
        finally:
            release.set()
            await parsers.aclose()

    async def test_the_small_lane_is_bounded_too(self) -> None:
        """Past `queue_limit` small uploads in hand, the next small one is shed as well."""
        parsers = UploadParsers(0, queue_limit=1)
        release = threading.Event()
        try:
            held = asyncio.ensure_future(parsers.run(lambda: release.wait(10), size=10))
            while parsers.small_queued == 0:
                await asyncio.sleep(0.01)
            with pytest.raises(Overloaded):
                await parsers.run(lambda: 1, size=10)
            release.set()
            await held
            assert await parsers.run(lambda: 3, size=10) == 3
        finally:
            release.set()
            await parsers.aclose()


@asynccontextmanager
async def _holding_the_parser(parsers: UploadParsers) -> AsyncIterator[None]:
    """One parse slot of each lane (big uploads, small ones) taken by a call that waits
    until the block ends."""
    release = threading.Event()
    held = [
        asyncio.ensure_future(parsers.run(lambda: release.wait(10), size=size))
        for size in (None, 0)
    ]
    while parsers.queued == 0 or parsers.small_queued == 0:
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        release.set()
        await asyncio.gather(*held)


class TestChunkedMerge:
    async def test_a_big_confirmation_merges_in_chunks(self, web):
        """An import of several chunks is merged one transaction per chunk and confirmed
        whole: every highlight once, the subscriber confirmed, the counts right."""
        size = chunks.MERGE_CHUNK * 2 + 7
        await web.sign_up("big@example.org", web.many_books(9, size // 9 + 1))
        link = await web.last_link("confirm", "confirm_url")
        with _transactions(web.db) as begun:
            page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        total = (await web.counts())["highlights"]
        assert total == 9 * (size // 9 + 1)
        assert begun[0] >= 3  # the chunks, then the one that applies the import
        pending = await web.import_progress()
        assert (pending.merged_chunks, pending.merged_highlights) == (3, total)
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.CONFIRMED

    async def test_an_interrupted_merge_resumes_losing_and_doubling_nothing(self, web):
        """A merge stopped after its first chunk (the process killed) leaves the address
        pending; the next click merges the rest, and every highlight is there once."""
        await web.sign_up("big@example.org", web.many_books(3, chunks.MERGE_CHUNK))
        link = await web.last_link("confirm", "confirm_url")
        token = link.rsplit("/", 1)[1]
        ctx = web.app.state.runtime.context(datetime.now(UTC))
        async with web.db.read() as session:
            plan = await plan_merge(session, ctx, Purpose.CONFIRM, token)
        assert plan is not None
        assert len(plan.chunks) == 3
        async with web.db.transaction() as session:
            assert await merge_next(session, ctx, plan)
        # Killed here: one chunk committed, the import not applied, nothing says done.
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.PENDING
        assert (await web.counts())["highlights"] == chunks.MERGE_CHUNK
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert await _distinct_highlights(web) == (3 * chunks.MERGE_CHUNK,) * 2
        assert (await web.import_progress()).merged_highlights == 3 * chunks.MERGE_CHUNK
        again = await web.post_form(link, csrf_from=link)
        assert again.status_code == 200
        assert (await web.counts())["highlights"] == 3 * chunks.MERGE_CHUNK

    async def test_racing_clicks_merge_each_chunk_once(self, web):
        """Two clicks at once on a many-chunk confirmation: both answer, each highlight is
        stored once and counted once."""
        await web.sign_up("big@example.org", web.many_books(4, chunks.MERGE_CHUNK // 2 + 3))
        link = await web.last_link("confirm", "confirm_url")
        token = await web.csrf(link)
        pages = await asyncio.gather(
            *(web.client.post(link, data={"csrf_token": token}) for _ in range(2))
        )
        assert [p.status_code for p in pages] == [200, 200]
        expected = 4 * (chunks.MERGE_CHUNK // 2 + 3)
        assert await _distinct_highlights(web) == (expected, expected)
        assert (await web.import_progress()).merged_highlights == expected


@contextmanager
def _transactions(db: Any) -> Iterator[list[int]]:
    """How many write transactions begin while the block runs."""
    begun = [0]

    def count(*_: Any) -> None:
        begun[0] += 1

    engine = db.engine.sync_engine
    event.listen(engine, "begin", count)
    try:
        yield begun
    finally:
        event.remove(engine, "begin", count)


async def _distinct_highlights(web: Any) -> tuple[int, int]:
    async with web.db.read() as session:
        rows = await session.scalar(select(func.count()).select_from(Highlight))
        distinct = await session.scalar(select(func.count(func.distinct(Highlight.text))))
        return int(rows or 0), int(distinct or 0)


# A process that merges a confirmation's chunks, then stops inside the next chunk's open
# transaction (its rows written, not committed) until it is killed.
_MERGER = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
import factories
from clippost.db.engine import Database
from clippost.links import Purpose
from clippost.subscriptions.merging import merge_next, plan_merge

async def main(url, data_dir, token):
    settings = factories.make_settings(data_dir=Path(data_dir), database_url=url)
    ctx = factories.service_context(settings, now=datetime.now(UTC))
    db = Database(settings.resolved_database_url)
    async with db.read() as session:
        plan = await plan_merge(session, ctx, Purpose.CONFIRM, token)
    async with db.transaction() as session:
        await merge_next(session, ctx, plan)
    async with db.transaction() as session:
        await merge_next(session, ctx, plan)
        await session.flush()
        print("inside the second chunk", flush=True)
        await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""


class TestKilledMidMerge:
    async def test_kill_9_inside_a_chunk_loses_and_doubles_nothing(self, web, tmp_path):
        """A process killed (SIGKILL) with a chunk half written: the chunk before it is kept,
        its own rows vanish with its transaction, and the next click completes the import
        with every highlight once."""
        per_book = chunks.MERGE_CHUNK
        await web.sign_up("big@example.org", web.many_books(3, per_book))
        link = await web.last_link("confirm", "confirm_url")
        child = factories.child_script(
            _MERGER, web.settings.database_url, str(tmp_path), link.rsplit("/", 1)[1]
        )
        try:
            assert await factories.next_line(child) == "inside the second chunk"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        assert (await web.counts())["highlights"] == per_book
        assert (await web.import_progress()).merged_chunks == 1
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.PENDING
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert await _distinct_highlights(web) == (3 * per_book, 3 * per_book)
        assert (await web.import_progress()).merged_highlights == 3 * per_book
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.CONFIRMED
