"""Changes win until the email leaves, end to end: a digest planned by the real planner, a
change, then `send_due` through the SMTP transport into a real aiosmtpd server, on SQLite
and PostgreSQL. What the server receives is the proof."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from clippost.db.base import utcnow
from clippost.links import Purpose
from clippost.models import OutboxMessage, Subscriber
from clippost.planner.service import plan_due
from clippost.runtime import Runtime, open_runtime
from clippost.subscriptions import manage
from clippost.subscriptions import repository as subscribers
from clippost.subscriptions.preferences import Preferences
from clippost.worker import send_due
from factories import add_reader, make_settings

Change = Callable[[Runtime, int], Awaitable[None]]


@pytest.fixture
async def runtime(
    tmp_path: Path, database_url: str, smtp_server: Any
) -> AsyncIterator[tuple[Runtime, Any]]:
    server = smtp_server()
    settings = make_settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=server.port,
        smtp_security="none",
    )
    async with open_runtime(settings) as opened:
        yield opened, server


def this_hour() -> Any:
    return utcnow().replace(minute=0, second=0, microsecond=0)


async def planned(runtime: Runtime) -> int:
    """A confirmed reader, daily at this UTC hour with 2 highlights an email, whose digest
    for this hour's slot the planner has planned (not sent)."""
    slot = this_hour()
    reader = await add_reader(
        runtime.db,
        email="reader@example.org",
        hour=slot.hour,
        timezone="UTC",
        per_email=2,
        next_slot_at=slot,
        highlights=6,
    )
    assert await plan_due(runtime.db, runtime.context(utcnow())) == 1
    return reader


def form(**changes: str) -> Preferences:
    values = {"cadence": "daily", "hour": str(this_hour().hour), "timezone": "UTC"}
    return Preferences.from_form({**values, "per_email": "2", **changes})


async def save(runtime: Runtime, reader: int, preferences: Preferences) -> None:
    async with runtime.db.transaction() as session:
        await manage.update_preferences(session, runtime.context(utcnow()), reader, preferences)


async def behind_its_back(runtime: Runtime, reader: int, **values: Any) -> None:
    async with runtime.db.transaction() as session:
        await session.execute(update(Subscriber).where(Subscriber.id == reader).values(values))


async def unsubscribe(runtime: Runtime, reader: int) -> None:
    ctx = runtime.context(utcnow())
    async with runtime.db.transaction() as session:
        await manage.unsubscribe(
            session, ctx, ctx.links.token(Purpose.UNSUBSCRIBE, reader, now=ctx.now)
        )


async def erase(runtime: Runtime, reader: int) -> None:
    async with runtime.db.transaction() as session:
        await manage.erase(session, runtime.context(utcnow()), reader, never_email_again=False)


async def pause(runtime: Runtime, reader: int) -> None:
    await save(runtime, reader, form(paused_until=this_hour().date().isoformat()))


async def new_hour(runtime: Runtime, reader: int) -> None:
    await save(runtime, reader, form(hour=str((this_hour().hour + 2) % 24)))


async def deleted_row(runtime: Runtime, reader: int) -> None:
    async with runtime.db.transaction() as session:
        await subscribers.delete_subscriber(session, reader)


async def paused_row(runtime: Runtime, reader: int) -> None:
    await behind_its_back(runtime, reader, paused_until=this_hour().date())


async def left_row(runtime: Runtime, reader: int) -> None:
    await behind_its_back(runtime, reader, status="unsubscribed", next_slot_at=None)


async def moved_row(runtime: Runtime, reader: int) -> None:
    await behind_its_back(runtime, reader, hour=(this_hour().hour + 2) % 24)


async def sent_digests(runtime: Runtime) -> list[OutboxMessage]:
    async with runtime.db.sessions() as session:
        found = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.state == "sent").order_by(OutboxMessage.id)
        )
        return list(found.all())


class TestNothingGoes:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            (unsubscribe, "unsubscribed"),
            (erase, "erased"),
            (pause, "cancelled: the reader paused until"),
            (new_hour, "obsolete: the reader changed their schedule"),
            (left_row, "cancelled: the reader is unsubscribed"),
            (deleted_row, "cancelled: the reader was erased"),
            (paused_row, "cancelled: the reader paused until"),
            (moved_row, "obsolete: the reader changed their schedule"),
        ],
        ids=[
            "unsubscribe",
            "erase",
            "pause",
            "new-hour",
            "claim-unsubscribed",
            "claim-erased",
            "claim-paused",
            "claim-new-hour",
        ],
    )
    async def test_a_change_after_planning_stops_the_digest(
        self, runtime: tuple[Runtime, Any], change: Change, reason: str
    ) -> None:
        """The planned digest never reaches the server; its row says why it was cancelled."""
        opened, server = runtime
        reader = await planned(opened)
        await change(opened, reader)
        report = await send_due(opened, at=utcnow())
        assert (report.planned, report.sent) == (0, 0)
        assert server.received == []
        async with opened.db.sessions() as session:
            [row] = (await session.scalars(select(OutboxMessage))).all()
        assert row.state == "cancelled"
        assert reason in (row.last_error or "")


class TestThePlannedSlotIsMadeAgain:
    async def test_more_highlights_per_email(self, runtime: tuple[Runtime, Any]) -> None:
        """Raised from 2 to 4 after planning: the email that reaches the server has 4."""
        opened, server = runtime
        reader = await planned(opened)
        await save(opened, reader, form(per_email="4"))
        report = await send_due(opened, at=utcnow())
        assert (report.planned, report.sent) == (1, 1)
        [sent] = await sent_digests(opened)
        assert server.received == [sent.message_id]
        assert len(sent.payload["highlights"]) == 4

    async def test_fewer_highlights_per_email_behind_the_managers_back(
        self, runtime: tuple[Runtime, Any]
    ) -> None:
        """Lowered to 1 where only the claim sees it: that run sends nothing, the next one
        plans the slot again and sends one highlight."""
        opened, server = runtime
        reader = await planned(opened)
        await behind_its_back(opened, reader, per_email=1)
        assert (await send_due(opened, at=utcnow())).sent == 0
        assert server.received == []
        report = await send_due(opened, at=utcnow())
        assert (report.planned, report.sent) == (1, 1)
        [sent] = await sent_digests(opened)
        assert server.received == [sent.message_id]
        assert len(sent.payload["highlights"]) == 1

    async def test_an_unchanged_reader_gets_the_planned_digest(
        self, runtime: tuple[Runtime, Any]
    ) -> None:
        """Without a change, the digest planned is the one the server receives."""
        opened, server = runtime
        await planned(opened)
        assert (await send_due(opened, at=utcnow())).sent == 1
        [sent] = await sent_digests(opened)
        assert server.received == [sent.message_id]
        assert sent.due_at == this_hour()
