"""Claiming, recording and releasing outbox rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from clippost.addresses import address_hash
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import Suppression
from clippost.outbox import claims
from clippost.outbox.claims import Delivered, Failed, RetryLater, Withheld
from factories import add_suppression, outbox_rows, queue_messages

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


class TestClaim:
    async def test_claims_due_rows_in_due_order_with_a_lease(self, database: Database) -> None:
        """Claimed rows are the due ones, earliest first, leased to the claimer."""
        await queue_messages(database, count=2, due_at=NOW - timedelta(minutes=1), prefix="a")
        await queue_messages(database, count=1, due_at=NOW - timedelta(minutes=5), prefix="b")
        await queue_messages(database, count=1, due_at=NOW + timedelta(minutes=1), prefix="later")
        claimed = await claims.claim(database, owner="w1", limit=10, now=NOW, lease=LEASE)
        assert [c.payload["n"] for c in claimed] == [0, 0, 1]
        assert claimed[0].due_at == NOW - timedelta(minutes=5)
        stored = {r.id: r for r in await outbox_rows(database)}
        for message in claimed:
            assert stored[message.id].lease_owner == "w1"
            assert stored[message.id].lease_expires_at == NOW + LEASE
            assert stored[message.id].attempts == 1

    async def test_limit_bounds_the_batch(self, database: Database) -> None:
        """No more than `limit` rows are claimed."""
        await queue_messages(database, count=5, due_at=NOW)
        assert len(await claims.claim(database, owner="w", limit=3, now=NOW, lease=LEASE)) == 3

    async def test_leased_rows_are_not_claimed_again(self, database: Database) -> None:
        """A row under a live lease is invisible to the next claimer."""
        await queue_messages(database, count=3, due_at=NOW)
        first = await claims.claim(database, owner="w1", limit=2, now=NOW, lease=LEASE)
        second = await claims.claim(database, owner="w2", limit=10, now=NOW, lease=LEASE)
        assert len(first) == 2
        assert len(second) == 1
        assert {m.id for m in first}.isdisjoint({m.id for m in second})

    async def test_expired_lease_is_taken_over(self, database: Database) -> None:
        """Once a lease has expired, another worker claims the row and owns it."""
        await queue_messages(database, count=1, due_at=NOW)
        await claims.claim(database, owner="dead", limit=10, now=NOW, lease=LEASE)
        later = NOW + LEASE + timedelta(seconds=1)
        taken = await claims.claim(database, owner="alive", limit=10, now=later, lease=LEASE)
        assert len(taken) == 1
        assert taken[0].attempts == 2
        [row] = await outbox_rows(database)
        assert row.lease_owner == "alive"

    async def test_due_by_bounds_what_counts_as_due(self, database: Database) -> None:
        """`due_by` later than now claims rows due up to that moment."""
        await queue_messages(database, count=1, due_at=NOW + timedelta(hours=2))
        assert await claims.claim(database, owner="w", limit=5, now=NOW, lease=LEASE) == []
        claimed = await claims.claim(
            database, owner="w", limit=5, now=NOW, lease=LEASE, due_by=NOW + timedelta(hours=3)
        )
        assert len(claimed) == 1

    async def test_concurrent_claimers_never_share_a_row(self, database_url: str) -> None:
        """Eight claimers on separate connections racing over 400 rows get disjoint sets."""
        dbs = [Database(normalise_database_url(database_url)) for _ in range(8)]
        try:
            await queue_messages(dbs[0], count=400, due_at=NOW)

            async def drain(db: Database, name: str) -> list[int]:
                got: list[int] = []
                while batch := await claims.claim(db, owner=name, limit=7, now=NOW, lease=LEASE):
                    got.extend(m.id for m in batch)
                return got

            results = await asyncio.gather(*(drain(db, f"w{i}") for i, db in enumerate(dbs)))
        finally:
            for db in dbs:
                await db.dispose()
        every = [row_id for result in results for row_id in result]
        assert len(every) == 400
        assert len(set(every)) == 400
        assert sum(1 for result in results if result) > 1


class TestSuppressionAtClaim:
    async def test_suppressed_bulk_recipient_is_settled_not_returned(
        self, database: Database
    ) -> None:
        """A digest to an unsubscribed address becomes `suppressed` with the reason."""
        await queue_messages(database, count=2, due_at=NOW)
        await add_suppression(database, email="reader1@example.org", reason="unsubscribed")
        claimed = await claims.claim(database, owner="w", limit=10, now=NOW, lease=LEASE)
        assert [m.recipient for m in claimed] == ["reader0@example.org"]
        stored = {r.recipient: r for r in await outbox_rows(database)}
        blocked = stored["reader1@example.org"]
        assert blocked.state == "suppressed"
        assert blocked.last_error == "recipient suppressed (unsubscribed)"
        assert blocked.lease_owner is None
        assert blocked.finished_at == NOW

    async def test_requested_mail_passes_an_unsubscribe(self, database: Database) -> None:
        """A magic link to an unsubscribed address is still sent (the reader asked for it)."""
        await queue_messages(database, count=1, kind="magic_link", requested=True, due_at=NOW)
        await add_suppression(database, email="reader0@example.org", reason="unsubscribed")
        claimed = await claims.claim(database, owner="w", limit=10, now=NOW, lease=LEASE)
        assert len(claimed) == 1

    async def test_requested_mail_stops_for_a_bounce(self, database: Database) -> None:
        """A magic link to a hard-bounced address is suppressed."""
        await queue_messages(database, count=1, kind="magic_link", requested=True, due_at=NOW)
        await add_suppression(database, email="reader0@example.org", reason="bounced")
        assert await claims.claim(database, owner="w", limit=10, now=NOW, lease=LEASE) == []
        [row] = await outbox_rows(database)
        assert row.state == "suppressed"


class TestRecordResults:
    async def test_each_outcome_sets_its_final_state(self, database: Database) -> None:
        """Sent, retry-later, failed and withheld rows end in their states, leases cleared."""
        await queue_messages(database, count=4, due_at=NOW)
        a, b, c, d = await claims.claim(database, owner="w", limit=10, now=NOW, lease=LEASE)
        retry_at = NOW + timedelta(minutes=3)
        outcomes = [
            Delivered(a.id, "provider-1"),
            RetryLater(b.id, retry_at, "451 try later"),
            Failed(c.id, "552 too big"),
            Withheld(d.id, "not on the staging allowlist"),
        ]
        updated = await claims.record_results(database, owner="w", outcomes=outcomes, now=NOW)
        assert updated == 4
        stored = {r.id: r for r in await outbox_rows(database)}
        ra, rb, rc, rd = (stored[m.id] for m in (a, b, c, d))
        assert (ra.state, ra.provider_id, ra.finished_at) == ("sent", "provider-1", NOW)
        assert (rb.state, rb.due_at, rb.last_error) == ("pending", retry_at, "451 try later")
        assert (rc.state, rc.last_error) == ("failed", "552 too big")
        assert (rd.state, rd.last_error) == ("suppressed", "not on the staging allowlist")
        assert all(r.lease_owner is None and r.lease_expires_at is None for r in (ra, rb, rc, rd))

    async def test_a_taken_over_row_is_not_overwritten(self, database: Database) -> None:
        """A late result from a worker whose lease was taken over changes nothing."""
        await queue_messages(database, count=1, due_at=NOW)
        [old] = await claims.claim(database, owner="slow", limit=1, now=NOW, lease=LEASE)
        later = NOW + LEASE + timedelta(seconds=1)
        await claims.claim(database, owner="fast", limit=1, now=later, lease=LEASE)
        updated = await claims.record_results(
            database, owner="slow", outcomes=[Failed(old.id, "550 late")], now=later
        )
        assert updated == 0
        [row] = await outbox_rows(database)
        assert (row.state, row.lease_owner) == ("pending", "fast")

    async def test_bounce_suppresses_and_settles_other_pending_mail(
        self, database: Database
    ) -> None:
        """A hard bounce adds a `bounced` suppression and settles that address's other rows."""
        await queue_messages(
            database, count=1, recipient="gone@example.org", prefix="now", due_at=NOW
        )
        await add_suppression(database, email="gone@example.org", reason="unsubscribed")
        later = NOW + timedelta(days=1)
        await queue_messages(
            database, count=1, recipient="gone@example.org", prefix="later", due_at=later
        )
        await queue_messages(
            database,
            count=1,
            kind="magic_link",
            requested=True,
            recipient="gone@example.org",
            prefix="asked",
            due_at=later,
        )
        # the unsubscribe suppresses the digest at claim; the magic link gets through
        [asked] = await claims.claim(database, owner="w", limit=5, now=later, lease=LEASE)
        failure = Failed(
            asked.id, "550 no such user", bounce=True, recipient_hash=asked.recipient_hash
        )
        await claims.record_results(database, owner="w", outcomes=[failure], now=later)
        async with database.sessions() as session:
            suppression = await session.get(Suppression, address_hash("gone@example.org"))
            assert suppression is not None
            assert suppression.reason == "bounced"
        assert {r.state for r in await outbox_rows(database)} == {"suppressed", "failed"}

    async def test_release_gives_rows_back(self, database: Database) -> None:
        """Released rows lose their lease and are claimable at once."""
        await queue_messages(database, count=3, due_at=NOW)
        await claims.claim(database, owner="w", limit=10, now=NOW, lease=LEASE)
        assert await claims.release(database, owner="w") == 3
        again = await claims.claim(database, owner="v", limit=10, now=NOW, lease=LEASE)
        assert len(again) == 3
        assert {m.attempts for m in again} == {1}


class TestBatchedRecording:
    """`record_results` writes each outcome kind of a batch with one set-based statement."""

    @pytest.mark.parametrize("provider_ids", ["shared", "distinct"])
    async def test_a_stale_owner_cannot_record_over_a_new_owners_rows(
        self, database: Database, provider_ids: str
    ) -> None:
        """Of a batch whose lease expired, rows taken over by another worker keep their new
        owner; the rest take the stale owner's results."""
        await queue_messages(database, count=4, due_at=NOW)
        held = await claims.claim(database, owner="slow", limit=4, now=NOW, lease=LEASE)
        later = NOW + LEASE + timedelta(seconds=1)
        taken = await claims.claim(database, owner="fast", limit=2, now=later, lease=LEASE)
        outcomes = [
            Delivered(m.id, "250 ok" if provider_ids == "shared" else f"queued as {m.id}")
            for m in held
        ]
        updated = await claims.record_results(database, owner="slow", outcomes=outcomes, now=later)
        assert updated == 2
        stored = {r.id: r for r in await outbox_rows(database)}
        taken_ids = {m.id for m in taken}
        for message in held:
            row = stored[message.id]
            if message.id in taken_ids:
                assert (row.state, row.lease_owner, row.provider_id) == ("pending", "fast", None)
            else:
                assert (row.state, row.lease_owner) == ("sent", None)

    async def test_a_stale_owner_cannot_overwrite_any_outcome_kind(
        self, database: Database
    ) -> None:
        """Retry, failure and withheld results from a stale owner change nothing."""
        await queue_messages(database, count=3, due_at=NOW)
        a, b, c = await claims.claim(database, owner="slow", limit=3, now=NOW, lease=LEASE)
        later = NOW + LEASE + timedelta(seconds=1)
        await claims.claim(database, owner="fast", limit=3, now=later, lease=LEASE)
        outcomes = [
            RetryLater(a.id, later + timedelta(minutes=1), "451 a"),
            RetryLater(b.id, later + timedelta(minutes=2), "451 b"),
            Failed(c.id, "550 gone"),
        ]
        updated = await claims.record_results(database, owner="slow", outcomes=outcomes, now=later)
        assert updated == 0
        assert {(r.state, r.lease_owner, r.last_error) for r in await outbox_rows(database)} == {
            ("pending", "fast", None)
        }

    async def test_a_mixed_batch_is_recorded_exactly(self, database: Database) -> None:
        """Sent (shared and own provider ids), retried, failed and withheld rows of one batch
        each get exactly their own values."""
        await queue_messages(database, count=12, due_at=NOW)
        claimed = await claims.claim(database, owner="w", limit=12, now=NOW, lease=LEASE)
        ids = [m.id for m in claimed]
        expected: dict[int, tuple[object, ...]] = {}
        outcomes: list[claims.Outcome] = []
        for k, row_id in enumerate(ids):
            kind = k % 6
            if kind == 0:
                outcomes.append(Delivered(row_id, f"queued as {row_id}"))
                expected[row_id] = ("sent", f"queued as {row_id}", None, NOW, NOW)
            elif kind == 1:
                outcomes.append(Delivered(row_id, None))
                expected[row_id] = ("sent", None, None, NOW, NOW)
            elif kind == 2:
                due = NOW + timedelta(minutes=k)
                outcomes.append(RetryLater(row_id, due, "451 busy"))
                expected[row_id] = ("pending", None, "451 busy", due, None)
            elif kind == 3:
                due = NOW + timedelta(minutes=10 + k)
                outcomes.append(RetryLater(row_id, due, f"421 closing {k}"))
                expected[row_id] = ("pending", None, f"421 closing {k}", due, None)
            elif kind == 4:
                outcomes.append(Failed(row_id, f"552 too big {k}"))
                expected[row_id] = ("failed", None, f"552 too big {k}", NOW, NOW)
            else:
                outcomes.append(Withheld(row_id, "not on the staging allowlist"))
                expected[row_id] = ("suppressed", None, "not on the staging allowlist", NOW, NOW)
        updated = await claims.record_results(database, owner="w", outcomes=outcomes, now=NOW)
        assert updated == 12
        stored = {r.id: r for r in await outbox_rows(database)}
        got = {
            row_id: (
                stored[row_id].state,
                stored[row_id].provider_id,
                stored[row_id].last_error,
                stored[row_id].due_at,
                stored[row_id].finished_at,
            )
            for row_id in ids
        }
        assert got == expected
        assert all(
            stored[i].lease_owner is None and stored[i].lease_expires_at is None for i in ids
        )

    async def test_long_error_texts_are_cut(self, database: Database) -> None:
        """Errors longer than the limit are stored cut, in the batched statements too."""
        await queue_messages(database, count=2, due_at=NOW)
        a, b = await claims.claim(database, owner="w", limit=2, now=NOW, lease=LEASE)
        outcomes = [Failed(a.id, "x" * 5000), Failed(b.id, "y" * 5000)]
        await claims.record_results(database, owner="w", outcomes=outcomes, now=NOW)
        assert sorted(len(r.last_error or "") for r in await outbox_rows(database)) == [2000, 2000]

    async def test_batches_beyond_sqlites_parameter_limit(self, database: Database) -> None:
        """A batch of 2,100 rows (more than 999 parameters) is claimed and recorded whole,
        both with one shared provider id and with one per row."""
        await queue_messages(database, count=2100, due_at=NOW)
        claimed = await claims.claim(database, owner="w", limit=2100, now=NOW, lease=LEASE)
        assert len(claimed) == 2100
        first, second = claimed[:1050], claimed[1050:]
        shared = [Delivered(m.id, "250 2.0.0 Ok") for m in first]
        own = [Delivered(m.id, f"queued as {m.id}") for m in second]
        assert await claims.record_results(database, owner="w", outcomes=shared, now=NOW) == 1050
        assert await claims.record_results(database, owner="w", outcomes=own, now=NOW) == 1050
        stored = await outbox_rows(database)
        assert {r.state for r in stored} == {"sent"}
        assert {r.provider_id for r in stored if r.id in {m.id for m in second}} == {
            f"queued as {m.id}" for m in second
        }

    async def test_suppression_check_beyond_sqlites_parameter_limit(
        self, database: Database
    ) -> None:
        """A claim of 1,200 distinct recipients still settles the suppressed ones."""
        await queue_messages(database, count=1200, due_at=NOW)
        await add_suppression(database, email="reader1100@example.org", reason="unsubscribed")
        claimed = await claims.claim(database, owner="w", limit=1200, now=NOW, lease=LEASE)
        assert len(claimed) == 1199
        assert "reader1100@example.org" not in {m.recipient for m in claimed}
        [blocked] = [r for r in await outbox_rows(database) if r.state == "suppressed"]
        assert blocked.recipient == "reader1100@example.org"


class TestClaimPlan:
    async def test_claim_walks_the_pending_index_in_order(
        self, postgres_database: Database
    ) -> None:
        """On PostgreSQL the claim reads pending rows through the partial index in due order,
        even on a table that was never analyzed (no bitmap scan and sort of the queue; SQLite
        is serialized by its write lock)."""
        database = postgres_database
        await queue_messages(database, count=300, due_at=NOW)
        statement = claims._claim_statement(
            "postgresql", owner="w", limit=10, now=NOW, lease=LEASE, due_by=NOW
        )
        compiled = statement.compile(
            dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with database.transaction() as session:
            connection = await session.connection()
            await connection.execute(claims._ORDERED_SCAN)
            found = await connection.exec_driver_sql(f"EXPLAIN {compiled}")
            plan = "\n".join(line for (line,) in found)
        assert "Index Scan using ix_outbox_pending_due_at" in plan
        assert "Bitmap" not in plan

    @pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
    def test_claim_names_the_pending_state_in_its_sql(self, dialect: str) -> None:
        """The claim writes `state = 'pending'` into its SQL, so the partial index stays
        usable in a prepared statement's generic plan, which knows no bound values."""
        statement = claims._claim_statement(
            dialect, owner="w", limit=10, now=NOW, lease=LEASE, due_by=NOW
        )
        assert "outbox.state = 'pending'" in str(statement.compile())


class TestExtendLease:
    async def test_extending_keeps_a_slow_batch_from_being_taken_over(
        self, database: Database
    ) -> None:
        """A lease pushed back by its owner is not taken over at the old expiry."""
        await queue_messages(database, count=2, due_at=NOW)
        claimed = await claims.claim(database, owner="slow", limit=2, now=NOW, lease=LEASE)
        halfway = NOW + LEASE / 2
        extended = await claims.extend_lease(
            database, owner="slow", ids=[m.id for m in claimed], now=halfway, lease=LEASE
        )
        assert extended == 2
        after_old_expiry = NOW + LEASE + timedelta(seconds=1)
        assert (
            await claims.claim(database, owner="other", limit=5, now=after_old_expiry, lease=LEASE)
            == []
        )

    async def test_another_owners_rows_are_not_extended(self, database: Database) -> None:
        """Only the owner's own leases are extended."""
        await queue_messages(database, count=1, due_at=NOW)
        [row] = await claims.claim(database, owner="a", limit=1, now=NOW, lease=LEASE)
        assert (
            await claims.extend_lease(database, owner="b", ids=[row.id], now=NOW, lease=LEASE) == 0
        )
