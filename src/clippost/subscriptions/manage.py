"""The manage side: manage links, preferences, leaving (unsubscribe, erase) and coming back.

Every function runs inside the caller's one transaction and never commits (invariant 1).
The manage-link request does the same visible things whatever the address's state; only
the email differs (invariant 8).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from clippost import delivery_events, suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.context import ServiceContext
from clippost.errors import BadInput, InvalidLink
from clippost.links import Purpose
from clippost.models import Subscriber, SubscriberStatus, SuppressionReason
from clippost.outbox import recheck
from clippost.outbox import repository as outbox
from clippost.planner.slots import next_slot
from clippost.still_wanted import ReaderNow, after_change
from clippost.subscriptions import ratelimit
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import (
    GONE,
    address_limit_key,
    id_in_link,
    limit_address,
    limit_client,
    reloaded,
    send_requested,
)
from clippost.subscriptions.preferences import LOCALES, Preferences


@dataclass(frozen=True, slots=True)
class SubscriberView:
    id: int
    email: str
    status: str
    preferences: Preferences
    next_digest_at: datetime | None
    locale: str | None = None  # None: the library's device language, else English
    link_generation: int = 0


# Manage links ------------------------------------------------------------------------------


async def request_manage_link(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    email: str,
    client_ip: str,
    browser_reader: int | None = None,
) -> None:
    """Email a manage link to a signed-up address; any other address gets nothing.

    `browser_reader`: the subscriber the request's reader cookie names; their own requests
    are counted apart from strangers' (`common.limit_address`)."""
    address = normalise_email(email)
    await limit_client(session, ctx, "manage", client_ip)
    subscriber = await repo.by_email(session, address)
    owner = subscriber is not None and browser_reader == subscriber.id
    await limit_address(session, ctx, address, owner=owner)
    if subscriber is None or subscriber.status == SubscriberStatus.PENDING:
        return
    url = ctx.links.url(
        Purpose.MANAGE, subscriber.id, now=ctx.now, extra=str(subscriber.link_generation)
    )
    payload = {"manage_url": url, "expires_in": ctx.links.manage_ttl.total_seconds()}
    key = f"magic:{subscriber.id}:{secrets.token_hex(8)}"
    await send_requested(session, ctx, subscriber, "magic_link", key, payload)


async def subscriber_from_manage_token(
    session: AsyncSession, ctx: ServiceContext, token: str
) -> SubscriberView:
    data = ctx.links.read(Purpose.MANAGE, token, now=ctx.now)
    subscriber = await repo.by_id(session, id_in_link(data.subject))
    if subscriber is None or data.extra != str(subscriber.link_generation):
        raise InvalidLink(
            "This link no longer works: it was signed out, or the address was erased. Ask "
            "for a new one with your address."
        )
    return _view(subscriber)


def _view(subscriber: Subscriber) -> SubscriberView:
    return SubscriberView(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        preferences=repo.preferences_of(subscriber),
        next_digest_at=subscriber.next_slot_at,
        locale=subscriber.locale,
        link_generation=subscriber.link_generation,
    )


async def _subscriber(session: AsyncSession, subscriber_id: int) -> Subscriber:
    subscriber = await repo.by_id(session, subscriber_id)
    if subscriber is None:
        raise InvalidLink(GONE)
    return subscriber


async def update_preferences(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, preferences: Preferences
) -> SubscriberView:
    """Save the reader's preferences; the digests already planned under the old ones are
    settled in the same transaction (changes win until the email leaves)."""
    preferences.check_pause(ctx.now.date())
    subscriber = await _subscriber(session, subscriber_id)
    before = repo.preferences_of(subscriber)
    slot = _next_slot_if_confirmed(subscriber.status, preferences, ctx.now)
    # The reader's row is written (and so locked) before their planned digests are read: a
    # planner holding the row finishes first, and its digests are then seen and settled.
    await repo.set_preferences(session, subscriber_id, preferences, next_slot_at=slot)
    await _settle_planned(
        session, ctx, subscriber, preferences, changed=_replans(before, preferences)
    )
    return _view(await reloaded(session, subscriber_id))


def _replans(before: Preferences, after: Preferences) -> bool:
    """Whether digests planned under `before` must be made again: anything but the pause
    changed (a pause only cancels the digests it covers)."""
    return replace(before, paused_until=None) != replace(after, paused_until=None)


async def _settle_planned(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    preferences: Preferences,
    *,
    changed: bool,
) -> None:
    """Cancel what the reader no longer wants of their planned digests; re-plan the slots
    they still want when their schedule or number per email changed."""
    planned = await recheck.planned_digests(session, subscriber.id, now=ctx.now)
    if not planned:
        return
    reader = ReaderNow(
        status=subscriber.status,
        cadence=preferences.cadence.value,
        hour=preferences.hour,
        weekday=preferences.weekday,
        day_of_month=preferences.day_of_month,
        timezone=preferences.timezone,
        per_email=preferences.per_email,
        paused_until=preferences.paused_until,
    )
    verdicts = {
        row.id: found
        for row in planned
        if (found := after_change(reader, slot=row.slot, payload=row.payload, changed=changed))
    }
    stale = [row for row in planned if row.id in verdicts]
    await recheck.settle(await session.connection(), stale, verdicts, now=ctx.now)


async def set_language(session: AsyncSession, subscriber_id: int, locale: str | None) -> None:
    """The language of the reader's emails: one of `LOCALES`, or None for "from my library"."""
    if locale is not None and locale not in LOCALES:
        raise BadInput("Choose one of the languages in the list.")
    await repo.set_locale(session, subscriber_id, locale)


async def sign_out_links(session: AsyncSession, subscriber_id: int) -> None:
    """Every manage link ever sent to the reader stops working, the one in use included
    (they name the link generation, which this moves on)."""
    await _subscriber(session, subscriber_id)
    await repo.bump_link_generation(session, subscriber_id)


def _next_slot_if_confirmed(
    status: str, preferences: Preferences, now: datetime
) -> datetime | None:
    if status != SubscriberStatus.CONFIRMED:
        return None
    return next_slot(preferences.schedule(), now)


# Leaving and coming back ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unsubscription:
    """A checked unsubscribe link: whom it stops, and when it was used."""

    subscriber_id: int
    at: datetime


def unsubscription(ctx: ServiceContext, token: str) -> Unsubscription:
    """Read an unsubscribe link; InvalidLink (before any database work) if it is not one."""
    data = ctx.links.read(Purpose.UNSUBSCRIBE, token, now=ctx.now)
    return Unsubscription(subscriber_id=id_in_link(data.subject), at=ctx.now)


async def unsubscribe(session: AsyncSession, ctx: ServiceContext, token: str) -> None:
    """Stop the digests at once; idempotent, and quiet for an address already erased."""
    leaving = [unsubscription(ctx, token)]
    connection = await session.connection()
    await connection.run_sync(unsubscribe_all, leaving)


def unsubscribe_all(connection: Connection, requests: Sequence[Unsubscription]) -> None:
    """`unsubscribe` for many links in one transaction, in three statements for any number
    of readers. Synchronous: the web's group commit of one-click unsubscribes runs it on the
    SQLite writer thread (or through run_sync on PostgreSQL)."""
    if not requests:
        return
    ids = sorted({request.subscriber_id for request in requests})
    now = max(request.at for request in requests)
    emails = repo.unsubscribe_all(connection, ids, now=now)
    hashes = [address_hash(email) for email in emails]
    suppressions.suppress_all(connection, hashes, SuppressionReason.UNSUBSCRIBED, now=now)
    outbox.cancel_queued_for_all(connection, ids, kinds=("digest",), reason="unsubscribed", now=now)


async def resubscribe(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int
) -> SubscriberView:
    subscriber = await _subscriber(session, subscriber_id)
    if subscriber.status == SubscriberStatus.PENDING:
        raise BadInput("Please confirm your address first, with the link in our email.")
    preferences = repo.preferences_of(subscriber).within_pause_limit(ctx.now.date())
    await repo.set_preferences(session, subscriber_id, preferences, next_slot_at=None)
    slot = next_slot(preferences.schedule(), ctx.now)
    await repo.set_status(
        session, subscriber_id, SubscriberStatus.CONFIRMED, now=ctx.now, next_slot_at=slot
    )
    await suppressions.lift_reader_suppressions(session, address_hash(subscriber.email))
    return _view(await reloaded(session, subscriber_id))


async def resubscribe_by_link(
    session: AsyncSession, ctx: ServiceContext, token: str
) -> SubscriberView:
    """The unsubscribed page's one-click way back (a RESUBSCRIBE link)."""
    data = ctx.links.read(Purpose.RESUBSCRIBE, token, now=ctx.now)
    return await resubscribe(session, ctx, id_in_link(data.subject))


async def erase(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, *, never_email_again: bool
) -> None:
    """Delete the reader and everything of theirs, now; keep a hash only if they ask.

    Everything: the reader's row, books, highlights and pending imports; their queued mail
    cancelled and every outbox row stripped of address and content; delivery reports
    about the address unnamed; the address's rate-limit window. On SQLite the engine sets
    `secure_delete`, so the deleted rows' bytes are overwritten in the file too.
    """
    subscriber = await _subscriber(session, subscriber_id)
    hashed = address_hash(subscriber.email)
    await outbox.scrub_mail(session, subscriber_id, hashed, now=ctx.now)
    await delivery_events.forget_recipient(session, hashed)
    for owner in (False, True):
        await ratelimit.forget(session, address_limit_key(subscriber.email, owner=owner))
    await repo.delete_subscriber(session, subscriber_id)
    if never_email_again:
        await suppressions.mark_erased(session, hashed, now=ctx.now)
    else:
        await suppressions.lift_reader_suppressions(session, hashed)
