"""Joining: sign-up, confirmation, and adding an upload to a confirmed library.

Every function runs inside the caller's one transaction and never commits; a state change
and the email it causes are written together (invariant 1). Sign-up does the same visible
things whatever the address's state; only the email differs (invariant 8), and a confirmed
library only changes through the link sent to its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import InvalidLink
from clippost.library import repository as library_repository
from clippost.library.views import ImportResult
from clippost.links import Purpose
from clippost.models import PendingImport, Subscriber, SubscriberStatus
from clippost.planner.slots import next_slot
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import (
    GONE,
    REPLACED,
    id_in_link,
    limit_address,
    limit_client,
    reloaded,
    send_requested,
)
from clippost.subscriptions.pending import BookCount, EncodedLibrary
from clippost.subscriptions.preferences import Preferences

_BOOKS_LISTED = 20  # the emails list five; a few more keep "and N more books" right


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    book_count: int
    highlight_count: int
    first_digest_at: datetime  # aware UTC; the web shows it in `timezone`
    timezone: str
    per_email: int
    cadence: str
    subscriber_id: int  # for the page's honest preview and its long-lived manage link
    link_generation: int


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
    await limit_client(session, ctx, "signup", client_ip)
    await limit_address(session, ctx, address)
    await join(session, ctx, address=address, preferences=preferences, library=library)


async def join(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    address: str,
    preferences: Preferences,
    library: EncodedLibrary,
) -> None:
    """Sign-up past its rate limits, for a normalised `address`: what the web's form does
    and `clippost import` without --confirmed (the operator is not rate limited)."""
    subscriber = await repo.by_email(session, address)
    if subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED:
        await _offer_import(session, ctx, subscriber, library)
        return
    if subscriber is None:
        subscriber = await repo.create_pending(session, address, preferences, now=ctx.now)
    elif subscriber.status == SubscriberStatus.PENDING:
        await repo.set_preferences(session, subscriber.id, preferences, next_slot_at=None)
    await _ask_confirmation(session, ctx, subscriber, library, preferences)


async def confirm_without_email(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    address: str,
    preferences: Preferences,
    library: EncodedLibrary,
) -> ConfirmResult:
    """A reader who already agreed elsewhere (`clippost import --confirmed`): signed up and
    confirmed at once, by the very steps a click on the confirmation link takes (the
    pending import stored, then applied), with no email asking for it. For a new or a
    pending address; the caller has checked that it is not suppressed."""
    subscriber = await repo.by_email(session, address)
    if subscriber is None:
        subscriber = await repo.create_pending(session, address, preferences, now=ctx.now)
    pending_id = await _store_pending(session, ctx, subscriber.id, library, preferences)
    pending = await repo.pending_import(session, pending_id, subscriber.id)
    if pending is None:  # pragma: no cover - stored just above, in this transaction
        raise InvalidLink(REPLACED)
    await _apply_confirmation(session, ctx, subscriber, pending)
    return await _confirm_result(session, ctx, await reloaded(session, subscriber.id), pending)


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
    await send_requested(session, ctx, subscriber, "confirm", f"confirm:{pending_id}", payload)


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
    await send_requested(session, ctx, subscriber, "already_subscribed_import", key, payload)


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


# Confirmation and adding imports -----------------------------------------------------------


async def confirm(session: AsyncSession, ctx: ServiceContext, token: str) -> ConfirmResult:
    """Apply the pending import and start the digests; a second click shows the same."""
    subscriber, pending = await _pending_from_link(session, ctx, Purpose.CONFIRM, token)
    if pending.applied_at is None:
        await _apply_confirmation(session, ctx, subscriber, pending)
        subscriber = await reloaded(session, subscriber.id)
    elif subscriber.status != SubscriberStatus.CONFIRMED:
        raise InvalidLink(
            "You unsubscribed after confirming this address. To get your highlights again, "
            "ask for a manage link (Manage my emails, at the top of the page) and choose "
            "Resubscribe."
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
    if content.library is not None and content.library.language:
        await repo.default_locale(session, subscriber.id, content.library.language)
    await suppressions.lift_reader_suppressions(session, address_hash(subscriber.email))


async def _confirm_result(
    session: AsyncSession, ctx: ServiceContext, subscriber: Subscriber, pending: PendingImport
) -> ConfirmResult:
    preferences = repo.preferences_of(subscriber)
    if subscriber.next_slot_at is None:  # pragma: no cover - set when confirming
        raise InvalidLink(GONE)
    return ConfirmResult(
        book_count=pending.book_count,
        highlight_count=pending.highlight_count,
        first_digest_at=subscriber.next_slot_at,
        timezone=preferences.timezone,
        per_email=preferences.per_email,
        cadence=preferences.cadence.value,
        subscriber_id=subscriber.id,
        link_generation=subscriber.link_generation,
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
    subscriber = await repo.by_id(session, id_in_link(data.subject))
    if subscriber is None:
        raise InvalidLink(GONE)
    pending = await repo.pending_import(session, id_in_link(data.extra), subscriber.id)
    if pending is None:
        raise InvalidLink(REPLACED)
    if pending.applied_at is None and pending.expires_at <= ctx.now:
        raise InvalidLink("This link has expired. Please sign up again from the home page.")
    return subscriber, pending
