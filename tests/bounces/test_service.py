"""Recording events on a real database (SQLite and PostgreSQL): kept once, with their
outbox row, and the suppressions, unsubscriptions and cancellations they call for."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from clippost.addresses import address_hash
from clippost.bounces.events import DeliveryEvent, EventKind, Provider
from clippost.bounces.service import RecordReport, record_events
from clippost.config import Settings
from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.models import (
    DeliveryEvent as EventRow,
)
from clippost.models import (
    OutboxMessage,
    Subscriber,
    SubscriberStatus,
    Suppression,
)
from factories import service_context

NOW = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
READER = "reader@example.org"


@pytest.fixture
def ctx(settings: Settings) -> ServiceContext:
    return service_context(settings, now=NOW)


async def _reader(db: Database, email: str = READER) -> int:
    async with db.transaction() as session:
        subscriber = Subscriber(email=email, status=SubscriberStatus.CONFIRMED, next_slot_at=NOW)
        session.add(subscriber)
        await session.flush()
        return subscriber.id


async def _row(
    db: Database,
    subscriber_id: int | None,
    *,
    number: int,
    email: str = READER,
    state: str = "sent",
    kind: str = "digest",
    provider_id: str | None = None,
) -> int:
    async with db.transaction() as session:
        row = OutboxMessage(
            idempotency_key=f"test:{number}",
            message_id=f"<m{number}@clippost.test>",
            kind=kind,
            recipient=email,
            recipient_hash=address_hash(email),
            subscriber_id=subscriber_id,
            payload={},
            state=state,
            due_at=NOW,
            provider_id=provider_id,
        )
        session.add(row)
        await session.flush()
        return row.id


def _event(kind: EventKind = EventKind.HARD_BOUNCE, **fields: object) -> DeliveryEvent:
    values: dict[str, object] = {
        "provider": Provider.SES,
        "event_id": "feedback-1:reader@example.org",
        "kind": kind,
        "recipient": READER,
        "occurred_at": NOW - timedelta(minutes=1),
        "detail": "5.1.1 user unknown",
        "message_id": "<m1@clippost.test>",
    }
    values.update(fields)
    return DeliveryEvent(**values)  # type: ignore[arg-type]


async def _record(db: Database, ctx: ServiceContext, *events: DeliveryEvent) -> RecordReport:
    async with db.transaction() as session:
        return await record_events(session, ctx, events)


async def _suppression(db: Database, email: str = READER) -> str | None:
    async with db.transaction() as session:
        reason: str | None = await session.scalar(
            select(Suppression.reason).where(Suppression.address_hash == address_hash(email))
        )
        return reason


async def _events(db: Database) -> list[EventRow]:
    async with db.transaction() as session:
        return list((await session.scalars(select(EventRow).order_by(EventRow.id))).all())


async def _states(db: Database) -> dict[int, tuple[str, str | None]]:
    async with db.transaction() as session:
        rows = await session.execute(
            select(OutboxMessage.id, OutboxMessage.state, OutboxMessage.last_error)
        )
        return {row_id: (state, error) for row_id, state, error in rows}


async def _status(db: Database, subscriber_id: int) -> str:
    async with db.transaction() as session:
        found = await session.get(Subscriber, subscriber_id)
        assert found is not None
        return found.status


class TestHardBounce:
    async def test_kept_with_its_row_and_suppressing(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A hard bounce is kept with the row it names and suppresses the address at once;
        the address's other queued rows are settled as suppressed."""
        reader = await _reader(database)
        sent = await _row(database, reader, number=1)
        queued = await _row(database, reader, number=2, state="pending", kind="magic_link")
        report = await _record(database, ctx, _event())
        assert (report.recorded, report.suppressed, report.unmatched) == (1, 1, 0)
        (event,) = await _events(database)
        assert (event.outbox_id, event.kind, event.provider) == (sent, "hard_bounce", "ses")
        assert event.recipient_hash == address_hash(READER)
        assert event.occurred_at == NOW - timedelta(minutes=1)
        assert event.received_at == NOW
        assert await _suppression(database) == "bounced"
        assert (await _states(database))[queued] == ("suppressed", "recipient suppressed (bounced)")
        assert await _status(database, reader) == SubscriberStatus.CONFIRMED

    async def test_matched_by_the_providers_message_id(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """An event naming only the provider's id for the message finds the row by it."""
        sent = await _row(database, None, number=1, provider_id="ses-0001")
        await _record(database, ctx, _event(message_id=None, provider_message_id="ses-0001"))
        (event,) = await _events(database)
        assert event.outbox_id == sent

    async def test_a_replay_changes_nothing(self, database: Database, ctx: ServiceContext) -> None:
        """The same event received again is recorded once and acts once."""
        await _row(database, None, number=1)
        await _record(database, ctx, _event())
        async with database.transaction() as session:
            await session.execute(Suppression.__table__.delete())
        report = await _record(database, ctx, _event())
        assert (report.recorded, report.replayed, report.suppressed) == (0, 1, 0)
        assert len(await _events(database)) == 1
        assert await _suppression(database) is None

    async def test_a_bounce_does_not_replace_a_complaint(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """An address suppressed for a complaint stays so after a later bounce."""
        await _record(database, ctx, _event(EventKind.COMPLAINT, event_id="c-1", message_id=None))
        await _record(database, ctx, _event(event_id="b-1", message_id=None))
        assert await _suppression(database) == "complained"

    async def test_an_erased_readers_row_acts_on_the_named_address(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A row stripped by erasure still anchors the event; the address it names is used."""
        async with database.transaction() as session:
            session.add(
                OutboxMessage(
                    idempotency_key="x",
                    message_id="<m1@clippost.test>",
                    kind="digest",
                    recipient="",
                    recipient_hash="",
                    payload={},
                    state="sent",
                    due_at=NOW,
                )
            )
        await _record(database, ctx, _event())
        assert await _suppression(database) == "bounced"


class TestSoftBounces:
    async def test_suppressed_at_the_limit(self, database: Database, ctx: ServiceContext) -> None:
        """Soft bounces of distinct messages suppress once the limit is reached."""
        ctx = replace(ctx, settings=ctx.settings.model_copy(update={"soft_bounce_limit": 3}))
        for number in (1, 2, 3):
            await _row(database, None, number=number)
        for number in (1, 2):
            event = _event(
                EventKind.SOFT_BOUNCE,
                event_id=f"s{number}",
                message_id=f"<m{number}@clippost.test>",
            )
            await _record(database, ctx, event)
            assert await _suppression(database) is None
        third = _event(EventKind.SOFT_BOUNCE, event_id="s3", message_id="<m3@clippost.test>")
        assert (await _record(database, ctx, third)).suppressed == 1
        assert await _suppression(database) == "bounced"

    async def test_one_message_reported_twice_counts_once(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """Two soft-bounce reports about one message are one soft bounce."""
        ctx = replace(ctx, settings=ctx.settings.model_copy(update={"soft_bounce_limit": 2}))
        await _row(database, None, number=1)
        for number in (1, 2):
            await _record(database, ctx, _event(EventKind.SOFT_BOUNCE, event_id=f"s{number}"))
        assert await _suppression(database) is None

    async def test_old_soft_bounces_do_not_count(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """Soft bounces older than the window are not counted."""
        settings = ctx.settings.model_copy(update={"soft_bounce_limit": 2, "soft_bounce_days": 7.0})
        ctx = replace(ctx, settings=settings)
        old = _event(
            EventKind.SOFT_BOUNCE,
            event_id="old",
            message_id=None,
            occurred_at=NOW - timedelta(days=8),
        )
        await _record(database, ctx, old)
        await _record(database, ctx, _event(EventKind.SOFT_BOUNCE, event_id="new", message_id=None))
        assert await _suppression(database) is None


class TestComplaint:
    async def test_unsubscribes_and_cancels_digests(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A complaint suppresses, unsubscribes the reader and cancels their queued digests."""
        reader = await _reader(database)
        await _row(database, reader, number=1)
        queued = await _row(database, reader, number=2, state="pending")
        report = await _record(database, ctx, _event(EventKind.COMPLAINT))
        assert (report.suppressed, report.unsubscribed) == (1, 1)
        assert await _status(database, reader) == SubscriberStatus.UNSUBSCRIBED
        assert (await _states(database))[queued] == ("cancelled", "complained")
        assert await _suppression(database) == "complained"

    async def test_replaces_an_unsubscribe(self, database: Database, ctx: ServiceContext) -> None:
        """An address that had only unsubscribed becomes suppressed for the complaint."""
        async with database.transaction() as session:
            session.add(Suppression(address_hash=address_hash(READER), reason="unsubscribed"))
        await _record(database, ctx, _event(EventKind.COMPLAINT, message_id=None))
        assert await _suppression(database) == "complained"

    async def test_a_trusted_complaint_finds_the_reader_by_address(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A provider's complaint naming no known message still unsubscribes the reader."""
        reader = await _reader(database)
        await _record(
            database,
            ctx,
            _event(EventKind.COMPLAINT, message_id=None, recipient="Reader@Example.org"),
        )
        assert await _status(database, reader) == SubscriberStatus.UNSUBSCRIBED


class TestUntrustedReports:
    async def test_unmatched_mailbox_reports_only_record(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A mailbox report naming none of our messages is kept and does nothing else."""
        reader = await _reader(database)
        event = _event(
            EventKind.COMPLAINT, provider=Provider.MAILBOX, trusted=False, message_id="<x@y>"
        )
        report = await _record(database, ctx, event)
        assert (report.recorded, report.unmatched, report.suppressed) == (1, 1, 0)
        assert await _suppression(database) is None
        assert await _status(database, reader) == SubscriberStatus.CONFIRMED

    async def test_matched_mailbox_reports_act_on_our_recipient(
        self, database: Database, ctx: ServiceContext
    ) -> None:
        """A mailbox report naming our message acts on the row's recipient, not on the
        address the report names (a forwarded mailbox reports its own)."""
        await _row(database, None, number=1)
        event = _event(
            provider=Provider.MAILBOX, trusted=False, recipient="forward@elsewhere.example"
        )
        await _record(database, ctx, event)
        assert await _suppression(database) == "bounced"
        assert await _suppression(database, "forward@elsewhere.example") is None


class TestDelivery:
    async def test_a_delivery_is_only_kept(self, database: Database, ctx: ServiceContext) -> None:
        """A delivery event is kept with its row; nothing is suppressed."""
        sent = await _row(database, None, number=1)
        await _record(database, ctx, _event(EventKind.DELIVERY))
        (event,) = await _events(database)
        assert (event.kind, event.outbox_id) == ("delivery", sent)
        assert await _suppression(database) is None
