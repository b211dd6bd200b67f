"""What sign-up and the manage side share: the requested emails they queue, the rate limits
they count, and how they read the ids their links carry.

Every function runs inside the caller's transaction and never commits (invariant 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clippost.addresses import address_hash, client_network, mailbox_key, normalise_email
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


def client_limit(ctx: ServiceContext, action: str, client_ip: str) -> ratelimit.Limit:
    """The hourly limit of `action` for this client's network (an IPv6 client by its /64)."""
    return ratelimit.Limit(
        key=f"{action}-client:{client_network(client_ip)}",
        allowed=ctx.settings.signups_per_client_per_hour,
        window=_HOUR,
        refusal="Too many requests have come from your network in the last hour.",
    )


async def limit_client(
    session: AsyncSession, ctx: ServiceContext, action: str, client_ip: str
) -> None:
    """Count one `action` from this client's network; RateLimited past the hourly limit."""
    await ratelimit.hit(session, client_limit(ctx, action, client_ip), now=ctx.now)


def address_limit_key(address: str, *, owner: bool = False) -> str:
    """The key emails to `address`'s mailbox are counted under (sub-address and case
    ignored); the owner's own browser has an allowance of its own."""
    return f"{'mail-owner' if owner else 'mail'}:{address_hash(mailbox_key(address))}"


async def limit_address(
    session: AsyncSession, ctx: ServiceContext, address: str, *, owner: bool = False
) -> None:
    """Count one email to `address`; RateLimited past the hourly limit.

    `owner`: the request comes from a browser that holds this reader's own signed cookie
    (web/reader_cookie.py), so strangers using up the address's allowance never lock its
    owner out of their magic links.
    """
    # Counted for every address, known or not, so the limit itself reveals nothing.
    limit = ratelimit.Limit(
        key=address_limit_key(address, owner=owner),
        allowed=ctx.settings.emails_per_address_per_hour,
        window=_HOUR,
        refusal="We have already sent several emails to this address in the last hour.",
    )
    await ratelimit.hit(session, limit, now=ctx.now)


async def give_back_address(
    session: AsyncSession, ctx: ServiceContext, address: str, *, owner: bool = False
) -> None:
    """Uncount the email `limit_address` counted, when no email follows (the upload was
    refused): a reader who picked the wrong file is not locked out by it."""
    key = address_limit_key(address, owner=owner)
    await ratelimit.give_back(session, key, window=_HOUR, now=ctx.now)


@dataclass(frozen=True, slots=True)
class Admission:
    """An address let through its hourly limit, and under which allowance it was counted."""

    address: str  # normalised
    owner: bool


async def admit_address(
    session: AsyncSession, ctx: ServiceContext, email: str, *, browser_reader: int | None
) -> Admission:
    """Count one email to `email` (before the upload naming it is parsed); RateLimited past
    the limit. `browser_reader`: the subscriber the request's reader cookie names."""
    address = normalise_email(email)
    # Looked up for every address, so the work is the same whoever it belongs to.
    subscriber = await repo.by_email(session, address)
    owner = subscriber is not None and browser_reader == subscriber.id
    await limit_address(session, ctx, address, owner=owner)
    return Admission(address, owner)


async def refund(session: AsyncSession, ctx: ServiceContext, admission: Admission) -> None:
    """The upload counted by `admit_address` was refused: no email follows."""
    await give_back_address(session, ctx, admission.address, owner=admission.owner)


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
