"""Every statement on the suppressions table: addresses that get no more mail (invariant 10).

A suppression is kept under the address's hash (`addresses.address_hash`), with the reason.
Readers add them (unsubscribing, erasing with "never email me again") and lift an
unsubscription by confirming again or resubscribing; "never email again", bounces and
complaints are the operator's to lift (`clippost suppressions`): a sign-up by anyone gets
no email to such an address, and a reader cannot prove a bouncing mailbox works now.
Workers read them when they claim mail (`outbox.claims`) and add one when an address
hard-bounces.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from clippost.db.dialect import (
    ids_match,
    insert_or_ignore,
    insert_or_update,
    per_dialect,
)
from clippost.models import BLOCKS_REQUESTED_MAIL, Suppression, SuppressionReason

suppressions = cast(Table, Suppression.__table__)

# Suppressions a reader lifts by asking for mail again (confirming, resubscribing). Bounces
# and complaints are the operator's to lift: the reader cannot prove the mailbox works now;
# so is "never email this address again" (erased): no confirmation reaches it to click.
_LIFTED_BY_READER = (SuppressionReason.UNSUBSCRIBED,)


async def suppress(
    session: AsyncSession, address_hash: str, reason: SuppressionReason, *, now: datetime
) -> None:
    """Add a suppression; an existing one (a bounce, say) is kept as it is."""
    await session.execute(
        insert_or_ignore(session, Suppression, keys=["address_hash"]).values(
            address_hash=address_hash, reason=reason, created_at=now
        )
    )


# Built once per dialect: the unsubscribe group commit runs it for every batch.
_SUPPRESS_MANY = per_dialect(
    lambda dialect: insert_or_ignore(dialect, suppressions, keys=["address_hash"])
)


def suppress_all(
    connection: Connection,
    address_hashes: Sequence[str],
    reason: SuppressionReason,
    *,
    now: datetime,
) -> None:
    """`suppress` for many addresses in one executemany; existing suppressions are kept.

    Sorted, so that two batches inserting the same hashes on PostgreSQL wait on each other's
    unique-index entries in one order and cannot deadlock. Synchronous: it runs in the
    unsubscribe group commit (a SQLite writer thread, or run_sync on PostgreSQL).
    """
    if not address_hashes:
        return
    rows = [
        {"address_hash": hashed, "reason": reason.value, "created_at": now}
        for hashed in sorted(set(address_hashes))
    ]
    connection.execute(_SUPPRESS_MANY.of(connection), rows)


async def suppress_bounced(
    connection: AsyncConnection, address_hashes: Iterable[str], *, now: datetime
) -> None:
    """Suppress hard-bounced addresses, upgrading any weaker reason to `bounced`."""
    statement = insert_or_update(
        connection,
        suppressions,
        keys=["address_hash"],
        set_={"reason": SuppressionReason.BOUNCED},
    ).values(
        [
            {"address_hash": h, "reason": SuppressionReason.BOUNCED, "created_at": now}
            for h in sorted(address_hashes)
        ]
    )
    await connection.execute(statement)


async def suppress_all_mail(
    session: AsyncSession,
    address_hash: str,
    reason: SuppressionReason,
    *,
    detail: str,
    now: datetime,
) -> None:
    """Stop all mail to the address for `reason` (a reported bounce or complaint, the
    operator), with what was said. It replaces a reason the reader added, which stops
    digests only; an existing bounce, complaint or operator's stop is kept as it is (the
    first of those stays)."""
    insert = insert_or_update(
        session,
        suppressions,
        keys=["address_hash"],
        set_={"reason": reason.value, "detail": detail[:500]},
        where=suppressions.c.reason.in_([r.value for r in _LIFTED_BY_READER]),
    )
    await session.execute(
        insert.values(
            address_hash=address_hash, reason=reason.value, detail=detail[:500], created_at=now
        )
    )


async def mark_erased(session: AsyncSession, address_hash: str, *, now: datetime) -> None:
    """Keep only "erased" for the address, unless a bounce or complaint must stay."""
    await lift_reader_suppressions(session, address_hash)
    await suppress(session, address_hash, SuppressionReason.ERASED, now=now)


async def lift_reader_suppressions(session: AsyncSession, address_hash: str) -> None:
    """Remove what the reader added (unsubscribed, erased); bounces and complaints stay."""
    await session.execute(
        delete(Suppression).where(
            Suppression.address_hash == address_hash,
            Suppression.reason.in_(_LIFTED_BY_READER),
        )
    )


async def blocks_requested_mail(session: AsyncSession, address_hash: str) -> bool:
    """True when not even mail the reader asks for may go to this address."""
    return await suppression_reason(session, address_hash) in BLOCKS_REQUESTED_MAIL


async def suppression_reason(session: AsyncSession, address_hash: str) -> str | None:
    reason: str | None = await session.scalar(
        select(Suppression.reason).where(Suppression.address_hash == address_hash)
    )
    return reason


@dataclass(frozen=True, slots=True)
class Listed:
    address_hash: str
    reason: str
    detail: str | None
    created_at: datetime


async def listed(
    session: AsyncSession,
    *,
    reason: str | None = None,
    address_hash: str | None = None,
    limit: int = 100,
) -> list[Listed]:
    """Suppressions, newest first (the operator's list), optionally of one reason or one
    address."""
    query = select(
        suppressions.c.address_hash,
        suppressions.c.reason,
        suppressions.c.detail,
        suppressions.c.created_at,
    )
    if reason:
        query = query.where(suppressions.c.reason == reason)
    if address_hash:
        query = query.where(suppressions.c.address_hash == address_hash)
    found = await session.execute(query.order_by(suppressions.c.created_at.desc()).limit(limit))
    return [Listed(*row) for row in found]


async def lift(session: AsyncSession, address_hash: str) -> str | None:
    """Remove the address's suppression, whatever its reason (the operator's to lift);
    the reason it had, or None when there was none."""
    reason = await suppression_reason(session, address_hash)
    if reason is not None:
        await session.execute(delete(Suppression).where(Suppression.address_hash == address_hash))
    return reason


async def reasons_for(connection: AsyncConnection, address_hashes: Sequence[str]) -> dict[str, str]:
    """The suppression reason of each of these addresses that has one.

    On PostgreSQL one array parameter: the same prepared statement whatever the batch size.
    """
    query = select(suppressions.c.address_hash, suppressions.c.reason)
    reasons: dict[str, str] = {}
    for matched, params in ids_match(
        connection, suppressions.c.address_hash, address_hashes, name="hashes"
    ):
        found = await connection.execute(query.where(matched), params)
        reasons.update((address, reason) for address, reason in found)
    return reasons
