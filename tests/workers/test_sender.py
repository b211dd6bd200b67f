"""The send loop in-process with the real SMTP transport: leases, retries, deadlines."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.links import Links
from clippost.models import OutboxMessage
from clippost.outbox.sender import Sender, SenderConfig
from clippost.rendering.messages import MessageRenderer
from clippost.transports.smtp import SmtpTransport
from factories import transport_options

LINKS = Links(
    base_url="http://testserver",
    secret_key="sender-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(hours=1),
    unsubscribe_mailbox="news@clippost.test",
)


def sender(db: Database, port: int, *, owner: str, **config: Any) -> Sender:
    transport = SmtpTransport(
        **transport_options(
            "smtp_", host="127.0.0.1", port=port, security="none", pool_size=1, timeout=5
        )
    )
    render = MessageRenderer(links=LINKS, from_address="news@clippost.test", from_name="clippost")
    return Sender(
        db=db, transport=transport, render=render, config=SenderConfig(owner=owner, **config)
    )


async def stored(db: Database) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


class TestLease:
    async def test_a_slow_batch_keeps_its_lease(
        self, sqlite_url: str, helpers: Any, smtp_server: Any
    ) -> None:
        """While a batch outlasts its lease, the lease is extended and nobody takes it over."""
        await helpers.seed_outbox(sqlite_url, 4)
        server = smtp_server(faults=lambda _r, _a: time.sleep(0.3))
        db = Database(normalise_database_url(sqlite_url))
        slow = sender(db, server.port, owner="slow", lease=timedelta(seconds=0.6), lanes=1)
        other = sender(db, server.port, owner="other", lease=timedelta(seconds=0.6), lanes=1)
        try:
            sending = asyncio.create_task(slow.run_once())
            await asyncio.sleep(0.9)  # past the first lease's expiry
            stolen = await other.run_once()
            report = await sending
        finally:
            await slow.transport.close()
            await other.transport.close()
            await db.dispose()
        assert stolen.claimed == 0
        assert report.sent == 4
        assert sorted(server.received) == sorted(f"<m{n}@clippost.test>" for n in range(4))


class TestRetries:
    async def test_transient_failure_moves_the_row_later_and_keeps_the_reason(
        self, sqlite_url: str, helpers: Any, smtp_server: Any
    ) -> None:
        """A 451 leaves the row pending, unleased, due later, with the server's reply."""
        await helpers.seed_outbox(sqlite_url, 1)
        server = smtp_server(faults=lambda _r, _a: "451 4.3.0 Greylisted")
        db = Database(normalise_database_url(sqlite_url))
        one = sender(db, server.port, owner="w", retry_base=60)
        try:
            before = datetime.now(UTC)
            report = await one.run_once()
            [row] = await stored(db)
        finally:
            await one.transport.close()
            await db.dispose()
        assert report.retried == 1
        assert (row.state, row.lease_owner, row.attempts) == ("pending", None, 1)
        assert row.due_at >= before
        assert "451" in (row.last_error or "")

    async def test_transient_failure_after_the_deadline_fails_the_row(
        self, sqlite_url: str, helpers: Any, smtp_server: Any
    ) -> None:
        """A row queued longer ago than the retry deadline is failed, not retried."""
        await helpers.seed_outbox(sqlite_url, 1)
        server = smtp_server(faults=lambda _r, _a: "421 4.3.2 Shutting down")
        db = Database(normalise_database_url(sqlite_url))
        async with db.transaction() as session:
            long_ago = datetime.now(UTC) - timedelta(hours=49)
            await session.execute(update(OutboxMessage).values(created_at=long_ago))
        one = sender(db, server.port, owner="w")
        try:
            report = await one.run_once()
            [row] = await stored(db)
        finally:
            await one.transport.close()
            await db.dispose()
        assert report.failed == 1
        assert row.state == "failed"
        assert "gave up" in (row.last_error or "")


class TestWarmUp:
    async def test_the_collector_freezes_what_the_first_batch_made(
        self, sqlite_url: str, helpers: Any, smtp_server: Any
    ) -> None:
        """Once the send loop has sent its first batch, what the process holds then is
        frozen (gc.freeze), so full collections stop walking it; before it, nothing is."""

        await helpers.seed_outbox(sqlite_url, 3)
        server = smtp_server()
        db = Database(normalise_database_url(sqlite_url))
        loop = sender(db, server.port, owner="w", lanes=1, poll_interval=0.05)
        stop = asyncio.Event()
        gc.unfreeze()
        try:
            assert gc.get_freeze_count() == 0
            running = asyncio.create_task(loop.run(stop))
            for _ in range(100):
                if len(server.received) == 3 and gc.get_freeze_count():
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await running
            frozen = gc.get_freeze_count()
        finally:
            gc.unfreeze()
            await loop.transport.close()
            await db.dispose()
        assert len(server.received) == 3
        assert frozen > 0
