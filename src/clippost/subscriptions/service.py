"""The reader's lifecycle: sign-up, confirmation, manage links, unsubscribe, erase.

Every function runs inside the caller's one transaction and never commits; a state change
and the email it causes are written together (invariant 1). Sign-up and manage-link
requests do the same visible things whatever the address's state; only the email differs
(invariant 8).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import BadInput, InvalidLink
from clippost.library import repository as library_repository
from clippost.library import service as library_service
from clippost.library.views import HighlightView, ImportResult
from clippost.links import Purpose
from clippost.models import PendingImport, Subscriber, SubscriberStatus, SuppressionReason
from clippost.outbox import repository as outbox
from clippost.outbox.repository import enqueue
from clippost.planner.slots import next_slot
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import ratelimit
from clippost.subscriptions import repository as repo
from clippost.subscriptions.pending import BookCount, EncodedLibrary
from clippost.subscriptions.preferences import Preferences

__all__ = [
    "ConfirmResult",
    "Preferences",
    "SubscriberView",
    "Unsubscription",
    "add_import",
    "confirm",
    "erase",
    "request_manage_link",
    "resubscribe",
    "sign_up",
    "subscriber_from_manage_token",
    "unsubscribe",
    "unsubscribe_all",
    "unsubscription",
    "update_preferences",
]

_HOUR = timedelta(hours=1)
_BOOKS_LISTED = 20  # the emails list five; a few more keep "and N more books" right
_REPLACED = (
    "This link was replaced by a newer one: use the link in the latest email we sent you, "
    "or sign up again from the home page."
)
_GONE = "This link belongs to an address that is no longer signed up. Please sign up again."


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    book_count: int
    highlight_count: int
    first_digest_at: datetime  # aware UTC; the web shows it in `timezone`
    timezone: str
    per_email: int
    cadence: str
    preview: list[HighlightView]


@dataclass(frozen=True, slots=True)
class SubscriberView:
    id: int
    email: str
    status: str
    preferences: Preferences
    next_digest_at: datetime | None


# Sign-up ----------------------------------------------------------------------------------


async def sign_up(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    email: str,
    preferences: Preferences,
    library: EncodedLibrary,
    client_ip: str,
) -> None:
    """Store the upload as a pending import and email the address what applies to it.

    `library` comes encoded (`pending.prepare_upload`, run where the upload was parsed):
    it is stored as it is, so a sign-up never encodes a library inside its transaction.
    """
    address = normalise_email(email)
    await _limit_client(session, ctx, "signup", client_ip)
    await _limit_address(session, ctx, address)
    subscriber = await repo.by_email(session, address)
    if subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED:
        await _offer_import(session, ctx, subscriber, library)
        return
    if subscriber is None:
        subscriber = await repo.create_pending(session, address, preferences, now=ctx.now)
    elif subscriber.status == SubscriberStatus.PENDING:
        await repo.set_preferences(session, subscriber.id, preferences, next_slot_at=None)
    await _ask_confirmation(session, ctx, subscriber, library, preferences)


async def _ask_confirmation(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    library: EncodedLibrary,
    preferences: Preferences,
) -> None:
    pending_id = await _store_pending(session, ctx, subscriber.id, library, preferences)
    payload = {
        "confirm_url": ctx.links.url(
            Purpose.CONFIRM, subscriber.id, now=ctx.now, extra=str(pending_id)
        ),
        "expires_in": ctx.links.confirm_ttl.total_seconds(),
        "highlight_count": library.highlight_count,
        "book_count": library.book_count,
        "books": _book_summaries(library.books),
    }
    await _send(session, ctx, subscriber, "confirm", f"confirm:{pending_id}", payload)


async def _offer_import(
    session: AsyncSession, ctx: ServiceContext, subscriber: Subscriber, upload: EncodedLibrary
) -> None:
    """A confirmed address: its library changes only through the link in this email."""
    # Decoded here, not carried back from the parsing process: few sign-ups come from
    # confirmed readers, and only they need the identities.
    library = pending_codec.library_of(upload)
    known = await library_repository.known_identities(session, subscriber.id, library)
    new = _only_new(library, known)
    pending_id = await _store_pending(session, ctx, subscriber.id, upload, None)
    payload = {
        "add_url": ctx.links.url(
            Purpose.ADD_IMPORT, subscriber.id, now=ctx.now, extra=str(pending_id)
        ),
        "expires_in": ctx.links.confirm_ttl.total_seconds(),
        "highlight_count": new.highlight_count,
        "book_count": len(new.books),
        "books": _book_summaries(pending_codec.book_counts(new)),
    }
    key = f"add:{pending_id}"
    await _send(session, ctx, subscriber, "already_subscribed_import", key, payload)


def _only_new(library: Library, known: set[str]) -> Library:
    books = []
    for book in library.books:
        fresh = tuple(h for h in book.highlights if h.identity not in known)
        if fresh:
            books.append(replace(book, highlights=fresh))
    return Library(books=tuple(books))


def _book_summaries(books: Sequence[BookCount]) -> list[dict[str, Any]]:
    listed = sorted(books, key=lambda book: -book.highlight_count)
    return [
        {"title": book.title, "author": book.author, "highlight_count": book.highlight_count}
        for book in listed[:_BOOKS_LISTED]
    ]


async def _store_pending(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    library: EncodedLibrary,
    preferences: Preferences | None,
) -> int:
    return await repo.replace_pending_import(
        session,
        subscriber_id,
        payload=pending_codec.encode(library, preferences),
        book_count=library.book_count,
        highlight_count=library.highlight_count,
        now=ctx.now,
        expires_at=ctx.now + ctx.links.confirm_ttl,
    )


async def _send(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    kind: str,
    key: str,
    payload: dict[str, Any],
) -> None:
    await enqueue(
        session,
        kind=kind,
        recipient=subscriber.email,
        idempotency_key=key,
        payload=payload,
        due_at=ctx.now,
        domain=ctx.mail_domain,
        requested=True,
        subscriber_id=subscriber.id,
    )


# Rate limits -------------------------------------------------------------------------------


async def _limit_client(
    session: AsyncSession, ctx: ServiceContext, action: str, client_ip: str
) -> None:
    limit = ratelimit.Limit(
        key=f"{action}-client:{client_ip}",
        allowed=ctx.settings.signups_per_client_per_hour,
        window=_HOUR,
        refusal="Too many requests have come from your network in the last hour.",
    )
    await ratelimit.hit(session, limit, now=ctx.now)


async def _limit_address(session: AsyncSession, ctx: ServiceContext, address: str) -> None:
    # Counted for every address, known or not, so the limit itself reveals nothing.
    limit = ratelimit.Limit(
        key=f"mail:{address_hash(address)}",
        allowed=ctx.settings.emails_per_address_per_hour,
        window=_HOUR,
        refusal="We have already sent several emails to this address in the last hour.",
    )
    await ratelimit.hit(session, limit, now=ctx.now)


# Confirmation and adding imports -----------------------------------------------------------


async def confirm(session: AsyncSession, ctx: ServiceContext, token: str) -> ConfirmResult:
    """Apply the pending import and start the digests; a second click shows the same."""
    subscriber, pending = await _pending_from_link(session, ctx, Purpose.CONFIRM, token)
    if pending.applied_at is None:
        await _apply_confirmation(session, ctx, subscriber, pending)
        subscriber = await _reload(session, subscriber.id)
    elif subscriber.status != SubscriberStatus.CONFIRMED:
        raise InvalidLink(
            "You unsubscribed after confirming this address. To get your highlights again, "
            "ask for a manage link on the home page and choose Resubscribe."
        )
    return await _confirm_result(session, ctx, subscriber, pending)


async def _apply_confirmation(
    session: AsyncSession, ctx: ServiceContext, subscriber: Subscriber, pending: PendingImport
) -> None:
    content = pending_codec.decode(pending.payload)
    preferences = content.preferences or repo.preferences_of(subscriber)
    if await _merge(session, ctx, subscriber.id, pending, content.library) is None:
        return  # a concurrent click applied it first and did all of the below
    first = next_slot(preferences.schedule(), ctx.now)
    await repo.set_preferences(session, subscriber.id, preferences, next_slot_at=first)
    await repo.set_status(
        session, subscriber.id, SubscriberStatus.CONFIRMED, now=ctx.now, next_slot_at=first
    )
    await repo.mark_confirmed(session, subscriber.id, now=ctx.now)
    await suppressions.lift_reader_suppressions(session, address_hash(subscriber.email))


async def _confirm_result(
    session: AsyncSession, ctx: ServiceContext, subscriber: Subscriber, pending: PendingImport
) -> ConfirmResult:
    preferences = repo.preferences_of(subscriber)
    if subscriber.next_slot_at is None:  # pragma: no cover - set when confirming
        raise InvalidLink(_GONE)
    preview = await library_service.preview_highlights(
        session, subscriber.id, preferences.per_email, now=ctx.now
    )
    return ConfirmResult(
        book_count=pending.book_count,
        highlight_count=pending.highlight_count,
        first_digest_at=subscriber.next_slot_at,
        timezone=preferences.timezone,
        per_email=preferences.per_email,
        cadence=preferences.cadence.value,
        preview=preview,
    )


async def add_import(session: AsyncSession, ctx: ServiceContext, token: str) -> ImportResult:
    """Add an upload to a confirmed library, by the link emailed to its owner; idempotent."""
    subscriber, pending = await _pending_from_link(session, ctx, Purpose.ADD_IMPORT, token)
    applied = None
    if pending.applied_at is None:
        content = pending_codec.decode(pending.payload)
        applied = await _merge(session, ctx, subscriber.id, pending, content.library)
    if applied is None:
        await repo.reload_pending(session, pending)
        applied = pending_codec.decode(pending.payload).applied or pending_codec.Applied(0, 0)
    total = await library_repository.highlight_count(session, subscriber.id)
    return ImportResult(applied.new_books, applied.new_highlights, total)


async def _merge(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    pending: PendingImport,
    library: Library | None,
) -> pending_codec.Applied | None:
    """Merge a pending library exactly once; None when another request already did.

    The import is marked applied before it is merged: a request racing this one waits on
    that row (PostgreSQL) or on the write lock (SQLite), then finds it applied.
    """
    placeholder = pending_codec.encode_applied(pending_codec.Applied(0, 0), None)
    if library is None or not await repo.mark_applied(
        session, pending.id, payload=placeholder, now=ctx.now
    ):
        return None
    merged = await library_repository.merge_library(session, subscriber_id, library, now=ctx.now)
    applied = pending_codec.Applied(merged.new_books, merged.new_highlights)
    await repo.store_applied(session, pending.id, pending_codec.encode_applied(applied, None))
    return applied


async def _pending_from_link(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> tuple[Subscriber, PendingImport]:
    data = ctx.links.read(purpose, token, now=ctx.now)
    subscriber = await repo.by_id(session, _int(data.subject))
    if subscriber is None:
        raise InvalidLink(_GONE)
    pending = await repo.pending_import(session, _int(data.extra), subscriber.id)
    if pending is None:
        raise InvalidLink(_REPLACED)
    if pending.applied_at is None and pending.expires_at <= ctx.now:
        raise InvalidLink("This link has expired. Please sign up again from the home page.")
    return subscriber, pending


def _int(text: str) -> int:
    # Signed tokens only carry ids we wrote, but a signed token from an older release could
    # still carry something else: that is a bad link, not a crash.
    if not text.isdigit():
        raise InvalidLink(_REPLACED)
    return int(text)


async def _reload(session: AsyncSession, subscriber_id: int) -> Subscriber:
    subscriber = await repo.by_id(session, subscriber_id)
    if subscriber is None:  # pragma: no cover - the row was just updated
        raise InvalidLink(_GONE)
    return subscriber


# Manage links ------------------------------------------------------------------------------


async def request_manage_link(
    session: AsyncSession, ctx: ServiceContext, *, email: str, client_ip: str
) -> None:
    """Email a manage link to a signed-up address; any other address gets nothing."""
    address = normalise_email(email)
    await _limit_client(session, ctx, "manage", client_ip)
    await _limit_address(session, ctx, address)
    subscriber = await repo.by_email(session, address)
    if subscriber is None or subscriber.status == SubscriberStatus.PENDING:
        return
    url = ctx.links.url(
        Purpose.MANAGE, subscriber.id, now=ctx.now, extra=str(subscriber.link_generation)
    )
    payload = {"manage_url": url, "expires_in": ctx.links.manage_ttl.total_seconds()}
    key = f"magic:{subscriber.id}:{secrets.token_hex(8)}"
    await _send(session, ctx, subscriber, "magic_link", key, payload)


async def subscriber_from_manage_token(
    session: AsyncSession, ctx: ServiceContext, token: str
) -> SubscriberView:
    data = ctx.links.read(Purpose.MANAGE, token, now=ctx.now)
    subscriber = await repo.by_id(session, _int(data.subject))
    if subscriber is None or data.extra != str(subscriber.link_generation):
        raise InvalidLink(
            "This link no longer works. Ask for a new one by entering your address on the "
            "home page."
        )
    return _view(subscriber)


def _view(subscriber: Subscriber) -> SubscriberView:
    return SubscriberView(
        id=subscriber.id,
        email=subscriber.email,
        status=subscriber.status,
        preferences=repo.preferences_of(subscriber),
        next_digest_at=subscriber.next_slot_at,
    )


async def _subscriber(session: AsyncSession, subscriber_id: int) -> Subscriber:
    subscriber = await repo.by_id(session, subscriber_id)
    if subscriber is None:
        raise InvalidLink(_GONE)
    return subscriber


async def update_preferences(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, preferences: Preferences
) -> SubscriberView:
    subscriber = await _subscriber(session, subscriber_id)
    slot = _next_slot_if_confirmed(subscriber.status, preferences, ctx.now)
    await repo.set_preferences(session, subscriber_id, preferences, next_slot_at=slot)
    return _view(await _reload(session, subscriber_id))


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
    return Unsubscription(subscriber_id=_int(data.subject), at=ctx.now)


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
    preferences = repo.preferences_of(subscriber)
    slot = next_slot(preferences.schedule(), ctx.now)
    await repo.set_status(
        session, subscriber_id, SubscriberStatus.CONFIRMED, now=ctx.now, next_slot_at=slot
    )
    await suppressions.lift_reader_suppressions(session, address_hash(subscriber.email))
    return _view(await _reload(session, subscriber_id))


async def erase(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, *, never_email_again: bool
) -> None:
    """Delete the reader and everything of theirs, now; keep a hash only if they ask."""
    subscriber = await _subscriber(session, subscriber_id)
    hashed = address_hash(subscriber.email)
    await outbox.scrub_mail(session, subscriber_id, hashed, now=ctx.now)
    await repo.delete_subscriber(session, subscriber_id)
    if never_email_again:
        await suppressions.mark_erased(session, hashed, now=ctx.now)
    else:
        await suppressions.lift_reader_suppressions(session, hashed)
