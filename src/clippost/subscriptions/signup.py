"""Joining: sign-up, confirmation, and adding an upload to a confirmed library.

Every function runs inside the caller's one transaction and never commits; a state change
and the email it causes are written together (invariant 1). Sign-up does the same visible
things whatever the address's state; only the email differs (invariant 8), and a confirmed
library only changes through the link sent to its owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.context import ServiceContext
from clippost.errors import BadInput, InvalidLink, PayloadTooLarge, StillImporting
from clippost.library import repository as library_repository
from clippost.library.views import ImportResult
from clippost.links import Purpose
from clippost.models import PendingImport, Subscriber, SubscriberStatus
from clippost.planner.slots import next_slot
from clippost.subscriptions import merge_queue
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import GONE, REPLACED, reloaded, send_requested
from clippost.subscriptions.merging import MergePlan, merge_next, pending_from_link, plan_of
from clippost.subscriptions.pending import BookCount, EncodedLibrary
from clippost.subscriptions.preferences import Preferences

# The emails name three books (rendering/labels.py says why so few, and cut short): what is
# stored for them is bounded too, whatever the upload's titles hold.
_BOOKS_LISTED = 3
_TITLE_STORED = 200
# The name each import link goes by in its email's payload (the templates read it).
_LINK_FIELDS = {Purpose.CONFIRM: "confirm_url", Purpose.ADD_IMPORT: "add_url"}
# Uploads that may wait for their confirm or add link at once, per address (each link
# confirms its own: a newer sign-up never replaces an older one).
_MAX_WAITING = 5


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
) -> None:
    """Store the upload as a pending import and email the address what applies to it.

    `library` comes encoded (`pending.prepare_upload`, run where the upload was parsed):
    it is stored as it is, so a sign-up never encodes a library inside its transaction.
    The limits were counted before the upload was read (`common.limit_client`) and parsed
    (`common.admit_address`), each in a transaction of its own.
    """
    address = normalise_email(email)
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
    preferences.check_pause(ctx.now.date())
    _check_stored_size(ctx, library)
    if await suppressions.blocks_requested_mail(session, address_hash(address)):
        return  # never emailed again, bounced: nothing stored, the same page as any sign-up
    subscriber = await repo.by_email(session, address)
    confirmed = subscriber is not None and subscriber.status == SubscriberStatus.CONFIRMED
    if subscriber is None:
        subscriber = await repo.create_pending(session, address, preferences, now=ctx.now)
    # What of the upload is new to the library, looked up whatever the address's state
    # (an empty library for a new or pending one): the time taken tells nothing (invariant 8).
    new = await _new_books(session, subscriber.id, library)
    if confirmed:
        await _offer_import(session, ctx, subscriber, library, new)
        return
    # A pending address keeps the schedule it has: each upload carries its own preferences
    # in its pending import, and confirming one applies those (a stranger's sign-up for the
    # address changes nothing the owner's link will confirm).
    await _ask_confirmation(session, ctx, subscriber, library, preferences)


def _check_stored_size(ctx: ServiceContext, library: EncodedLibrary) -> None:
    """PayloadTooLarge when the parsed upload is more than a pending import may keep."""
    if len(library.blob) > ctx.settings.max_pending_bytes:
        mb = f"{ctx.settings.max_pending_mb:g}"
        raise PayloadTooLarge(
            f"This file holds more highlights than we keep while waiting for your "
            f"confirmation (its parsed form is over {mb} MB). Upload it in parts: "
            "highlights already in your library are never added twice."
        )


async def _new_books(
    session: AsyncSession, subscriber_id: int, upload: EncodedLibrary
) -> list[BookCount]:
    """The upload's books with how many of their highlights the library lacks."""
    identities = [i for book in upload.identities for i in book]
    known = await library_repository.identities_in(session, subscriber_id, identities)
    counted = (
        BookCount(book.title, book.author, sum(1 for i in ids if i not in known))
        for book, ids in zip(upload.books, upload.identities, strict=True)
    )
    return [book for book in counted if book.highlight_count]


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
    _check_stored_size(ctx, library)
    pending_id = await _store_pending(session, ctx, subscriber.id, library, preferences)
    if pending_id is None:
        raise BadInput(
            "This address already has as many uploads waiting for their confirmation link "
            "as it may; confirm or let them expire first."
        )
    pending = await repo.pending_import(session, pending_id, subscriber.id)
    if pending is None:  # pragma: no cover - stored just above, in this transaction
        raise InvalidLink(REPLACED)
    await _apply_confirmation(session, ctx, subscriber, pending, None)
    return await _confirm_result(session, ctx, await reloaded(session, subscriber.id), pending)


async def _ask_confirmation(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    library: EncodedLibrary,
    preferences: Preferences,
) -> None:
    pending_id = await _store_pending(session, ctx, subscriber.id, library, preferences)
    if pending_id is None:
        return
    payload = _import_link_payload(ctx, Purpose.CONFIRM, subscriber.id, pending_id, library.books)
    await send_requested(session, ctx, subscriber, "confirm", f"confirm:{pending_id}", payload)


async def _offer_import(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    upload: EncodedLibrary,
    new: list[BookCount],
) -> None:
    """A confirmed address: its library changes only through the link in this email."""
    pending_id = await _store_pending(session, ctx, subscriber.id, upload, None)
    if pending_id is None:
        return
    payload = _import_link_payload(ctx, Purpose.ADD_IMPORT, subscriber.id, pending_id, new)
    key = f"add:{pending_id}"
    await send_requested(session, ctx, subscriber, "already_subscribed_import", key, payload)


def _import_link_payload(
    ctx: ServiceContext,
    purpose: Purpose,
    subscriber_id: int,
    pending_id: int,
    books: Sequence[BookCount],
) -> dict[str, Any]:
    """What an email whose link applies a pending import shows: the link (under the name
    its template reads), how long it works, and the books and highlights it brings."""
    link = ctx.links.url(purpose, subscriber_id, now=ctx.now, extra=str(pending_id))
    return {
        _LINK_FIELDS[purpose]: link,
        "expires_in": ctx.links.confirm_ttl.total_seconds(),
        "highlight_count": sum(book.highlight_count for book in books),
        "book_count": len(books),
        "books": _book_summaries(books),
    }


async def upload_for_the_worker(
    session: AsyncSession, ctx: ServiceContext, subscriber_id: int, upload: EncodedLibrary
) -> str:
    """A manage-page upload too big to merge in its request (`merge_in_worker_over`):
    stored as a pending import of the reader's and asked of the worker at once, as a click
    on an emailed add link asks it; that add link's token, whose importing page follows
    the merge. The worker checks it against the reader's limits (a 413 on that page)."""
    _check_stored_size(ctx, upload)
    pending_id = await _store_pending(session, ctx, subscriber_id, upload, None)
    if pending_id is None:
        raise BadInput(
            "As many of your uploads are waiting to be imported as may wait at once; "
            "please let them finish first."
        )
    await merge_queue.request(session, pending_id, purpose=Purpose.ADD_IMPORT.value, now=ctx.now)
    return ctx.links.token(Purpose.ADD_IMPORT, subscriber_id, now=ctx.now, extra=str(pending_id))


def _book_summaries(books: Sequence[BookCount]) -> list[dict[str, Any]]:
    listed = sorted(books, key=lambda book: -book.highlight_count)
    return [
        {
            "title": book.title[:_TITLE_STORED],
            "author": book.author[:_TITLE_STORED] if book.author else book.author,
            "highlight_count": book.highlight_count,
        }
        for book in listed[:_BOOKS_LISTED]
    ]


async def _store_pending(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    library: EncodedLibrary,
    preferences: Preferences | None,
) -> int | None:
    """The new pending import's id; None (nothing stored, no email) when the address has
    `_MAX_WAITING` uploads waiting for their links already: the limit per address bounds
    how many emails a stranger can cause, this bounds what they can make us store. The
    sign-up answers the same either way (invariant 8)."""
    waiting = await repo.live_pending_imports(session, subscriber_id, now=ctx.now)
    if waiting >= _MAX_WAITING:
        return None
    return await repo.add_pending_import(
        session,
        subscriber_id,
        payload=pending_codec.encode(library, preferences),
        book_count=library.book_count,
        highlight_count=library.highlight_count,
        now=ctx.now,
        expires_at=ctx.now + ctx.links.confirm_ttl,
    )


# Confirmation and adding imports -----------------------------------------------------------


async def confirm(
    session: AsyncSession, ctx: ServiceContext, token: str, plan: MergePlan | None = None
) -> ConfirmResult:
    """Apply the pending import and start the digests; a second click shows the same.

    With `plan`, its chunks were merged already (`merging.merge_next`, one transaction
    each); without, the whole import is merged in this transaction (the CLI, and imports
    small enough for one chunk).
    """
    subscriber, pending = await pending_from_link(session, ctx, Purpose.CONFIRM, token)
    if pending.applied_at is None:
        await _apply_confirmation(session, ctx, subscriber, pending, plan)
        subscriber = await reloaded(session, subscriber.id)
    elif subscriber.status != SubscriberStatus.CONFIRMED:
        raise InvalidLink(
            "You unsubscribed after confirming this address. To get your highlights again, "
            "ask for a manage link (Manage my emails, at the top of the page) and choose "
            "Resubscribe."
        )
    return await _confirm_result(session, ctx, subscriber, pending)


async def _apply_confirmation(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    pending: PendingImport,
    plan: MergePlan | None,
) -> None:
    plan = plan or await _merged_here(session, ctx, pending)
    if plan is None or await _applied(session, ctx, pending, plan) is None:
        return  # a concurrent click applied it first and did all of the below
    stored = plan.preferences or repo.preferences_of(subscriber)
    # Stored before the pause limit, a pause could reach 9999-12-31: cut, never refused.
    preferences = stored.within_pause_limit(ctx.now.date())
    first = next_slot(preferences.schedule(), ctx.now)
    await repo.set_preferences(session, subscriber.id, preferences, next_slot_at=first)
    await repo.set_status(
        session, subscriber.id, SubscriberStatus.CONFIRMED, now=ctx.now, next_slot_at=first
    )
    await repo.mark_confirmed(session, subscriber.id, now=ctx.now)
    if plan.language:
        await library_repository.remember_language(session, subscriber.id, plan.language)
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


async def add_import(
    session: AsyncSession, ctx: ServiceContext, token: str, plan: MergePlan | None = None
) -> ImportResult:
    """Add an upload to a confirmed library, by the link emailed to its owner; idempotent.
    `plan`: as for `confirm`."""
    subscriber, pending = await pending_from_link(session, ctx, Purpose.ADD_IMPORT, token)
    applied = None
    if pending.applied_at is None:
        plan = plan or await _merged_here(session, ctx, pending)
        applied = None if plan is None else await _applied(session, ctx, pending, plan)
    if applied is None:
        await repo.reload_pending(session, pending)
        applied = pending_codec.decode(pending.payload).applied or pending_codec.Applied(0, 0)
    total = await library_repository.highlight_count(session, subscriber.id)
    return ImportResult(applied.new_books, applied.new_highlights, total)


async def apply_merged(
    session: AsyncSession, ctx: ServiceContext, plan: MergePlan, purpose: Purpose
) -> bool:
    """Apply an import whose chunks the worker merged (subscriptions/background_merge.py),
    as the confirm or add click that asked for it would have; False when it is gone (its
    reader erased) or was applied already. StillImporting while a chunk is unmerged."""
    subscriber = await repo.by_id(session, plan.subscriber_id)
    if subscriber is None:
        return False
    pending = await repo.pending_import(session, plan.pending_id, subscriber.id)
    if pending is None or pending.applied_at is not None:
        return False
    if purpose == Purpose.CONFIRM:
        await _apply_confirmation(session, ctx, subscriber, pending, plan)
        return True
    return await _applied(session, ctx, pending, plan) is not None


async def _merged_here(
    session: AsyncSession, ctx: ServiceContext, pending: PendingImport
) -> MergePlan | None:
    """Every chunk of `pending` merged in the caller's transaction."""
    content = pending_codec.decode(pending.payload)
    plan = await plan_of(session, ctx, pending.subscriber_id, pending.id, content)
    while plan is not None and await merge_next(session, ctx, plan):
        pass
    return plan


async def _applied(
    session: AsyncSession, ctx: ServiceContext, pending: PendingImport, plan: MergePlan
) -> pending_codec.Applied | None:
    """Mark a merged import applied, exactly once; None when another request did.

    The payload gives way to what the merge added (the library itself is no longer kept).
    """
    progress = await repo.progress(session, pending.id)
    applied = pending_codec.Applied(
        progress.merged_books if progress else 0, progress.merged_highlights if progress else 0
    )
    payload = pending_codec.encode_applied(applied, None)
    if await repo.mark_applied(
        session, pending.id, payload=payload, now=ctx.now, chunks=len(plan.chunks)
    ):
        return applied
    await repo.reload_pending(session, pending)
    if pending.applied_at is None:
        raise StillImporting(
            "Your highlights are still being imported. Please wait a moment and press the "
            "button again."
        )
    return None
