"""Changes win until the email leaves: a planned digest its reader no longer wants is
cancelled, at claim time and the moment the reader makes the change, on both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update

from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.links import Purpose
from clippost.models import OutboxMessage, Subscriber
from clippost.outbox import claims
from clippost.outbox.claims import Delivered, RetryLater
from clippost.outbox.repository import enqueue
from clippost.planner.service import plan_due
from clippost.subscriptions import manage
from clippost.subscriptions import repository as subscribers
from clippost.subscriptions.preferences import Preferences
from factories import add_reader, outbox_rows

# Monday 23 November 2026, 07:00 in Paris (UTC+1): the reader's daily slot.
SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
PARIS = {"cadence": "daily", "hour": "7", "timezone": "Europe/Paris", "per_email": "3"}

Contexts = Callable[[datetime], ServiceContext]


async def planned_reader(db: Database, make_ctx: Contexts, *, email: str = "r@example.org") -> int:
    """A confirmed daily reader (07:00 Paris, 3 per email, 6 highlights) whose 07:00 digest
    the planner has just planned; returns the reader's id."""
    reader = await add_reader(db, email=email, per_email=3, next_slot_at=SLOT, highlights=6)
    await plan_due(db, make_ctx(SLOT + timedelta(seconds=30)))
    return reader


async def change_row(db: Database, reader: int, **values: Any) -> None:
    """Change the reader's row behind the manage side's back (a change the claim must see
    for itself: made by a path that did not settle the planned digests)."""
    async with db.transaction() as session:
        await session.execute(update(Subscriber).where(Subscriber.id == reader).values(values))


async def claim(db: Database, *, at: datetime = SLOT + timedelta(minutes=1)) -> list[Any]:
    return await claims.claim(db, owner="w", limit=50, now=at, lease=LEASE)


async def digests(db: Database) -> list[OutboxMessage]:
    return [row for row in await outbox_rows(db) if row.kind == "digest"]


async def next_slot_of(db: Database, reader: int) -> datetime | None:
    async with db.sessions() as session:
        found: datetime | None = await session.scalar(
            select(Subscriber.next_slot_at).where(Subscriber.id == reader)
        )
        return found


def slot_key_of(reader: int) -> str:
    """The key the planner gives the reader's digest for SLOT."""
    return f"digest:{reader}:{SLOT:%Y-%m-%dT%H:%M}Z"


def preferences(**changes: str) -> Preferences:
    return Preferences.from_form({**PARIS, **changes})


class TestAtClaim:
    async def test_a_digest_still_wanted_is_claimed(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """With nothing changed since planning, the planned digest is claimed as it is."""
        await planned_reader(database, make_ctx)
        [claimed] = await claim(database)
        assert claimed.kind == "digest"
        assert len(claimed.payload["highlights"]) == 3

    async def test_unsubscribed_reader(self, database: Database, make_ctx: Contexts) -> None:
        """A reader who left after planning gets nothing: the row is cancelled, with why."""
        reader = await planned_reader(database, make_ctx)
        await change_row(database, reader, status="unsubscribed")
        assert await claim(database) == []
        [row] = await digests(database)
        assert row.state == "cancelled"
        assert row.last_error == "cancelled: the reader is unsubscribed"
        assert row.finished_at == SLOT + timedelta(minutes=1)
        assert row.lease_owner is None

    async def test_erased_reader(self, database: Database, make_ctx: Contexts) -> None:
        """A digest whose reader's row is gone (its subscriber_id set to NULL) is cancelled."""
        reader = await planned_reader(database, make_ctx)
        async with database.transaction() as session:
            await subscribers.delete_subscriber(session, reader)
        assert await claim(database) == []
        [row] = await digests(database)
        assert row.subscriber_id is None
        assert (row.state, row.last_error) == ("cancelled", "cancelled: the reader was erased")

    async def test_paused_reader(self, database: Database, make_ctx: Contexts) -> None:
        """A pause that covers the digest's day cancels it."""
        reader = await planned_reader(database, make_ctx)
        await change_row(database, reader, paused_until=date(2026, 11, 30))
        assert await claim(database) == []
        [row] = await digests(database)
        assert row.last_error == "cancelled: the reader paused until 2026-11-30"

    async def test_a_pause_that_ended_before_the_slot_lets_it_go(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A pause up to the day before the slot does not touch the digest."""
        reader = await planned_reader(database, make_ctx)
        await change_row(database, reader, paused_until=date(2026, 11, 22))
        assert len(await claim(database)) == 1

    async def test_changed_schedule(self, database: Database, make_ctx: Contexts) -> None:
        """A digest due at an hour that is no longer the reader's is cancelled as obsolete,
        its slot's key freed; the reader's next slot (the new hour's) is left as it is."""
        reader = await planned_reader(database, make_ctx)
        later = SLOT + timedelta(hours=2)
        await change_row(database, reader, hour=9, next_slot_at=later)
        assert await claim(database) == []
        [row] = await digests(database)
        assert row.last_error == "obsolete: the reader changed their schedule"
        assert row.idempotency_key.endswith(f":obsolete:{row.id}")
        assert await next_slot_of(database, reader) == later

    async def test_fewer_highlights_per_email_is_planned_again(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A digest with more highlights than the reader now wants is cancelled and its slot
        planned again, with the new number."""
        reader = await planned_reader(database, make_ctx)
        await change_row(database, reader, per_email=1)
        assert await claim(database) == []
        assert await next_slot_of(database, reader) == SLOT
        assert await plan_due(database, make_ctx(SLOT + timedelta(minutes=2))) == 1
        [again] = await claim(database, at=SLOT + timedelta(minutes=3))
        assert len(again.payload["highlights"]) == 1
        rows = await digests(database)
        assert [row.state for row in rows] == ["cancelled", "pending"]
        assert rows[1].due_at == SLOT

    async def test_a_footer_stating_another_schedule_is_planned_again(
        self, database: Database
    ) -> None:
        """A v2 payload whose footer states a schedule that is no longer the reader's (the
        slot still is one of theirs) is cancelled and the slot planned again; one whose
        footer agrees goes."""
        weekly = {"cadence": "weekly", "hour": 7, "weekday": 0, "timezone": "Europe/Paris"}
        daily = {**weekly, "cadence": "daily"}
        tomorrow = SLOT + timedelta(days=1)
        for name, stated in (("old", weekly), ("new", daily)):
            reader = await add_reader(
                database, email=f"{name}@example.org", per_email=3, next_slot_at=tomorrow
            )
            await enqueue_digest(database, reader, key=slot_key_of(reader), schedule=stated)
        [claimed] = await claim(database)
        assert claimed.payload["schedule"] == daily
        stale = next(row for row in await digests(database) if row.state == "cancelled")
        assert stale.last_error == "obsolete: the reader changed their schedule"
        assert stale.subscriber_id is not None
        assert await next_slot_of(database, stale.subscriber_id) == SLOT

    async def test_a_retried_digest_is_checked_against_its_slot_not_its_retry_time(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A transient failure moves `due_at` to the retry time; the digest is still for its
        slot, so the next claim sends it rather than calling it off schedule."""
        await planned_reader(database, make_ctx)
        [first] = await claim(database)
        retry_at = SLOT + timedelta(minutes=17)
        await claims.record_results(
            database,
            owner="w",
            outcomes=[RetryLater(first.id, retry_at, "451 try later")],
            now=SLOT + timedelta(minutes=2),
        )
        [again] = await claim(database, at=retry_at + timedelta(seconds=1))
        assert (again.id, again.due_at) == (first.id, retry_at)

    async def test_mail_that_is_not_a_planned_digest_is_not_rechecked(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A reader's confirmation or manage link (asked for) is not a digest: it goes."""
        reader = await planned_reader(database, make_ctx)
        await change_row(database, reader, status="unsubscribed")
        async with database.transaction() as session:
            await enqueue(
                session,
                kind="magic_link",
                recipient="r@example.org",
                idempotency_key="magic:1",
                payload={"manage_url": "http://testserver/m", "expires_in": 60},
                due_at=SLOT,
                domain="clippost.test",
                requested=True,
                subscriber_id=reader,
            )
        assert [row.kind for row in await claim(database)] == ["magic_link"]

    async def test_the_recheck_costs_the_same_statements_for_any_batch(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """Claiming 3 or 40 digests, two of them stale, runs the same number of statements:
        the readers are read, and the stale rows settled, set-based."""
        counts = []
        for size in (3, 40):
            readers = [
                await add_reader(
                    database, email=f"r{size}-{n}@example.org", next_slot_at=SLOT, highlights=3
                )
                for n in range(size)
            ]
            await plan_due(database, make_ctx(SLOT + timedelta(seconds=30)))
            await change_row(database, readers[0], status="unsubscribed")
            await change_row(database, readers[1], paused_until=date(2026, 12, 1))
            with statements(database) as seen:
                claimed = await claim(database)
            assert len(claimed) == size - 2
            counts.append(len(seen))
        assert counts[0] == counts[1]
        reasons = sorted(str(row.last_error) for row in await digests(database) if row.last_error)
        assert reasons == 2 * ["cancelled: the reader is unsubscribed"] + 2 * [
            "cancelled: the reader paused until 2026-12-01"
        ]

    async def test_a_batch_that_was_all_stale_is_followed_by_the_next(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """When every row of a batch is settled, the claim goes on to the next batch, so an
        empty claim still means nothing due is left."""
        gone = await planned_reader(database, make_ctx, email="gone@example.org")
        await planned_reader(database, make_ctx, email="stays@example.org")
        await change_row(database, gone, status="unsubscribed")
        [claimed] = await claims.claim(
            database, owner="w", limit=1, now=SLOT + timedelta(minutes=1), lease=LEASE
        )
        assert claimed.recipient == "stays@example.org"


class TestWhenTheReaderChanges:
    async def test_a_pause_cancels_at_once(self, database: Database, make_ctx: Contexts) -> None:
        """Saving a pause cancels the planned digests it covers before any claim."""
        reader = await planned_reader(database, make_ctx)
        await save(database, make_ctx, reader, preferences(paused_until="2026-11-24"))
        [row] = await digests(database)
        assert row.state == "cancelled"
        assert row.last_error == "cancelled: the reader paused until 2026-11-24"
        assert await claim(database) == []

    async def test_more_highlights_per_email_plans_the_slot_again(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """Raising the number per email, which the stored row cannot show, makes the planned
        digest obsolete at once, and the planner plans the slot again with five."""
        reader = await planned_reader(database, make_ctx)
        await save(database, make_ctx, reader, preferences(per_email="5"))
        [row] = await digests(database)
        assert row.last_error == "obsolete: the reader changed their preferences"
        assert await plan_due(database, make_ctx(SLOT + timedelta(minutes=2))) == 1
        [claimed] = await claim(database)
        assert len(claimed.payload["highlights"]) == 5

    async def test_a_new_hour_plans_the_new_slot(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """Moving the hour cancels the 07:00 digest; the 09:00 one is planned instead."""
        reader = await planned_reader(database, make_ctx)
        await save(database, make_ctx, reader, preferences(hour="9"))
        nine = SLOT + timedelta(hours=2)
        assert await next_slot_of(database, reader) == nine
        assert await claim(database) == []
        assert await plan_due(database, make_ctx(nine + timedelta(seconds=30))) == 1
        [claimed] = await claim(database, at=nine + timedelta(minutes=1))
        assert claimed.due_at == nine

    async def test_the_same_preferences_saved_again_change_nothing(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """Saving the preferences unchanged leaves the planned digest alone."""
        reader = await planned_reader(database, make_ctx)
        await save(database, make_ctx, reader, preferences())
        [row] = await digests(database)
        assert row.state == "pending"
        assert len(await claim(database)) == 1

    async def test_a_digest_being_sent_is_left_to_its_worker(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A digest a worker holds under a live lease is leaving: a change made now does not
        call it back, and the worker's result is recorded."""
        reader = await planned_reader(database, make_ctx)
        [claimed] = await claim(database)
        await save(database, make_ctx, reader, preferences(per_email="1"))
        await claims.record_results(
            database, owner="w", outcomes=[Delivered(claimed.id)], now=SLOT + timedelta(minutes=2)
        )
        [row] = await digests(database)
        assert row.state == "sent"

    async def test_unsubscribe_cancels_at_once(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """The unsubscribe link cancels the planned digest in its own transaction."""
        reader = await planned_reader(database, make_ctx)
        ctx = make_ctx(SLOT + timedelta(seconds=40))
        async with database.transaction() as session:
            await manage.unsubscribe(
                session, ctx, ctx.links.token(Purpose.UNSUBSCRIBE, reader, now=ctx.now)
            )
        [row] = await digests(database)
        assert (row.state, row.last_error) == ("cancelled", "unsubscribed")

    async def test_a_reader_who_leaves_and_comes_back_before_the_slot_gets_it(
        self, database: Database, make_ctx: Contexts
    ) -> None:
        """A digest planned ahead and cancelled by an unsubscribe frees its slot: resubscribed
        before the slot, the reader has it planned again and gets it."""
        reader = await add_reader(database, per_email=3, next_slot_at=SLOT + timedelta(days=1))
        await enqueue_digest(database, reader, key=slot_key_of(reader))
        ctx = make_ctx(SLOT - timedelta(minutes=20))
        async with database.transaction() as session:
            await manage.unsubscribe(
                session, ctx, ctx.links.token(Purpose.UNSUBSCRIBE, reader, now=ctx.now)
            )
        async with database.transaction() as session:
            await manage.resubscribe(session, make_ctx(SLOT - timedelta(minutes=10)), reader)
        assert await plan_due(database, make_ctx(SLOT + timedelta(seconds=30))) == 1
        [claimed] = await claim(database)
        assert claimed.due_at == SLOT
        cancelled = next(row for row in await digests(database) if row.state == "cancelled")
        assert cancelled.idempotency_key.endswith(f":obsolete:{cancelled.id}")

    async def test_erase_cancels_at_once(self, database: Database, make_ctx: Contexts) -> None:
        """Erasing cancels the planned digest and strips it of the reader."""
        reader = await planned_reader(database, make_ctx)
        async with database.transaction() as session:
            await manage.erase(
                session, make_ctx(SLOT + timedelta(seconds=40)), reader, never_email_again=False
            )
        [row] = await digests(database)
        assert (row.state, row.recipient, row.payload) == ("cancelled", "", {})


async def save(db: Database, make_ctx: Contexts, reader: int, chosen: Preferences) -> None:
    async with db.transaction() as session:
        await manage.update_preferences(
            session, make_ctx(SLOT + timedelta(seconds=40)), reader, chosen
        )


async def enqueue_digest(
    db: Database, reader: int, *, key: str, schedule: dict[str, Any] | None = None
) -> None:
    """A digest for `reader` due at SLOT, as a planner (planning ahead) would store it."""
    stated = {"cadence": "daily", "hour": 7, "timezone": "Europe/Paris"}
    payload = {
        "v": 2,
        "timezone": "Europe/Paris",
        "schedule": schedule or stated,
        "highlights": [{"text": "A passage.", "book_title": "A Book"}],
        "manage_url": "http://testserver/manage/x",
        "unsubscribe_url": "http://testserver/unsubscribe/x",
    }
    async with db.transaction() as session:
        await enqueue(
            session,
            kind="digest",
            recipient="reader@example.org",
            idempotency_key=key,
            payload=payload,
            due_at=SLOT,
            domain="clippost.test",
            subscriber_id=reader,
        )


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements run on `db` inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    target = db.engine.sync_engine
    event.listen(target, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", record)
