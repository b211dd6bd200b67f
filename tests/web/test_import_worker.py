"""Big imports merged by the worker (issue 9), on SQLite and PostgreSQL.

A confirm or add click for an import over `merge_in_worker_over` highlights answers at once
with a page that updates until the import is done; the worker merges it a chunk per
transaction, exactly once whatever races or dies (two workers, a lease taken over, a
SIGKILL inside a chunk), and stops when the reader erases everything meanwhile. The web's
event loop during a 100,000-highlight confirm, and the warm process that previews big
libraries, are in tests/web/test_import_worker_loop.py.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

import factories
from clippost.db.engine import Database
from clippost.library import chunks
from clippost.links import Purpose
from clippost.models import Highlight, ImportProgress, PendingImport, SubscriberStatus
from clippost.subscriptions.background_merge import MergeJob, merge_one, take_job

LEASE = timedelta(minutes=5)
KEPT_LINE = "Passage {b}-{n}: a line the reader kept for a later day."
REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+)">')


@pytest.fixture
async def web(web_app: Any, web_settings: Any) -> AsyncIterator[Any]:
    """The app with imports of more than one chunk handed to the worker (none runs: the
    tests run its steps themselves)."""
    settings = web_settings.model_copy(update={"merge_in_worker_over": chunks.MERGE_CHUNK})
    async with web_app(settings) as opened:
        yield opened


async def _requested(web: Any, email: str, *, chunk_count: int = 3) -> tuple[str, str]:
    """Sign `email` up with `chunk_count` chunks of highlights and press the confirm
    button; (the link, the page it redirected to)."""
    await web.sign_up(email, web.many_books(chunk_count, chunks.MERGE_CHUNK, line=KEPT_LINE))
    link = await web.last_link("confirm", "confirm_url")
    response = await web.post_form(link, csrf_from=link)
    assert response.status_code == 303, response.text
    return link, response.headers["location"]


def _contexts(web: Any) -> Any:
    return web.app.state.runtime.context


async def _job(web: Any, *, owner: str = "test-worker", db: Database | None = None) -> MergeJob:
    job = await take_job(db or web.db, _contexts(web), owner=owner, lease=LEASE)
    assert job is not None
    assert await job.prepare()
    return job


async def _set_progress(web: Any, **values: Any) -> None:
    async with web.db.transaction() as session:
        await session.execute(update(ImportProgress).values(**values))


async def _highlights(web: Any) -> tuple[int, int]:
    """How many highlight rows, and how many distinct texts."""
    async with web.db.read() as session:
        rows = await session.scalar(select(func.count()).select_from(Highlight))
        distinct = await session.scalar(select(func.count(func.distinct(Highlight.text))))
        return int(rows or 0), int(distinct or 0)


class TestTheClick:
    async def test_a_big_confirmation_answers_at_once_with_the_importing_page(self, web):
        """The click merges nothing: it redirects to a page that says the import is under
        way, shows none of its parts done, and reloads itself."""
        link, progress = await _requested(web, "big@example.org")
        assert progress == f"{link}/importing"
        page = await web.client.get(progress)
        assert page.status_code == 200
        assert "Importing your highlights" in page.text
        assert "0 of 3 parts imported" in page.text
        assert REFRESH.search(page.text).group(1) == "2"  # type: ignore[union-attr]
        assert await _highlights(web) == (0, 0)
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.PENDING

    async def test_the_page_follows_the_merge_then_shows_the_subscribed_page(self, web):
        """Each merged chunk shows on the page; once the import is applied the same address
        shows the subscribed page, its preview included, and the reader is confirmed."""
        _, progress = await _requested(web, "big@example.org")
        job = await _job(web)
        assert await job.merge_next()
        assert "1 of 3 parts imported" in (await web.client.get(progress)).text
        while await job.merge_next():
            pass
        assert await job.apply()
        page = await web.client.get(progress)
        assert page.status_code == 200
        assert "You are subscribed" in page.text
        assert "What your first email will contain" in page.text
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.CONFIRMED
        assert await _highlights(web) == (3 * chunks.MERGE_CHUNK,) * 2

    async def test_the_emailed_link_leads_back_to_the_progress(self, web):
        """Once the worker has the import, the link in the email (its button page) and a
        second click both lead to the progress page, asking nothing twice."""
        link, progress = await _requested(web, "big@example.org")
        again = await web.client.get(link)
        assert again.status_code == 303
        assert again.headers["location"] == progress
        pressed = await web.post_form(link, csrf_from="/")
        assert pressed.headers["location"] == progress

    async def test_small_imports_are_merged_by_the_click(self, web):
        """An import of one chunk is confirmed by the click itself, no worker needed."""
        await web.sign_up("small@example.org", web.sample)
        link = await web.last_link("confirm", "confirm_url")
        page = await web.post_form(link, csrf_from=link)
        assert page.status_code == 200
        assert "You are subscribed" in page.text

    async def test_an_added_import_goes_to_the_worker_too(self, web):
        """A confirmed reader's big upload, added by its emailed link, is merged by the
        worker and ends on the added page."""
        await web.confirmed_reader("reader@example.org")
        await web.sign_up(
            "reader@example.org", web.many_books(2, chunks.MERGE_CHUNK, line=KEPT_LINE)
        )
        link = await web.last_link("already_subscribed_import", "add_url")
        response = await web.post_form(link, csrf_from=link)
        assert response.headers["location"] == f"{link}/importing"
        assert await merge_one(web.db, _contexts(web), owner="w", lease=LEASE, stop=asyncio.Event())
        page = await web.client.get(f"{link}/importing")
        assert "Highlights added" in page.text
        assert f"{2 * chunks.MERGE_CHUNK} new highlights" in page.text

    async def test_a_big_upload_on_the_manage_page_goes_to_the_worker(self, web):
        """A manage-page upload of more than `merge_in_worker_over` highlights merges
        nothing in its request: it redirects to the same importing page, which the
        worker's merge brings to the added page; a small one is still merged at once."""
        await web.confirmed_reader("reader@example.org")
        manage = await web.manage_link("reader@example.org")
        before = await _highlights(web)
        files = {
            "file": (
                "My Clippings.txt",
                web.many_books(2, chunks.MERGE_CHUNK, line=KEPT_LINE),
                "text/plain",
            )
        }
        response = await web.post_form(f"{manage}/upload", files=files, csrf_from=manage)
        assert response.status_code == 303, response.text
        progress = response.headers["location"]
        assert re.fullmatch(r"/add/[^/]+/importing", progress)
        assert "Importing your highlights" in (await web.client.get(progress)).text
        assert await _highlights(web) == before
        assert await merge_one(web.db, _contexts(web), owner="w", lease=LEASE, stop=asyncio.Event())
        page = await web.client.get(progress)
        assert "Highlights added" in page.text
        assert f"{2 * chunks.MERGE_CHUNK} new highlights" in page.text
        three = web.clippings_file(("Dune", "Frank Herbert", [f"Line {n}." for n in range(3)]))
        small = {"file": ("My Clippings.txt", three, "text/plain")}
        added = await web.post_form(f"{manage}/upload", files=small, csrf_from=manage)
        assert added.status_code == 200
        assert "3 new highlights" in added.text

    async def test_without_a_worker_the_page_says_so(self, web):
        """After a minute without progress the page says no worker may be running, that the
        file is kept, and reloads less often."""
        _, progress = await _requested(web, "big@example.org")
        await _set_progress(web, requested_at=datetime.now(UTC) - timedelta(minutes=3))
        page = await web.client.get(progress)
        assert "background worker, which imports big files, may not be running" in page.text
        assert "Your file is kept" in page.text
        assert REFRESH.search(page.text).group(1) == "15"  # type: ignore[union-attr]

    async def test_an_import_past_the_library_limit_is_refused_with_its_reason(
        self, web_app, web_settings
    ):
        """The worker refuses an import that would take the library past its limit, merges
        none of it, and the page answers 413 with the reason."""
        limit = 2 * chunks.MERGE_CHUNK  # the import is three chunks
        settings = web_settings.model_copy(
            update={"merge_in_worker_over": chunks.MERGE_CHUNK, "max_highlights_per_reader": limit}
        )
        async with web_app(settings) as web:
            _, progress = await _requested(web, "big@example.org")
            job = await take_job(web.db, _contexts(web), owner="w", lease=LEASE)
            assert job is not None
            assert not await job.prepare()
            page = await web.client.get(progress)
            assert page.status_code == 413
            assert f"a library holds up to {limit:,} highlights" in page.text
            assert await _highlights(web) == (0, 0)


class TestLinks:
    async def test_a_forged_progress_link_is_refused(self, web):
        """A progress page for a forged token is a 400, as the button page is."""
        await _requested(web, "big@example.org")
        page = await web.client.get("/confirm/forged-token/importing")
        assert page.status_code == 400

    async def test_an_expired_link_is_refused(self, web):
        """A progress page for an expired confirm link is a 400, the import left as it is."""
        await web.sign_up("big@example.org", web.many_books(3, chunks.MERGE_CHUNK, line=KEPT_LINE))
        subscriber = await web.subscriber_id("big@example.org")
        async with web.db.read() as session:
            pending = await session.scalar(select(PendingImport.id))
        old = datetime.now(UTC) - timedelta(days=30)
        expired = web.link(Purpose.CONFIRM, subscriber, now=old, extra=str(pending))
        for path in (expired, f"{expired}/importing"):
            assert (await web.client.get(path)).status_code == 400
        assert (await web.post_form(expired, csrf_from="/")).status_code == 400
        assert await _highlights(web) == (0, 0)

    async def test_a_link_of_the_other_purpose_is_refused(self, web):
        """A confirm token on the add progress page is refused."""
        link, _ = await _requested(web, "big@example.org")
        token = link.rsplit("/", 1)[1]
        assert (await web.client.get(f"/add/{token}/importing")).status_code == 400


async def _drain(db: Database, web: Any, owner: str) -> int:
    """A worker merging until nothing waits; how many imports it took."""
    taken = 0
    while await merge_one(db, _contexts(web), owner=owner, lease=LEASE, stop=asyncio.Event()):
        taken += 1
    return taken


@pytest.fixture
async def second_db(web: Any) -> AsyncIterator[Database]:
    """Another worker's own connections to the same database."""
    other = Database(web.settings.resolved_database_url)
    yield other
    await other.dispose()


class TestExactlyOnce:
    async def test_two_workers_merge_each_import_once(self, web, second_db):
        """Two workers on connections of their own drain three waiting imports at once:
        each import is taken by one, every highlight stored and counted once."""
        emails = [f"big{n}@example.org" for n in range(3)]
        for email in emails:
            await _requested(web, email, chunk_count=2)
        taken = await asyncio.gather(_drain(web.db, web, "one"), _drain(second_db, web, "two"))
        assert sum(taken) == 3
        for email in emails:
            assert (await web.subscriber(email)).status == SubscriberStatus.CONFIRMED
        # Each reader's passages are the same texts: rows count readers x texts.
        assert await _highlights(web) == (3 * 2 * chunks.MERGE_CHUNK, 2 * chunks.MERGE_CHUNK)
        async with web.db.read() as session:
            counted = await session.scalars(select(ImportProgress.merged_highlights))
            assert list(counted) == [2 * chunks.MERGE_CHUNK] * 3

    async def test_a_lease_taken_over_stops_the_first_worker(self, web, second_db):
        """A worker that stalled past its lease finds its import taken over: it merges no
        further chunk, the new holder resumes at the next one, and nothing is doubled."""
        await _requested(web, "big@example.org")
        first = await _job(web, owner="stalled")
        assert await first.merge_next()
        assert await take_job(second_db, _contexts(web), owner="next", lease=LEASE) is None
        await _set_progress(web, lease_until=datetime.now(UTC) - timedelta(seconds=1))
        second = await _job(web, owner="next", db=second_db)
        assert not await first.merge_next()
        while await second.merge_next():
            pass
        assert await second.apply()
        assert not await first.apply()
        assert await _highlights(web) == (3 * chunks.MERGE_CHUNK,) * 2
        progress = await web.import_progress()
        assert (progress.merged_chunks, progress.merged_highlights) == (3, 3 * chunks.MERGE_CHUNK)
        assert progress.requested_at is None

    async def test_erasing_during_the_import_cancels_it(self, web):
        """A reader who erases everything while the worker merges their upload takes it with
        them: the worker's next chunk finds nothing to claim and nothing is left."""
        await web.confirmed_reader("reader@example.org")
        await web.sign_up(
            "reader@example.org", web.many_books(3, chunks.MERGE_CHUNK, line=KEPT_LINE)
        )
        link = await web.last_link("already_subscribed_import", "add_url")
        assert (await web.post_form(link, csrf_from=link)).status_code == 303
        job = await _job(web)
        assert await job.merge_next()
        manage = await web.manage_link("reader@example.org")
        erased = await web.post_form(f"{manage}/erase", {"confirm": "yes"}, csrf_from=manage)
        assert erased.status_code in (200, 303)
        assert not await job.merge_next()
        assert not await job.apply()
        counts = await web.counts()
        assert (counts["subscribers"], counts["highlights"], counts["pending_imports"]) == (0, 0, 0)
        assert await take_job(web.db, _contexts(web), owner="w", lease=LEASE) is None


# A worker that merges a chunk of the waiting import, then stops inside the next chunk's
# open transaction (its rows written, not committed) until it is killed.
_WORKER = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
import factories
from clippost.db.base import utcnow
from clippost.db.engine import Database
from clippost.subscriptions import merge_queue
from clippost.subscriptions.background_merge import take_job
from clippost.subscriptions.merging import merge_chunk

async def main(url, data_dir):
    settings = factories.make_settings(data_dir=Path(data_dir), database_url=url)
    context = lambda now: factories.service_context(settings, now=now)
    db = Database(settings.resolved_database_url)
    lease = timedelta(minutes=5)
    job = await take_job(db, context, owner="doomed", lease=lease)
    assert await job.prepare()
    assert await job.merge_next()
    async with db.transaction() as session:
        now = utcnow()
        index = await merge_queue.claim_chunk(
            session, job.pending_id, owner="doomed", total=len(job.plan.chunks),
            now=now, until=now + lease,
        )
        await merge_chunk(session, context(now), job.plan, index)
        await session.flush()
        print("inside the second chunk", flush=True)
        await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""


class TestKilledWorker:
    async def test_a_worker_killed_inside_a_chunk_is_resumed(self, web, tmp_path):
        """A worker killed (SIGKILL) with a chunk half written keeps the chunk before it and
        loses its own; once its lease expires another worker resumes and completes the
        import with every highlight once."""
        await _requested(web, "big@example.org")
        child = factories.child_script(_WORKER, web.settings.database_url, str(tmp_path))
        try:
            assert await factories.next_line(child) == "inside the second chunk"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        progress = await web.import_progress()
        assert (progress.merged_chunks, progress.lease_owner) == (1, "doomed")
        assert await _highlights(web) == (chunks.MERGE_CHUNK,) * 2
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.PENDING
        assert await _drain(web.db, web, "next") == 0  # its lease still holds
        await _set_progress(web, lease_until=datetime.now(UTC) - timedelta(seconds=1))
        assert await _drain(web.db, web, "next") == 1
        assert await _highlights(web) == (3 * chunks.MERGE_CHUNK,) * 2
        assert (await web.import_progress()).merged_highlights == 3 * chunks.MERGE_CHUNK
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.CONFIRMED


# A worker that takes the waiting import under a short lease, merges a chunk, then stalls
# (longer than the lease) with its heartbeat running, until it is killed.
_STALLED_WORKER = """
import asyncio, sys
from datetime import timedelta
from pathlib import Path
import factories
from clippost.db.engine import Database
from clippost.subscriptions.background_merge import take_job

async def main(url, data_dir, lease):
    settings = factories.make_settings(data_dir=Path(data_dir), database_url=url)
    context = lambda now: factories.service_context(settings, now=now)
    db = Database(settings.resolved_database_url)
    job = await take_job(db, context, owner="doomed", lease=timedelta(seconds=float(lease)))
    async with job.heartbeat():
        assert await job.prepare()
        assert await job.merge_next()
        print("merged a chunk", flush=True)
        await asyncio.sleep(600)

asyncio.run(main(*sys.argv[1:]))
"""
SHORT_LEASE = 6.0


class TestTheLeaseHeartbeat:
    @pytest.mark.timeout(180)
    async def test_a_live_worker_keeps_its_import_and_a_killed_one_loses_it_soon(
        self, web, tmp_path
    ):
        """A worker stalled past its lease keeps the import (its heartbeat renews the
        lease); killed with SIGKILL, another worker takes the import over once the short
        lease runs out, with nothing set by hand, and completes it with every highlight
        once."""
        await _requested(web, "big@example.org")
        child = factories.child_script(
            _STALLED_WORKER, web.settings.database_url, str(tmp_path), str(SHORT_LEASE)
        )
        try:
            assert await factories.next_line(child) == "merged a chunk"
            await asyncio.sleep(SHORT_LEASE * 1.5)
            assert await _drain(web.db, web, "next") == 0  # renewed: still the first's
            assert (await web.import_progress()).lease_owner == "doomed"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        killed = time.monotonic()
        while not await _drain(web.db, web, "next"):
            assert time.monotonic() - killed < SHORT_LEASE * 4, "the lease never ran out"
            await asyncio.sleep(0.5)
        assert await _highlights(web) == (3 * chunks.MERGE_CHUNK,) * 2
        assert (await web.subscriber("big@example.org")).status == SubscriberStatus.CONFIRMED
