"""The SQL of imports merged by the worker (subscriptions/background_merge.py): the request
a confirm or add click records, the lease a worker takes it under, each chunk's claim, and
what the page polling for it reads.

All of it lives on the import's `import_progress` row (migration 0014), never on the
`pending_imports` row that holds the upload: SQLite rewrites a whole row on every UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.db.dialect import insert_or_ignore
from clippost.models import ImportProgress, PendingImport

# Waiting requests looked at per poll: more than one, so that two workers polling at the
# same moment do not both give up on the one the other took.
_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class MergeStatus:
    """What the page of an import waiting for the worker shows; read without the upload."""

    pending_id: int
    subscriber_id: int
    highlight_count: int
    applied: bool
    expires_at: datetime
    requested_at: datetime | None
    progressed_at: datetime | None
    merged_chunks: int
    total_chunks: int | None
    failure: str | None


async def status(session: AsyncSession, pending_id: int, subscriber_id: int) -> MergeStatus | None:
    """The import's state, bounded by its reader's id; None when there is no such import."""
    row = (
        await session.execute(
            select(
                PendingImport.highlight_count,
                PendingImport.applied_at,
                PendingImport.expires_at,
                ImportProgress.requested_at,
                ImportProgress.progressed_at,
                ImportProgress.merged_chunks,
                ImportProgress.total_chunks,
                ImportProgress.failure,
            )
            .outerjoin(ImportProgress, ImportProgress.pending_import_id == PendingImport.id)
            .where(PendingImport.id == pending_id, PendingImport.subscriber_id == subscriber_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return MergeStatus(
        pending_id=pending_id,
        subscriber_id=subscriber_id,
        highlight_count=row.highlight_count,
        applied=row.applied_at is not None,
        expires_at=row.expires_at,
        requested_at=row.requested_at,
        progressed_at=row.progressed_at,
        merged_chunks=row.merged_chunks or 0,
        total_chunks=row.total_chunks,
        failure=row.failure,
    )


async def request(session: AsyncSession, pending_id: int, *, purpose: str, now: datetime) -> None:
    """Ask a worker to merge and apply the import; a request already waiting keeps its time,
    and one that failed (a library limit) is asked again."""
    progress = ImportProgress.__table__
    await session.execute(
        insert_or_ignore(session, progress, keys=[progress.c.pending_import_id]).values(
            pending_import_id=pending_id, merged_chunks=0, merged_books=0, merged_highlights=0
        )
    )
    await session.execute(
        update(ImportProgress)
        .where(
            ImportProgress.pending_import_id == pending_id,
            ImportProgress.requested_at.is_(None),
            ~_applied(pending_id),
        )
        .values(requested_at=now, purpose=purpose, failure=None)
    )


async def waiting(session: AsyncSession, *, now: datetime) -> list[int]:
    """The oldest imports waiting for a worker that nobody holds a live lease on (a read:
    an idle worker looks often, and must not take the write lock to find nothing)."""
    found = await session.scalars(
        select(ImportProgress.pending_import_id)
        .where(ImportProgress.requested_at.is_not(None), _lease_free(now))
        .order_by(ImportProgress.requested_at)
        .limit(_CANDIDATES)
    )
    return list(found)


async def take(
    session: AsyncSession, pending_id: int, *, owner: str, now: datetime, until: datetime
) -> str | None:
    """Take a waiting import under `owner`'s lease until `until`; its purpose, or None when
    another worker took it first or it no longer waits.

    The UPDATE takes it only if its lease is still free when it runs: on PostgreSQL a
    second claimant waits on the row and then sees the first one's lease; SQLite
    serialises writers. So one worker at a time holds an import, and one that dies leaves
    a lease that expires, after which another takes it and resumes at the next chunk.
    """
    taken = await session.scalar(
        update(ImportProgress)
        .where(
            ImportProgress.pending_import_id == pending_id,
            ImportProgress.requested_at.is_not(None),
            _lease_free(now),
        )
        .values(lease_owner=owner, lease_until=until)
        .returning(ImportProgress.purpose)
    )
    return None if taken is None else str(taken)


async def upload_of(session: AsyncSession, pending_id: int) -> tuple[int, bytes] | None:
    """The reader and the stored upload of an unapplied import; None once it is applied or
    gone (its reader erased)."""
    row = (
        await session.execute(
            select(PendingImport.subscriber_id, PendingImport.payload).where(
                PendingImport.id == pending_id, PendingImport.applied_at.is_(None)
            )
        )
    ).one_or_none()
    return None if row is None else (int(row.subscriber_id), bytes(row.payload))


async def claim_chunk(
    session: AsyncSession,
    pending_id: int,
    *,
    owner: str,
    total: int,
    now: datetime,
    until: datetime,
) -> int | None:
    """The index of the import's next chunk, this transaction's to merge, with `owner`'s
    lease renewed; None when every chunk is claimed, the lease was taken over (the owner
    stalled past it), or the import is gone (its reader erased).

    The counter is the one `repository.claim_chunk` moves, so a chunk is merged once
    whichever path claims it.
    """
    claimed = await session.scalar(
        update(ImportProgress)
        .where(
            ImportProgress.pending_import_id == pending_id,
            ImportProgress.lease_owner == owner,
            ImportProgress.merged_chunks < total,
            ~_applied(pending_id),
        )
        .values(
            merged_chunks=ImportProgress.merged_chunks + 1,
            total_chunks=total,
            lease_until=until,
            progressed_at=now,
        )
        .returning(ImportProgress.merged_chunks)
    )
    return None if claimed is None else int(claimed) - 1


async def renew(session: AsyncSession, pending_id: int, *, owner: str, until: datetime) -> bool:
    """Move `owner`'s lease on to `until` (the heartbeat of a worker merging the import);
    False when the import is no longer theirs (taken over, settled, or gone)."""
    renewed = await session.scalar(
        update(ImportProgress)
        .where(ImportProgress.pending_import_id == pending_id, ImportProgress.lease_owner == owner)
        .values(lease_until=until)
        .returning(ImportProgress.pending_import_id)
    )
    return renewed is not None


async def finish(session: AsyncSession, pending_id: int, *, failure: str | None = None) -> None:
    """The request is settled: applied, or refused with `failure` for the reader."""
    await session.execute(
        update(ImportProgress)
        .where(ImportProgress.pending_import_id == pending_id)
        .values(requested_at=None, lease_owner=None, lease_until=None, failure=failure)
    )


async def release(session: AsyncSession, pending_id: int, *, owner: str) -> None:
    """Give the lease back (a worker stopping), so another worker resumes at once."""
    await session.execute(
        update(ImportProgress)
        .where(ImportProgress.pending_import_id == pending_id, ImportProgress.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(ImportProgress.lease_until.is_(None), ImportProgress.lease_until < now)


def _applied(pending_id: int) -> Exists:
    return (
        select(PendingImport.id)
        .where(PendingImport.id == pending_id, PendingImport.applied_at.is_not(None))
        .exists()
    )
