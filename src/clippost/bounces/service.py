"""Recording delivery events and acting on them (invariant 10: suppression wins).

Runs inside the caller's one transaction (a webhook request, one mailbox message) and never
commits. Each event is kept once: a replay inserts nothing and so does nothing else. An
event is kept with the outbox row it is about when it names one; the address it acts on is
that row's recipient (what we sent to), else the one the event names. An event from an
unauthenticated source (a bounce mailbox) acts only when it names one of our messages:
anyone can send a bounce mailbox a report about anyone's address, but not guess a
Message-ID or a signed VERP address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import delivery_events, suppressions
from clippost.addresses import address_hash
from clippost.bounces import policy, reports
from clippost.bounces import repository as repo
from clippost.bounces.events import MAX_DETAIL, DeliveryEvent, EventKind
from clippost.context import ServiceContext
from clippost.errors import InvalidLink
from clippost.outbox import repository as outbox
from clippost.subscriptions.manage import unsubscribe_all, unsubscription


@dataclass(slots=True)
class RecordReport:
    """What a batch of events did."""

    recorded: int = 0
    replayed: int = 0  # already recorded: nothing done
    unmatched: int = 0  # recorded, but no outbox row named
    suppressed: int = 0  # addresses suppressed by these events
    unsubscribed: int = 0  # readers unsubscribed after a complaint
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, other: RecordReport) -> None:
        self.recorded += other.recorded
        self.replayed += other.replayed
        self.unmatched += other.unmatched
        self.suppressed += other.suppressed
        self.unsubscribed += other.unsubscribed
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count


async def record_events(
    session: AsyncSession, ctx: ServiceContext, events: Iterable[DeliveryEvent]
) -> RecordReport:
    report = RecordReport()
    for event in events:
        await _record_one(session, ctx, event, report)
    return report


async def _record_one(
    session: AsyncSession, ctx: ServiceContext, event: DeliveryEvent, report: RecordReport
) -> None:
    delivery = await repo.find_delivery(session, event)
    hashed = _recipient_hash(event, delivery)
    kept = await delivery_events.record(
        session, _row(event, delivery, hashed, ctx), received_at=ctx.now
    )
    if not kept:
        report.replayed += 1
        return
    report.recorded += 1
    report.kinds[event.kind.value] = report.kinds.get(event.kind.value, 0) + 1
    report.unmatched += delivery is None
    if hashed and (delivery is not None or event.trusted):
        await _act(session, ctx, event, delivery, hashed, report)


def _recipient_hash(event: DeliveryEvent, delivery: repo.Delivery | None) -> str:
    if delivery is not None and delivery.recipient_hash:
        return delivery.recipient_hash
    return address_hash(event.recipient) if event.recipient else ""


def _row(
    event: DeliveryEvent, delivery: repo.Delivery | None, hashed: str, ctx: ServiceContext
) -> delivery_events.NewEvent:
    return delivery_events.NewEvent(
        provider=event.provider.value,
        provider_event_id=event.event_id,
        kind=event.kind.value,
        outbox_id=delivery.id if delivery else None,
        recipient_hash=hashed,
        detail=event.detail[:MAX_DETAIL] or None,
        occurred_at=event.occurred_at or ctx.now,
    )


async def _act(
    session: AsyncSession,
    ctx: ServiceContext,
    event: DeliveryEvent,
    delivery: repo.Delivery | None,
    hashed: str,
    report: RecordReport,
) -> None:
    soft = 0
    if event.kind is EventKind.SOFT_BOUNCE:
        since = ctx.now - timedelta(days=ctx.settings.soft_bounce_days)
        soft = await delivery_events.soft_bounces(session, hashed, since=since)
    verdict = policy.verdict(
        event.kind, soft_bounces=soft, soft_limit=ctx.settings.soft_bounce_limit
    )
    if verdict.unsubscribe:
        subscriber_id = await _subscriber_id(session, event, delivery)
        if subscriber_id is not None:
            await repo.unsubscribe(session, subscriber_id, now=ctx.now)
            report.unsubscribed += 1
    if verdict.suppress is not None:
        detail = f"{event.kind.value} ({event.provider.value}): {event.detail}".strip()
        await suppressions.suppress_all_mail(
            session, hashed, verdict.suppress, detail=detail, now=ctx.now
        )
        await outbox.settle_suppressed_addresses(
            session, [hashed], verdict.suppress.value, now=ctx.now
        )
        report.suppressed += 1


async def _subscriber_id(
    session: AsyncSession, event: DeliveryEvent, delivery: repo.Delivery | None
) -> int | None:
    if delivery is not None and delivery.subscriber_id is not None:
        return delivery.subscriber_id
    if event.recipient and event.trusted:
        return await repo.subscriber_id_by_email(session, event.recipient.lower())
    return None


@dataclass(frozen=True, slots=True)
class MailboxOutcome:
    """What one mailbox message did: `understood` decides the folder it goes to."""

    understood: bool
    events: RecordReport | None = None
    unsubscribed: bool = False
    note: str = ""


async def handle_report(
    session: AsyncSession, ctx: ServiceContext, report: reports.Report
) -> MailboxOutcome:
    """Act on one mailbox message: record a bounce's or complaint's events, or carry out a
    List-Unsubscribe `mailto:` request exactly as the one-click POST does."""
    if isinstance(report, reports.Bounces):
        return MailboxOutcome(True, events=await record_events(session, ctx, report.events))
    if isinstance(report, reports.Unsubscribe):
        try:
            leaving = unsubscription(ctx, report.token)
        except InvalidLink:
            return MailboxOutcome(False, note="an unsubscribe request with an invalid token")
        connection = await session.connection()
        await connection.run_sync(unsubscribe_all, [leaving])
        return MailboxOutcome(True, unsubscribed=True)
    return MailboxOutcome(False, note=report.reason)
