"""The sweeper: expired uploads, never-confirmed readers and old rate-limit windows go;
everything still of use stays (both databases)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from clippost.config import Settings
from clippost.db.engine import Database
from clippost.models import OutboxMessage, PendingImport, RateLimitWindow, Subscriber
from clippost.outbox.repository import enqueue
from clippost.runtime import open_runtime
from clippost.subscriptions import ratelimit
from clippost.subscriptions.sweep import sweep
from clippost.worker import run_worker, send_due
from factories import NOW, add_pending_reader

HOUR = timedelta(hours=1)


async def _reader(db: Database, email: str, *, age: timedelta, status: str = "pending") -> int:
    """A reader signed up `age` before NOW, in `status`."""
    async with db.transaction() as session:
        reader = await add_pending_reader(session, email=email)
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id == reader)
            .values(created_at=NOW - age, status=status)
        )
        await enqueue(
            session,
            kind="confirm",
            recipient=email,
            idempotency_key=f"confirm:{email}",
            payload={"books": [{"title": "Private title"}]},
            due_at=NOW - age,
            domain="clippost.test",
            requested=True,
            subscriber_id=reader,
        )
    return reader


async def _import_expiring(db: Database, reader: int, *, expires: timedelta) -> int:
    """A pending import of `reader` whose link expires `expires` after NOW (negative: ago),
    stored as it is (adding one through the repository deletes the expired ones)."""
    async with db.transaction() as session:
        pending = PendingImport(
            subscriber_id=reader,
            payload=b"x",
            book_count=0,
            highlight_count=0,
            created_at=NOW + expires - HOUR,
            expires_at=NOW + expires,
        )
        session.add(pending)
        await session.flush()
        return pending.id


async def _ids(db: Database, model: type) -> set[int]:
    async with db.sessions() as session:
        return set(await session.scalars(select(model.id)))


class TestSweep:
    async def test_expired_uploads_go_after_the_retention(
        self, database: Database, settings: Settings
    ) -> None:
        """An upload whose link expired more than the retention ago is deleted; one expired
        less long ago, and one still valid, stay."""
        reader = await _reader(database, "r@example.org", age=timedelta(hours=1))
        await _import_expiring(database, reader, expires=-25 * HOUR)
        recent = await _import_expiring(database, reader, expires=-23 * HOUR)
        live = await _import_expiring(database, reader, expires=HOUR)
        report = await sweep(database, settings, now=NOW)
        assert report.pending_imports == 1
        assert await _ids(database, PendingImport) == {recent, live}

    async def test_never_confirmed_readers_go_with_their_mail(
        self, database: Database, settings: Settings
    ) -> None:
        """A reader who never confirmed, signed up longer ago than a link lives plus the
        retention, is deleted and their queued mail unnamed; readers still of use stay."""
        gone = await _reader(database, "gone@example.org", age=97 * HOUR)
        young = await _reader(database, "young@example.org", age=95 * HOUR)
        waiting = await _reader(database, "waiting@example.org", age=200 * HOUR)
        await _import_expiring(database, waiting, expires=HOUR)
        confirmed = await _reader(database, "c@example.org", age=500 * HOUR, status="confirmed")
        left = await _reader(database, "u@example.org", age=500 * HOUR, status="unsubscribed")
        report = await sweep(database, settings, now=NOW)
        assert report.readers == 1
        assert await _ids(database, Subscriber) == {young, waiting, confirmed, left}
        async with database.sessions() as session:
            rows = (await session.scalars(select(OutboxMessage))).all()
        named = {row.recipient for row in rows if row.recipient}
        assert "gone@example.org" not in named
        assert [r.payload for r in rows if r.subscriber_id is None] == [{}]
        assert gone not in {row.subscriber_id for row in rows}

    async def test_old_rate_limit_windows_go(self, database: Database, settings: Settings) -> None:
        """Windows opened longer ago than the retention are deleted; newer ones still count."""
        async with database.transaction() as session:
            for key, age in (("old", 25 * HOUR), ("recent", 2 * HOUR), ("now", timedelta())):
                await ratelimit.count_event(session, key, window=HOUR, now=NOW - age)
        report = await sweep(database, settings, now=NOW)
        assert report.rate_limit_windows == 1
        async with database.sessions() as session:
            assert set(await session.scalars(select(RateLimitWindow.key))) == {"recent", "now"}

    async def test_many_readers_are_swept_in_batches(
        self, database: Database, settings: Settings
    ) -> None:
        """More never-confirmed readers than one batch are all deleted in one sweep."""
        for n in range(130):
            await _reader(database, f"r{n}@example.org", age=200 * HOUR)
        report = await sweep(database, settings, now=NOW)
        assert report.readers == 130
        assert await _ids(database, Subscriber) == set()

    async def test_a_second_sweep_finds_nothing(
        self, database: Database, settings: Settings
    ) -> None:
        """Sweeping is idempotent: right after a sweep, another deletes nothing."""
        await _reader(database, "gone@example.org", age=200 * HOUR)
        assert (await sweep(database, settings, now=NOW)).total == 1
        assert (await sweep(database, settings, now=NOW)).total == 0


class TestSweepRules:
    @pytest.mark.parametrize(
        ("expired_hours_ago", "retention", "deleted"),
        [(25, 24, 1), (24, 24, 1), (23.9, 24, 0), (0, 0, 1), (-1, 0, 0), (100, 0, 1)],
    )
    async def test_an_upload_goes_exactly_when_its_retention_is_over(
        self,
        database: Database,
        settings: Settings,
        expired_hours_ago: float,
        retention: float,
        deleted: int,
    ) -> None:
        """An upload is deleted iff its link expired at least the retention ago."""
        reader = await _reader(database, "r@example.org", age=HOUR)
        await _import_expiring(database, reader, expires=-expired_hours_ago * HOUR)
        tuned = settings.model_copy(update={"unconfirmed_retention_hours": retention})
        assert (await sweep(database, tuned, now=NOW)).pending_imports == deleted


class TestWorkerSweeps:
    async def test_send_due_sweeps(self, settings: Settings) -> None:
        """`clippost send-due` (cron, no worker) sweeps as it plans."""
        async with open_runtime(settings) as runtime:
            await _reader(runtime.db, "gone@example.org", age=200 * HOUR)
            await send_due(runtime, at=NOW)
            assert await _ids(runtime.db, Subscriber) == set()

    async def test_the_worker_sweeps_when_it_starts(self, settings: Settings) -> None:
        """A running worker sweeps (at start, then every SWEEP_EVERY seconds)."""
        async with open_runtime(settings) as runtime:
            await _reader(runtime.db, "gone@example.org", age=24 * 365 * HOUR)
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(runtime, stop))
            for _ in range(100):
                if not await _ids(runtime.db, Subscriber):
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            assert await _ids(runtime.db, Subscriber) == set()
