"""Unsubscribing (the service and its set-based SQL) and the group commit that batches it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash
from clippost.context import ServiceContext
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database, GroupCommit
from clippost.errors import InvalidLink
from clippost.links import Purpose
from clippost.models import OutboxMessage, OutboxState, Subscriber, SubscriberStatus, Suppression
from clippost.models import SuppressionReason as Reason
from clippost.outbox.repository import enqueue
from clippost.subscriptions import manage
from clippost.subscriptions.manage import Unsubscription

NewSubscriber = Callable[..., Awaitable[int]]
READER = "reader@example.org"
_NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _token(ctx: ServiceContext, subscriber_id: int) -> str:
    return ctx.links.token(Purpose.UNSUBSCRIBE, subscriber_id, now=ctx.now)


async def _unsubscribe(db: Database, ctx: ServiceContext, subscriber_id: int) -> None:
    async with db.transaction() as session:
        await manage.unsubscribe(session, ctx, _token(ctx, subscriber_id))


async def _subscriber(db: Database, subscriber_id: int) -> Subscriber:
    async with db.transaction() as session:
        found = await session.get(Subscriber, subscriber_id)
    assert found is not None
    return found


async def _suppressions(db: Database) -> dict[str, str]:
    async with db.transaction() as session:
        rows = await session.execute(select(Suppression.address_hash, Suppression.reason))
        return {row.address_hash: row.reason for row in rows}


async def _queue(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, kind: str, key: str
) -> int:
    await enqueue(
        session,
        kind=kind,
        recipient=READER,
        idempotency_key=key,
        payload={},
        due_at=ctx.now,
        domain="clippost.test",
        requested=kind != "digest",
        subscriber_id=subscriber_id,
    )
    found = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    )
    assert found is not None
    return found


async def _change(session: AsyncSession, row_id: int, **values: object) -> None:
    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(values))


async def _outbox(db: Database) -> dict[str, tuple[str, str | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.state, OutboxMessage.last_error)
        )
        return {key: (state, error) for key, state, error in rows}


class TestUnsubscribe:
    async def test_stops_digests_and_records_a_suppression(
        self, database: Database, ctx: ServiceContext, subscriber_id: int
    ) -> None:
        """The reader is unsubscribed at once, with no next slot, and suppressed."""
        async with database.transaction() as session:
            await session.execute(
                update(Subscriber).values(status=SubscriberStatus.CONFIRMED, next_slot_at=ctx.now)
            )
        await _unsubscribe(database, ctx, subscriber_id)
        reader = await _subscriber(database, subscriber_id)
        assert (reader.status, reader.next_slot_at) == (SubscriberStatus.UNSUBSCRIBED, None)
        assert reader.unsubscribed_at == ctx.now
        assert await _suppressions(database) == {address_hash(READER): Reason.UNSUBSCRIBED}

    async def test_cancels_only_queued_digests(
        self, database: Database, ctx: ServiceContext, subscriber_id: int
    ) -> None:
        """Queued digests are cancelled with a reason, their slots' keys freed; leased, sent
        and requested mail is not touched."""
        async with database.transaction() as session:
            queued = await _queue(session, ctx, subscriber_id, "digest", "queued")
            stale = await _queue(session, ctx, subscriber_id, "digest", "stale-lease")
            leased = await _queue(session, ctx, subscriber_id, "digest", "leased")
            sent = await _queue(session, ctx, subscriber_id, "digest", "sent")
            await _queue(session, ctx, subscriber_id, "magic_link", "requested")
            minute = timedelta(minutes=1)
            await _change(session, stale, lease_expires_at=ctx.now - minute)  # lease lapsed
            await _change(session, leased, lease_expires_at=ctx.now + 5 * minute)
            await _change(session, sent, state=OutboxState.SENT)
        await _unsubscribe(database, ctx, subscriber_id)
        cancelled = (OutboxState.CANCELLED, "unsubscribed")
        assert await _outbox(database) == {
            f"queued:obsolete:{queued}": cancelled,
            f"stale-lease:obsolete:{stale}": cancelled,
            "leased": (OutboxState.PENDING, None),
            "sent": (OutboxState.SENT, None),
            "requested": (OutboxState.PENDING, None),
        }

    async def test_twice_keeps_the_first_time(
        self,
        database: Database,
        ctx: ServiceContext,
        make_ctx: Callable[..., ServiceContext],
        subscriber_id: int,
    ) -> None:
        """A second unsubscribe changes nothing visible and keeps when the reader left."""
        await _unsubscribe(database, ctx, subscriber_id)
        await _unsubscribe(database, make_ctx(ctx.now + timedelta(days=3)), subscriber_id)
        reader = await _subscriber(database, subscriber_id)
        assert (reader.status, reader.unsubscribed_at) == (SubscriberStatus.UNSUBSCRIBED, ctx.now)
        assert await _suppressions(database) == {address_hash(READER): Reason.UNSUBSCRIBED}

    async def test_a_bounce_suppression_is_kept(
        self, database: Database, ctx: ServiceContext, subscriber_id: int
    ) -> None:
        """An existing stronger suppression (a bounce) stays as it is."""
        async with database.transaction() as session:
            await suppressions.suppress(session, address_hash(READER), Reason.BOUNCED, now=ctx.now)
        await _unsubscribe(database, ctx, subscriber_id)
        assert await _suppressions(database) == {address_hash(READER): Reason.BOUNCED}

    async def test_an_erased_reader_is_quiet(
        self, database: Database, ctx: ServiceContext, subscriber_id: int
    ) -> None:
        """A genuine link whose reader no longer exists succeeds and writes nothing."""
        await _unsubscribe(database, ctx, subscriber_id + 1000)
        assert await _suppressions(database) == {}
        assert (await _subscriber(database, subscriber_id)).status == SubscriberStatus.PENDING

    def test_a_forged_link_is_refused_before_the_database(self, ctx: ServiceContext) -> None:
        """An altered token raises InvalidLink while reading the link, before any SQL."""
        token = _token(ctx, 7)
        with pytest.raises(InvalidLink):
            manage.unsubscription(ctx, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))

    async def test_many_at_once(
        self, database: Database, ctx: ServiceContext, new_subscriber: NewSubscriber
    ) -> None:
        """One batch unsubscribes every reader named, repeats and unknown ids included."""
        emails = [f"reader{n}@example.org" for n in range(5)]
        async with database.transaction() as session:
            ids = [await new_subscriber(session, email) for email in emails]
        batch = [Unsubscription(i, ctx.now) for i in [*ids, ids[0], 9999]]
        await database.run_write(lambda connection: manage.unsubscribe_all(connection, batch))
        for subscriber_id in ids:
            reader = await _subscriber(database, subscriber_id)
            assert reader.status == SubscriberStatus.UNSUBSCRIBED
        assert set(await _suppressions(database)) == {address_hash(e) for e in emails}


def _suppress_hashes(connection: Connection, hashes: Sequence[str]) -> None:
    """A batch write for the tests below: one suppression per item; "bad" fails."""
    if "bad" in hashes:
        raise ValueError("a bad item")
    suppressions.suppress_all(connection, hashes, Reason.BOUNCED, now=_NOW)


class TestGroupCommit:
    async def test_concurrent_callers_share_one_transaction(self, database: Database) -> None:
        """Writes submitted together are applied in one batch, and all of them commit."""
        batches: list[int] = []

        def recording(connection: Connection, hashes: Sequence[str]) -> None:
            batches.append(len(hashes))
            _suppress_hashes(connection, hashes)

        hashes = [f"h{n}" for n in range(10)]
        await asyncio.gather(*(database.commit_together(recording, h) for h in hashes))
        assert batches == [10]
        assert set(await _suppressions(database)) == set(hashes)

    async def test_a_batch_takes_at_most_its_limit(self, database: Database) -> None:
        """Past the limit, queued items wait for the next transaction; all of them commit."""
        batches: list[int] = []

        def recording(connection: Connection, hashes: Sequence[str]) -> None:
            batches.append(len(hashes))
            _suppress_hashes(connection, hashes)

        group = GroupCommit(database, recording, limit=3)
        hashes = [f"h{n}" for n in range(7)]
        await asyncio.gather(*(group.submit(h) for h in hashes))
        assert batches == [3, 3, 1]
        assert set(await _suppressions(database)) == set(hashes)

    async def test_a_caller_returns_after_its_commit(
        self, database: Database, database_url: str
    ) -> None:
        """When commit_together returns, another connection already sees the change."""
        await database.commit_together(_suppress_hashes, "seen")
        other = Database(normalise_database_url(database_url))
        try:
            assert await _suppressions(other) == {"seen": Reason.BOUNCED}
        finally:
            await other.dispose()

    async def test_a_failing_item_fails_only_its_caller(self, database: Database) -> None:
        """One bad item in a batch: its caller gets the error, the others still commit."""
        items = ["a", "bad", "b"]
        results = await asyncio.gather(
            *(database.commit_together(_suppress_hashes, item) for item in items),
            return_exceptions=True,
        )
        assert [type(result) for result in results] == [type(None), ValueError, type(None)]
        assert set(await _suppressions(database)) == {"a", "b"}

    async def test_a_cancelled_caller_writes_nothing(self, database: Database) -> None:
        """A caller gone before its batch starts (a dropped connection) is skipped."""
        gone = asyncio.create_task(database.commit_together(_suppress_hashes, "gone"))
        await asyncio.sleep(0)  # queued, the flusher scheduled
        gone.cancel()
        await database.commit_together(_suppress_hashes, "kept")
        assert gone.cancelled()
        assert await _suppressions(database) == {"kept": Reason.BOUNCED}
