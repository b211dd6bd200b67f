"""The operator's import (`clippost import`): a reader brought over from another service.

Nothing here is a second sign-up. A new or pending address goes through the web's own
sign-up (`signup.join`: the same pending import, the same confirmation email), past the rate
limits that guard the public form; with `confirmed` (the reader already agreed elsewhere)
through the steps a click on the confirmation link takes, without the email. A reader who
is already here has the file merged into their library, as an upload from the manage page
is, and any preference given saved as the manage page saves it (so digests planned under
the old ones are settled: `manage.update_preferences`).

Runs inside the caller's one transaction and never commits: an error leaves nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import BadInput
from clippost.library import repository as library_repository
from clippost.models import Subscriber, SubscriberStatus
from clippost.subscriptions import manage, signup
from clippost.subscriptions import repository as repo
from clippost.subscriptions.pending import encode_library
from clippost.subscriptions.preferences import Preferences


@dataclass(frozen=True, slots=True)
class Imported:
    """What the import did: `outcome` is "asked" (confirmation email queued), "confirmed"
    (a new reader, digests start at `first_digest_at`) or "merged" (an existing reader)."""

    address: str
    outcome: str
    status: str
    new_books: int
    new_highlights: int
    total_highlights: int
    first_digest_at: datetime | None = None
    timezone: str = "UTC"


async def bring_over(
    session: AsyncSession,
    ctx: ServiceContext,
    *,
    email: str,
    library: Library,
    chosen: Mapping[str, str],
    confirmed: bool,
) -> Imported:
    """Import `library` for `email`; `chosen` holds the preference fields the operator gave
    (form names and text, as `Preferences.from_form` reads them)."""
    address = normalise_email(email)
    reader = await repo.by_email(session, address)
    if reader is not None and reader.status != SubscriberStatus.PENDING:
        return await _merge(session, ctx, reader, library, chosen, confirmed=confirmed)
    preferences = _preferences(reader, chosen)
    encoded = encode_library(library)
    if not confirmed:
        await signup.join(session, ctx, address=address, preferences=preferences, library=encoded)
        waiting = library.highlight_count
        return Imported(address, "asked", "pending", len(library.books), waiting, 0)
    await _refuse_suppressed(session, address)
    result = await signup.confirm_without_email(
        session, ctx, address=address, preferences=preferences, library=encoded
    )
    total = await library_repository.highlight_count(session, result.subscriber_id)
    return Imported(
        address,
        "confirmed",
        SubscriberStatus.CONFIRMED.value,
        result.book_count,
        total,
        total,
        first_digest_at=result.first_digest_at,
        timezone=result.timezone,
    )


async def _merge(
    session: AsyncSession,
    ctx: ServiceContext,
    reader: Subscriber,
    library: Library,
    chosen: Mapping[str, str],
    *,
    confirmed: bool,
) -> Imported:
    if confirmed and reader.status != SubscriberStatus.CONFIRMED:
        raise BadInput(
            f"{reader.email} unsubscribed; --confirmed does not sign anyone up again (they "
            "resubscribe from their manage page). Leave --confirmed out to add the file to "
            "their library."
        )
    if chosen:
        await manage.update_preferences(session, ctx, reader.id, _preferences(reader, chosen))
    merged = await library_repository.merge_library(session, reader.id, library, now=ctx.now)
    total = await library_repository.highlight_count(session, reader.id)
    return Imported(
        reader.email, "merged", reader.status, merged.new_books, merged.new_highlights, total
    )


def _preferences(reader: Subscriber | None, chosen: Mapping[str, str]) -> Preferences:
    """The reader's preferences (or the sign-up form's defaults) with `chosen` over them."""
    current: dict[str, str] = {}
    if reader is not None:
        stored = repo.preferences_of(reader).to_json()
        current = {key: "" if value is None else str(value) for key, value in stored.items()}
    return Preferences.from_form({**current, **chosen})


async def _refuse_suppressed(session: AsyncSession, address: str) -> None:
    """--confirmed vouches for consent; it never overrides an address that asked for no mail
    or cannot receive it (suppression wins, invariant 10)."""
    reason = await suppressions.suppression_reason(session, address_hash(address))
    if reason is not None:
        raise BadInput(
            f"{address} is suppressed ({reason}): it gets no digests. If the reader asked "
            f"to come back, run `clippost suppressions remove {address}` first."
        )
