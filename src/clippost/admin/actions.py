"""What the operator does, the same from the command line and from /admin: retry and
cancel messages, stop and allow mail to an address. Each runs in the caller's transaction.

Addresses are taken as people type them and normalised (a clear BadInput when they cannot
be an address); suppressions are kept under the address's hash, as every other one is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from clippost import suppressions
from clippost.addresses import address_hash, normalise_email
from clippost.errors import BadInput
from clippost.models import SuppressionReason
from clippost.outbox import operator
from clippost.outbox import repository as outbox

MAX_NOTE = 200
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Stopped:
    address: str
    settled: int  # queued rows settled as suppressed at once


async def retry(
    session: AsyncSession, ids: Sequence[int], *, due_at: datetime, now: datetime
) -> list[operator.Change]:
    return await operator.retry(session, ids, due_at=due_at, now=now)


async def cancel(
    session: AsyncSession, ids: Sequence[int], *, now: datetime
) -> list[operator.Change]:
    return await operator.cancel(session, ids, now=now)


async def stop_mail(session: AsyncSession, address: str, *, note: str, now: datetime) -> Stopped:
    """Suppress the address for everything (reason `operator`) and settle its queued mail."""
    email = normalise_email(address)
    hashed = address_hash(email)
    detail = f"by the operator: {note.strip()[:MAX_NOTE]}".rstrip(": ")
    await suppressions.suppress_all_mail(
        session, hashed, SuppressionReason.OPERATOR, detail=detail, now=now
    )
    settled = await outbox.settle_suppressed_addresses(
        session, [hashed], SuppressionReason.OPERATOR.value, now=now
    )
    return Stopped(email, settled)


async def allow_mail(session: AsyncSession, address: str) -> str | None:
    """Lift the address's suppression, whatever its reason; the reason it had, or None."""
    return await suppressions.lift(session, address_hash(normalise_email(address)))


async def allow_hash(session: AsyncSession, hashed: str) -> str | None:
    """`allow_mail` for an entry of the list, which shows hashes, never addresses."""
    if not _HASH.fullmatch(hashed):
        raise BadInput("That is not a suppression of the list.")
    return await suppressions.lift(session, hashed)


def hash_of(address: str) -> str:
    """The hash an address is kept under (to find it in a list of suppressions)."""
    return address_hash(normalise_email(address))
