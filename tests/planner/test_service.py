"""The planner service on SQLite and PostgreSQL: one digest per slot, whatever runs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from clippost.config import Settings
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import OutboxMessage, RotationEntry, Subscriber
from clippost.planner.service import plan_due
from clippost.rendering.environment import render_email
from factories import add_reader, service_context

# A Monday. Daily digests at 07:00 in Paris are due at 06:00 UTC in winter.
NOW = datetime(2026, 11, 23, 6, 0, 30, tzinfo=UTC)
SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


async def digests(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.all())


async def reader(db: Database, reader_id: int) -> Subscriber:
    async with db.sessions() as session:
        found = await session.get(Subscriber, reader_id)
        assert found is not None
        return found


class TestPlanDue:
    async def test_due_reader_gets_one_digest_for_the_slot(
        self, database: Database, settings: Settings
    ) -> None:
        """A due reader gets a digest keyed by the slot, due at the slot, that renders."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        planned = await plan_due(database, service_context(settings, now=NOW))
        assert planned == 1
        [digest] = await digests(database)
        assert digest.idempotency_key == f"digest:{reader_id}:2026-11-23T06:00Z"
        assert (digest.kind, digest.recipient, digest.due_at) == (
            "digest",
            "reader@example.org",
            SLOT,
        )
        assert len(digest.payload["highlights"]) == 3
        rendered = render_email("digest", digest.payload)
        assert "Highlight number" in rendered.text
        assert "&lt;b&gt;bold&lt;/b&gt;" in rendered.html
        assert digest.payload["unsubscribe_url"].startswith("http://testserver/unsubscribe/")

    async def test_chosen_highlights_count_as_sent(
        self, database: Database, settings: Settings
    ) -> None:
        """The chosen highlights' times_sent grows by one, so the next digest moves on."""
        await add_reader(database, next_slot_at=SLOT)
        await plan_due(database, service_context(settings, now=NOW))
        async with database.sessions() as session:
            sent = await session.scalar(select(func.sum(RotationEntry.times_sent)))
        assert sent == 3

    async def test_next_slot_is_advanced(self, database: Database, settings: Settings) -> None:
        """After planning, the stored next slot is tomorrow's 07:00 in Paris."""
        reader_id = await add_reader(database, next_slot_at=SLOT)
        await plan_due(database, service_context(settings, now=NOW))
        assert (await reader(database, reader_id)).next_slot_at == SLOT + timedelta(days=1)

    async def test_rerun_for_the_same_moment_inserts_nothing(
        self, database: Database, settings: Settings
    ) -> None:
        """Planning the same moment again adds no digest and sends no highlight twice."""
        await add_reader(database, next_slot_at=SLOT)
        ctx = service_context(settings, now=NOW)
        await plan_due(database, ctx)
        assert await plan_due(database, ctx) == 0
        assert len(await digests(database)) == 1

    async def test_not_yet_due_reader_gets_nothing(
        self, database: Database, settings: Settings
    ) -> None:
        """A reader whose slot is later than now is left alone."""
        await add_reader(database, next_slot_at=SLOT + timedelta(hours=1))
        assert await plan_due(database, service_context(settings, now=NOW)) == 0

    async def test_pending_reader_gets_nothing(
        self, database: Database, settings: Settings
    ) -> None:
        """An unconfirmed reader is never planned."""
        await add_reader(database, status="pending", next_slot_at=SLOT)
        assert await plan_due(database, service_context(settings, now=NOW)) == 0

    async def test_missed_slots_send_only_the_latest(
        self, database: Database, settings: Settings
    ) -> None:
        """After a week without a planner, one digest (the latest slot) is sent, not seven."""
        await add_reader(database, next_slot_at=SLOT - timedelta(days=7))
        await plan_due(database, service_context(settings, now=NOW))
        [digest] = await digests(database)
        assert digest.due_at == SLOT

    async def test_paused_reader_gets_nothing_and_waits_for_the_pause_to_end(
        self, database: Database, settings: Settings
    ) -> None:
        """A paused reader's slot moves to the first one after the pause."""
        reader_id = await add_reader(database, paused_until=date(2026, 11, 30), next_slot_at=SLOT)
        await plan_due(database, service_context(settings, now=NOW))
        assert await digests(database) == []
        stored = (await reader(database, reader_id)).next_slot_at
        assert stored == datetime(2026, 12, 1, 6, 0, tzinfo=UTC)

    async def test_next_slot_across_daylight_saving_keeps_local_hour(
        self, database: Database, settings: Settings
    ) -> None:
        """On the day clocks go back in Paris, 07:00 local is stored as 06:00 UTC, not 05:00."""
        summer_slot = datetime(2026, 10, 24, 5, 0, tzinfo=UTC)  # 07:00 CEST
        reader_id = await add_reader(database, next_slot_at=summer_slot)
        now = summer_slot + timedelta(seconds=5)
        await plan_due(database, service_context(settings, now=now))
        stored = (await reader(database, reader_id)).next_slot_at
        assert stored == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)  # 07:00 CET

    async def test_reader_never_planned_starts_at_the_next_slot(
        self, database: Database, settings: Settings
    ) -> None:
        """A confirmed reader without a stored slot gets one, and no digest yet."""
        reader_id = await add_reader(database, next_slot_at=None)
        await plan_due(database, service_context(settings, now=NOW))
        assert await digests(database) == []
        assert (await reader(database, reader_id)).next_slot_at == SLOT + timedelta(days=1)

    async def test_reader_without_highlights_gets_no_digest(
        self, database: Database, settings: Settings
    ) -> None:
        """An empty library sends nothing but still moves on to the next slot."""
        reader_id = await add_reader(database, highlights=0, next_slot_at=SLOT)
        await plan_due(database, service_context(settings, now=NOW))
        assert await digests(database) == []
        assert (await reader(database, reader_id)).next_slot_at == SLOT + timedelta(days=1)


class TestConcurrentPlanners:
    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_four_planners_at_once_make_one_digest_per_slot(
        self, postgres_url: str, database: Database, settings: Settings
    ) -> None:
        """Four planners on PostgreSQL racing over 30 readers leave exactly 30 digests."""
        for n in range(30):
            await add_reader(
                database, email=f"reader{n}@example.org", highlights=4, next_slot_at=SLOT
            )
        dbs = [Database(normalise_database_url(postgres_url)) for _ in range(4)]
        ctx = service_context(settings, now=NOW)
        try:
            counts = await asyncio.gather(*(plan_due(db, ctx) for db in dbs))
        finally:
            for db in dbs:
                await db.dispose()
        assert sum(counts) == 30
        assert len(await digests(database)) == 30
        async with database.sessions() as session:
            assert await session.scalar(select(func.sum(RotationEntry.times_sent))) == 90
