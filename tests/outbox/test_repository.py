"""Queueing and counting outbox rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.links import Purpose
from clippost.models import OutboxMessage
from clippost.outbox import claims, repository
from clippost.outbox.claims import Delivered
from clippost.outbox.repository import enqueue
from factories import outbox_rows, queue_messages

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


class TestEnqueue:
    async def test_same_key_twice_is_one_row(self, database: Database) -> None:
        """Enqueueing the same idempotency key twice leaves one row."""
        await queue_messages(database, count=1, due_at=NOW)
        await queue_messages(database, count=1, due_at=NOW)
        assert len(await outbox_rows(database)) == 1

    async def test_concurrent_transactions_with_one_key_insert_one_row(
        self, postgres_url: str
    ) -> None:
        """Two concurrent PostgreSQL transactions enqueueing one key: exactly one inserts."""
        key = f"race-{uuid.uuid4().hex}"
        dbs = [Database(normalise_database_url(postgres_url)) for _ in range(2)]
        both_open = asyncio.Barrier(2)

        async def enqueue_once(db: Database) -> bool:
            async with db.transaction() as session:
                await session.execute(select(1))
                await both_open.wait()  # both transactions are open before either inserts
                return await enqueue(
                    session,
                    kind="digest",
                    recipient="reader@example.org",
                    idempotency_key=key,
                    payload={},
                    due_at=NOW,
                    domain="clippost.test",
                )

        try:
            inserted = await asyncio.wait_for(
                asyncio.gather(*(enqueue_once(db) for db in dbs)), timeout=10
            )
            async with dbs[0].sessions() as session:
                stored = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.idempotency_key == key)
                )
        finally:
            for db in dbs:
                await db.dispose()
        assert sorted(inserted) == [False, True]
        assert stored == 1


class TestMessageIds:
    def test_ids_made_later_sort_later_and_stay_unguessable(self) -> None:
        """32 hex digits: a millisecond time prefix (a later id sorts after an earlier one),
        then 80 random bits (two ids of one millisecond differ)."""
        early = repository.new_message_id("clippost.test", at=NOW)
        same = repository.new_message_id("clippost.test", at=NOW)
        later = repository.new_message_id("clippost.test", at=NOW + timedelta(milliseconds=1))
        pattern = re.compile(r"<[0-9a-f]{32}@clippost\.test>")
        assert all(pattern.fullmatch(found) for found in (early, same, later))
        assert early != same
        assert early[1:13] == same[1:13] < later[1:13]
        assert max(early, same) < later

    async def test_a_planned_batch_gets_ordered_ids_of_that_form(self, database: Database) -> None:
        """`enqueue_many` (the planner's batch) writes ids of the same form, one time prefix
        for the batch, each id distinct."""
        async with database.transaction() as session:
            connection = await session.connection()
            await repository.enqueue_many(
                connection,
                [
                    repository.Queued(
                        kind="digest",
                        recipient=f"r{i}@example.org",
                        idempotency_key=f"batch-{i}",
                        payload={"n": i},
                        due_at=NOW,
                    )
                    for i in range(50)
                ],
                domain="clippost.test",
            )
        ids = [row.message_id for row in await outbox_rows(database)]
        assert len(set(ids)) == 50
        assert all(re.fullmatch(r"<[0-9a-f]{32}@clippost\.test>", found) for found in ids)
        assert len({found[1:13] for found in ids}) == 1
        a_second_later = datetime.now(UTC) + timedelta(seconds=1)
        assert repository.new_message_id("clippost.test", at=a_second_later) > max(ids)


class TestStats:
    async def test_counts_by_state(self, database: Database) -> None:
        """Stats count rows by state, due rows and leased rows."""
        await queue_messages(database, count=3, due_at=NOW)
        [first, *_] = await claims.claim(database, owner="w", limit=1, now=NOW, lease=LEASE)
        await claims.record_results(database, owner="w", outcomes=[Delivered(first.id)], now=NOW)
        found = await repository.stats(database, now=NOW)
        assert found.by_state == {"sent": 1, "pending": 2}
        assert found.due_now == 2
        assert found.leased == 0


class TestEncodePayload:
    def test_the_json_value_json_dumps_writes(self) -> None:
        """String keys and values of every JSON type: the value `json.dumps` writes."""
        payload = {"v": 2, "text": "«Ça» — 日本語 \u2028", "n": None, "ok": True, "x": [1.5, {}]}
        assert json.loads(repository.encode_payload(payload)) == json.loads(json.dumps(payload))

    def test_keys_that_are_not_plain_strings_are_coerced_as_json_dumps_does(self) -> None:
        """An int key and a StrEnum key (which orjson's fast path refuses) are written as
        the strings `json.dumps` makes of them, at any depth."""
        payload = {"counts": {3: "three", Purpose.MANAGE: "manage"}, Purpose.PASSAGE: 1}
        encoded = repository.encode_payload(payload)  # type: ignore[arg-type]
        assert json.loads(encoded) == json.loads(json.dumps(payload))
        assert json.loads(encoded) == {"counts": {"3": "three", "manage": "manage"}, "passage": 1}
