"""The worker in-process (as `clippost serve` runs it) and `send-due`, on both databases."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from clippost.config import Settings
from clippost.db.base import utcnow
from clippost.models import OutboxMessage
from clippost.outbox.repository import enqueue
from clippost.runtime import Runtime, open_runtime
from clippost.worker import run_worker, send_due
from factories import add_reader


async def add_due_reader(runtime: Runtime, *, email: str, due: datetime) -> int:
    """A confirmed daily reader at `due`'s hour (UTC) whose stored next slot is `due`."""
    return await add_reader(
        runtime.db,
        email=email,
        hour=due.hour,
        timezone="UTC",
        per_email=2,
        next_slot_at=due,
        highlights=3,
    )


def this_hour() -> datetime:
    """The latest daily slot at this UTC hour: a real slot of a reader whose hour it is."""
    return utcnow().replace(minute=0, second=0, microsecond=0)


async def add_row(runtime: Runtime, key: str, *, kind: str = "magic_link", to: str) -> None:
    async with runtime.db.transaction() as session:
        await enqueue(
            session,
            kind=kind,
            recipient=to,
            idempotency_key=key,
            payload={"manage_url": "http://testserver/manage/t", "expires_in": 3600},
            due_at=utcnow(),
            domain="clippost.test",
            requested=True,
        )


def mailbox(settings: Settings) -> list[email.message.EmailMessage]:
    folder = settings.resolved_maildir / "new"
    found = []
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        found.append(message)
    return found


async def until(condition: object, *, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def states(runtime: Runtime) -> dict[str, str]:
    async with runtime.db.sessions() as session:
        rows = await session.execute(select(OutboxMessage.recipient, OutboxMessage.state))
        return {row[0]: row[1] for row in rows}


class TestRunWorker:
    async def test_plans_at_start_sends_and_stops_cleanly(self, settings: Settings) -> None:
        """A due reader's digest is planned at start, delivered, and the worker returns."""
        async with open_runtime(settings) as runtime:
            await add_due_reader(runtime, email="reader@example.org", due=this_hour())
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(runtime, stop))
            await until(lambda: len(mailbox(settings)) == 1, timeout=10)
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            assert await states(runtime) == {"reader@example.org": "sent"}
        [message] = mailbox(settings)
        assert message["To"] == "reader@example.org"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    async def test_new_rows_are_picked_up_within_a_second(self, settings: Settings) -> None:
        """A row enqueued while the worker idles is delivered in under a second."""
        async with open_runtime(settings) as runtime:
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(runtime, stop))
            await asyncio.sleep(0.8)  # the worker is idle, between looks
            await add_row(runtime, "late", to="late@example.org")
            waited = await until(lambda: len(mailbox(settings)) == 1, timeout=5)
            stop.set()
            await asyncio.wait_for(task, timeout=10)
        assert waited < 1.0

    async def test_a_row_that_cannot_render_fails_and_the_rest_go(self, settings: Settings) -> None:
        """A row of an unknown kind is failed with the reason; the loop sends the others."""
        async with open_runtime(settings) as runtime:
            await add_row(runtime, "bad", kind="no_such_kind", to="bad@example.org")
            await add_row(runtime, "good", to="good@example.org")
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(runtime, stop))
            await until(lambda: len(mailbox(settings)) == 1, timeout=10)
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            assert await states(runtime) == {
                "bad@example.org": "failed",
                "good@example.org": "sent",
            }
            async with runtime.db.sessions() as session:
                reason = await session.scalar(
                    select(OutboxMessage.last_error).where(OutboxMessage.idempotency_key == "bad")
                )
        assert reason is not None
        assert "render error" in reason


class TestStagingAllowlist:
    async def test_mail_outside_the_allowlist_is_recorded_suppressed(
        self, tmp_path: Path, settings: Settings
    ) -> None:
        """With a staging allowlist, other recipients end `suppressed`, never delivered."""
        staged = settings.model_copy(update={"staging_allowlist": ["@example.org"]})
        async with open_runtime(staged) as runtime:
            await add_row(runtime, "in", to="in@example.org")
            await add_row(runtime, "out", to="out@elsewhere.net")
            report = await send_due(runtime, at=utcnow())
            assert await states(runtime) == {
                "in@example.org": "sent",
                "out@elsewhere.net": "suppressed",
            }
        assert (report.sent, report.suppressed) == (1, 1)
        assert [m["To"] for m in mailbox(staged)] == ["in@example.org"]


class TestSendDue:
    async def test_plans_and_sends_what_is_due_at_the_moment(self, settings: Settings) -> None:
        """send-due at a later moment plans that moment's digests and sends them."""
        tomorrow = this_hour() + timedelta(days=1)
        async with open_runtime(settings) as runtime:
            await add_due_reader(runtime, email="reader@example.org", due=tomorrow)
            early = await send_due(runtime, at=utcnow())
            later = await send_due(runtime, at=tomorrow + timedelta(minutes=1))
        assert (early.planned, early.sent) == (0, 0)
        assert (later.planned, later.sent) == (1, 1)
        assert len(mailbox(settings)) == 1

    async def test_concurrent_runs_send_each_digest_once(self, settings: Settings) -> None:
        """Three send-due runs at once deliver each of 12 digests exactly once."""
        now = utcnow()
        async with open_runtime(settings) as runtime:
            for n in range(12):
                await add_due_reader(runtime, email=f"reader{n}@example.org", due=this_hour())
        runtimes = [open_runtime(settings) for _ in range(3)]
        opened = [await context.__aenter__() for context in runtimes]
        try:
            reports = await asyncio.gather(*(send_due(r, at=now) for r in opened))
        finally:
            for context in runtimes:
                await context.__aexit__(None, None, None)
        assert sum(r.planned for r in reports) == 12
        assert sum(r.sent for r in reports) == 12
        recipients = [m["To"] for m in mailbox(settings)]
        assert sorted(recipients) == sorted(f"reader{n}@example.org" for n in range(12))
