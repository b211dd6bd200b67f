"""Worker processes against a real SMTP server: exactly once, crash-safe, retrying, stoppable."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from clippost.addresses import address_hash
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import OutboxMessage, Suppression

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("workers")]


async def wait_for(
    condition: Callable[[], Any], *, timeout: float, what: str, workers: Any = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    logs = workers.logs()[-3000:] if workers is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


async def rows(url: str) -> list[OutboxMessage]:
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            return list((await session.scalars(select(OutboxMessage))).all())
    finally:
        await db.dispose()


def expected_ids(count: int) -> set[str]:
    return {f"<m{n}@clippost.test>" for n in range(count)}


class TestManyWorkers:
    @pytest.mark.postgres
    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    async def test_four_processes_deliver_each_message_exactly_once(
        self, database_url: str, helpers: Any, smtp_server: Any, workers: Any
    ) -> None:
        """Four worker processes on PostgreSQL send 5,000 rows: each Message-ID arrives once."""
        await helpers.seed_outbox(database_url, 5000)
        server = smtp_server()
        group = workers(database_url=database_url, smtp_port=server.port, worker_batch_size=100)
        for _ in range(4):
            group.start()

        async def all_sent() -> bool:
            return (await helpers.states(database_url)).get("sent") == 5000

        await wait_for(all_sent, timeout=60, what="5,000 sent rows", workers=group)
        assert all(process.poll() is None for process in group.processes)
        counts = Counter(server.received)
        assert set(counts) == expected_ids(5000)
        assert max(counts.values()) == 1
        assert {row.lease_owner for row in await rows(database_url)} == {None}


class TestCrash:
    async def test_sigkill_mid_batch_then_restart_loses_nothing(
        self, sqlite_url: str, helpers: Any, smtp_server: Any, workers: Any
    ) -> None:
        """A worker killed mid-batch and restarted delivers everything; duplicates are bounded
        by what was leased (in flight) when it died."""
        total = 1500
        await helpers.seed_outbox(sqlite_url, total)
        server = smtp_server(faults=lambda _r, _a: slow_accept())
        group = workers(
            database_url=sqlite_url,
            smtp_port=server.port,
            lease_seconds=10,
            smtp_pool_size=2,
            worker_batch_size=100,
        )
        first = group.start()

        async def some_received() -> bool:
            return len(server.received) >= 200

        await wait_for(some_received, timeout=30, what="first deliveries", workers=group)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        now = datetime.now(UTC)
        in_flight = sum(
            1
            for row in await rows(sqlite_url)
            if row.state == "pending" and row.lease_expires_at and row.lease_expires_at > now
        )
        assert in_flight > 0
        group.start()

        async def all_sent() -> bool:
            return (await helpers.states(sqlite_url)).get("sent") == total

        await wait_for(all_sent, timeout=60, what="every row sent after restart", workers=group)
        assert set(server.received) == expected_ids(total)
        assert len(server.received) - total <= in_flight


def slow_accept() -> None:
    """Accept, but slowly enough that a batch is still in flight when the worker is killed."""
    time.sleep(0.004)


class TestFaults:
    async def test_transient_failures_are_retried_and_permanent_ones_suppressed(
        self, sqlite_url: str, helpers: Any, smtp_server: Any, workers: Any
    ) -> None:
        """With 421/451 for 30% and 550 for 5% of recipients, every transient one arrives in
        the end, and every 550 is failed, suppressed and tried only once."""
        total = 400
        share = helpers.share

        def faults(recipient: str, attempt: int) -> str | None:
            part = share(recipient)
            if part < 0.05:
                return "550 5.1.1 No such user"
            if part < 0.20 and attempt == 1:
                return "421 4.3.2 Service shutting down"
            if part < 0.35 and attempt <= 2:
                return "451 4.3.0 Try again later"
            return None

        await helpers.seed_outbox(sqlite_url, total)
        server = smtp_server(faults=faults)
        group = workers(database_url=sqlite_url, smtp_port=server.port, retry_base_seconds=0.2)
        group.start()

        async def settled() -> bool:
            return "pending" not in await helpers.states(sqlite_url)

        await wait_for(settled, timeout=60, what="every row settled", workers=group)
        bad = {f"reader{n}@example.org" for n in range(total)}
        bad = {r for r in bad if share(r) < 0.05}
        transient = {
            f"reader{n}@example.org"
            for n in range(total)
            if 0.05 <= share(f"reader{n}@example.org") < 0.35
        }
        assert bad
        assert transient
        replies = Counter(reply[:3] for _, reply in server.handler.refused)
        assert replies["421"] > 0
        assert replies["451"] > 0
        assert all(server.handler.attempts[r] >= 2 for r in transient)
        stored = await rows(sqlite_url)
        for row in stored:
            if row.recipient in bad:
                assert row.state == "failed", row
                assert "550" in (row.last_error or "")
                assert server.handler.attempts[row.recipient] == 1
            else:
                assert row.state == "sent", row
        assert Counter(server.received).most_common(1)[0][1] == 1
        assert len(server.received) == total - len(bad)
        db = Database(normalise_database_url(sqlite_url))
        try:
            async with db.sessions() as session:
                found = set(await session.scalars(select(Suppression.address_hash)))
        finally:
            await db.dispose()
        assert found == {address_hash(r) for r in bad}

    async def test_server_down_at_start_is_waited_for(
        self, sqlite_url: str, helpers: Any, smtp_server: Any, workers: Any
    ) -> None:
        """With the SMTP server down, the worker keeps running and delivers once it is up."""
        await helpers.seed_outbox(sqlite_url, 50)
        server = smtp_server(start=False)
        group = workers(database_url=sqlite_url, smtp_port=server.port, retry_base_seconds=0.2)
        process = group.start()

        async def refused_twice() -> bool:
            return any(
                row.attempts >= 2 and "cannot connect" in (row.last_error or "")
                for row in await rows(sqlite_url)
            )

        # Not a fixed wait: until the worker has found the server down twice over.
        await wait_for(refused_twice, timeout=30, what="two refused attempts", workers=group)
        assert process.poll() is None
        assert (await helpers.states(sqlite_url)) == {"pending": 50}
        server.start()

        async def all_sent() -> bool:
            return (await helpers.states(sqlite_url)).get("sent") == 50

        await wait_for(all_sent, timeout=30, what="delivery once the server is up", workers=group)
        assert set(server.received) == expected_ids(50)


class TestGracefulStop:
    async def test_sigterm_finishes_in_flight_work_and_exits_zero(
        self, sqlite_url: str, helpers: Any, smtp_server: Any, workers: Any
    ) -> None:
        """SIGTERM stops claiming, records what was sent, releases the rest, exits 0."""
        total = 1500
        await helpers.seed_outbox(sqlite_url, total)
        server = smtp_server(faults=lambda _r, _a: slow_accept())
        group = workers(
            database_url=sqlite_url,
            smtp_port=server.port,
            smtp_pool_size=2,
            worker_batch_size=100,
        )
        process = group.start()

        async def some_received() -> bool:
            return len(server.received) >= 200

        await wait_for(some_received, timeout=30, what="first deliveries", workers=group)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=25) == 0
        stored = await rows(sqlite_url)
        assert all(row.lease_owner is None for row in stored)
        sent = {row.message_id for row in stored if row.state == "sent"}
        assert sent == set(server.received)
        assert len(sent) < total
