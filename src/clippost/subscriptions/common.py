"""What sign-up and the manage side share: the requested emails they queue, the rate limits
they count, and how they read the ids their links carry.

Every function runs inside the caller's transaction and never commits (invariant 1).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.addresses import address_hash
from clippost.context import ServiceContext
from clippost.db.base import row_id
from clippost.errors import InvalidLink
from clippost.models import Subscriber
from clippost.outbox.repository import enqueue
from clippost.subscriptions import ratelimit
from clippost.subscriptions import repository as repo

_HOUR = timedelta(hours=1)

REPLACED = (
    "This link was replaced by a newer one: use the link in the latest email we sent you, "
    "or sign up again from the home page."
)

GONE = "This link belongs to an address that is no longer signed up. Please sign up again."


async def send_requested(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber: Subscriber,
    kind: str,
    key: str,
    payload: dict[str, Any],
) -> None:
    """Queue an email the reader asked for (a confirmation, a manage link), due now."""
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


async def limit_client(
    session: AsyncSession, ctx: ServiceContext, action: str, client_ip: str
) -> None:
    """Count one `action` from this client address; RateLimited past the hourly limit."""
    limit = ratelimit.Limit(
        key=f"{action}-client:{client_ip}",
        allowed=ctx.settings.signups_per_client_per_hour,
        window=_HOUR,
        refusal="Too many requests have come from your network in the last hour.",
    )
    await ratelimit.hit(session, limit, now=ctx.now)


def address_limit_key(address: str) -> str:
    """The rate-limit key of emails to `address` (erasing the address deletes it)."""
    return f"mail:{address_hash(address)}"


async def limit_address(session: AsyncSession, ctx: ServiceContext, address: str) -> None:
    """Count one email to `address`; RateLimited past the hourly limit."""
    # Counted for every address, known or not, so the limit itself reveals nothing.
    limit = ratelimit.Limit(
        key=address_limit_key(address),
        allowed=ctx.settings.emails_per_address_per_hour,
        window=_HOUR,
        refusal="We have already sent several emails to this address in the last hour.",
    )
    await ratelimit.hit(session, limit, now=ctx.now)


def id_in_link(text: str) -> int:
    """The id a link's token names; InvalidLink if it is not one."""
    # Signed tokens only carry ids we wrote, but a signed token from an older release could
    # still carry something else: that is a bad link, not a crash.
    value = row_id(text)
    if value is None:
        raise InvalidLink(REPLACED)
    return value


async def reloaded(session: AsyncSession, subscriber_id: int) -> Subscriber:
    """The subscriber's row as it is now, after this transaction's own updates."""
    subscriber = await repo.by_id(session, subscriber_id)
    if subscriber is None:  # pragma: no cover - the row was just updated
        raise InvalidLink(GONE)
    return subscriber
