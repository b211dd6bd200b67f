"""A pending import applied a chunk per transaction, so that a 100,000-highlight confirm
never holds the write lock for more than one chunk (library/chunks.py).

Each chunk is claimed and merged in one short transaction: the claim moves the import's
`merged_chunks` counter on (PostgreSQL queues a second claimant on the row; SQLite
serialises writers), and the chunk's rows and what they added commit with it, so a chunk is
merged exactly once even when two clicks race, and a merge stopped by a killed process
resumes at the next chunk on the next click. Until the last chunk is in, the import is not
applied: the subscriber stays pending (a confirmation) and no page says it is done; the
transaction that applies it (`signup.confirm`, `signup.add_import`) then sees every chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings.models import Library
from clippost.context import ServiceContext
from clippost.errors import InvalidLink
from clippost.library import chunks
from clippost.library import repository as library_repository
from clippost.library.service import check_room
from clippost.links import Purpose
from clippost.models import PendingImport, Subscriber
from clippost.subscriptions import pending as pending_codec
from clippost.subscriptions import repository as repo
from clippost.subscriptions.common import GONE, REPLACED, id_in_link
from clippost.subscriptions.preferences import Preferences


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What applying one pending import takes: its chunks, and what comes with them."""

    subscriber_id: int
    pending_id: int
    chunks: list[Library]
    preferences: Preferences | None
    language: str | None


async def plan_merge(
    session: AsyncSession, ctx: ServiceContext, purpose: Purpose, token: str
) -> MergePlan | None:
    """The chunks of the import a confirm or add link names; None once it is applied.

    Reads only (a read session will do): the payload is decoded in a thread, and the import
    is checked against the reader's limits (413) before anything is merged.
    """
    subscriber, pending = await pending_from_link(session, ctx, purpose, token)
    if pending.applied_at is not None:
        return None
    content = await anyio.to_thread.run_sync(pending_codec.decode, pending.payload)
    return await plan_of(session, ctx, subscriber.id, pending.id, content)


async def plan_of(
    session: AsyncSession,
    ctx: ServiceContext,
    subscriber_id: int,
    pending_id: int,
    content: pending_codec.Pending,
) -> MergePlan | None:
    if content.library is None:
        return None
    await check_room(session, ctx, subscriber_id, content.library)
    return MergePlan(
        subscriber_id=subscriber_id,
        pending_id=pending_id,
        chunks=chunks.split(content.library),
        preferences=content.preferences,
        language=content.library.language,
    )


async def merge_next(session: AsyncSession, ctx: ServiceContext, plan: MergePlan) -> bool:
    """Claim and merge the next chunk of `plan`; False when none is left to claim."""
    index = await repo.claim_chunk(session, plan.pending_id, total=len(plan.chunks))
    if index is None:
        return False
    merged = await library_repository.merge_library(
        session, plan.subscriber_id, plan.chunks[index], now=ctx.now
    )
    await repo.count_merged(session, plan.pending_id, merged.new_books, merged.new_highlights)
    return True


async def pending_from_link(
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
